/**
 * Autograd misuse that used to pass silently: a second backward through a released graph,
 * backward through a tensor disposed in between, a gradient seed of the wrong shape; and
 * crossEntropy given a +Infinity logit.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { isNonFiniteError } from '../lib/util/errors';
import { randomValues, relL2 } from './helpers/device';

describe('autograd faults', () => {
  it('a second backward through the same graph throws unless the first retained it', () => {
    const x = s4.tensor(randomValues(7, 1), [7], { requiresGrad: true });
    s4.tidy(() => {
      const y = s4.ops.sum(s4.ops.mul(x, x));
      y.backward();
      const first = Array.from(x.grad!.dataSync());
      expect(() => y.backward()).toThrow(/freed by an earlier backward pass.*retainGraph/);
      expect(Array.from(x.grad!.dataSync())).toEqual(first); // nothing accumulated
      // An intermediate of the released graph used again in a new graph.
      const h = s4.ops.mul(x, x);
      s4.ops.sum(h).backward();
      expect(() => s4.ops.sum(s4.ops.scale(h, 2)).backward()).toThrow(/freed by an earlier backward pass/);
    });
    s4.zeroGrad([x]);
    s4.tidy(() => {
      const y = s4.ops.sum(s4.ops.mul(x, x));
      y.backward({ retainGraph: true });
      y.backward();
      const want = Array.from(x.dataSync(), (v) => 4 * v); // twice d(x^2)/dx
      expect(relL2(x.grad!.dataSync(), want)).toBeLessThan(1e-6);
      expect(() => y.backward()).toThrow(/freed by an earlier backward pass/);
    });
    x.dispose();
  });

  it('retainGraph keeps the tensors an op saved (crossEntropy probabilities)', () => {
    const logits = s4.tensor(randomValues(3 * 5, 2), [3, 5], { requiresGrad: true });
    const labels = s4.tensor([0, 4, 2], [3]);
    const before = s4.memory().cpu.tensors;
    s4.tidy(() => {
      const loss = s4.ops.crossEntropy(logits, labels);
      loss.backward(undefined, { retainGraph: true });
      const g1 = Array.from(logits.grad!.dataSync());
      loss.backward();
      expect(relL2(logits.grad!.dataSync(), g1.map((v) => 2 * v))).toBeLessThan(1e-6);
    });
    s4.zeroGrad([logits]);
    expect(s4.memory().cpu.tensors).toBe(before);
    s4.dispose(logits, labels);
  });

  it('backward through a tensor disposed in between throws and names it, and sets no gradient', () => {
    const x = s4.tensor([1, 2, 3], [3], { requiresGrad: true });
    x.name = 'x';
    s4.tidy(() => {
      const h = s4.ops.scale(x, 3);
      h.name = 'h';
      const y = s4.ops.sum(s4.ops.mul(h, h));
      h.dispose();
      expect(() => y.backward()).toThrow(/tensor 'h' \[3\] of the graph was disposed before backward/);
      expect(h.grad).toBeNull();
      expect(x.grad).toBeNull();
    });
    // A disposed leaf, whose op's backward never reads it: it used to get a .grad.
    const h = s4.ops.scale(x, 2);
    const y = s4.ops.sum(h);
    x.dispose();
    expect(() => y.backward()).toThrow(/tensor 'x' \[3\] of the graph was disposed/);
    expect(x.grad).toBeNull();
    s4.dispose(h, y);
  });

  it('a gradient seed must have the shape of the tensor, not only its size', () => {
    const x = s4.tensor([1, 2], [2], { requiresGrad: true });
    s4.tidy(() => {
      const y = s4.ops.scale(x, 2);
      expect(() => y.backward(s4.tensor([1, 1], [2, 1]))).toThrow(/argument 'grad' must match the tensor \(shape \[2\].*got \[2, 1\]/);
      expect(() => y.backward(s4.tensor([1, 1], [1, 2]))).toThrow(RangeError);
      expect(x.grad).toBeNull();
      y.backward(s4.tensor([1, 1], [2]));
      expect(Array.from(x.grad!.dataSync())).toEqual([2, 2]);
    });
    expect(() => s4.tidy(() => s4.ops.sum(x).backward(undefined, 5 as never))).toThrow(/argument 'opts' must be an object/);
    x.dispose();
  });

  it('crossEntropy rejects a +Infinity logit with a non-finite error naming logits; -Infinity masks a class', () => {
    const labels = s4.tensor([1, 0], [2]);
    const inf = s4.tensor([0, 1, 2, Infinity, 0, 0], [2, 3]);
    let err: unknown;
    try {
      s4.ops.crossEntropy(inf, labels);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect(String(err)).toMatch(/crossEntropy: argument 'logits'.*\+Infinity.*row 1/);
    expect(isNonFiniteError(err)).toBe(true);
    const masked = s4.tensor([0, 1, -Infinity, 2, 0, -Infinity], [2, 3]);
    const loss = s4.ops.crossEntropy(masked, labels).item();
    const want = (Math.log(1 + Math.E) - 1 + Math.log(Math.exp(2) + 1) - 2) / 2;
    expect(Math.abs(loss - want)).toBeLessThan(1e-6);
    s4.dispose(labels, inf, masked);
  });
});
