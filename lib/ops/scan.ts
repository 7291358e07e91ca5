/**
 * The recurrent (scan) view of SSM layers (native/binding/scan.cpp).
 *
 *   dplrScan({ lambda, p, b, cTilde, dt, d? }, u [B,H,T], L) -> y [B,H,T]: the recurrent
 *     view of a DPLR (S4) layer whose C~ was set up for kernel length L; equals
 *     fftConv(u, dplrKernel(params, L), d) for T = L. Inference only (no gradient).
 *   diagScan({ lambda, b, c, dt, d? }, u [B,H,T]) -> y [B,H,T]: the same for S4D (ZOH).
 * The scans set up their step coefficients in float64 (lib/ssm/step_setup.ts) from the
 * downloaded parameters, then run all T steps in one native call. The parameter download
 * (dplrParams64, diagParams64) is shared with the steppers of lib/nn/stepper.ts.
 */
import type { DeviceName } from '../backend';
import { ops } from '../native/binding';
import { diagStepCoefficients, dplrStepCoefficients } from '../ssm/step_setup';
import type { Complex64Array, DiagParams64, DplrParams64 } from '../ssm/types';
import { Tensor } from '../tensor/tensor';
import { expectInteger, expectTensor, sameDevice } from '../util/validate';

// ---- parameter download (tensors -> float64 set-up types) ----

/** DPLR parameters as tensors: lambda, p, b, cTilde complex64 [H, N2]; dt, d float32 [H]. */
export interface DplrTensorParams {
  lambda: Tensor;
  p: Tensor;
  b: Tensor;
  cTilde: Tensor;
  dt: Tensor;
  d?: Tensor | null;
}

/** Diagonal (S4D) parameters as tensors: lambda, b, c complex64 [H, N2]; dt, d float32 [H]. */
export interface DiagTensorParams {
  lambda: Tensor;
  b: Tensor;
  c: Tensor;
  dt: Tensor;
  d?: Tensor | null;
}

function expectParams(fn: string, params: unknown): Record<string, unknown> {
  if (params === null || typeof params !== 'object') throw new TypeError(`${fn}: argument 'params' must be an object of parameter tensors`);
  return params as Record<string, unknown>;
}

function complexOf(t: Tensor): Complex64Array {
  const v = t.dataSync();
  const n = t.size;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = v[2 * i];
    im[i] = v[2 * i + 1];
  }
  return { re, im };
}

function realOf(t: Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/**
 * Validates parameter tensors (the complex64 [H, N2] `complexNames`, lambda first; dt and the
 * optional d float32 [H]) and downloads them (float64).
 */
function params64<N extends string>(fn: string, params: unknown, complexNames: readonly N[]) {
  const o = expectParams(fn, params);
  const lambda = expectTensor(fn, 'lambda', o.lambda, { dtype: 'complex64', rank: 2 });
  const [H, N2] = lambda.shape;
  if (H < 1 || N2 < 1) throw new RangeError(`${fn}: argument 'lambda' must have H >= 1 and N2 >= 1 (got [${lambda.shape.join(', ')}])`);
  const complex = Object.fromEntries(
    complexNames.map((n) => [n, expectTensor(fn, n, o[n], { dtype: 'complex64', shape: [H, N2], dims: ['H', 'N2'] })]),
  ) as Record<N, Tensor>;
  const channel = { dtype: 'float32' as const, shape: [H], dims: ['H'] };
  const dt = expectTensor(fn, 'dt', o.dt, channel);
  const d = o.d == null ? null : expectTensor(fn, 'd', o.d, channel);
  const device = sameDevice(fn, { ...complex, dt, d });
  const values = Object.fromEntries(complexNames.map((n) => [n, complexOf(complex[n])])) as Record<N, Complex64Array>;
  return { p64: { H, N2, ...values, dt: realOf(dt) }, d: d ? realOf(d) : null, device };
}

/** Validates DPLR parameter tensors and downloads them (float64). */
export function dplrParams64(fn: string, params: unknown): { p64: DplrParams64; d: Float64Array | null; device: DeviceName } {
  return params64(fn, params, ['lambda', 'p', 'b', 'cTilde']);
}

/** Validates diagonal parameter tensors and downloads them (float64). */
export function diagParams64(fn: string, params: unknown): { p64: DiagParams64; d: Float64Array | null; device: DeviceName } {
  return params64(fn, params, ['lambda', 'b', 'c']);
}

/** Runs the native scan from a zero state: coefficients float32 [H, 10 N2 + 2], u [B,H,T]. */
function scanWithCoefficients(fn: string, coef: Float32Array, N2: number, H: number, u: unknown, device: DeviceName): Tensor {
  const x = expectTensor(fn, 'u', u, { dtype: 'float32', rank: 3, device });
  if (x.shape[1] !== H) {
    throw new RangeError(`${fn}: argument 'u' must have shape [B, H, T] with H = ${H} (got [${x.shape.join(', ')}])`);
  }
  const [B, , T] = x.shape;
  const c = Tensor.fromFloats(coef, [H, coef.length / H], 'float32', device);
  try {
    const y = Tensor.empty([B, H, T], 'float32', device);
    try {
      ops.ssmScan({ coef: c.handle, state: null, u: x.handle, y: y.handle, B, H, N2, T, gelu: false });
    } catch (err) {
      y.dispose();
      throw err;
    }
    return y;
  } finally {
    c.dispose();
  }
}

/**
 * Recurrent mode of a DPLR layer: y [B,H,T] from u [B,H,T], zero initial state; L is the
 * length C~ was set up for (C = C~ (I - Ab^L)^-1). No gradient is recorded.
 */
export function dplrScan(params: DplrTensorParams, u: Tensor, L: number): Tensor {
  const fn = 'dplrScan';
  const { p64, d, device } = dplrParams64(fn, params);
  expectInteger(fn, 'L', L, 1);
  const coef = dplrStepCoefficients(p64, L, d);
  return scanWithCoefficients(fn, coef, p64.N2, p64.H, u, device);
}

/** Recurrent mode of a diagonal (S4D, ZOH) layer: y [B,H,T] from u [B,H,T]. No gradient. */
export function diagScan(params: DiagTensorParams, u: Tensor): Tensor {
  const fn = 'diagScan';
  const { p64, d, device } = diagParams64(fn, params);
  const coef = diagStepCoefficients(p64, d);
  return scanWithCoefficients(fn, coef, p64.N2, p64.H, u, device);
}
