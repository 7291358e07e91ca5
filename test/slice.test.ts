/**
 * ops.slice (a window of the last dimension) on the current backend (CPU in `npm test`):
 * forward against a plain JS reference for L = 1, 7, 784 and the window edges, ranks 1 to
 * 4, gradients against central finite differences, the `out` option, NaN passing through,
 * argument errors from the wrapper and the native ops, and no leaked buffers.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops as native, type NativeBuffer } from '../lib/native/binding';
import { device, randomValues, relL2 } from './helpers/device';
import { finiteDiff, weightedSum } from './helpers/nn_reference';

const { ops } = s4;

/** x[..., start : start + len] of a row-major [rows, L] array (float64). */
function sliceRef(x: ArrayLike<number>, rows: number, L: number, start: number, len: number): Float64Array {
  const out = new Float64Array(rows * len);
  for (let r = 0; r < rows; r++) for (let j = 0; j < len; j++) out[r * len + j] = x[r * L + start + j];
  return out;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Windows at the edges of a row of L: the first and last element, the whole row, the middle. */
function windows(L: number): [number, number][] {
  const all: [number, number][] = [
    [0, L],
    [0, 1],
    [L - 1, 1],
    [0, Math.max(1, L - 1)],
    [Math.min(1, L - 1), L - Math.min(1, L - 1)],
    [Math.floor(L / 3), Math.max(1, Math.floor(L / 2))],
  ];
  const seen = new Set<string>();
  return all.filter(([s, n]) => {
    const key = `${s}:${n}`;
    if (seen.has(key) || s + n > L) return false;
    seen.add(key);
    return true;
  });
}

describe(`slice (${device})`, () => {
  it('matches the reference for L = 1, 7, 784 at the window edges, ranks 1 to 4', () => {
    const shapes = [[1], [7], [784], [3, 1], [5, 7], [2, 3, 784], [2, 2, 3, 7]];
    for (const shape of shapes) {
      const L = shape[shape.length - 1];
      const rows = sizeOf(shape) / L;
      const xv = randomValues(sizeOf(shape), L + rows);
      for (const [start, len] of windows(L)) {
        const got = s4.tidy(() => {
          const y = ops.slice(s4.tensor(xv, shape, { device }), start, len);
          expect(y.shape).toEqual([...shape.slice(0, -1), len]);
          return y.dataSync();
        });
        // A copy: exact.
        expect(Array.from(got), `[${shape}] start ${start} len ${len}`).toEqual(Array.from(sliceRef(xv, rows, L, start, len), Math.fround));
      }
    }
  });

  it('gradients match central finite differences (zeros outside the window)', () => {
    for (const [shape, start, len] of [
      [[3, 7], 2, 4],
      [[2, 2, 7], 0, 7],
      [[4, 1], 0, 1],
      [[2, 9], 8, 1],
      [[1, 784], 100, 200],
    ] as [number[], number, number][]) {
      const L = shape[shape.length - 1];
      const rows = sizeOf(shape) / L;
      const xv = randomValues(sizeOf(shape), 3);
      const W = randomValues(rows * len, 99);
      const x = s4.tensor(xv, shape, { device, requiresGrad: true });
      s4.tidy(() => ops.sum(ops.mul(ops.slice(x, start, len), s4.tensor(W, [...shape.slice(0, -1), len], { device }))).backward());
      const fd = finiteDiff((v) => weightedSum(sliceRef(v, rows, L, start, len), W), Float64Array.from(xv));
      const g = x.grad!.dataSync();
      expect(relL2(g, fd), `[${shape}] start ${start} len ${len}`).toBeLessThan(1e-4);
      for (let r = 0; r < rows; r++)
        for (let l = 0; l < L; l++) if (l < start || l >= start + len) expect(g[r * L + l]).toBe(0);
      x.dispose();
    }
  });

  it('writes into `out`, and the result feeds autograd like an allocated one', () => {
    const xv = randomValues(24, 5);
    const x = s4.tensor(xv, [2, 3, 4], { device, requiresGrad: true });
    const out = s4.tensor(new Float32Array(12).fill(7), [2, 3, 2], { device });
    const y = ops.slice(x, 1, 2, { out });
    expect(y).toBe(out);
    expect(Array.from(out.dataSync())).toEqual(Array.from(sliceRef(xv, 6, 4, 1, 2), Math.fround));
    s4.tidy(() => ops.sum(y).backward());
    expect(Array.from(x.grad!.dataSync())).toEqual(Array.from({ length: 24 }, (_, i) => (i % 4 === 1 || i % 4 === 2 ? 1 : 0)));
    expect(() => ops.slice(x, 1, 2, { out: s4.zeros([2, 3, 3], { device }) })).toThrow(/slice: argument 'out' must have shape/);
    expect(() => ops.slice(x, 0, 4, { out: x })).toThrow(/slice: option 'out' must not be the input 'x'/);
    s4.dispose(x, out);
  });

  it('NaN and infinities pass through the window; the backward carries NaN gradients', () => {
    const xv = Float32Array.from([1, NaN, 3, Infinity, -Infinity, 6]);
    const x = s4.tensor(xv, [2, 3], { device, requiresGrad: true });
    const got = s4.tidy(() => ops.slice(x, 1, 2).dataSync());
    expect(Number.isNaN(got[0])).toBe(true);
    expect(Array.from(got.slice(1))).toEqual([3, -Infinity, 6]);
    s4.tidy(() => ops.sum(ops.mul(ops.slice(x, 0, 2), s4.tensor([NaN, 1, 1, 1], [2, 2], { device }))).backward());
    const g = x.grad!.dataSync();
    expect(Number.isNaN(g[0])).toBe(true);
    expect(Array.from(g.slice(1))).toEqual([1, 0, 1, 1, 0]);
    x.dispose();
  });

  it('rejects bad arguments with errors naming them', () => {
    const x = s4.tensor(randomValues(14, 1), [2, 7], { device });
    expect(() => ops.slice('x' as unknown as s4.Tensor, 0, 1)).toThrow(/slice: argument 'x' must be a Tensor/);
    expect(() => ops.slice(s4.complex([1, 2], [3, 4], [2], { device }), 0, 1)).toThrow(/slice: argument 'x' must be float32/);
    expect(() => ops.slice(s4.zeros([2, 0], { device }), 0, 1)).toThrow(/slice: argument 'x' must have rank >= 1 and no zero-sized dimension/);
    expect(() => ops.slice(s4.tensor([1], [], { device }), 0, 1)).toThrow(/slice: argument 'x' must have rank >= 1/);
    expect(() => ops.slice(x, -1, 2)).toThrow(/slice: argument 'start' must be an integer in \[0, 6\]/);
    expect(() => ops.slice(x, 7, 1)).toThrow(/slice: argument 'start'/);
    expect(() => ops.slice(x, 1.5, 1)).toThrow(/slice: argument 'start'/);
    expect(() => ops.slice(x, 0, 0)).toThrow(/slice: argument 'len' must be an integer in \[1, 7\]/);
    expect(() => ops.slice(x, 3, 5)).toThrow(RangeError);
    expect(() => ops.slice(x, 3, 5)).toThrow(/slice: argument 'len' must be an integer in \[1, 4\] \(got 5\)/);
    expect(() => ops.slice(x, 0, NaN)).toThrow(/slice: argument 'len'/);
    const gone = s4.tensor([1, 2], [2], { device });
    gone.dispose();
    expect(() => ops.slice(gone, 0, 1)).toThrow(/slice: argument 'x' has been disposed/);

    // The native ops check the window (the spec alone cannot relate start + len to L).
    const out = s4.zeros([2, 4], { device });
    const raw = (xb: NativeBuffer, ob: NativeBuffer, start: number, len: number) => native.sliceLast({ x: xb, out: ob, rows: 2, L: 7, start, len });
    raw(x.handle, out.handle, 3, 4);
    expect(Array.from(out.dataSync())).toEqual(Array.from(sliceRef(x.dataSync(), 2, 7, 3, 4), Math.fround));
    expect(() => raw(x.handle, out.handle, 4, 4)).toThrow(RangeError);
    expect(() => raw(x.handle, out.handle, 4, 4)).toThrow(/sliceLast: argument 'len' must be at most L - start = 3 \(got 4/);
    expect(() => raw(x.handle, out.handle, -1, 4)).toThrow(/sliceLast: argument 'start'/);
    expect(() => raw(x.handle, out.handle, 0.5, 4)).toThrow(/sliceLast: argument 'start'/);
    expect(() => raw(out.handle, out.handle, 0, 4)).toThrow(/sliceLast: argument 'x'/);
    expect(() => native.sliceLast({ x: x.handle, out: out.handle, rows: 2, L: 7, start: 0, len: 5 })).toThrow(/sliceLast: argument 'out'/);
    const gx = s4.zeros([2, 7], { device });
    expect(() => native.sliceLastBackward({ gradOut: out.handle, gradX: gx.handle, rows: 2, L: 7, start: 4, len: 4 })).toThrow(
      /sliceLastBackward: argument 'len' must be at most L - start = 3/,
    );
    expect(() => native.sliceLastBackward({ gradOut: out.handle, gradX: out.handle, rows: 2, L: 4, start: 0, len: 4 })).toThrow(
      /sliceLastBackward: argument 'gradX' must not be the same buffer as 'gradOut'/,
    );
    s4.dispose(x, out, gx);
  });

  it('leaves no buffers behind', () => {
    const before = s4.memory()[device].tensors;
    const x = s4.tensor(randomValues(3 * 784, 2), [3, 784], { device, requiresGrad: true });
    s4.tidy(() => ops.sum(ops.slice(x, 10, 500)).backward());
    s4.noGrad(() => s4.tidy(() => ops.slice(x, 0, 1).dataSync()));
    x.dispose();
    expect(s4.memory()[device].tensors).toBe(before);
  });
});
