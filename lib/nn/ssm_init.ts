/**
 * Float64 helpers of S4Layer's initialization that the set-up math (lib/ssm) leaves out:
 * C~ = C (I - Ab^L) from C, the inverse of lib/ssm's cTildeToC. A bidirectional DPLR layer
 * needs it: its second C is drawn like the first and must be converted with the layer's
 * own (shared) A, B and dt.
 */
import { dplrDenseReal } from '../ssm/step_setup';
import type { Complex64Array, DplrParams64 } from '../ssm/types';

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  return c;
}

/** a^p by repeated squaring (O(N^3 log p)). */
function matpow(a: Float64Array, n: number, p: number): Float64Array {
  let result: Float64Array | null = null;
  let base = a;
  while (p > 0) {
    if (p & 1) result = result ? matmul(result, base, n) : base.slice();
    p = Math.floor(p / 2);
    if (p > 0) base = matmul(base, base, n);
  }
  if (result) return result;
  const id = new Float64Array(n * n);
  for (let i = 0; i < n; i++) id[i * n + i] = 1;
  return id;
}

/**
 * C~ = C (I - Ab^L) per channel for the DPLR model `params` (its own cTilde is ignored).
 * Works in the real representation z = [Re x; Im x], where y = 2 Re C x = [2 Re C, -2 Im C] z.
 */
export function cToCTilde(params: DplrParams64, c: Complex64Array, L: number): Complex64Array {
  const { H, N2 } = params;
  const re = new Float64Array(H * N2);
  const im = new Float64Array(H * N2);
  for (let h = 0; h < H; h++) {
    const { N, Ab } = dplrDenseReal(params, h);
    const P = matpow(Ab, N, L);
    const cr = new Float64Array(N);
    for (let n = 0; n < N2; n++) {
      cr[n] = 2 * c.re[h * N2 + n];
      cr[N2 + n] = -2 * c.im[h * N2 + n];
    }
    for (let j = 0; j < N; j++) {
      let acc = cr[j];
      for (let i = 0; i < N; i++) acc -= cr[i] * P[i * N + j];
      if (j < N2) re[h * N2 + j] = acc / 2;
      else im[h * N2 + j - N2] = -acc / 2;
    }
  }
  return { re, im };
}
