/**
 * S4 convolution-kernel generation, with autograd.
 *
 *   dplrKernel({ lambda, p, b, cTilde, dt }, L) -> K [H, L]   (S4, DPLR, bilinear)
 *   diagKernel({ lambda, b, c, dt }, L)        -> K [H, L]   (S4D, diagonal, ZOH)
 *
 * lambda, p, b, cTilde, c are complex64 [H, N2] (the N2 stored members of the conjugate
 * pairs); dt is float32 [H]. The math is in native/cpu/ssm_kernel.h. Backward calls one
 * native function that returns the gradients of every parameter (complex gradients in the
 * PyTorch convention dL/dRe + i dL/dIm).
 */
import { record } from '../autograd/tape';
import type { DeviceName } from '../backend';
import { addon, type NativeBuffer } from '../native/binding';
import { Tensor } from '../tensor/tensor';
import { expectInteger, expectTensor, sameDevice } from '../util/validate';

/** The slice of the raw addon used here (native/binding/ops_ssm_kernel.cpp). */
export interface SsmKernelAddon {
  dplrKernel(
    lambda: NativeBuffer,
    p: NativeBuffer,
    b: NativeBuffer,
    cTilde: NativeBuffer,
    dt: NativeBuffer,
    out: NativeBuffer,
    H: number,
    N2: number,
    L: number,
  ): void;
  dplrKernelBackward(
    lambda: NativeBuffer,
    p: NativeBuffer,
    b: NativeBuffer,
    cTilde: NativeBuffer,
    dt: NativeBuffer,
    dK: NativeBuffer,
    gLambda: NativeBuffer,
    gP: NativeBuffer,
    gB: NativeBuffer,
    gCTilde: NativeBuffer,
    gDt: NativeBuffer,
    H: number,
    N2: number,
    L: number,
  ): void;
  diagKernel(lambda: NativeBuffer, b: NativeBuffer, c: NativeBuffer, dt: NativeBuffer, out: NativeBuffer, H: number, N2: number, L: number): void;
  diagKernelBackward(
    lambda: NativeBuffer,
    b: NativeBuffer,
    c: NativeBuffer,
    dt: NativeBuffer,
    dK: NativeBuffer,
    gLambda: NativeBuffer,
    gB: NativeBuffer,
    gC: NativeBuffer,
    gDt: NativeBuffer,
    H: number,
    N2: number,
    L: number,
  ): void;
  /** Bit set of SsmParamFlag (0 when every value is valid); x3 may be null. */
  ssmParamCheck(lambda: NativeBuffer, x1: NativeBuffer, x2: NativeBuffer, x3: NativeBuffer | null, dt: NativeBuffer, H: number, N2: number): number;
}

export const ssmKernelNative = addon as unknown as SsmKernelAddon;

/** Bits returned by ssmParamCheck (native/cpu/ssm_kernel.h). */
export const SsmParamFlag = {
  lambdaNonFinite: 1,
  lambdaUnstable: 2,
  x1NonFinite: 4,
  x2NonFinite: 8,
  x3NonFinite: 16,
  dtInvalid: 32,
} as const;

/** DPLR (S4) parameters: lambda, p, b, cTilde complex64 [H, N2]; dt float32 [H]. */
export interface DplrKernelParams {
  lambda: Tensor;
  p: Tensor;
  b: Tensor;
  cTilde: Tensor;
  dt: Tensor;
}

/** Diagonal (S4D) parameters: lambda, b, c complex64 [H, N2]; dt float32 [H]. */
export interface DiagKernelParams {
  lambda: Tensor;
  b: Tensor;
  c: Tensor;
  dt: Tensor;
}

interface Checked {
  H: number;
  N2: number;
  device: DeviceName;
  tensors: Record<string, Tensor>;
}

/**
 * How much of the parameters to check. 'values' (the default) also reads the values back
 * (Re lambda <= 0, finite, dt > 0), which waits for the GPU; 'shapes' skips that read, for
 * callers whose parameters are stable by construction and whose non-finite values surface
 * anyway (S4Layer: lambda = -exp(.) + i im, dt = exp(.); a NaN reaches the loss, which the
 * trainer checks), so that a training step never stalls the host on the kernel's inputs.
 * @internal
 */
export interface KernelCheckOptions {
  check?: 'values' | 'shapes';
}

