/**
 * Accuracy from predicted indices (ops.argmaxChannels on the device + scorePredictions)
 * equals the host scorer batchAccuracy on the whole output: on random outputs with ties,
 * NaNs and masks, and through the Trainer (trainStep and evaluate) on a per-position task
 * with a mask and on a classification task.
 */
import { describe, expect, it, vi } from 'vitest';
import * as s4 from '../lib/index';
import { ops as native } from '../lib/native/binding';
import { device, randomValues } from './helpers/device';

const { ops } = s4;
const { batchAccuracy, scorePredictions, MetricAccumulator, createTask, buildModel } = s4.train;
type Batch = s4.train.Batch;

/** Values in {-2, ..., 2} (many tied maxima) with a NaN every `nanEvery` values. */
function output(n: number, seed: number, nanEvery: number): Float32Array {
  const v = randomValues(n, seed).map((x) => Math.round(x * 2));
  for (let i = 5; i < n; i += nanEvery) v[i] = NaN;
  return v;
}

function predictions(out: Float32Array, shape: number[]): Float32Array {
  return s4.tidy(() => ops.argmaxChannels(s4.tensor(out, shape, { device })).dataSync());
}

describe('scorePredictions', () => {
  it('equals batchAccuracy on classification outputs [B, C] (ties and NaNs)', () => {
    const [B, C] = [200, 6];
    const out = output(B * C, 1, 53);
    // Targets: half the rows get their reference argmax, the rest a fixed class.
    const y = Float32Array.from({ length: B }, (_, b) => (b % 2 ? s4.train.argmax(out, b * C, C) : b % C));
    const batch: Batch = { x: new Float32Array(B), xShape: [B, 1, 1], y, yShape: [B] };
    const want = batchAccuracy('classify', out, [B, C], batch)!;
    const got = scorePredictions('classify', predictions(out, [B, C]), batch);
    expect(got).toEqual(want);
    expect(want.correct).toBeGreaterThan(50);
    expect(want.correct).toBeLessThan(want.total);
  });

  it('equals batchAccuracy on per-position outputs [B, C, L], with and without a mask', () => {
    const [B, C, L] = [3, 9, 37];
    const out = output(B * C * L, 2, 41);
    const y = Float32Array.from({ length: B * L }, (_, i) => {
      const b = Math.floor(i / L);
      const l = i % L;
      return i % 3 ? s4.train.argmax(out, b * C * L + l, C, L) : (i * 7) % C;
    });
    const mask = Uint8Array.from({ length: B * L }, (_, i) => (i % 5 === 0 ? 0 : 1));
    const pred = predictions(out, [B, C, L]);
    for (const m of [undefined, mask]) {
      const batch: Batch = { x: new Float32Array(B * L), xShape: [B, 1, L], y, yShape: [B * L], mask: m };
      const want = batchAccuracy('sequence', out, [B, C, L], batch)!;
      expect(scorePredictions('sequence', pred, batch)).toEqual(want);
      expect(want.total).toBe(m ? mask.reduce((a, v) => a + v, 0) : B * L);
    }
    // The accumulator's two entry points agree too.
    const batch: Batch = { x: new Float32Array(B * L), xShape: [B, 1, L], y, yShape: [B * L], mask };
    const a = new MetricAccumulator('sequence');
    const b = new MetricAccumulator('sequence');
    a.addBatch(0.5, out, [B, C, L], batch);
    b.addPredictions(0.5, pred, batch);
    expect(b.result()).toEqual(a.result());
  });

  it('checks its arguments', () => {
    const batch: Batch = { x: new Float32Array(2), xShape: [2, 1, 1], y: Float32Array.from([0, 1]), yShape: [2] };
    expect(() => scorePredictions('regress', [0, 1], batch)).toThrow(/'kind' must be 'classify' or 'sequence'/);
    expect(() => scorePredictions('classify', [0, 1, 2], batch)).toThrow(/'pred' must have one prediction per target \(2\), got 3/);
    expect(scorePredictions('classify', [0, -1], batch)).toEqual({ correct: 1, total: 2 });
  });
});

