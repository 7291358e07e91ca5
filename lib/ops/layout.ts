/**
 * Layout ops, with autograd (native/binding/layout.cpp):
 *
 *   transpose12(x [B, M, N]) -> [B, N, M]
 *   flip(x [..., L]) -> [..., L]           reversed along the last dimension
 *   slice(x [..., L], start, len) -> [..., len]   x[..., start : start + len]
 *
 * Each takes an `out` option: a float32 tensor of the result's shape (not x itself) to
 * write into.
 */
import { ops } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectInteger } from '../util/validate';
import { defineOp, type OpOptions } from './define';

const transpose12Op = defineOp({
  name: 'transpose12',
  inputs: { x: { dtype: 'float32', rank: 3, nonEmpty: true } },
  plan: ({ x }, _args: undefined) => {
    const [B, M, N] = x.shape;
    return { shape: [B, N, M], B, M, N };
  },
  forward: ({ x }, out, { B, M, N }) => ops.transpose12({ x: x.handle, out: out.handle, B, M, N }),
  // Its own backward, with M and N swapped.
  backward: (g, _in, { B, M, N }, grads) => ops.transpose12({ x: g.handle, out: grads.x!.handle, B, M: N, N: M }),
});

/** Batched transpose x [B, M, N] -> [B, N, M]. */
export function transpose12(x: Tensor, opts?: OpOptions): Tensor {
  return transpose12Op({ x }, undefined, opts);
}

const flipOp = defineOp({
  name: 'flip',
  inputs: { x: { dtype: 'float32', nonEmpty: true } },
  plan: ({ x }, _args: undefined) => {
    const L = x.shape[x.rank - 1];
    return { shape: x.shape, rows: x.size / L, L };
  },
  forward: ({ x }, out, { rows, L }) => ops.flipLast({ x: x.handle, out: out.handle, rows, L }),
  backward: (g, _in, { rows, L }, grads) => ops.flipLast({ x: g.handle, out: grads.x!.handle, rows, L }),
});

/** x reversed along its last dimension. */
export function flip(x: Tensor, opts?: OpOptions): Tensor {
  return flipOp({ x }, undefined, opts);
}

const sliceOp = defineOp({
  name: 'slice',
  inputs: { x: { dtype: 'float32', nonEmpty: true } },
  plan: ({ x }, { start, len }: { start: number; len: number }) => {
    const L = x.shape[x.rank - 1];
    const s = expectInteger('slice', 'start', start, 0, L - 1);
    const n = expectInteger('slice', 'len', len, 1, L - s);
    return { shape: [...x.shape.slice(0, -1), n], rows: x.size / L, L, start: s, len: n };
  },
  forward: ({ x }, out, { rows, L, start, len }) => ops.sliceLast({ x: x.handle, out: out.handle, rows, L, start, len }),
  // The window of the gradient, zeros elsewhere.
  backward: (g, _in, { rows, L, start, len }, grads) =>
    ops.sliceLastBackward({ gradOut: g.handle, gradX: grads.x!.handle, rows, L, start, len }),
});

/**
 * x[..., start : start + len]: a window of the last dimension L of a float32 tensor of any
 * rank >= 1 (0 <= start, 1 <= len, start + len <= L) -> [..., len].
 */
export function slice(x: Tensor, start: number, len: number, opts?: OpOptions): Tensor {
  return sliceOp({ x }, { start, len }, opts);
}
