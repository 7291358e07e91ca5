/**
 * Long convolution (FFT) and the recurrent (scan) view of SSM layers.
 *
 *   fftConv(u [B,H,L], k [H,L], d? [H]) -> y [B,H,L]:  y = causal conv(u, k) + d u,
 *     with autograd (du, dk, dd from one native backward call).
 *   dplrScan({ lambda, p, b, cTilde, dt, d? }, u [B,H,T], L) -> y [B,H,T]: the recurrent
 *     view of a DPLR (S4) layer whose C~ was set up for kernel length L; equals
 *     fftConv(u, dplrKernel(params, L), d) for T = L. Inference only (no gradient).
 *   diagScan({ lambda, b, c, dt, d? }, u [B,H,T]) -> y [B,H,T]: the same for S4D (ZOH).
 * The scans set up their step coefficients in float64 (lib/ssm/step_setup.ts) from the
 * downloaded parameters, then run all T steps in one native call.
 */
import { record } from '../autograd/tape';
import type { DeviceName } from '../backend';
import { addon, type NativeBuffer } from '../native/binding';
import { diagStepCoefficients, dplrStepCoefficients } from '../ssm/step_setup';
import type { Complex64Array, DiagParams64, DplrParams64 } from '../ssm/types';
import { Tensor } from '../tensor/tensor';
import { expectInteger, expectTensor, sameDevice } from '../util/validate';

/** The slice of the raw addon used here (native/binding/ops_conv.cpp). */
export interface ConvAddon {
  fftConv(u: NativeBuffer, k: NativeBuffer, d: NativeBuffer | null, y: NativeBuffer, B: number, H: number, L: number): void;
  fftConvBackward(
    dy: NativeBuffer,
    u: NativeBuffer,
    k: NativeBuffer,
    d: NativeBuffer | null,
    du: NativeBuffer | null,
    dk: NativeBuffer | null,
    dd: NativeBuffer | null,
    B: number,
    H: number,
    L: number,
  ): void;
  /** coef float32 [H, 10 N2 + 2]; state complex64 [B,H,N2] (in/out) or null; u, y [B,H,T]; gelu: y = GELU(scan). */
  ssmScan(coef: NativeBuffer, state: NativeBuffer | null, u: NativeBuffer, y: NativeBuffer, B: number, H: number, N2: number, T: number, gelu?: boolean): void;
  /**
   * One token of a block after its output linear (no bias) gave z [B, 2H]:
   * out [B, H] = x + GLU(z + bias), then LayerNorm (w, lb, eps) over H when `normalize`.
   */
  stepEpilogue(
    z: NativeBuffer,
    bias: NativeBuffer | null,
    x: NativeBuffer,
    w: NativeBuffer | null,
    lb: NativeBuffer | null,
    out: NativeBuffer,
    B: number,
    H: number,
    eps: number,
    normalize: boolean,
  ): void;
}

export const convNative = addon as unknown as ConvAddon;

/** Causal convolution of u [B,H,L] with k [H,L] plus the skip d [H] (optional), via the FFT. */
export function fftConv(u: Tensor, k: Tensor, d?: Tensor | null): Tensor {
  const fn = 'fftConv';
  const x = expectTensor(fn, 'u', u, { dtype: 'float32', rank: 3 });
  const [B, H, L] = x.shape;
  if (H < 1 || L < 1) throw new RangeError(`${fn}: argument 'u' must have H >= 1 and L >= 1 (got [${x.shape.join(', ')}])`);
  const kk = expectTensor(fn, 'k', k, { dtype: 'float32', shape: [H, L], dims: ['H', 'L'] });
  const dd = d == null ? null : expectTensor(fn, 'd', d, { dtype: 'float32', shape: [H], dims: ['H'] });
  const device = sameDevice(fn, { u: x, k: kk, d: dd });
  const y = Tensor.empty([B, H, L], 'float32', device);
  convNative.fftConv(x.handle, kk.handle, dd ? dd.handle : null, y.handle, B, H, L);
  record(
    y,
    [x, kk, dd],
    (g) => {
      const du = x.requiresGrad ? Tensor.empty(x.shape, 'float32', device) : null;
      const dk = kk.requiresGrad ? Tensor.empty(kk.shape, 'float32', device) : null;
      const gd = dd && dd.requiresGrad ? Tensor.empty(dd.shape, 'float32', device) : null;
      convNative.fftConvBackward(
        g.handle,
        x.handle,
        kk.handle,
        dd ? dd.handle : null,
        du ? du.handle : null,
        dk ? dk.handle : null,
        gd ? gd.handle : null,
        B,
        H,
        L,
      );
      return [du, dk, gd];
    },
    fn,
  );
  return y;
}

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
export function scanWithCoefficients(fn: string, coef: Float32Array, N2: number, H: number, u: unknown, device: DeviceName): Tensor {
  const x = expectTensor(fn, 'u', u, { dtype: 'float32', rank: 3, device });
  if (x.shape[1] !== H) {
    throw new RangeError(`${fn}: argument 'u' must have shape [B, H, T] with H = ${H} (got [${x.shape.join(', ')}])`);
  }
  const [B, , T] = x.shape;
  const c = Tensor.fromFloats(coef, [H, coef.length / H], 'float32', device);
  try {
    const y = Tensor.empty([B, H, T], 'float32', device);
    convNative.ssmScan(c.handle, null, x.handle, y.handle, B, H, N2, T);
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