/** A small classification task: random sequences [1, L], labels in [0, C). */
function classifyTask(): s4.train.Task {
  const [L, C] = [12, 5];
  const dataset = (size: number, seed: number): s4.train.Dataset => {
    const xs = randomValues(size * L, seed);
    return {
      name: 'toy',
      size,
      batch(idx) {
        const x = new Float32Array(idx.length * L);
        idx.forEach((i, k) => x.set(xs.subarray(i * L, (i + 1) * L), k * L));
        return { x, xShape: [idx.length, 1, L], y: Float32Array.from(idx, (i) => (i * 3) % C), yShape: [idx.length] };
      },
    };
  };
  const train = dataset(64, 1);
  const test = dataset(40, 2);
  return {
    name: 'fmnist',
    kind: 'classify',
    train,
    test,
    model: { dInput: 1, dOutput: C, pool: 'mean', lMax: L },
    recipe: { ...s4.train.RECIPES.sine },
    options: {},
  };
}

/** The host path: the whole output downloaded and scored by batchAccuracy. */
function hostScore(model: s4.train.TrainableModel, task: s4.train.Task, batch: Batch): { correct: number; total: number } | null {
  return s4.noGrad(() =>
    s4.tidy(() => {
      const out = model.forward(s4.tensor(batch.x, batch.xShape, { device }));
      return batchAccuracy(task.kind, out.dataSync(), out.shape, batch, task.tolerance);
    }),
  );
}

describe('Trainer accuracy from device predictions', () => {
  for (const kind of ['sequence', 'classify'] as const) {
    it(`${kind}: trainStep and evaluate score exactly as batchAccuracy on the output`, () => {
      const task = kind === 'sequence' ? createTask('copy', { trainSize: 64, testSize: 40, length: 8 }) : classifyTask();
      // No dropout: the forward of trainStep equals the one scored here beforehand.
      const { model } = buildModel(task, { nLayers: 1, dModel: 8, dState: 8, dropout: 0, seed: 2, device });
      const trainer = new s4.Trainer({ model, task, batchSize: 16, epochs: 1 });
      const batch = task.train.batch(Array.from({ length: 16 }, (_, i) => i));
      if (kind === 'sequence') expect(batch.mask).toBeDefined();
      const spy = vi.spyOn(native, 'argmaxChannels');
      for (let step = 0; step < 3; step++) {
        model.train();
        const want = hostScore(model, task, batch);
        const res = trainer.trainStep(batch);
        expect(res.score, `step ${step}`).toEqual(want);
        expect(res.accuracy).toBe(want!.correct / want!.total);
      }
      // evaluate: batches of 16 (the last one partial), against the host path.
      model.eval();
      const acc = new MetricAccumulator(task.kind, task.tolerance);
      for (let start = 0; start < task.test.size; start += 16) {
        const b = task.test.batch(Array.from({ length: Math.min(16, task.test.size - start) }, (_, i) => start + i));
        acc.add(0, b.xShape[0]);
        acc.addScore(hostScore(model, task, b));
      }
      const metrics = trainer.evaluate(task.test, { batchSize: 16 });
      expect(metrics.accuracy).toBe(acc.result().accuracy);
      expect(metrics.count).toBe(task.test.size);
      // One device argmax per training step and per evaluation batch.
      expect(spy).toHaveBeenCalledTimes(3 + Math.ceil(task.test.size / 16));
      spy.mockRestore();
      // trainAccuracy: false scores nothing.
      const quiet = new s4.Trainer({ model, task, batchSize: 16, epochs: 1, trainAccuracy: false });
      expect(quiet.trainStep(batch).score).toBeNull();
      model.dispose();
    });
  }
});
