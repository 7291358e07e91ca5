/**
 * The official parameter transforms (s4.py, param_transform / inv_transform), in float64:
 * the kernels there read A.real = -T(A_real), A.imag = -T(A_imag) and dt = T(inv_dt).
 */
import type { Transform } from './official_config';

/** T(x): the positive value a stored parameter stands for. */
export function paramTransform(x: number, t: Transform): number {
  switch (t) {
    case 'none':
      return x;
    case 'exp':
      return Math.exp(x);
    case 'relu':
      return Math.max(x, 0) + 1e-4;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'softplus':
      return x > 30 ? x : Math.log1p(Math.exp(x));
  }
}

/** The stored parameter for a positive value p (as the official inv_transform, which clamps p >= 1e-4). */
export function invTransform(p: number, t: Transform): number {
  if (t === 'exp') return Math.log(p); // exact inverse; exp(log(.)) is what the round trip needs
  const q = Math.max(p, 1e-4);
  switch (t) {
    case 'none':
    case 'relu':
      return q;
    case 'sigmoid':
      return Math.log(q / (1 - q));
    case 'softplus':
      return q > 30 ? q : Math.log(Math.expm1(q));
  }
}
