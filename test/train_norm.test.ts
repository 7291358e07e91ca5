/**
 * Training with norm 'batch' and 'none' end to end on the CPU (the sine task of
 * test/train_synthetic.test.ts): the Trainer learns, the eval-mode score (batch norm with
 * its running statistics) falls as far as with LayerNorm, and the batch counter counts the
 * training steps.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';

const { createTask, buildModel } = s4.train;

describe('Trainer with other norms', () => {
  for (const norm of ['batch', 'none'] as const) {
    it(`sine, norm ${norm}: the test MSE falls from ~0.5 below 0.03 (eval mode)`, async () => {
      const task = createTask('sine', { trainSize: 512, testSize: 128, length: 64 });
      const { model, options } = buildModel(task, { seed: 3, norm });
      expect(options.norm).toBe(norm);
      const trainer = new s4.Trainer({ model, task, epochs: 6, batchSize: 32 });
      const before = trainer.evaluate();
      const res = await trainer.fit();
      expect(before.loss).toBeGreaterThan(0.2);
      expect(res.test!.loss).toBeLessThan(0.03);
      if (norm === 'batch') expect(((model as s4.nn.SequenceModel).norms[0] as s4.nn.BatchNorm).numBatchesTracked.item()).toBe(res.step);
      model.dispose();
      trainer.optimizer.dispose();
    });
  }
});
