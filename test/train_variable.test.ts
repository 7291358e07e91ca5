/**
 * The Trainer on variable-length data (s4.data.fromArrays): it learns through padded,
 * bucketed batches; a resumed run takes the same batches and losses as an uninterrupted one;
 * a validation split is scored each epoch, the best checkpoint is written, the test set is
 * scored once at the end; a time limit ends a run with its final evaluation; per-position
 * losses and accuracy of padded batches count the valid positions only.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, onGpu, randomValues, relL2 } from './helpers/device';
import { finiteDiff } from './helpers/nn_reference';

/** Sequences of lengths 1..60 whose label is the sign of their mean: mean pooling learns it. */
function signTask(size: number, seed: number, valSplit?: number): s4.train.Task {
  const inputs = Array.from({ length: size }, (_, i) => Array.from(randomValues(1 + ((i * 13) % 60), seed + i), (v) => v + (i % 2 ? 0.3 : -0.3)));
  const labels = inputs.map((v) => (v.reduce((a, b) => a + b, 0) > 0 ? 1 : 0));
  const all = s4.data.fromArrays(inputs, labels);
  const split = valSplit ? s4.data.holdOut(all, valSplit) : null;
  const test = s4.data.fromArrays(inputs.slice(0, 32), labels.slice(0, 32));
  return {
    name: 'jsonl',
    kind: 'classify',
    train: split ? split.train : all,
    test,
    ...(split ? { val: split.val } : {}),
    model: { dInput: 1, dOutput: 2, pool: 'mean', lMax: 64 },
    recipe: { ...s4.train.RECIPES.jsonl, nLayers: 1, dModel: 8, dState: 4, lr: 0.01 },
    options: {},
  };
}

function trainer(task: s4.train.Task, extra: Partial<s4.train.TrainerOptions> = {}): s4.Trainer {
  const { model } = s4.train.buildModel(task, { seed: 2 });
  return new s4.Trainer({ model, task, batchSize: 16, epochs: 3, seed: 9, ...extra });
}

