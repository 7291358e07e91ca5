/**
 * S4 convolution-kernel generation, with autograd (native/binding/ssm_kernel.cpp).
 *
 *   dplrKernel({ lambda, p, b, cTilde, dt }, L) -> K [H, L]   (S4, DPLR, bilinear)
 *   diagKernel({ lambda, b, c, dt }, L)        -> K [H, L]   (S4D, diagonal, ZOH)
 *
 * lambda, p, b, cTilde, c are complex64 [H, N2] (the N2 stored members of the conjugate
 * pairs); dt is float32 [H]. The math is in native/binding/ssm_kernel.cpp. Backward calls
 * one native function that returns the gradients of every parameter (complex gradients in
 * the PyTorch convention dL/dRe + i dL/dIm).
 */
import { ops, type NativeBuffer } from '../native/binding';
import { Tensor } from '../tensor/tensor';
import { expectInteger, expectTensor } from '../util/validate';
import { defineOp, type OpOptions } from './define';

/** Bits returned by ssmParamCheck (native/common/ssm_param_flags.h). */
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

/** Options of dplrKernel and diagKernel. */
export interface KernelOptions extends OpOptions {
  /**
   * How much of the parameters to check. 'values' (the default) also reads the values back
   * (Re lambda <= 0, finite, dt > 0), which waits for the GPU; 'shapes' skips that read, for
   * callers whose parameters are stable by construction and whose non-finite values surface
   * anyway (S4Layer: lambda = -exp(.) + i im, dt = exp(.); a NaN reaches the loss, which the
   * trainer checks), so that a training step never stalls the host on the kernel's inputs.
   * @internal
   */
  check?: 'values' | 'shapes';
}

interface KernelArgs {
  L: unknown;
  check?: 'values' | 'shapes';
}

interface KernelPlan {
  shape: number[];
  H: number;
  N2: number;
  L: number;
}

function expectParams(fn: string, params: unknown, complexNames: readonly string[]): void {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new TypeError(`${fn}: argument 'params' must be an object of parameter tensors { ${complexNames.join(', ')}, dt }`);
  }
}

/**
 * Shapes against lambda [H, N2], the length L, and then (unless args.check is 'shapes') the
 * values. The tensors' dtypes and device were checked by defineOp.
 */
function planKernel(fn: string, t: Record<string, Tensor>, complexNames: readonly string[], args: KernelArgs): KernelPlan {
  const lambda = expectTensor(fn, 'lambda', t.lambda, { rank: 2 });
  const [H, N2] = lambda.shape;
  if (H < 1 || N2 < 1) throw new RangeError(`${fn}: argument 'lambda' must have shape [H, N2] with H >= 1 and N2 >= 1 (got [${lambda.shape.join(', ')}])`);
  for (const name of complexNames.slice(1)) expectTensor(fn, name, t[name], { shape: [H, N2], dims: ['H', 'N2'] });
  expectTensor(fn, 'dt', t.dt, { shape: [H], dims: ['H'] });
  const L = expectInteger(fn, 'L', args.L, 1);
  if (H * L > 2 ** 40) throw new RangeError(`${fn}: the kernel [H, L] = [${H}, ${L}] is too large`);
  if (args.check !== 'shapes') checkValues(fn, t, complexNames, H, N2);
  return { shape: [H, L], H, N2, L };
}

function checkValues(fn: string, t: Record<string, Tensor>, complexNames: readonly string[], H: number, N2: number): void {
  const [x1, x2, x3] = complexNames.slice(1).map((n) => t[n]);
  const flags = ops.ssmParamCheck({ lambda: t.lambda.handle, x1: x1.handle, x2: x2.handle, x3: x3 ? x3.handle : null, dt: t.dt.handle, H, N2 });
  if (flags & SsmParamFlag.lambdaNonFinite) throw new RangeError(`${fn}: argument 'lambda' must be finite (it holds NaN or Infinity)`);
  if (flags & SsmParamFlag.lambdaUnstable) {
    throw new RangeError(`${fn}: argument 'lambda' must have Re(lambda) <= 0 (a stable state matrix); some entry has a positive real part`);
  }
  const bits = [SsmParamFlag.x1NonFinite, SsmParamFlag.x2NonFinite, SsmParamFlag.x3NonFinite];
  complexNames.slice(1).forEach((name, k) => {
    if (flags & bits[k]) throw new RangeError(`${fn}: argument '${name}' must be finite (it holds NaN or Infinity)`);
  });
  if (flags & SsmParamFlag.dtInvalid) throw new RangeError(`${fn}: argument 'dt' must be positive and finite in every channel`);
}

