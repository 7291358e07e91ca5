/**
 * ops.argmaxChannels on the current backend against a plain JS reference: random values,
 * many ties, NaN / infinity / signed-zero columns, shapes from [1, 1, 1] to the next-pixel
 * output [2, 256, 784], rank 2 (L = 1); argument errors from the wrapper and the native op.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops as native, type NativeBuffer } from '../lib/native/binding';
import { device, randomValues } from './helpers/device';

const { ops } = s4;

/** First index of the largest x[b, :, l]; -1 when the column holds a NaN. */
function argmaxRef(x: Float32Array, B: number, C: number, L: number): Float32Array {
  const out = new Float32Array(B * L);
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++) {
      let best = 0;
      let bestV = -Infinity;
      let nan = false;
      for (let c = 0; c < C; c++) {
        const v = x[(b * C + c) * L + l];
        if (Number.isNaN(v)) nan = true;
        else if (v > bestV) {
          best = c;
          bestV = v;
        }
      }
      out[b * L + l] = nan ? -1 : best;
    }
  return out;
}

/** Values in {-2, -1, 0, 1, 2}: most columns hold several equal maxima. */
function tied(n: number, seed: number): Float32Array {
  return randomValues(n, seed).map((v) => Math.round(v * 2));
}

function run(x: Float32Array, shape: number[]): Float32Array {
  return s4.tidy(() => ops.argmaxChannels(s4.tensor(x, shape, { device })).dataSync());
}

