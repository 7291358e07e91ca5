/**
 * Batch normalization of channel-major activations, with autograd
 * (native/binding/batch_norm.cpp):
 *
 *   batchNorm(x [B, H, L], w? [H], b? [H], { training, runningMean?, runningVar?, ... })
 *
 * as torch.nn.BatchNorm1d(H) on [B, H, L]: statistics per channel over (B, L). Training mode
 * normalizes with the batch's mean and biased variance (eps inside the square root) and
 * updates the running statistics in place when they are given (running = (1 - momentum)
 * running + momentum batch, the unbiased variance for runningVar; numBatchesTracked + 1).
 * Eval mode normalizes with the running statistics. The running tensors take no gradient.
 * The statistics the backward needs ([3H]: the mean as a float pair, and rstd) are saved by
 * the forward and freed after the backward, or at once when nothing is recorded.
 */
import type { DeviceName } from '../backend';
import { ops } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectNumber, expectTensor } from '../util/validate';
import { defineOp, handle, type OpOptions } from './define';

export interface BatchNormOptions {
  /** true: batch statistics (and running updates); false: the running statistics. */
  training: boolean;
  /** [H], updated in place in training mode; required in eval mode. */
  runningMean?: Tensor | null;
  /** [H] (unbiased variances), updated in place in training mode; required in eval mode. */
  runningVar?: Tensor | null;
  /** One value (shape [] or [1]): the count of training batches, + 1 per training call. */
  numBatchesTracked?: Tensor | null;
  /** Weight of the batch in the running statistics, in [0, 1] (default 0.1, as torch). */
  momentum?: number;
  /** Inside the square root, in (0, 1] (default 1e-5, as torch). */
  eps?: number;
}

interface Plan {
  shape: readonly number[];
  B: number;
  H: number;
  L: number;
  training: boolean;
  momentum: number;
  eps: number;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked: Tensor | null;
}

/** A running-state tensor (null when absent): float32 on `device`, [H] (shape) or one value (null), no gradient. */
function optionalState(fn: string, name: string, v: unknown, shape: number[] | null, device: DeviceName): Tensor | null {
  if (v === null || v === undefined) return null;
  const t = expectTensor(fn, name, v, { dtype: 'float32', device });
  if (shape === null) {
    if (t.size !== 1) throw new RangeError(`${fn}: argument '${name}' must hold one value (got shape [${t.shape.join(', ')}])`);
  } else {
    expectTensor(fn, name, t, { shape, dims: ['H'] });
  }
  if (t.requiresGrad) throw new TypeError(`${fn}: argument '${name}' is running state and must not require a gradient`);
  return t;
}

const batchNormOp = defineOp({
  name: 'batchNorm',
  inputs: { x: { dtype: 'float32', rank: 3, nonEmpty: true }, w: 'float32?', b: 'float32?' },
  plan: ({ x, w, b }, o: BatchNormOptions, device): Plan => {
    const fn = 'batchNorm';
    const [B, H, L] = x.shape;
    if (w) expectTensor(fn, 'w', w, { shape: [H], dims: ['H'] });
    if (b) expectTensor(fn, 'b', b, { shape: [H], dims: ['H'] });
    if (o === null || typeof o !== 'object') {
      throw new TypeError(`${fn}: argument 'opts' must be an object { training, runningMean, runningVar, numBatchesTracked, momentum, eps }`);
    }
    if (typeof o.training !== 'boolean') throw new TypeError(`${fn}: option 'training' must be a boolean (got ${String(o.training)})`);
    const runningMean = optionalState(fn, 'runningMean', o.runningMean, [H], device);
    const runningVar = optionalState(fn, 'runningVar', o.runningVar, [H], device);
    const numBatchesTracked = optionalState(fn, 'numBatchesTracked', o.numBatchesTracked, null, device);
    if (!o.training && (!runningMean || !runningVar)) {
      throw new RangeError(`${fn}: options 'runningMean' and 'runningVar' are required in eval mode (training: false)`);
    }
    if ((runningMean === null) !== (runningVar === null)) throw new RangeError(`${fn}: options 'runningMean' and 'runningVar' must be given together`);
    const state = { runningMean, runningVar, numBatchesTracked };
    const inputs = { x, w, b };
    for (const [name, t] of Object.entries(state)) {
      if (t === null) continue;
      for (const [other, u] of Object.entries({ ...inputs, ...state })) {
        if (other !== name && u === t) throw new RangeError(`${fn}: option '${name}' must not be the same tensor as '${other}'`);
      }
    }
    if (o.training && B * L < 2) {
      throw new RangeError(`${fn}: training mode needs more than one value per channel (B * L >= 2, got x of shape [${x.shape.join(', ')}])`);
    }
    const momentum = expectNumber(fn, 'momentum', o.momentum ?? 0.1, 0, 1);
    const eps = expectNumber(fn, 'eps', o.eps ?? 1e-5);
    if (!(eps > 0 && eps <= 1)) throw new RangeError(`${fn}: argument 'eps' must be in (0, 1] (got ${eps})`);
    return { shape: x.shape, B, H, L, training: o.training, momentum, eps, runningMean, runningVar, numBatchesTracked };
  },
  forward: ({ x, w, b }, out, p, ctx) => {
    for (const [name, t] of [['runningMean', p.runningMean], ['runningVar', p.runningVar], ['numBatchesTracked', p.numBatchesTracked]] as const) {
      if (t === out) throw new RangeError(`batchNorm: option 'out' must not be the running state '${name}'`);
    }
    ops.batchNormForward({
      x: x.handle,
      weight: handle(w),
      bias: handle(b),
      runningMean: handle(p.runningMean),
      runningVar: handle(p.runningVar),
      numBatchesTracked: handle(p.numBatchesTracked),
      out: out.handle,
      saved: ctx.recording ? ctx.save([3 * p.H]).handle : null,
      B: p.B,
      H: p.H,
      L: p.L,
      momentum: p.momentum,
      eps: p.eps,
      training: p.training,
    });
  },
  backward: (g, { x, w }, { B, H, L, training }, grads, [saved]) =>
    ops.batchNormBackward({
      gradOut: g.handle,
      x: x.handle,
      weight: handle(w),
      saved: saved.handle,
      gradX: handle(grads.x),
      gradWeight: handle(grads.w),
      gradBias: handle(grads.b),
      B,
      H,
      L,
      training,
    }),
});

/**
 * Batch norm of x [B, H, L] over (B, L) per channel, weight and bias [H] optional (unit
 * weight, zero shift); see BatchNormOptions for the modes and the running statistics.
 * Gradients to x, w and b. opts.out: a float32 [B, H, L] tensor (not x) to write into.
 */
export function batchNorm(x: Tensor, w: Tensor | null | undefined, b: Tensor | null | undefined, options: BatchNormOptions, opts?: OpOptions): Tensor {
  return batchNormOp({ x, w, b }, options, opts);
}
