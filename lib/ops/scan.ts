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

/** Validates DPLR parameter tensors and downloads them (float64). */
export function dplrParams64(fn: string, params: unknown): { p64: DplrParams64; d: Float64Array | null; device: DeviceName } {
  const o = expectParams(fn, params);
  const lambda = expectTensor(fn, 'lambda', o.lambda, { dtype: 'complex64', rank: 2 });
  const [H, N2] = lambda.shape;
  if (H < 1 || N2 < 1) throw new RangeError(`${fn}: argument 'lambda' must have H >= 1 and N2 >= 1 (got [${lambda.shape.join(', ')}])`);
  const spec = { dtype: 'complex64' as const, shape: [H, N2], dims: ['H', 'N2'] };
  const p = expectTensor(fn, 'p', o.p, spec);
  const b = expectTensor(fn, 'b', o.b, spec);
  const cTilde = expectTensor(fn, 'cTilde', o.cTilde, spec);
  const dt = expectTensor(fn, 'dt', o.dt, { dtype: 'float32', shape: [H], dims: ['H'] });
  const d = o.d == null ? null : expectTensor(fn, 'd', o.d, { dtype: 'float32', shape: [H], dims: ['H'] });
  const device = sameDevice(fn, { lambda, p, b, cTilde, dt, d });
  const p64: DplrParams64 = { H, N2, lambda: complexOf(lambda), p: complexOf(p), b: complexOf(b), cTilde: complexOf(cTilde), dt: realOf(dt) };
  return { p64, d: d ? realOf(d) : null, device };
}

/** Validates diagonal parameter tensors and downloads them (float64). */
export function diagParams64(fn: string, params: unknown): { p64: DiagParams64; d: Float64Array | null; device: DeviceName } {
  const o = expectParams(fn, params);
  const lambda = expectTensor(fn, 'lambda', o.lambda, { dtype: 'complex64', rank: 2 });
  const [H, N2] = lambda.shape;
  if (H < 1 || N2 < 1) throw new RangeError(`${fn}: argument 'lambda' must have H >= 1 and N2 >= 1 (got [${lambda.shape.join(', ')}])`);
  const spec = { dtype: 'complex64' as const, shape: [H, N2], dims: ['H', 'N2'] };
  const b = expectTensor(fn, 'b', o.b, spec);
  const c = expectTensor(fn, 'c', o.c, spec);
  const dt = expectTensor(fn, 'dt', o.dt, { dtype: 'float32', shape: [H], dims: ['H'] });
  const d = o.d == null ? null : expectTensor(fn, 'd', o.d, { dtype: 'float32', shape: [H], dims: ['H'] });
  const device = sameDevice(fn, { lambda, b, c, dt, d });
  const p64: DiagParams64 = { H, N2, lambda: complexOf(lambda), b: complexOf(b), c: complexOf(c), dt: realOf(dt) };
  return { p64, d: d ? realOf(d) : null, device };
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
