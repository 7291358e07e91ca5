/**
 * The fused AdamW step (native/binding/optim.cpp): in place, not recorded by autograd.
 */
import { ops } from '../native/binding';
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
  const p = expectTensor(fn, 'param', param);
  if (p.dtype !== 'float32' && p.dtype !== 'complex64') throw new TypeError(`${fn}: argument 'param' must be float32 or complex64 (got ${p.dtype})`);
  if (p.rank === 0 || p.size === 0) {
    throw new RangeError(`${fn}: argument 'param' must have rank >= 1 and no zero-sized dimension (got [${p.shape.join(', ')}])`);
  }
  const g = expectTensor(fn, 'grad', grad, { dtype: p.dtype });
  const mm = expectTensor(fn, 'm', m, { dtype: 'float32' });
  const vv = expectTensor(fn, 'v', v, { dtype: 'float32' });
  if (g.size !== p.size) throw new RangeError(`${fn}: argument 'grad' must have ${p.size} elements like 'param' (got ${g.size})`);
  for (const [name, t] of [['m', mm], ['v', vv]] as const) {
    if (t.size !== p.floats) throw new RangeError(`${fn}: argument '${name}' must have ${p.floats} elements, one per float of 'param' (got ${t.size})`);
  }
  sameDevice(fn, { param: p, grad: g, m: mm, v: vv });
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
  const lr = expectNumber(fn, 'lr', opts.lr, 0);
  const beta1 = expectNumber(fn, 'beta1', opts.beta1, 0);
  const beta2 = expectNumber(fn, 'beta2', opts.beta2, 0);
  if (beta1 >= 1) throw new RangeError(`${fn}: argument 'beta1' must be in [0, 1) (got ${beta1})`);
  if (beta2 >= 1) throw new RangeError(`${fn}: argument 'beta2' must be in [0, 1) (got ${beta2})`);
  const eps = expectNumber(fn, 'eps', opts.eps);
  if (!(eps > 0)) throw new RangeError(`${fn}: argument 'eps' must be > 0 (got ${eps})`);
  const weightDecay = expectNumber(fn, 'weightDecay', opts.weightDecay, 0);
  const step = expectInteger(fn, 'step', opts.step, 1, 2 ** 53);
  ops.adamwUpdate({ param: p.handle, grad: g.handle, m: mm.handle, v: vv.handle, n: p.floats, lr, beta1, beta2, eps, weightDecay, step });
}