describe('Trainer on variable-length sequences', () => {
  it('learns through padded bucketed batches; resume takes the same batches and losses', async () => {
    const task = signTask(160, 1);
    const a = trainer(task);
    const lossA = new Map<number, number>();
    a.on('step', (e) => lossA.set(e.step, e.loss));
    const resA = await a.fit();
    expect(resA.test!.accuracy!).toBeGreaterThan(0.8);

    const dir = mkdtempSync(join(tmpdir(), 's4-var-'));
    const ck = join(dir, 'ck.safetensors');
    const b = trainer(task, { maxSteps: 13, checkpoint: ck });
    await b.fit();
    b.model.dispose();
    const c = trainer(task, { checkpoint: ck });
    c.resume(ck);
    const lossC = new Map<number, number>();
    c.on('step', (e) => lossC.set(e.step, e.loss));
    await c.fit();
    expect([...lossC.keys()][0]).toBe(14);
    for (const [step, loss] of lossC) {
      if (onGpu) expect(Math.abs(loss - lossA.get(step)!)).toBeLessThan(1e-5);
      else expect(loss, `step ${step}`).toBe(lossA.get(step));
    }
    a.model.dispose();
    c.model.dispose();
  });

  it('scores the validation split each epoch, keeps the best checkpoint, tests once at the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-val-'));
    const t = trainer(signTask(120, 3, 0.2), { bestCheckpoint: join(dir, 'best.safetensors'), checkpoint: join(dir, 'last.safetensors') });
    const evals: string[] = [];
    t.on('eval', (e) => evals.push(e.split));
    const res = await t.fit();
    expect(evals).toEqual(['val', 'val', 'val', 'test']);
    expect(res.val!.count).toBe(24);
    expect(res.test!.count).toBe(32);
    expect(res.best!.metrics.accuracy).toBeGreaterThanOrEqual(res.val!.accuracy!);
    expect(existsSync(join(dir, 'best.safetensors'))).toBe(true);
    const best = s4.train.loadCheckpoint(join(dir, 'best.safetensors'));
    expect(best.step).toBe(res.best!.step);
    expect(s4.train.loadCheckpoint(join(dir, 'last.safetensors')).info.best).toMatchObject({ step: res.best!.step });
    t.model.dispose();
  });

  it('timeLimit ends the run after the step that passes it, then evaluates as at the end', async () => {
    const t = trainer(signTask(64, 4), { timeLimit: 0 });
    const res = await t.fit();
    expect(res).toMatchObject({ step: 1, timedOut: true, stopped: false });
    expect(res.test!.count).toBe(32);
    t.model.dispose();
    expect(() => trainer(signTask(8, 4), { timeLimit: -1 })).toThrow(/Trainer: .*'timeLimit'/);
  });

  it('per-position losses of padded batches count the valid positions only (value and gradient)', () => {
    const [B, C, L] = [3, 4, 6];
    const lengths = Int32Array.from([6, 2, 4]);
    const logits = randomValues(B * C * L, 21).map((v) => 3 * v);
    const labels = Float32Array.from({ length: B * L }, (_, i) => (i * 7) % C);
    // Padding positions hold any valid class id (the datasets write 0).
    const ceRef = (x: ArrayLike<number>): number => {
      let sum = 0;
      let n = 0;
      for (let b = 0; b < B; b++) {
        for (let l = 0; l < lengths[b]; l++) {
          const col = Array.from({ length: C }, (_, c) => x[(b * C + c) * L + l]);
          const m = Math.max(...col);
          const lse = m + Math.log(col.reduce((a, v) => a + Math.exp(v - m), 0));
          sum += lse - col[labels[b * L + l]];
          n++;
        }
      }
      return sum / n;
    };
    const out = s4.tensor(logits, [B, C, L], { requiresGrad: true });
    const batch = { x: new Float32Array(B * L), xShape: [B, L], y: labels, yShape: [B * L], lengths };
    const lv = s4.tidy(() => {
      const loss = s4.train.taskLoss('sequence', out, batch, device);
      loss.backward();
      return loss.item();
    });
    expect(Math.abs(lv - ceRef(logits)) / ceRef(logits)).toBeLessThan(1e-5);
    expect(relL2(out.grad!.dataSync(), finiteDiff(ceRef, Float64Array.from(logits)))).toBeLessThan(1e-4);
    const pred = Float32Array.from(labels, (y, i) => (i % L < 2 ? y : (y + 1) % C)); // right on the first 2 positions
    expect(s4.train.scorePredictions('sequence', pred, batch)).toEqual({ correct: 6, total: 12 });

    // Regression over positions.
    const o = randomValues(2 * 2 * 5, 4);
    const t = randomValues(2 * 2 * 5, 5);
    const lens = Int32Array.from([5, 3]);
    const mseRef = (x: ArrayLike<number>): number => {
      let sum = 0;
      let n = 0;
      for (let i = 0; i < x.length; i++) {
        if (i % 5 >= lens[Math.floor(i / 10)]) continue;
        sum += (x[i] - t[i]) ** 2;
        n++;
      }
      return sum / n;
    };
    const ot = s4.tensor(o, [2, 2, 5], { requiresGrad: true });
    const rv = s4.tidy(() => {
      const loss = s4.train.taskLoss('regress', ot, { x: new Float32Array(10), xShape: [2, 1, 5], y: t, yShape: [2, 2, 5], lengths: lens }, device);
      loss.backward();
      return loss.item();
    });
    expect(Math.abs(rv - mseRef(o)) / mseRef(o)).toBeLessThan(1e-5);
    expect(relL2(ot.grad!.dataSync(), finiteDiff(mseRef, Float64Array.from(o)))).toBeLessThan(1e-4);
    s4.dispose(out, ot);
  });

});
