/**
 * Losses, with autograd, and the argmax that scores predictions (native/binding/loss.cpp):
 *
 *   crossEntropy(logits [M, C], labels [M]) -> [] (mean)   gradient to logits only
 *   mse(a, b) -> [] (mean of (a - b)^2)                    gradients to both
 *   argmaxChannels(x [B, C, L] | [B, C]) -> [B, L] | [B]   class indices, no autograd
 *
 * Each takes an `out` option: a float32 tensor of the result's shape to write into. The
 * softmax probabilities crossEntropy saves for its backward are freed as soon as the
 * backward has used them, or at once when nothing is recorded.
 */
import { ops } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectNonEmpty, expectSameShape, expectTensor } from '../util/validate';
import { defineOp, handle, type OpOptions } from './define';

const crossEntropyOp = defineOp({
  name: 'crossEntropy',
  inputs: { logits: { dtype: 'float32', rank: 2, nonEmpty: true }, labels: 'float32' },
  plan: ({ logits, labels }, check: boolean) => {
    const [M, C] = logits.shape;
    expectTensor('crossEntropy', 'labels', labels, { shape: [M], dims: ['M'] });
    if (typeof check !== 'boolean') throw new TypeError(`crossEntropy: option 'check' must be a boolean (got ${String(check)})`);
    return { shape: [] as number[], M, C, check };
  },
  // The kernel writes the probabilities in any case (the loss is computed from them).
  forward: ({ logits, labels }, out, { M, C, check }, ctx) =>
    ops.crossEntropyForward({ logits: logits.handle, labels: labels.handle, loss: out.handle, probs: ctx.save([M, C]).handle, M, C, check }),
  backward: (g, { labels }, { M, C }, grads, [probs]) => {
    if (grads.logits) {
      ops.crossEntropyBackward({ probs: probs.handle, labels: labels.handle, gradOut: g.handle, gradLogits: grads.logits.handle, M, C });
    }
    return { labels: null }; // class ids: no gradient
  },
});

export interface CrossEntropyOptions extends OpOptions {
  /**
   * Check the labels and the logits (default true): a label that is not a class id throws a
   * RangeError naming 'labels', a +Infinity logit one naming 'logits'. On CUDA the check
   * reads a flag back, so the call waits for the kernel. false: nothing waits, and such rows
   * make the loss NaN instead, for callers that checked the labels on the host and read the
   * loss anyway (the Trainer).
   */
  check?: boolean;
}

/**
 * Mean softmax cross-entropy of logits [M, C] against labels [M] (float32 holding class
 * ids in [0, C); anything else throws a RangeError naming 'labels'). Gradient to logits.
 * A -Infinity logit masks its class; a +Infinity logit has no softmax and throws a
 * RangeError naming 'logits' whose code is 'S4_NON_FINITE' (isNonFiniteError); NaN
 * logits give a NaN loss. See CrossEntropyOptions.check.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, opts?: CrossEntropyOptions): Tensor {
  return crossEntropyOp({ logits, labels }, opts?.check ?? true, opts);
}

const mseOp = defineOp({
  name: 'mse',
  inputs: { a: { dtype: 'float32', nonEmpty: true }, b: 'float32' },
  plan: ({ a, b }, _args: undefined) => {
    expectSameShape('mse', 'b', b, 'a', a);
    return { shape: [] as number[], n: a.size };
  },
  forward: ({ a, b }, out, { n }) => ops.mseForward({ a: a.handle, b: b.handle, loss: out.handle, n }),
  backward: (g, { a, b }, { n }, grads) =>
    ops.mseBackward({ a: a.handle, b: b.handle, gradOut: g.handle, gradA: handle(grads.a), gradB: handle(grads.b), n }),
});

/** Mean squared error mean((a - b)^2) over all elements -> []; gradients to both. */
export function mse(a: Tensor, b: Tensor, opts?: OpOptions): Tensor {
  return mseOp({ a, b }, undefined, opts);
}

/** Largest channel count argmaxChannels takes: float32 holds every index up to 2^24 exactly. */
const MAX_ARGMAX_CHANNELS = 2 ** 24;

const argmaxChannelsOp = defineOp({
  name: 'argmaxChannels',
  inputs: { x: 'float32' },
  plan: ({ x }, _args: undefined) => {
    const fn = 'argmaxChannels';
    if (x.rank !== 2 && x.rank !== 3) {
      throw new RangeError(`${fn}: argument 'x' must have shape [B, C, L] or [B, C] (got [${x.shape.join(', ')}])`);
    }
    expectNonEmpty(fn, 'x', x);
    const [B, C] = x.shape;
    const L = x.rank === 3 ? x.shape[2] : 1;
    if (C > MAX_ARGMAX_CHANNELS) {
      throw new RangeError(`${fn}: argument 'x' has ${C} channels; at most ${MAX_ARGMAX_CHANNELS} (float32 indices) are supported`);
    }
    return { shape: x.rank === 3 ? [B, L] : [B], B, C, L };
  },
  forward: ({ x }, out, { B, C, L }) => ops.argmaxChannels({ x: x.handle, out: out.handle, B, C, L }),
});

/**
 * Index of the largest value over the channel axis, computed on x's device:
 * x [B, C, L] -> [B, L], or x [B, C] -> [B] (the case L = 1). The indices are float32.
 * The rule is the host scorer's (s4.train.argmax), so accuracy is the same either way:
 * ties (values that compare equal, +0 and -0 too) go to the smallest index, a column of
 * -Infinity gives 0, and a column holding any NaN gives -1 (never a valid class).
 * Not differentiable: the result is never recorded by autograd and has no gradient.
 */
export function argmaxChannels(x: Tensor, opts?: OpOptions): Tensor {
  return argmaxChannelsOp({ x }, undefined, opts);
}
