/**
 * Pooling over the last dimension of x [B, H, L], with autograd (native/binding/pool.cpp):
 *
 *   meanPool(x) -> [B, H]   the mean over L
 *   lastPool(x) -> [B, H]   x[:, :, L-1], the causal summary of a sequence
 *
 * Each takes an `out` option: a float32 [B, H] tensor to write the result into.
 */
import { ops } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
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
