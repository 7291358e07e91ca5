/**
 * Float64 references for the kernel-generation tests (dplrKernel, diagKernel): the loss
 * sum(K * W) on the naive definitions (dense powers of Ab for DPLR, the Vandermonde sum
 * for S4D), its gradients by central finite differences in the PyTorch convention
 * (dL/dRe + i dL/dIm, interleaved like complex64), the golden gradients of the official
 * S4, and a runner that evaluates the native op and its autograd gradients on a device.
 */
import * as s4 from '../../lib/index';
import { dplrKernelDense } from '../../lib/ssm/step_setup';
import type { Complex64Array, DiagParams64, DplrParams64 } from '../../lib/ssm/types';
import { diagKernel64, randomDiag, randomDplr, roundDiag, roundDplr } from './conv_ref';
import { loadGolden } from './golden';

export const DPLR_COMPLEX = ['lambda', 'p', 'b', 'cTilde'] as const;
export const DIAG_COMPLEX = ['lambda', 'b', 'c'] as const;

/** Gradients keyed by parameter name: complex ones interleaved (re, im), dt real [H]. */
export type Grads = Record<string, Float64Array>;

function loss(K: Float64Array, W: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < K.length; i++) s += K[i] * W[i];
  return s;
}

function clone<T extends DplrParams64 | DiagParams64>(p: T): T {
  const out: Record<string, unknown> = { H: p.H, N2: p.N2 };
  for (const [k, v] of Object.entries(p)) {
    if (v instanceof Float64Array) out[k] = Float64Array.from(v);
    else if (v && typeof v === 'object') out[k] = { re: Float64Array.from((v as Complex64Array).re), im: Float64Array.from((v as Complex64Array).im) };
  }
  return out as T;
}

/** Central differences of f(params) for every real component of the named parameters. */
function finiteDifferences<T extends DplrParams64 | DiagParams64>(
  params: T,
  complexNames: readonly string[],
  f: (p: T) => number,
): Grads {
  const grads: Grads = {};
  const probe = (get: (p: T) => Float64Array, i: number): number => {
    const x = get(params)[i];
    const eps = 1e-6 * Math.max(Math.abs(x), 1e-3);
    const plus = clone(params);
    const minus = clone(params);
    get(plus)[i] = x + eps;
    get(minus)[i] = x - eps;
    return (f(plus) - f(minus)) / (2 * eps);
  };
  for (const name of complexNames) {
    const n = params.H * params.N2;
    const g = new Float64Array(2 * n);
    const field = (p: T) => (p as unknown as Record<string, Complex64Array>)[name];
    for (let i = 0; i < n; i++) {
      g[2 * i] = probe((p) => field(p).re, i);
      g[2 * i + 1] = probe((p) => field(p).im, i);
    }
    grads[name] = g;
  }
  grads.dt = Float64Array.from({ length: params.H }, (_, h) => probe((p) => p.dt, h));
  return grads;
}

export function dplrLossGrads64(p: DplrParams64, L: number, W: ArrayLike<number>): Grads {
  return finiteDifferences(p, DPLR_COMPLEX, (q) => loss(dplrKernelDense(q, L), W));
}

export function diagLossGrads64(p: DiagParams64, L: number, W: ArrayLike<number>): Grads {
  return finiteDifferences(p, DIAG_COMPLEX, (q) => loss(diagKernel64(q, L), W));
}

export type Mode = 'dplr' | 'diag';

/** Random parameters of a `mode` layer, rounded to float32 as the device holds them. */
export function randomParams(mode: Mode, H: number, N2: number, seed: number): DplrParams64 | DiagParams64 {
  return mode === 'dplr' ? roundDplr(randomDplr(H, N2, seed)) : roundDiag(randomDiag(H, N2, seed));
}

/** Float64 finite-difference gradients of sum(K * W) on the definition of `mode`. */
export function lossGrads64(mode: Mode, p: DplrParams64 | DiagParams64, L: number, W: ArrayLike<number>): Grads {
  return mode === 'dplr' ? dplrLossGrads64(p as DplrParams64, L, W) : diagLossGrads64(p as DiagParams64, L, W);
}

/** K [H, L] and, when W is given, the autograd gradients of sum(K * W), on `device`. */
export function runKernel(
  mode: Mode,
  p: DplrParams64 | DiagParams64,
  L: number,
  device: s4.DeviceName,
  W?: ArrayLike<number>,
): { K: Float32Array; grads: Record<string, Float32Array> } {
  const names = mode === 'dplr' ? DPLR_COMPLEX : DIAG_COMPLEX;
  const src = p as unknown as Record<string, Complex64Array>;
  const t: Record<string, s4.Tensor> = {};
  for (const name of names) t[name] = s4.complex(src[name].re, src[name].im, [p.H, p.N2], { device, requiresGrad: !!W });
  t.dt = s4.tensor(p.dt, [p.H], { device, requiresGrad: !!W });
  try {
    const K = s4.tidy(() => {
      const k = mode === 'dplr' ? s4.ops.dplrKernel(t as never, L) : s4.ops.diagKernel(t as never, L);
      if (W) s4.ops.sum(s4.ops.mul(k, s4.tensor(W, [p.H, L], { device }))).backward();
      return k.dataSync();
    });
    const grads: Record<string, Float32Array> = {};
    if (W) for (const [name, x] of Object.entries(t)) grads[name] = x.grad!.dataSync();
    return { K, grads };
  } finally {
    s4.dispose(t);
  }
}

export interface GoldenGrads {
  W: Float64Array;
  loss: number;
  grads: Grads;
}

/** Gradients of sum(K * W) from the official S4 golden file (S4_GOLDEN_DIR or ../shared/golden). */
export function loadGoldenGrads(): GoldenGrads {
  const g = loadGolden().dplr.grad;
  const flat = (a: unknown): Float64Array => Float64Array.from((a as unknown[]).flat(3) as number[]);
  const interleave = (o: { re: unknown; im: unknown }) => {
    const re = flat(o.re), im = flat(o.im);
    return Float64Array.from({ length: 2 * re.length }, (_, i) => (i % 2 ? im[i >> 1] : re[i >> 1]));
  };
  return {
    W: flat(g.W),
    loss: g.loss,
    grads: { lambda: interleave(g.lambda), p: interleave(g.p), b: interleave(g.b), cTilde: interleave(g.c_tilde), dt: flat(g.dt) },
  };
}
