/**
 * Activations, with autograd (native/binding/activation.cpp):
 *
 *   gelu(x, { approximate: 'none' | 'tanh' })    x Phi(x), exact erf or the tanh form
 *   glu(x, dim = -1)                             a * sigmoid(b), the halves a, b along dim
 *   dropout(x, p, { seed, step, tie? })          inverted dropout, mask fixed by (seed, step);
 *                                                tie: one mask value per row, shared over the last dim
 *
 * Each takes an `out` option: a float32 tensor of the result's shape to write into.
 */
import { ops, type NativeBuffer } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectInteger, expectNumber } from '../util/validate';
import { defineOp, type OpOptions } from './define';

/** The input of every activation: float32 with at least one element. */
const ACTIVATION_INPUT = { x: { dtype: 'float32', nonEmpty: true } } as const;

export interface GeluOptions {
  /** 'none': x Phi(x) with the exact erf (default); 'tanh': the tanh approximation. */
  approximate?: 'none' | 'tanh';
}

const geluOp = defineOp({
  name: 'gelu',
  inputs: ACTIVATION_INPUT,
  plan: ({ x }, opts: GeluOptions) => {
    if (opts === null || typeof opts !== 'object') throw new TypeError("gelu: argument 'opts' must be an object");
    const approximate = opts.approximate ?? 'none';
    if (approximate !== 'none' && approximate !== 'tanh') {
      throw new RangeError(`gelu: option 'approximate' must be 'none' or 'tanh' (got ${String(approximate)})`);
    }
    return { shape: x.shape, n: x.size, approximate };
  },
  forward: ({ x }, out, { n, approximate }) => ops.geluForward({ x: x.handle, out: out.handle, n, approximate }),
  backward: (g, { x }, { n, approximate }, grads) =>
    ops.geluBackward({ gradOut: g.handle, x: x.handle, gradX: grads.x!.handle, n, approximate }),
});

export function gelu(x: Tensor, opts: GeluOptions & OpOptions = {}): Tensor {
  return geluOp({ x }, opts, opts ?? undefined);
}

const gluOp = defineOp({
  name: 'glu',
  inputs: ACTIVATION_INPUT,
  plan: ({ x }, dim: number) => {
    const d = expectInteger('glu', 'dim', dim, -x.rank, x.rank - 1);
    const axis = d < 0 ? d + x.rank : d;
    const size = x.shape[axis];
    if (size % 2 !== 0) throw new RangeError(`glu: dimension ${axis} of 'x' must be even (got ${size} in [${x.shape.join(', ')}])`);
    const outer = x.shape.slice(0, axis).reduce((a, s) => a * s, 1);
    const inner = x.shape.slice(axis + 1).reduce((a, s) => a * s, 1);
    const half = size / 2;
    const shape = [...x.shape];
    shape[axis] = half;
    return { shape, outer, half, inner };
  },
  forward: ({ x }, out, { outer, half, inner }) => ops.gluForward({ x: x.handle, out: out.handle, outer, half, inner }),
  backward: (g, { x }, { outer, half, inner }, grads) =>
    ops.gluBackward({ gradOut: g.handle, x: x.handle, gradX: grads.x!.handle, outer, half, inner }),
});

/** GLU: splits x in halves a, b along `dim` (size must be even) and returns a * sigmoid(b). */
export function glu(x: Tensor, dim = -1, opts?: OpOptions): Tensor {
  return gluOp({ x }, dim, opts);
}

export interface DropoutOptions {
  /** Integer in [0, 2^53]; with `step` it fixes the mask. */
  seed: number;
  /** Integer in [0, 2^53], e.g. the training step (a new mask each step). */
  step: number;
  /**
   * One mask value per row, shared along the last dimension (default false): for x [B, H, L]
   * whole channels of each example are dropped, as torch.nn.Dropout1d does (the official S4's
   * tied dropout). Row r's value equals element r of the untied mask.
   */
  tie?: boolean;
  /**
   * Index of x's first example in a larger batch (default 0): x (first dimension the batch)
   * then gets exactly its slice of the mask that batch would get, as one rank of a
   * data-parallel step needs to match the single-process step.
   */
  batchOffset?: number;
}

const dropoutOp = defineOp({
  name: 'dropout',
  inputs: ACTIVATION_INPUT,
  plan: ({ x }, { p, opts }: { p: number; opts: DropoutOptions }) => {
    const fn = 'dropout';
    const pp = expectNumber(fn, 'p', p);
    if (!(pp >= 0 && pp < 1)) throw new RangeError(`${fn}: argument 'p' must be in [0, 1) (got ${pp})`);
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object { seed, step }`);
    const seed = expectInteger(fn, 'seed', opts.seed, 0, 2 ** 53);
    const step = expectInteger(fn, 'step', opts.step, 0, 2 ** 53);
    const tie = opts.tie ?? false;
    if (typeof tie !== 'boolean') throw new TypeError(`${fn}: option 'tie' must be a boolean (got ${String(tie)})`);
    const batchOffset = expectInteger(fn, 'batchOffset', opts.batchOffset ?? 0, 0, 2 ** 53);
    const L = x.shape[x.rank - 1];
    const rows = x.size / L;
    // The mask index of element (or, tied, row) 0: examples before it times their size.
    const offset = batchOffset === 0 ? 0 : batchOffset * ((tie ? rows : x.size) / (x.rank > 1 ? x.shape[0] : x.size));
    if (!Number.isSafeInteger(offset)) throw new RangeError(`${fn}: option 'batchOffset' ${batchOffset} puts the mask index beyond 2^53`);
    return { shape: x.shape, n: x.size, rows, L, p: pp, seed, step, tie, offset };
  },
  forward: ({ x }, out, p) => applyDropout(x.handle, out.handle, p),
  // The mask is a pure function of (seed, step, element or row index): the same call on g.
  backward: (g, _in, p, grads) => applyDropout(g.handle, grads.x!.handle, p),
});

function applyDropout(
  x: NativeBuffer,
  out: NativeBuffer,
  d: { n: number; rows: number; L: number; p: number; seed: number; step: number; tie: boolean; offset: number },
): void {
  const { p, seed, step, offset } = d;
  if (d.tie) ops.dropoutTied({ x, out, rows: d.rows, L: d.L, p, seed, step, offset });
  else ops.dropout({ x, out, n: d.n, p, seed, step, offset });
}

/**
 * Inverted dropout: each element is zeroed with probability p, the rest scaled by 1/(1-p).
 * The mask is a pure function of (seed, step, element index), so the backward applies the
 * very same mask. Identity when p = 0.
 */
export function dropout(x: Tensor, p: number, opts: DropoutOptions & OpOptions): Tensor {
  return dropoutOp({ x }, { p, opts }, opts ?? undefined);
}
