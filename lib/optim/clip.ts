/**
 * Gradient clipping by the global L2 norm (torch.nn.utils.clip_grad_norm_): if the norm of
 * all gradients together exceeds maxNorm, every gradient is scaled by maxNorm / (norm + 1e-6).
 * Complex gradients count as their real and imaginary parts. The norm is reduced on the
 * device and read once.
 */
import { noGrad } from '../autograd/tape';
import { ops, core } from '../native/binding';
import { add, mul, sum } from '../ops/index';
import { expectNumber } from '../util/validate';
import { runScope } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

/** The float32 values of t (a copy; complex64 -> interleaved pairs). */
function floatsOf(t: Tensor): Tensor {
  if (t.dtype === 'float32') return t;
  const out = Tensor.empty([t.floats], 'float32', t.device);
  core.copy(out.handle, t.handle);
  return out;
}

/** The global L2 norm of the gradients of params (those without one are skipped). */
export function gradNorm(params: Iterable<Tensor>): number {
  const grads = [...params].map((p) => {
    if (!(p instanceof Tensor)) throw new TypeError("gradNorm: argument 'params' must hold Tensors");
    return p.grad;
  }).filter((g): g is Tensor => g !== null && !g.isDisposed);
  if (grads.length === 0) return 0;
  return noGrad(() =>
    runScope(() => {
      let total: Tensor | null = null;
      for (const g of grads) {
        const f = floatsOf(g);
        const s = sum(mul(f, f));
        total = total ? add(total, s) : s;
      }
      return Math.sqrt(total!.item());
    }, Tensor),
  );
}

/**
 * Scales the gradients in place so that their global norm is at most maxNorm; returns the
 * norm before clipping. A non-finite norm leaves the gradients unchanged (the caller sees it
 * in the return value and can skip the step).
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  expectNumber('clipGradNorm', 'maxNorm', maxNorm, 0);
  const list = [...params];
  const norm = gradNorm(list);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const p of list) if (p.grad && !p.grad.isDisposed) ops.axpby({ out: p.grad.handle, a: p.grad.handle, alpha: coef, beta: 0, n: p.grad.floats });
  }
  return norm;
}
