/**
 * ops.tile (copies along one axis, float32 and complex64) and ops.pad (zeros around the last
 * dimension) on the current backend (CPU in `npm test`): forward against plain JS references
 * for L = 1, 7, 784, every axis, gradients against central finite differences, NaN passing,
 * argument errors from the wrappers and the native ops.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops as native } from '../lib/native/binding';
import { device, randomValues, relL2 } from './helpers/device';
import { finiteDiff, weightedSum } from './helpers/nn_reference';

const { ops } = s4;
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** numpy.tile along one axis of a row-major array of `shape` with `per` floats per element. */
function tileRef(x: ArrayLike<number>, shape: number[], reps: number, axis: number, per = 1): Float64Array {
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis)) * per;
  const out = new Float64Array(outer * reps * inner);
  for (let o = 0; o < outer; o++) for (let r = 0; r < reps; r++) for (let i = 0; i < inner; i++) out[(o * reps + r) * inner + i] = x[o * inner + i];
  return out;
}

function padRef(x: ArrayLike<number>, rows: number, L: number, before: number, after: number): Float64Array {
  const Lo = before + L + after;
  const out = new Float64Array(rows * Lo);
  for (let r = 0; r < rows; r++) for (let l = 0; l < L; l++) out[r * Lo + before + l] = x[r * L + l];
  return out;
}

describe(`tile and pad (${device})`, () => {
  it('tile matches the reference on every axis, float32 and complex64, L = 1, 7, 784', () => {
    for (const shape of [[1], [7], [784], [3, 7], [2, 3, 784], [2, 1, 3]]) {
      for (let axis = 0; axis < shape.length; axis++) {
        for (const reps of [1, 2, 3]) {
          const xv = randomValues(sizeOf(shape), reps + axis);
          const got = s4.tidy(() => {
            const y = ops.tile(s4.tensor(xv, shape, { device }), reps, axis);
            const want = shape.slice();
            want[axis] *= reps;
            expect(y.shape).toEqual(want);
            return y.dataSync();
          });
          expect(Array.from(got)).toEqual(Array.from(tileRef(xv, shape, reps, axis), Math.fround));
          const cv = randomValues(2 * sizeOf(shape), 7 + reps);
          const gotC = s4.tidy(() => {
            const z = s4.Tensor.fromFloats(cv, shape, 'complex64', device);
            const y = ops.tile(z, reps, axis - shape.length);
            expect(y.dtype).toBe('complex64');
            return y.dataSync();
          });
          expect(Array.from(gotC)).toEqual(Array.from(tileRef(cv, shape, reps, axis, 2), Math.fround));
        }
      }
    }
  });

  it('tile gradients sum the copies (finite differences), complex64 included', () => {
    for (const [shape, reps, axis, dtype] of [
      [[3, 4], 3, 0, 'float32'],
      [[2, 3, 7], 2, 1, 'float32'],
      [[2, 5], 4, 1, 'complex64'],
      [[1], 5, 0, 'float32'],
    ] as [number[], number, number, 'float32' | 'complex64'][]) {
      const per = dtype === 'complex64' ? 2 : 1;
      const xv = randomValues(sizeOf(shape) * per, 3);
      const n = sizeOf(shape) * reps * per;
      const W = randomValues(n, 9);
      const x = s4.Tensor.fromFloats(xv, shape, dtype, device);
      x.requiresGrad = true;
      s4.tidy(() => {
        const y = ops.tile(x, reps, axis);
        const yr = dtype === 'complex64' ? ops.add(ops.mul(ops.realPart(y), s4.tensor(W.filter((_, i) => i % 2 === 0), y.shape as number[], { device })), ops.mul(ops.imagPart(y), s4.tensor(W.filter((_, i) => i % 2 === 1), y.shape as number[], { device }))) : ops.mul(y, s4.tensor(W, y.shape as number[], { device }));
        ops.sum(yr).backward();
      });
      const fd = finiteDiff((v) => weightedSum(tileRef(v, shape, reps, axis, per), W), Float64Array.from(xv));
      expect(relL2(x.grad!.dataSync(), fd), `[${shape}] reps ${reps} axis ${axis} ${dtype}`).toBeLessThan(1e-4);
      x.dispose();
    }
  });

  it('pad matches the reference and its gradient is the window', () => {
    for (const [shape, before, after] of [
      [[1], 1, 0],
      [[7], 0, 3],
      [[2, 3, 784], 1, 0],
      [[4, 7], 2, 5],
      [[3, 1], 0, 0],
    ] as [number[], number, number][]) {
      const L = shape[shape.length - 1];
      const rows = sizeOf(shape) / L;
      const xv = randomValues(sizeOf(shape), L);
      const x = s4.tensor(xv, shape, { device, requiresGrad: true });
      const Lo = before + L + after;
      const W = randomValues(rows * Lo, 5);
      const got = s4.tidy(() => {
        const y = ops.pad(x, before, after);
        expect(y.shape).toEqual([...shape.slice(0, -1), Lo]);
        ops.sum(ops.mul(y, s4.tensor(W, y.shape as number[], { device }))).backward();
        return y.dataSync();
      });
      expect(Array.from(got)).toEqual(Array.from(padRef(xv, rows, L, before, after), Math.fround));
      const fd = finiteDiff((v) => weightedSum(padRef(v, rows, L, before, after), W), Float64Array.from(xv));
      expect(relL2(x.grad!.dataSync(), fd)).toBeLessThan(1e-4);
      x.dispose();
    }
  });

  it('NaN passes through both', () => {
    const x = s4.tensor([1, NaN, 3], [3], { device });
    const t = s4.tidy(() => ops.tile(x, 2, 0).dataSync());
    expect(Number.isNaN(t[1]) && Number.isNaN(t[4])).toBe(true);
    const p = s4.tidy(() => ops.pad(x, 1, 1).dataSync());
    expect(Number.isNaN(p[2])).toBe(true);
    expect([p[0], p[4]]).toEqual([0, 0]);
    x.dispose();
  });

  it('rejects bad arguments with errors naming them', () => {
    const x = s4.tensor(randomValues(6, 1), [2, 3], { device });
    expect(() => ops.tile(x, 0, 0)).toThrow(/tile: argument 'reps' must be an integer/);
    expect(() => ops.tile(x, 2, 2)).toThrow(/tile: argument 'axis' must be an integer in \[-2, 1\]/);
    expect(() => ops.tile(x, 1.5, 0)).toThrow(/tile: argument 'reps'/);
    expect(() => ops.tile('x' as unknown as s4.Tensor, 2, 0)).toThrow(/tile: argument 'x' must be a Tensor/);
    expect(() => ops.pad(x, -1, 0)).toThrow(/pad: argument 'before' must be an integer/);
    expect(() => ops.pad(x, 0, 0.5)).toThrow(/pad: argument 'after'/);
    expect(() => ops.tile(x, 2, 0, { out: s4.zeros([2, 3], { device }) })).toThrow(/tile: argument 'out' must have shape/);
    const out = s4.zeros([2, 2, 3], { device });
    expect(() => native.repeatMid({ x: x.handle, out: out.handle, outer: 2, reps: 3, inner: 3 })).toThrow(/repeatMid: argument 'out'/);
    expect(() => native.repeatMidBackward({ gradOut: out.handle, gradX: out.handle, outer: 2, reps: 1, inner: 6 })).toThrow(/repeatMidBackward: argument/);
    s4.dispose(x, out);
  });
});
