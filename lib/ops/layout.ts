/**
 * Layout ops, with autograd (native/binding/layout.cpp):
 *
 *   transpose12(x [B, M, N]) -> [B, N, M]
 *   flip(x [..., L]) -> [..., L]           reversed along the last dimension
 *   slice(x [..., L], start, len) -> [..., len]   x[..., start : start + len]
 *   pad(x [..., L], before, after) -> [..., before + L + after]   zeros around x
 *   tile(x, reps, axis)   reps copies of x concatenated along `axis` (float32 or complex64)
 *   reshape(x, shape)     the same elements in another shape, with a gradient
 *
 * Each takes an `out` option: a tensor of the result's shape and dtype (not x itself) to
 * write into.
 */
import { ops } from '../native/binding';
import type { DType, Tensor } from '../tensor/tensor';
import { floatsPer } from '../tensor/tensor';
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

const padOp = defineOp({
  name: 'pad',
  inputs: { x: { dtype: 'float32', nonEmpty: true } },
  plan: ({ x }, { before, after }: { before: number; after: number }) => {
    const L = x.shape[x.rank - 1];
    const b = expectInteger('pad', 'before', before, 0);
    const a = expectInteger('pad', 'after', after, 0);
    const Lout = b + L + a;
    return { shape: [...x.shape.slice(0, -1), Lout], rows: x.size / L, L, start: b, Lout };
  },
  // The padded row is slice's backward (the window in zeros); its gradient is slice.
  forward: ({ x }, out, { rows, L, start, Lout }) =>
    ops.sliceLastBackward({ gradOut: x.handle, gradX: out.handle, rows, L: Lout, start, len: L }),
  backward: (g, _in, { rows, L, start, Lout }, grads) =>
    ops.sliceLast({ x: g.handle, out: grads.x!.handle, rows, L: Lout, start, len: L }),
});

/**
 * x [..., L] with `before` zeros in front and `after` zeros behind along the last dimension:
 * [..., before + L + after] (float32).
 */
export function pad(x: Tensor, before: number, after: number, opts?: OpOptions): Tensor {
  return padOp({ x }, { before, after }, opts);
}

/** Sizes of tile: the rows before `axis`, and the floats from `axis` on. */
function tileOp(dtype: DType) {
  return defineOp({
    name: 'tile',
    inputs: { x: { dtype, nonEmpty: true } },
    plan: ({ x }, { reps, axis }: { reps: number; axis: number }) => {
      const r = expectInteger('tile', 'reps', reps, 1);
      const a = expectInteger('tile', 'axis', axis, -x.rank, x.rank - 1);
      const ax = a < 0 ? a + x.rank : a;
      const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
      const inner = (x.size / outer) * floatsPer(dtype);
      const shape = x.shape.slice();
      shape[ax] *= r;
      return { shape, dtype, outer, reps: r, inner };
    },
    forward: ({ x }, out, { outer, reps, inner }) => ops.repeatMid({ x: x.handle, out: out.handle, outer, reps, inner }),
    backward: (g, _in, { outer, reps, inner }, grads) =>
      ops.repeatMidBackward({ gradOut: g.handle, gradX: grads.x!.handle, outer, reps, inner }),
  });
}

const tileFloat = tileOp('float32');
const tileComplex = tileOp('complex64');

/**
 * `reps` copies of x concatenated along `axis` (numpy.tile along one axis): element i of the
 * result's axis is element i mod n of x's (n = x.shape[axis]). float32 or complex64; the
 * gradient sums the copies.
 */
export function tile(x: Tensor, reps: number, axis = 0, opts?: OpOptions): Tensor {
  const complex = x !== null && typeof x === 'object' && (x as Tensor).dtype === 'complex64';
  return (complex ? tileComplex : tileFloat)({ x }, { reps, axis }, opts);
}

function reshapeOp(dtype: DType) {
  return defineOp({
    name: 'reshape',
    inputs: { x: dtype },
    plan: ({ x }, shape: readonly number[]) => {
      if (!Array.isArray(shape)) throw new TypeError(`reshape: argument 'shape' must be an array of sizes (got ${String(shape)})`);
      shape.forEach((d, i) => expectInteger('reshape', `shape[${i}]`, d, 0));
      const count = shape.reduce((p, d) => p * d, 1);
      if (count !== x.size) throw new RangeError(`reshape: argument 'shape' [${shape.join(', ')}] has ${count} elements, the tensor 'x' has ${x.size}`);
      return { shape: shape.slice(), dtype, n: x.floats };
    },
    forward: ({ x }, out, { n }) => ops.axpby({ out: out.handle, a: x.handle, alpha: 1, b: null, beta: 0, n }),
    backward: (g, _in, { n }, grads) => ops.axpby({ out: grads.x!.handle, a: g.handle, alpha: 1, b: null, beta: 0, n }),
  });
}

const reshapeFloat = reshapeOp('float32');
const reshapeComplex = reshapeOp('complex64');

/**
 * x with another shape of the same element count, with autograd (a copy; Tensor.reshape
 * is the copy without a gradient). float32 or complex64.
 */
export function reshape(x: Tensor, shape: readonly number[], opts?: OpOptions): Tensor {
  const complex = x !== null && typeof x === 'object' && (x as Tensor).dtype === 'complex64';
  return (complex ? reshapeComplex : reshapeFloat)({ x }, shape, opts);
}
