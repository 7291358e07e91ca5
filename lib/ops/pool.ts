/**
 * Pooling over the last dimension of x [B, H, L], with autograd (native/binding/pool.cpp):
 *
 *   meanPool(x) -> [B, H]   the mean over L
 *   lastPool(x) -> [B, H]   x[:, :, L-1], the causal summary of a sequence
 *
 * and their padding-aware forms, for a batch of sequences padded to its longest, with the
 * true lengths in `lengths` [B] (float32 integers in [1, L]; lib/nn/lengths.ts makes them):
 *
 *   lengthMask(x, lengths)      -> [B, H, L]  x with the padding (l >= lengths[b]) zeroed
 *   maskedMeanPool(x, lengths)  -> [B, H]     the mean over the valid positions
 *   maskedLastPool(x, lengths)  -> [B, H]     x[:, :, lengths[b] - 1], the last valid position
 *
 * Each takes an `out` option: a float32 tensor of the result's shape to write into
 * (lengthMask: x itself too). The kernels read a length as trunc(v) clamped to [0, L]; the
 * values are not read back to be checked here, which would wait for the device.
 */
import { ops } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectTensor } from '../util/validate';
import { defineOp, type OpOptions } from './define';

/** x [B, H, L] with at least one element. */
const POOL_INPUT = { x: { dtype: 'float32', rank: 3, nonEmpty: true } } as const;

function planPool({ x }: { x: Tensor }) {
  const [B, H, L] = x.shape;
  return { shape: [B, H], B, H, L };
}

const meanPoolOp = defineOp({
  name: 'meanPool',
  inputs: POOL_INPUT,
  plan: (inputs, _args: undefined) => planPool(inputs),
  forward: ({ x }, out, { B, H, L }) => ops.meanPoolForward({ x: x.handle, out: out.handle, B, H, L }),
  backward: (g, _in, { B, H, L }, grads) => ops.meanPoolBackward({ gradOut: g.handle, gradX: grads.x!.handle, B, H, L }),
});

/** Mean over the last dimension of x [B, H, L] -> [B, H]. */
export function meanPool(x: Tensor, opts?: OpOptions): Tensor {
  return meanPoolOp({ x }, undefined, opts);
}

const lastPoolOp = defineOp({
  name: 'lastPool',
  inputs: POOL_INPUT,
  plan: (inputs, _args: undefined) => planPool(inputs),
  forward: ({ x }, out, { B, H, L }) => ops.lastPoolForward({ x: x.handle, out: out.handle, rows: B * H, L }),
  backward: (g, _in, { B, H, L }, grads) => ops.lastPoolBackward({ gradOut: g.handle, gradX: grads.x!.handle, rows: B * H, L }),
});

/** The last position of x [B, H, L] -> [B, H] (x[:, :, L-1]). */
export function lastPool(x: Tensor, opts?: OpOptions): Tensor {
  return lastPoolOp({ x }, undefined, opts);
}

/** x [B, H, L] and lengths [B]. */
const MASKED_INPUT = { x: { dtype: 'float32', rank: 3, nonEmpty: true }, lengths: 'float32' } as const;

function planMasked(fn: string, { x, lengths }: { x: Tensor; lengths: Tensor }, pooled: boolean) {
  const [B, H, L] = x.shape;
  expectTensor(fn, 'lengths', lengths, { shape: [B], dims: ['B'] });
  return { shape: pooled ? [B, H] : [B, H, L], B, H, L };
}

const lengthMaskOp = defineOp({
  name: 'lengthMask',
  inputs: MASKED_INPUT,
  plan: (inputs, _args: undefined) => planMasked('lengthMask', inputs, false),
  forward: ({ x, lengths }, out, { B, H, L }) => ops.lengthMask({ x: x.handle, lengths: lengths.handle, out: out.handle, B, H, L }),
  // The mask is its own adjoint: the gradient is masked the same way.
  backward: (g, { lengths }, { B, H, L }, grads) => {
    if (grads.x) ops.lengthMask({ x: g.handle, lengths: lengths.handle, out: grads.x.handle, B, H, L });
    return { lengths: null };
  },
  inPlace: true,
});

/** x [B, H, L] with x[b, :, l] = 0 for l >= lengths[b] (the official S4 `lengths` mask). */
export function lengthMask(x: Tensor, lengths: Tensor, opts?: OpOptions): Tensor {
  return lengthMaskOp({ x, lengths }, undefined, opts);
}

const maskedMeanPoolOp = defineOp({
  name: 'maskedMeanPool',
  inputs: MASKED_INPUT,
  plan: (inputs, _args: undefined) => planMasked('maskedMeanPool', inputs, true),
  forward: ({ x, lengths }, out, { B, H, L }) => ops.maskedMeanPoolForward({ x: x.handle, lengths: lengths.handle, out: out.handle, B, H, L }),
  backward: (g, { lengths }, { B, H, L }, grads) => {
    if (grads.x) ops.maskedMeanPoolBackward({ gradOut: g.handle, lengths: lengths.handle, gradX: grads.x.handle, B, H, L });
    return { lengths: null };
  },
});

/** Mean of x [B, H, L] over the first lengths[b] positions of each sequence -> [B, H]. */
export function maskedMeanPool(x: Tensor, lengths: Tensor, opts?: OpOptions): Tensor {
  return maskedMeanPoolOp({ x, lengths }, undefined, opts);
}

const maskedLastPoolOp = defineOp({
  name: 'maskedLastPool',
  inputs: MASKED_INPUT,
  plan: (inputs, _args: undefined) => planMasked('maskedLastPool', inputs, true),
  forward: ({ x, lengths }, out, { B, H, L }) => ops.maskedLastPoolForward({ x: x.handle, lengths: lengths.handle, out: out.handle, B, H, L }),
  backward: (g, { lengths }, { B, H, L }, grads) => {
    if (grads.x) ops.maskedLastPoolBackward({ gradOut: g.handle, lengths: lengths.handle, gradX: grads.x.handle, B, H, L });
    return { lengths: null };
  },
});

/** The last valid position of each sequence: x[b, :, lengths[b] - 1] of x [B, H, L] -> [B, H]. */
export function maskedLastPool(x: Tensor, lengths: Tensor, opts?: OpOptions): Tensor {
  return maskedLastPoolOp({ x, lengths }, undefined, opts);
}
