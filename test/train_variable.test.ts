/**
 * The Trainer on variable-length data (s4.data.fromArrays): it learns through padded,
 * bucketed batches; a resumed run takes the same batches and losses as an uninterrupted one;
 * a validation split is scored each epoch, the best checkpoint is written, the test set is
 * scored once at the end; a time limit ends a run with its final evaluation; per-position losses of padded batches are refused.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { onGpu, randomValues } from './helpers/device';

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

  it('refuses per-position losses of padded batches', () => {
    const out = s4.zeros([2, 3, 4]);
    const batch = { x: new Float32Array(8), xShape: [2, 1, 4], y: new Float32Array(8), yShape: [8], lengths: Int32Array.from([4, 2]) };
    expect(() => s4.train.taskLoss('sequence', out, batch, 'cpu')).toThrow(/per-position targets of variable-length sequences are not supported/);
    out.dispose();
  });
});