/** Shapes, dtypes, device, and then (unless opts.check is 'shapes') the values. */
function checkParams(fn: string, params: unknown, complexNames: readonly string[], opts?: KernelCheckOptions): Checked {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new TypeError(`${fn}: argument 'params' must be an object of parameter tensors { ${complexNames.join(', ')}, dt }`);
  }
  const o = params as Record<string, unknown>;
  const lambda = expectTensor(fn, 'lambda', o.lambda, { dtype: 'complex64', rank: 2 });
  const [H, N2] = lambda.shape;
  if (H < 1 || N2 < 1) throw new RangeError(`${fn}: argument 'lambda' must have shape [H, N2] with H >= 1 and N2 >= 1 (got [${lambda.shape.join(', ')}])`);
  const tensors: Record<string, Tensor> = { lambda };
  for (const name of complexNames.slice(1)) {
    tensors[name] = expectTensor(fn, name, o[name], { dtype: 'complex64', shape: [H, N2], dims: ['H', 'N2'] });
  }
  tensors.dt = expectTensor(fn, 'dt', o.dt, { dtype: 'float32', shape: [H], dims: ['H'] });
  const device = sameDevice(fn, tensors);
  if (opts?.check === 'shapes') return { H, N2, device, tensors };
  const [x1, x2, x3] = complexNames.slice(1).map((n) => tensors[n]);
  const flags = ssmKernelNative.ssmParamCheck(lambda.handle, x1.handle, x2.handle, x3 ? x3.handle : null, tensors.dt.handle, H, N2);
  if (flags & SsmParamFlag.lambdaNonFinite) throw new RangeError(`${fn}: argument 'lambda' must be finite (it holds NaN or Infinity)`);
  if (flags & SsmParamFlag.lambdaUnstable) {
    throw new RangeError(`${fn}: argument 'lambda' must have Re(lambda) <= 0 (a stable state matrix); some entry has a positive real part`);
  }
  const bits = [SsmParamFlag.x1NonFinite, SsmParamFlag.x2NonFinite, SsmParamFlag.x3NonFinite];
  complexNames.slice(1).forEach((name, k) => {
    if (flags & bits[k]) throw new RangeError(`${fn}: argument '${name}' must be finite (it holds NaN or Infinity)`);
  });
  if (flags & SsmParamFlag.dtInvalid) throw new RangeError(`${fn}: argument 'dt' must be positive and finite in every channel`);
  return { H, N2, device, tensors };
}

function checkLength(fn: string, L: unknown, H: number): number {
  const n = expectInteger(fn, 'L', L, 1);
  if (H * n > 2 ** 40) throw new RangeError(`${fn}: the kernel [H, L] = [${H}, ${n}] is too large`);
  return n;
}

function gradsFor(inputs: readonly Tensor[], grads: readonly Tensor[]): (Tensor | null)[] {
  return inputs.map((t, i) => {
    if (t.requiresGrad) return grads[i];
    grads[i].dispose();
    return null;
  });
}

/**
 * The S4 convolution kernel K [H, L] of a DPLR state space model: K[h, l] = C Ab^l Bb with
 * the bilinear discretization and C = C~ (I - Ab^L)^-1, computed through the generating
 * function at the L/2 + 1 roots of unity, the Woodbury correction and an inverse real FFT.
 */
export function dplrKernel(params: DplrKernelParams, L: number, opts?: KernelCheckOptions): Tensor {
  const fn = 'dplrKernel';
  const { H, N2, device, tensors: t } = checkParams(fn, params, ['lambda', 'p', 'b', 'cTilde'], opts);
  const len = checkLength(fn, L, H);
  const inputs = [t.lambda, t.p, t.b, t.cTilde, t.dt];
  const out = Tensor.empty([H, len], 'float32', device);
  ssmKernelNative.dplrKernel(t.lambda.handle, t.p.handle, t.b.handle, t.cTilde.handle, t.dt.handle, out.handle, H, N2, len);
  record(
    out,
    inputs,
    (g) => {
      const grads = [
        Tensor.empty([H, N2], 'complex64', device),
        Tensor.empty([H, N2], 'complex64', device),
        Tensor.empty([H, N2], 'complex64', device),
        Tensor.empty([H, N2], 'complex64', device),
        Tensor.empty([H], 'float32', device),
      ];
      ssmKernelNative.dplrKernelBackward(
        t.lambda.handle,
        t.p.handle,
        t.b.handle,
        t.cTilde.handle,
        t.dt.handle,
        g.handle,
        grads[0].handle,
        grads[1].handle,
        grads[2].handle,
        grads[3].handle,
        grads[4].handle,
        H,
        N2,
        len,
      );
      return gradsFor(inputs, grads);
    },
    fn,
  );
  return out;
}

/**
 * The S4D convolution kernel K [H, L] of a diagonal state space model with zero-order
 * hold: K[h, l] = 2 Re sum_n C_n (exp(dt lambda_n) - 1) / lambda_n B_n exp(dt lambda_n)^l.
 */
export function diagKernel(params: DiagKernelParams, L: number, opts?: KernelCheckOptions): Tensor {
  const fn = 'diagKernel';
  const { H, N2, device, tensors: t } = checkParams(fn, params, ['lambda', 'b', 'c'], opts);
  const len = checkLength(fn, L, H);
  const inputs = [t.lambda, t.b, t.c, t.dt];
  const out = Tensor.empty([H, len], 'float32', device);
  ssmKernelNative.diagKernel(t.lambda.handle, t.b.handle, t.c.handle, t.dt.handle, out.handle, H, N2, len);
  record(
    out,
    inputs,
    (g) => {
      const grads = [
        Tensor.empty([H, N2], 'complex64', device),
        Tensor.empty([H, N2], 'complex64', device),
        Tensor.empty([H, N2], 'complex64', device),
        Tensor.empty([H], 'float32', device),
      ];
      ssmKernelNative.diagKernelBackward(
        t.lambda.handle,
        t.b.handle,
        t.c.handle,
        t.dt.handle,
        g.handle,
        grads[0].handle,
        grads[1].handle,
        grads[2].handle,
        grads[3].handle,
        H,
        N2,
        len,
      );
      return gradsFor(inputs, grads);
    },
    fn,
  );
  return out;
}
