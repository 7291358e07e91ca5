/**
 * The fused AdamW step: one tensor per native op (adamwStep, native/binding/optim.cpp) or
 * many tensors per native call (adamwStepMulti, native/binding/adamw_multi.cpp), with the
 * same floats. In place, not recorded by autograd.
 */
import { core, ops, type NativeBuffer } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectInteger, expectNumber, expectTensor, sameDevice } from '../util/validate';

export interface AdamWStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count (bias corrections use beta^step). */
  step: number;
}

/**
 * One fused AdamW update in place (decoupled weight decay, PyTorch order):
 *   p *= 1 - lr wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 * param and grad: float32, or complex64 (updated as their interleaved real and imaginary
 * parts, as PyTorch's AdamW treats a complex parameter through view_as_real); m, v: float32
 * with one value per float of param. All on one device. Not recorded by autograd.
 */
export function adamwStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStepOptions): void {
  const fn = 'adamwStep';
  const p = checkTensors(fn, '', param, grad, m, v);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
  const lr = expectNumber(fn, 'lr', opts.lr, 0);
  const { beta1, beta2, eps } = checkShared(fn, opts);
  const weightDecay = expectNumber(fn, 'weightDecay', opts.weightDecay, 0);
  const step = expectInteger(fn, 'step', opts.step, 1, 2 ** 53);
  ops.adamwUpdate({ param: p.handle, grad: grad.handle, m: m.handle, v: v.handle, n: p.floats, lr, beta1, beta2, eps, weightDecay, step });
}

/** One tensor of adamwStepMulti: its buffers and its own lr, weight decay and step count. */
export interface AdamWMultiTensor {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
  lr: number;
  weightDecay: number;
  /** 1-based step count of this tensor. */
  step: number;
}

/**
 * adamwStep on every tensor of the list, with the float results of calling it on each in
 * turn, in one native call per device instead of one per tensor (the host cost of a
 * training step on the GPU is mostly per call). beta1, beta2 and eps are shared; lr,
 * weightDecay and step belong to each tensor. A parameter and the m and v of every tensor
 * must appear once in the list (they are written), and no grad may be one of them.
 */
export function adamwStepMulti(tensors: readonly AdamWMultiTensor[], opts: { beta1: number; beta2: number; eps: number }): void {
  const fn = 'adamwStepMulti';
  if (!Array.isArray(tensors)) throw new TypeError(`${fn}: argument 'tensors' must be an array of { param, grad, m, v, lr, weightDecay, step }`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
  const { beta1, beta2, eps } = checkShared(fn, opts);
  const byDevice = new Map<string, { params: NativeBuffer[]; grads: NativeBuffer[]; ms: NativeBuffer[]; vs: NativeBuffer[]; lr: number[]; weightDecay: number[]; step: number[] }>();
  tensors.forEach((t, k) => {
    const where = `tensors[${k}]`;
    if (t === null || typeof t !== 'object') throw new TypeError(`${fn}: argument '${where}' must be { param, grad, m, v, lr, weightDecay, step }`);
    const p = checkTensors(fn, `${where}.`, t.param, t.grad, t.m, t.v);
    const lr = expectNumber(fn, `${where}.lr`, t.lr, 0);
    const weightDecay = expectNumber(fn, `${where}.weightDecay`, t.weightDecay, 0);
    const step = expectInteger(fn, `${where}.step`, t.step, 1, 2 ** 53);
    let call = byDevice.get(p.device);
    if (!call) {
      call = { params: [], grads: [], ms: [], vs: [], lr: [], weightDecay: [], step: [] };
      byDevice.set(p.device, call);
    }
    call.params.push(p.handle);
    call.grads.push(t.grad.handle);
    call.ms.push(t.m.handle);
    call.vs.push(t.v.handle);
    call.lr.push(lr);
    call.weightDecay.push(weightDecay);
    call.step.push(step);
  });
  // The native export checks that no written buffer appears twice (named by its index in
  // the call of its device, which is the index here when all tensors share a device).
  for (const c of byDevice.values()) core.adamwMulti(c.params, c.grads, c.ms, c.vs, c.lr, c.weightDecay, c.step, beta1, beta2, eps);
}

/** The checks of one tensor's buffers; `prefix` names where they came from ('tensors[3].'). */
function checkTensors(fn: string, prefix: string, param: Tensor, grad: Tensor, m: Tensor, v: Tensor): Tensor {
  const p = expectTensor(fn, `${prefix}param`, param);
  if (p.dtype !== 'float32' && p.dtype !== 'complex64') throw new TypeError(`${fn}: argument '${prefix}param' must be float32 or complex64 (got ${p.dtype})`);
  if (p.rank === 0 || p.size === 0) {
    throw new RangeError(`${fn}: argument '${prefix}param' must have rank >= 1 and no zero-sized dimension (got [${p.shape.join(', ')}])`);
  }
  const g = expectTensor(fn, `${prefix}grad`, grad, { dtype: p.dtype });
  const mm = expectTensor(fn, `${prefix}m`, m, { dtype: 'float32' });
  const vv = expectTensor(fn, `${prefix}v`, v, { dtype: 'float32' });
  if (g.size !== p.size) throw new RangeError(`${fn}: argument '${prefix}grad' must have ${p.size} elements like '${prefix}param' (got ${g.size})`);
  for (const [name, t] of [['m', mm], ['v', vv]] as const) {
    if (t.size !== p.floats) throw new RangeError(`${fn}: argument '${prefix}${name}' must have ${p.floats} elements, one per float of '${prefix}param' (got ${t.size})`);
  }
  sameDevice(fn, { [`${prefix}param`]: p, [`${prefix}grad`]: g, [`${prefix}m`]: mm, [`${prefix}v`]: vv });
  return p;
}

/** beta1 and beta2 in [0, 1), eps > 0: the constants every tensor of a step shares. */
function checkShared(fn: string, opts: { beta1: number; beta2: number; eps: number }): { beta1: number; beta2: number; eps: number } {
  const beta1 = expectNumber(fn, 'beta1', opts.beta1, 0);
  const beta2 = expectNumber(fn, 'beta2', opts.beta2, 0);
  if (beta1 >= 1) throw new RangeError(`${fn}: argument 'beta1' must be in [0, 1) (got ${beta1})`);
  if (beta2 >= 1) throw new RangeError(`${fn}: argument 'beta2' must be in [0, 1) (got ${beta2})`);
  const eps = expectNumber(fn, 'eps', opts.eps);
  if (!(eps > 0)) throw new RangeError(`${fn}: argument 'eps' must be > 0 (got ${eps})`);
  return { beta1, beta2, eps };
}
