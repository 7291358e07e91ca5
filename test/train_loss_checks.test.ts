/**
 * taskLoss checks class labels on the host (they are host data) and calls the cross-entropy
 * unchecked, so that on CUDA nothing waits for the forward pass: a bad label throws before
 * any op runs, naming the position; a +Infinity logit gives a NaN loss, which the Trainer
 * reports as divergence before the update.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device } from './helpers/device';

function batch(y: number[], yShape: number[], xShape: number[]): s4.train.Batch {
  return { x: new Float32Array(xShape.reduce((a, b) => a * b, 1)), xShape, y: Float32Array.from(y), yShape };
}

describe(`taskLoss label checks (${device})`, () => {
  it('a label that is not a class id throws, naming the position and the class count', () => {
    const out = s4.zeros([3, 4], { device });
    for (const bad of [4, -1, 0.5, NaN]) {
      expect(() => s4.train.taskLoss('classify', out, batch([0, 1, bad], [3], [3, 1, 5]), device)).toThrow(
        new RegExp(`taskLoss: the batch's labels must be class indices in \\[0, 4\\) \\(got ${String(bad)} at position 2\\)`),
      );
    }
    const seq = s4.zeros([2, 3, 5], { device });
    expect(() => s4.train.taskLoss('sequence', seq, batch([...Array(9).fill(0), 3], [10], [2, 1, 5]), device)).toThrow(/in \[0, 3\) \(got 3 at position 9\)/);
    s4.dispose(out, seq);
  });

  it('valid labels give the checked cross-entropy; a +Infinity logit gives NaN', () => {
    const logits = s4.tensor([0.5, -1, 2, 0, 1, 3], [2, 3], { device });
    const b = batch([2, 0], [2], [2, 1, 4]);
    const want = s4.tidy(() => s4.ops.crossEntropy(logits, s4.tensor([2, 0], [2], { device })).item());
    expect(s4.tidy(() => s4.train.taskLoss('classify', logits, b, device).item())).toBe(want);
    const inf = s4.tensor([0.5, Infinity, 2, 0, 1, 3], [2, 3], { device });
    expect(Number.isNaN(s4.tidy(() => s4.train.taskLoss('classify', inf, b, device).item()))).toBe(true);
    s4.dispose(logits, inf);
  });
});