const DPLR_NAMES = ['lambda', 'p', 'b', 'cTilde'] as const;
const DIAG_NAMES = ['lambda', 'b', 'c'] as const;

/** Buffers by the native argument names: a parameter's own name, its gradient's g<Name>. */
type ParamBuffers<N extends string> = { [K in N]: NativeBuffer };
type GradBuffers<N extends string> = { [K in N as `g${Capitalize<K>}`]: NativeBuffer };
interface KernelSizes {
  H: number;
  N2: number;
  L: number;
}

/**
 * The op of a kernel whose parameters are the complex64 `complexNames` and dt (float32): the
 * native forward and backward take the parameters, and the gradients, by those names.
 */
function kernelOp<N extends string>(
  name: string,
  complexNames: readonly N[],
  forward: (args: ParamBuffers<N | 'dt'> & KernelSizes & { out: NativeBuffer }) => void,
  backward: (args: ParamBuffers<N | 'dt'> & GradBuffers<N | 'dt'> & KernelSizes & { dK: NativeBuffer }) => void,
) {
  const params: (N | 'dt')[] = [...complexNames, 'dt'];
  const inputs = Object.fromEntries(params.map((n) => [n, n === 'dt' ? 'float32' : 'complex64'])) as Record<N | 'dt', 'complex64' | 'float32'>;
  const buffers = (t: Record<string, Tensor | null>) => Object.fromEntries(params.map((n) => [n, t[n]!.handle])) as ParamBuffers<N | 'dt'>;
  const gradBuffers = (t: Record<string, Tensor | null>) =>
    Object.fromEntries(params.map((n) => [`g${n[0].toUpperCase()}${n.slice(1)}`, t[n]!.handle])) as GradBuffers<N | 'dt'>;
  return defineOp({
    name,
    inputs,
    plan: (t, args: KernelArgs) => planKernel(name, t as Record<string, Tensor>, complexNames, args),
    forward: (t, out, { H, N2, L }) => forward({ ...buffers(t), out: out.handle, H, N2, L }),
    backward: (g, t, { H, N2, L }, grads) => backward({ ...buffers(t), ...gradBuffers(grads), dK: g.handle, H, N2, L }),
    // The native backward writes the gradients of every parameter.
    allGrads: true,
  });
}

const dplrKernelOp = kernelOp('dplrKernel', DPLR_NAMES, ops.dplrKernel, ops.dplrKernelBackward);
const diagKernelOp = kernelOp('diagKernel', DIAG_NAMES, ops.diagKernel, ops.diagKernelBackward);

/**
 * The S4 convolution kernel K [H, L] of a DPLR state space model: K[h, l] = C Ab^l Bb with
 * the bilinear discretization and C = C~ (I - Ab^L)^-1, computed through the generating
 * function at the L/2 + 1 roots of unity, the Woodbury correction and an inverse real FFT.
 * opts.out: a float32 [H, L] tensor to write K into.
 */
export function dplrKernel(params: DplrKernelParams, L: number, opts?: KernelOptions): Tensor {
  expectParams('dplrKernel', params, DPLR_NAMES);
  const { lambda, p, b, cTilde, dt } = params;
  return dplrKernelOp({ lambda, p, b, cTilde, dt }, { L, check: opts?.check }, opts);
}

/**
 * The S4D convolution kernel K [H, L] of a diagonal state space model with zero-order
 * hold: K[h, l] = 2 Re sum_n C_n (exp(dt lambda_n) - 1) / lambda_n B_n exp(dt lambda_n)^l.
 * opts.out: a float32 [H, L] tensor to write K into.
 */
export function diagKernel(params: DiagKernelParams, L: number, opts?: KernelOptions): Tensor {
  expectParams('diagKernel', params, DIAG_NAMES);
  const { lambda, b, c, dt } = params;
  return diagKernelOp({ lambda, b, c, dt }, { L, check: opts?.check }, opts);
}
