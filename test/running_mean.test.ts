/**
 * The runningMean op (a model stepper's mean pooling, one token per call) on the current
 * backend: bit for bit the float32 steps it documents (sum += x, count += 1, mean = sum
 * times 1 / count rounded once to float), which are also what the axpby pair it replaced
 * computed; sizes that cross the CUDA grid; argument errors.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops as native } from '../lib/native/binding';
import { device, randomValues } from './helpers/device';
import { expectSameFloats } from './helpers/same_floats';

const f = Math.fround;

describe('runningMean', () => {
  it('steps sum, count and mean exactly as float32 does, for n = 1, 7, 784, 70001', () => {
    for (const n of [1, 7, 784, 70001]) {
      const sum = s4.zeros([n], { device });
      const count = s4.zeros([n], { device });
      const mean = s4.zeros([n], { device });
      const refSum = new Float32Array(n);
      const refCount = new Float32Array(n);
      const refMean = new Float32Array(n);
      const viaAxpby = s4.zeros([n], { device });
      try {
        for (let t = 1; t <= 5; t++) {
          const data = randomValues(n, 100 * n + t).map((v) => v * 10 ** (t - 3));
          const x = s4.tensor(data, [n], { device });
          native.runningMean({ sum: sum.handle, count: count.handle, x: x.handle, mean: mean.handle, n });
          for (let i = 0; i < n; i++) {
            refSum[i] = f(refSum[i] + data[i]);
            refCount[i] = refCount[i] + 1;
            refMean[i] = f(f(1 / refCount[i]) * refSum[i]);
          }
          // The scale 1 / t passed to axpby is the same float.
          native.axpby({ out: viaAxpby.handle, a: sum.handle, alpha: 1 / t, beta: 0, n });
          x.dispose();
          expectSameFloats(sum.dataSync(), refSum, `sum n=${n} t=${t}`);
          expect(Array.from(count.dataSync()).every((c) => c === t), `count n=${n} t=${t}`).toBe(true);
          expectSameFloats(mean.dataSync(), refMean, `mean n=${n} t=${t}`);
          expectSameFloats(viaAxpby.dataSync(), refMean, `axpby n=${n} t=${t}`);
        }
      } finally {
        s4.dispose(sum, count, mean, viaAxpby);
      }
    }
  });

  it('propagates NaN into the sum and the mean of that element only', () => {
    const sum = s4.zeros([3], { device });
    const count = s4.zeros([3], { device });
    const mean = s4.zeros([3], { device });
    const x = s4.tensor([1, NaN, 2], [3], { device });
    try {
      native.runningMean({ sum: sum.handle, count: count.handle, x: x.handle, mean: mean.handle, n: 3 });
      const m = mean.dataSync();
      expect(m[0]).toBe(1);
      expect(Number.isNaN(m[1])).toBe(true);
      expect(m[2]).toBe(2);
    } finally {
      s4.dispose(sum, count, mean, x);
    }
  });

  it('names the buffer whose size is wrong', () => {
    const a = s4.zeros([4], { device });
    const b = s4.zeros([3], { device });
    try {
      expect(() => native.runningMean({ sum: a.handle, count: b.handle, x: a.handle, mean: a.handle, n: 4 })).toThrow(/count/);
      expect(() => native.runningMean({ sum: a.handle, count: a.handle, x: a.handle, mean: b.handle, n: 4 })).toThrow(/mean/);
    } finally {
      s4.dispose(a, b);
    }
  });
});