describe(`argmaxChannels (${device})`, () => {
  it('matches the reference on random and tied values, rank 3 and rank 2', () => {
    const shapes: number[][] = [
      [1, 1, 1],
      [3, 7, 5],
      [2, 256, 784],
      [2, 3, 1000], // positions cross the CPU chunk of 256
      [4, 70, 3], // short L, many channels
      [5, 1, 9],
      [1, 1],
      [6, 10],
      [64, 1000],
    ];
    for (const shape of shapes) {
      const [B, C] = shape;
      const L = shape.length === 3 ? shape[2] : 1;
      const n = B * C * L;
      for (const [label, x] of [
        ['random', randomValues(n, n + 1)],
        ['tied', tied(n, n + 2)],
      ] as const) {
        const got = run(x, shape);
        expect(got.length).toBe(B * L);
        expect(Array.from(got), `${label} [${shape}]`).toEqual(Array.from(argmaxRef(x, B, C, L)));
      }
    }
  });

  it('output shape: [B, L] for rank 3, [B] for rank 2; no autograd record', () => {
    const x = s4.tensor(randomValues(2 * 3 * 4, 1), [2, 3, 4], { device, requiresGrad: true });
    const y = ops.argmaxChannels(x);
    expect(y.shape).toEqual([2, 4]);
    expect(y.device).toBe(device);
    expect(y.requiresGrad).toBe(false);
    expect(y.gradNode).toBeNull();
    const z = s4.tensor(randomValues(6, 2), [3, 2], { device, requiresGrad: true });
    const w = ops.argmaxChannels(z);
    expect(w.shape).toEqual([3]);
    expect(w.gradNode).toBeNull();
    s4.dispose(x, y, z, w);
  });

  it('ties go to the first index; -Infinity columns give 0; any NaN gives -1, like train.argmax', () => {
    const C = 4;
    // Columns (L = 9) of x [1, 4, 9], listed channel by channel.
    const cols: number[][] = [
      [1, 3, 3, 2], // tie -> 1
      [5, 5, 5, 5], // all equal -> 0
      [-Infinity, -Infinity, -Infinity, -Infinity], // -> 0
      [-Infinity, -Infinity, -5, -Infinity], // -> 2
      [0, Infinity, Infinity, 1], // -> 1
      [-0, 0, -0, 0], // +0 and -0 compare equal -> 0
      [1, NaN, 7, 2], // NaN -> -1
      [NaN, NaN, NaN, NaN], // -> -1
      [9, 1, 2, NaN], // NaN after the max -> -1
    ];
    const L = cols.length;
    const x = new Float32Array(C * L);
    cols.forEach((col, l) => col.forEach((v, c) => (x[c * L + l] = v)));
    const want = [1, 0, 0, 2, 1, 0, -1, -1, -1];
    expect(Array.from(run(x, [1, C, L]))).toEqual(want);
    expect(Array.from(argmaxRef(x, 1, C, L))).toEqual(want);
    // The host scorer of the trainer gives the same indices.
    for (let l = 0; l < L; l++) expect(s4.train.argmax(x, l, C, L), `column ${l}`).toBe(want[l]);
    // Rank 2: rows of [9, 4].
    const rows = new Float32Array(L * C);
    cols.forEach((col, r) => col.forEach((v, c) => (rows[r * C + c] = v)));
    expect(Array.from(run(rows, [L, C]))).toEqual(want);
  });

  it('agrees with train.argmax on random data with NaNs sprinkled in', () => {
    const [B, C, L] = [3, 33, 41];
    const x = tied(B * C * L, 5);
    for (let i = 0; i < x.length; i += 97) x[i] = NaN;
    const got = run(x, [B, C, L]);
    for (let b = 0; b < B; b++)
      for (let l = 0; l < L; l++) expect(got[b * L + l]).toBe(s4.train.argmax(x, b * C * L + l, C, L));
    expect(got.some((v) => v === -1)).toBe(true);
    expect(got.some((v) => v >= 0)).toBe(true);
  });

  it('rejects bad arguments with errors naming them', () => {
    const x = s4.tensor(randomValues(24, 1), [2, 3, 4], { device });
    expect(() => ops.argmaxChannels(undefined as unknown as s4.Tensor)).toThrow(TypeError);
    expect(() => ops.argmaxChannels([1, 2] as unknown as s4.Tensor)).toThrow(/argmaxChannels: argument 'x' must be a Tensor/);
    const z = s4.complex([1, 2], [3, 4], [1, 2], { device });
    expect(() => ops.argmaxChannels(z)).toThrow(TypeError);
    expect(() => ops.argmaxChannels(z)).toThrow(/argument 'x' must be float32/);
    const v = s4.tensor([1, 2, 3], [3], { device });
    expect(() => ops.argmaxChannels(v)).toThrow(RangeError);
    expect(() => ops.argmaxChannels(v)).toThrow(/argument 'x' must have shape \[B, C, L\] or \[B, C\] \(got \[3\]\)/);
    const r4 = s4.tensor(randomValues(16, 2), [2, 2, 2, 2], { device });
    expect(() => ops.argmaxChannels(r4)).toThrow(/argument 'x' must have shape/);
    const empty = s4.tensor([], [2, 0, 3], { device });
    expect(() => ops.argmaxChannels(empty)).toThrow(RangeError);
    const gone = s4.tensor([1, 2], [1, 2], { device });
    gone.dispose();
    expect(() => ops.argmaxChannels(gone)).toThrow(/argument 'x' has been disposed/);

    // The native op re-validates everything.
    const out = s4.tensor(new Float32Array(8), [2, 4], { device });
    const small = s4.tensor([0], [1], { device });
    const raw = (xb: NativeBuffer, ob: NativeBuffer, B: number, C: number, L: number) => native.argmaxChannels({ x: xb, out: ob, B, C, L });
    raw(x.handle, out.handle, 2, 3, 4);
    expect(Array.from(out.dataSync())).toEqual(Array.from(argmaxRef(x.dataSync(), 2, 3, 4)));
    expect(() => raw(x.handle, small.handle, 2, 3, 4)).toThrow(/argmaxChannels: argument 'out'/);
    expect(() => raw(small.handle, out.handle, 2, 3, 4)).toThrow(/argmaxChannels: argument 'x'/);
    expect(() => raw(x.handle, out.handle, 2, 3, 5)).toThrow(RangeError);
    expect(() => raw(x.handle, out.handle, 2, 0, 4)).toThrow(/argument 'C'/);
    expect(() => raw(x.handle, out.handle, 2, 1.5, 4)).toThrow(/argument 'C'/);
    expect(() => raw(x.handle, out.handle, 1, 2 ** 24 + 1, 1)).toThrow(/argument 'C' must be in \[1, 16777216\]/);
    expect(() => raw(x.handle, out.handle, -1, 3, 4)).toThrow(/argument 'B'/);
    expect(() => raw(x.handle, null as unknown as NativeBuffer, 2, 3, 4)).toThrow(/argument 'out'/);
    // One element per channel and position: C = 1 makes out as large as x; never in place.
    const one = s4.tensor([1, 2, 3, 4], [1, 1, 4], { device });
    expect(() => raw(one.handle, one.handle, 1, 1, 4)).toThrow(/argument 'out' must not be the same buffer as 'x'/);
    expect(Array.from(one.dataSync())).toEqual([1, 2, 3, 4]);
    s4.dispose(x, z, v, r4, empty, out, small, one);
  });

  it('leaves no buffers behind', () => {
    const before = s4.memory()[device].tensors;
    s4.tidy(() => ops.argmaxChannels(s4.tensor(randomValues(2 * 5 * 7, 3), [2, 5, 7], { device })).dataSync());
    expect(s4.memory()[device].tensors).toBe(before);
  });
});
