/**
 * The Trainer end to end on the CPU: a synthetic task learned to a stated loss, the JSONL
 * log and events, the stop on a NaN loss, argument checks, sampling in recurrent mode.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device } from './helpers/device';

const { createTask, buildModel, parseJsonl, TrainingDivergedError, sampleImages } = s4.train;

describe('Trainer on synthetic tasks', () => {
  it('sine: the test MSE falls from ~0.5 (predicting 0) below 0.03, under a persistence forecast (~0.08)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-train-'));
    const logFile = join(dir, 'log.jsonl');
    const task = createTask('sine', { trainSize: 512, testSize: 128, length: 64 });
    const { model, options } = buildModel(task, { seed: 3 });
    const trainer = new s4.Trainer({ model, task, epochs: 6, batchSize: 32, logFile, info: { model: options } });
    const before = trainer.evaluate();
    const steps: s4.train.StepEvent[] = [];
    const evals: s4.train.EvalEvent[] = [];
    trainer.on('step', (e) => steps.push(e));
    trainer.on('eval', (e) => evals.push(e));
    const res = await trainer.fit();
    expect(before.loss).toBeGreaterThan(0.2);
    expect(res.test!.loss).toBeLessThan(0.03);
    // Persistence (y_t = x_t) on the same test set, as a yardstick the model must beat.
    let se = 0;
    let n = 0;
    for (let i = 0; i < task.test.size; i++) {
      const b = task.test.batch([i]);
      for (let t = 0; t < b.x.length; t++) {
        se += (b.y[t] - b.x[t]) ** 2;
        n++;
      }
    }
    expect(res.test!.loss).toBeLessThan(se / n / 2);
    expect(res.step).toBe(6 * 16);
    expect(steps.length).toBe(96);
    expect(steps[0].lr).toBeCloseTo(0.01, 6); // cosine: full lr first, decaying after
    expect(steps[95].lr).toBeLessThan(1e-4);
    expect(steps.every((e) => e.examplesPerSec > 0)).toBe(true);
    expect(evals.map((e) => e.step)).toEqual([16, 32, 48, 64, 80, 96]);
    const log = parseJsonl(readFileSync(logFile, 'utf8'));
    expect(log[0].type).toBe('start');
    expect(log.filter((r) => r.type === 'step').length).toBe(96);
    expect(log.filter((r) => r.type === 'eval').map((r) => r.loss)).toEqual(evals.map((e) => e.metrics.loss));
    expect(log[log.length - 1].type).toBe('end');
    model.dispose();
  });

  it('copy: learns to recall 8 symbols after a delay of 16 (accuracy on the recalled positions)', async () => {
    const task = createTask('copy', { trainSize: 2048, testSize: 128, length: 16 });
    const { model } = buildModel(task, { seed: 1 });
    const trainer = new s4.Trainer({ model, task, epochs: 3, batchSize: 32 });
    const before = trainer.evaluate();
    const res = await trainer.fit();
    expect(before.accuracy!).toBeLessThan(0.3); // chance is 1/8
    expect(res.test!.accuracy!).toBeGreaterThan(0.9);
    model.dispose();
  });

  it('stops with the step number when the loss turns NaN, before updating the parameters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-nan-'));
    const logFile = join(dir, 'log.jsonl');
    const task = createTask('sine', { trainSize: 64, testSize: 8, length: 8 });
    // Example 13 is poisoned; with batch 8 and seeded shuffling it lands in one known batch.
    const inner = task.train;
    const poisoned: s4.train.Dataset = {
      name: 'poisoned',
      size: inner.size,
      batch(idx) {
        const b = inner.batch(idx);
        idx.forEach((i, k) => {
          if (i === 13) b.x[k * 8 + 3] = NaN;
        });
        return b;
      },
    };
    const order = s4.train.epochOrder(64, 0, 0);
    const badStep = Math.floor(order.indexOf(13) / 8) + 1;
    const { model } = buildModel({ ...task, train: poisoned }, { nLayers: 1, dModel: 4, dState: 4 });
    const trainer = new s4.Trainer({ model, task: { ...task, train: poisoned }, epochs: 1, batchSize: 8, logFile });
    let paramsBefore: number[] = [];
    trainer.on('step', (e) => {
      if (e.step === badStep - 1) paramsBefore = model.parameters().flatMap((p) => [...p.dataSync()]);
    });
    if (badStep === 1) paramsBefore = model.parameters().flatMap((p) => [...p.dataSync()]);
    const err = await trainer.fit().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(new RegExp(`loss is NaN at step ${badStep} \\(epoch 1\\)`));
    expect((err as InstanceType<typeof TrainingDivergedError>).step).toBe(badStep);
    expect(trainer.step).toBe(badStep - 1);
    expect(model.parameters().flatMap((p) => [...p.dataSync()])).toEqual(paramsBefore);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    const log = parseJsonl(readFileSync(logFile, 'utf8'));
    expect(log[log.length - 1]).toMatchObject({ type: 'diverged', step: badStep, what: 'loss', value: 'NaN' });
    model.dispose();
  });

  it('drives a progress bar and prints evaluations', async () => {
    const chunks: string[] = [];
    const stream = { isTTY: false, columns: 120, write: (s: string) => (chunks.push(String(s)), true), cursorTo() {}, clearLine() {}, moveCursor() {}, on() {}, removeListener() {} };
    const task = createTask('sine', { trainSize: 32, testSize: 8, length: 8 });
    const { model } = buildModel(task, { nLayers: 1, dModel: 4, dState: 4 });
    const trainer = new s4.Trainer({ model, task, epochs: 2, batchSize: 16 });
    const close = s4.train.attachProgress(trainer, { stream: stream as unknown as NodeJS.WriteStream });
    await trainer.fit();
    close();
    const text = chunks.join('');
    expect(text).toMatch(/step 2: test loss \d\.\d{4} \(8 examples/);
    expect(text).toMatch(/step 4: test loss/);
    expect(text).toMatch(/4\/4 steps \| loss \d\.\d{4}/);
    model.dispose();
  });

  it('checks its options', () => {
    const task = createTask('sine', { trainSize: 8, testSize: 8, length: 8 });
    const { model } = buildModel(task, { nLayers: 1, dModel: 4, dState: 4 });
    expect(() => new s4.Trainer({ model, task, batchSize: 0 })).toThrow(/'batchSize'/);
    expect(() => new s4.Trainer({ model, task, epochs: 1.5 })).toThrow(/'epochs'/);
    expect(() => new s4.Trainer({ model, task, maxSteps: -1 })).toThrow(/'maxSteps'/);
    expect(() => new s4.Trainer({ model: {} as s4.train.TrainableModel, task })).toThrow(/'model' must be a Module/);
    expect(() => new s4.Trainer({ model, task: {} as s4.train.Task })).toThrow(/'task' must be a Task/);
    expect(() => new s4.Trainer({ model, task }).save()).toThrow(/'path' is required/);
    expect(() => createTask('mnist-x' as 'sine')).toThrow(/must be one of fmnist, fmnist-gen, sine, adding, copy, mnist, cifar, listops, imdb, jsonl/);
    // Checkpoints store the task options; the data folder is the machine's, not the run's.
    expect(createTask('sine', { dataDir: '/somewhere', length: 8 }).options).toEqual({ length: 8 });
    model.dispose();
  });
});

describe('sampling in recurrent mode', () => {
  it('greedy samples equal the argmax of the convolutional model on the sampled prefix', () => {
    const L = 24;
    const model = new s4.nn.SequenceModel({ dInput: 1, dModel: 8, nLayers: 2, dState: 8, dOutput: 256, pool: 'none', lMax: L, dropout: 0, seed: 4, device });
    model.eval();
    const prompt = Uint8Array.from([0, 200, 17, 255, 3]);
    const imgs = sampleImages(model, { count: 2, length: L, temperature: 0, prompts: [prompt, Uint8Array.from([9, 9, 9, 9, 9])] });
    expect([...imgs[0].subarray(0, 5)]).toEqual([...prompt]);
    // Conv mode on the shifted sequence must predict every sampled pixel after the prompt.
    const x = new Float32Array(2 * L);
    imgs.forEach((im, b) => {
      for (let t = 1; t < L; t++) x[b * L + t] = im[t - 1] / 255;
    });
    const out = s4.tidy(() => model.forward(s4.tensor(x, [2, 1, L], { device })).dataSync());
    let agree = 0;
    for (let b = 0; b < 2; b++) for (let t = 5; t < L; t++) if (s4.train.argmax(out, b * 256 * L + t, 256, L) === imgs[b][t]) agree++;
    // Float32 rounding may flip a near-tie; nearly all must agree.
    expect(agree).toBeGreaterThanOrEqual(2 * (L - 5) - 1);
    const a = sampleImages(model, { count: 3, length: L, temperature: 1, seed: 11 });
    const b = sampleImages(model, { count: 3, length: L, temperature: 1, seed: 11 });
    expect(a).toEqual(b);
    expect(sampleImages(model, { count: 3, length: L, temperature: 1, seed: 12 })).not.toEqual(a);
    expect(() => sampleImages(model, { count: 0, length: L })).toThrow(/'count'/);
    expect(() => sampleImages(model, { count: 1, length: L, temperature: -1 })).toThrow(/'temperature'/);
    expect(() => sampleImages(model, { count: 1, length: 4, prompts: [new Uint8Array(4)] })).toThrow(/'prompts'/);
    model.dispose();
  });

  it('refuses a model that is not a next-pixel model', () => {
    const model = new s4.nn.SequenceModel({ dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 10, pool: 'mean', lMax: 8, device });
    expect(() => sampleImages(model, { count: 1, length: 8 })).toThrow(/next-pixel model/);
    model.dispose();
  });
});
