/**
 * The fused AdamW step: one tensor per native op (adamwStep, native/binding/optim.cpp) or
 * many tensors per native call (adamwStepMulti, native/binding/adamw_multi.cpp), with the
 * same floats. In place, not recorded by autograd.
 */
import { core, ops, type NativeBuffer } from '../native/binding';
import { Tensor } from '../tensor/tensor';
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
  const calls = new Map<string, MultiCall>();
  let last: MultiCall | null = null;
  tensors.forEach((t, k) => {
    // The named checks build their messages' names, which costs more than the update's own
    // share of a call: they run only when the plain test fails, and then they throw.
    if (!entryOk(t)) checkEntry(fn, k, t);
    const device = t.param.device;
    let call = last?.device === device ? last : calls.get(device);
    if (!call) {
      call = new MultiCall(device, tensors.length);
      calls.set(device, call);
    }
    call.add(t);
    last = call;
  });
  // The native export checks that no written buffer appears twice (named by its index in
  // the call of its device, which is the index here when all tensors share a device).
  for (const c of calls.values()) c.run(beta1, beta2, eps);
}

/** The arguments of one core.adamwMulti call (the tensors of one device). */
class MultiCall {
  private readonly params: NativeBuffer[] = [];
  private readonly grads: NativeBuffer[] = [];
  private readonly ms: NativeBuffer[] = [];
  private readonly vs: NativeBuffer[] = [];
  private readonly lr: Float64Array;
  private readonly weightDecay: Float64Array;
  private readonly step: Float64Array;

  constructor(readonly device: string, capacity: number) {
    this.lr = new Float64Array(capacity);
    this.weightDecay = new Float64Array(capacity);
    this.step = new Float64Array(capacity);
  }

  add(t: AdamWMultiTensor): void {
    const k = this.params.length;
    this.params.push(t.param.handle);
    this.grads.push(t.grad.handle);
    this.ms.push(t.m.handle);
    this.vs.push(t.v.handle);
    this.lr[k] = t.lr;
    this.weightDecay[k] = t.weightDecay;
    this.step[k] = t.step;
  }

  run(beta1: number, beta2: number, eps: number): void {
    const n = this.params.length;
    core.adamwMulti(this.params, this.grads, this.ms, this.vs, this.lr.subarray(0, n), this.weightDecay.subarray(0, n), this.step.subarray(0, n), beta1, beta2, eps);
  }
}

const okNumber = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/** Whether checkEntry would pass t (the same tests without names). */
function entryOk(t: AdamWMultiTensor): boolean {
  if (t === null || typeof t !== 'object') return false;
  const { param: p, grad: g, m, v } = t;
  return (
    p instanceof Tensor && g instanceof Tensor && m instanceof Tensor && v instanceof Tensor &&
    !p.isDisposed && !g.isDisposed && !m.isDisposed && !v.isDisposed &&
    (p.dtype === 'float32' || p.dtype === 'complex64') && p.rank > 0 && p.size > 0 &&
    g.dtype === p.dtype && g.size === p.size &&
    m.dtype === 'float32' && v.dtype === 'float32' && m.size === p.floats && v.size === p.floats &&
    g.device === p.device && m.device === p.device && v.device === p.device &&
    okNumber(t.lr) && okNumber(t.weightDecay) && Number.isInteger(t.step) && t.step >= 1 && t.step <= 2 ** 53
  );
}

/** The named checks of tensors[k] (they throw on what entryOk refuses). */
function checkEntry(fn: string, k: number, t: AdamWMultiTensor): void {
  const where = `tensors[${k}]`;
  if (t === null || typeof t !== 'object') throw new TypeError(`${fn}: argument '${where}' must be { param, grad, m, v, lr, weightDecay, step }`);
  checkTensors(fn, `${where}.`, t.param, t.grad, t.m, t.v);
  expectNumber(fn, `${where}.lr`, t.lr, 0);
  expectNumber(fn, `${where}.weightDecay`, t.weightDecay, 0);
  expectInteger(fn, `${where}.step`, t.step, 1, 2 ** 53);
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
