/**
 * Data-parallel training (DataParallel + Trainer over the TCP process group, ranks as
 * separate models and trainers in this process): W ranks on a global batch equal one
 * process on that batch step for step (losses, accuracy, parameters), with dropout on,
 * uneven parts, parts that are empty on the last batch, padded variable-length batches with
 * a per-position loss, and a stop asked on one rank only. Checkpoints come from rank 0 only.
 * The same over real processes, through `s4 train --procs`, is in test/train_dist_cli.test.ts.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import type { Batch, Dataset } from '../lib/train/data/dataset';
import { device, randomValues, relL2 } from './helpers/device';
import { groups } from './helpers/dist';

const { DataParallel, shardOf } = s4.distributed;
let open: s4.distributed.ProcessGroup[] = [];
afterEach(async () => {
  await Promise.all(open.map((g) => g.close()));
  open = [];
});

/** Per-position regression on sequences of lengths 1..40 (target: the running mean of the input). */
class RunningMean implements Dataset {
  readonly name = 'running-mean';
  readonly lengths: Int32Array;
  constructor(readonly size: number) {
    this.lengths = Int32Array.from({ length: size }, (_, i) => 1 + ((i * 17) % 40));
  }
  batch(indices: readonly number[]): Batch {
    const B = indices.length;
    const L = Math.max(...indices.map((i) => this.lengths[i]));
    const x = new Float32Array(B * L);
    const y = new Float32Array(B * L);
    indices.forEach((idx, b) => {
      const v = randomValues(this.lengths[idx], 100 + idx);
      let sum = 0;
      for (let l = 0; l < v.length; l++) {
        sum += v[l];
        x[b * L + l] = v[l];
        y[b * L + l] = sum / (l + 1);
      }
    });
    return { x, xShape: [B, 1, L], y, yShape: [B, 1, L], lengths: Int32Array.from(indices, (i) => this.lengths[i]) };
  }
}

interface Setup {
  task: s4.train.Task;
  model: (seed: number) => s4.nn.SequenceModel;
  batchSize: number;
  epochs: number;
}

function sineSetup(trainSize: number, batchSize: number): Setup {
  const task = s4.train.createTask('sine', { trainSize, testSize: 20, length: 12 });
  return { task, model: (seed) => s4.train.buildModel(task, { nLayers: 2, dModel: 8, dState: 8, dropout: 0.2, seed, device }).model as s4.nn.SequenceModel, batchSize, epochs: 2 };
}

function signSetup(): Setup {
  const inputs = Array.from({ length: 70 }, (_, i) => Array.from(randomValues(1 + ((i * 13) % 50), 40 + i), (v) => v + (i % 2 ? 0.3 : -0.3)));
  const labels = inputs.map((v) => (v.reduce((a, b) => a + b, 0) > 0 ? 1 : 0));
  const task: s4.train.Task = {
    name: 'jsonl',
    kind: 'classify',
    train: s4.data.fromArrays(inputs, labels),
    test: s4.data.fromArrays(inputs.slice(0, 25), labels.slice(0, 25)),
    model: { dInput: 1, dOutput: 2, pool: 'mean', lMax: 64 },
    recipe: { ...s4.train.RECIPES.jsonl, nLayers: 1, dModel: 8, dState: 4, lr: 0.01 },
    options: {},
  };
  return { task, model: (seed) => s4.train.buildModel(task, { seed, dropout: 0.1, device }).model as s4.nn.SequenceModel, batchSize: 16, epochs: 2 };
}

function runningMeanSetup(): Setup {
  const task: s4.train.Task = {
    name: 'jsonl',
    kind: 'regress',
    train: new RunningMean(50),
    test: new RunningMean(20),
    model: { dInput: 1, dOutput: 1, pool: 'none', lMax: 64 },
    recipe: { ...s4.train.RECIPES.jsonl, nLayers: 2, dModel: 8, dState: 4, lr: 0.01 },
    options: {},
  };
  return { task, model: (seed) => s4.train.buildModel(task, { seed, dropout: 0.1, device }).model as s4.nn.SequenceModel, batchSize: 12, epochs: 2 };
}

interface RunResult {
  losses: number[];
  accuracies: (number | undefined)[];
  params: Float32Array[];
  result: s4.train.FitResult;
}

function collect(trainer: s4.Trainer, model: s4.nn.SequenceModel, run: () => Promise<s4.train.FitResult>): Promise<RunResult> {
  const losses: number[] = [];
  const accuracies: (number | undefined)[] = [];
  trainer.on('step', (e) => {
    losses.push(e.loss);
    accuracies.push(e.accuracy);
  });
  return run().then((result) => ({ losses, accuracies, result, params: model.parameters().map((p) => p.dataSync()) }));
}

async function single(setup: Setup, extra: Partial<s4.train.TrainerOptions> = {}): Promise<RunResult> {
  const model = setup.model(1);
  const trainer = new s4.Trainer({ model, task: setup.task, batchSize: setup.batchSize, epochs: setup.epochs, seed: 3, ...extra });
  const r = await collect(trainer, model, () => trainer.fit());
  model.dispose();
  return r;
}

async function parallel(setup: Setup, worldSize: number, extra: (rank: number) => Partial<s4.train.TrainerOptions> = () => ({}), onTrainer?: (t: s4.Trainer, rank: number) => void): Promise<RunResult[]> {
  const gs = await groups(worldSize);
  open = gs;
  return Promise.all(
    gs.map(async (g) => {
      // Other seeds on ranks > 0: DataParallel.create must copy rank 0's parameters.
      const model = setup.model(1 + 100 * g.rank);
      // Ranks in one process share one GPU, which NCCL refuses: the TCP transport on both backends.
      const dp = await DataParallel.create(model, g, { backend: 'tcp' });
      expect(dp.backend).toBe('tcp');
      const trainer = new s4.Trainer({ model, task: setup.task, batchSize: setup.batchSize, epochs: setup.epochs, seed: 3, distributed: dp, ...extra(g.rank) });
      onTrainer?.(trainer, g.rank);
      const r = await collect(trainer, model, () => trainer.fit());
      dp.close();
      model.dispose();
      return r;
    }),
  );
}

function expectSameRun(got: RunResult, want: RunResult, what: string): void {
  expect(got.losses.length, what).toBe(want.losses.length);
  for (let i = 0; i < want.losses.length; i++) expect(Math.abs(got.losses[i] - want.losses[i]), `${what}: loss at step ${i + 1}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want.losses[i])));
  expect(got.accuracies, what).toEqual(want.accuracies);
  got.params.forEach((p, i) => expect(relL2(p, want.params[i]), `${what}: parameter ${i}`).toBeLessThan(1e-4));
  expect(got.result.test?.loss, what).toBeCloseTo(want.result.test!.loss, 4);
  expect(got.result.test?.accuracy, what).toBe(want.result.test?.accuracy);
}

describe(`data-parallel training over the TCP group (${device})`, () => {
  it('shardOf splits a batch into consecutive parts that differ by at most one', () => {
    expect([0, 1, 2].map((r) => shardOf(16, r, 3))).toEqual([{ start: 0, count: 6 }, { start: 6, count: 5 }, { start: 11, count: 5 }]);
    expect([0, 1, 2].map((r) => shardOf(1, r, 3))).toEqual([{ start: 0, count: 1 }, { start: 1, count: 0 }, { start: 1, count: 0 }]);
  });

  it("a rank reads only its part of a variable-length batch, padded to the whole batch's length: the rows of the whole batch", () => {
    const ds = signSetup().task.train as s4.data.ArraySequenceDataset;
    ds.padMultiple = 8;
    const idx = [5, 17, 3, 40, 22, 9, 61];
    const whole = ds.batch(idx);
    expect(ds.batchLength(idx)).toBe(whole.xShape[2]);
    for (const [start, n] of [[0, 3], [3, 2], [5, 2]]) {
      const part = s4.train.padBatchTo(ds.batch(idx.slice(start, start + n)), ds.batchLength(idx))!;
      const rows = s4.train.sliceBatch(whole, start, n);
      expect(part.xShape).toEqual(rows.xShape);
      expect(part.x).toEqual(rows.x);
      expect(part.y).toEqual(rows.y);
      expect(part.lengths).toEqual(rows.lengths);
    }
    // Per-position targets are the dataset's to pad: no padding from outside.
    expect(s4.train.padBatchTo(new RunningMean(4).batch([0, 1]), 64)).toBeNull();
    const split = s4.data.holdOut(ds, 0.2);
    expect(split.train.batchLength!([0, 1, 2])).toBe(ds.batchLength([0, 1, 2].map((i) => split.train.indices[i])));
  });

  for (const W of [2, 3]) {
    it(`${W} ranks equal one process on the same global batch (regression, dropout, uneven and empty parts)`, async () => {
      // 33 examples in batches of 16: parts 8/8 (6/5/5) and a last batch of 1 that leaves ranks empty.
      const setup = sineSetup(33, 16);
      const want = await single(setup);
      const got = await parallel(setup, W);
      got.forEach((r, rank) => expectSameRun(r, want, `rank ${rank} of ${W}`));
      // Every rank holds exactly the same parameters.
      for (const r of got.slice(1)) r.params.forEach((p, i) => expect(p).toEqual(got[0].params[i]));
    }, 120_000);
  }

  it('padded variable-length batches: classification with accuracy, and a per-position loss weighted by valid positions', async () => {
    for (const setup of [signSetup(), runningMeanSetup()]) {
      const want = await single(setup);
      const got = await parallel(setup, 3);
      got.forEach((r, rank) => expectSameRun(r, want, `${setup.task.kind}, rank ${rank}`));
    }
  }, 120_000);

  it('a stop asked on one rank stops every rank after the same step; only rank 0 writes the checkpoint and log', async () => {
    const setup = sineSetup(64, 8);
    const dir = mkdtempSync(join(tmpdir(), 's4-dp-'));
    const files = (rank: number) => ({ checkpoint: join(dir, `ck${rank}.safetensors`), logFile: join(dir, `log${rank}.jsonl`) });
    const got = await parallel(setup, 2, files, (t, rank) => {
      if (rank === 1) t.on('step', (e) => e.step === 3 && t.stop());
    });
    for (const r of got) {
      expect(r.result.stopped).toBe(true);
      expect(r.result.step).toBe(4);
    }
    expect(existsSync(files(0).checkpoint)).toBe(true);
    expect(existsSync(files(0).logFile)).toBe(true);
    expect(existsSync(files(1).checkpoint)).toBe(false);
    expect(existsSync(files(1).logFile)).toBe(false);
    // The checkpoint resumes in a single process (any number of ranks) and carries on.
    const model = setup.model(7);
    const t = new s4.Trainer({ model, task: setup.task, batchSize: 8, epochs: setup.epochs, seed: 3 });
    t.resume(files(0).checkpoint);
    expect(t.step).toBe(4);
    const res = await t.fit();
    expect(res.step).toBe(t.totalSteps);
    model.dispose();
  }, 120_000);

  it("BatchNorm: every rank ends with rank 0's running statistics; a validation split keeps the best checkpoint on rank 0", async () => {
    const base = sineSetup(48, 12);
    const setup: Setup = {
      ...base,
      model: (seed) => s4.train.buildModel(base.task, { nLayers: 2, dModel: 8, dState: 8, dropout: 0.1, norm: 'batch', seed, device }).model as s4.nn.SequenceModel,
    };
    const task = { ...base.task, val: s4.train.createTask('sine', { trainSize: 12, testSize: 12, length: 12, dataSeed: 9 }).test };
    const dir = mkdtempSync(join(tmpdir(), 's4-dp-bn-'));
    const gs = await groups(2);
    open = gs;
    const out = await Promise.all(
      gs.map(async (g) => {
        const model = setup.model(1);
        const dp = await DataParallel.create(model, g, { backend: 'tcp' });
        const best = join(dir, `best${g.rank}.safetensors`);
        const trainer = new s4.Trainer({ model, task, batchSize: 12, epochs: 2, seed: 3, distributed: dp, bestCheckpoint: best });
        const res = await trainer.fit();
        const buffers = model.namedBuffers().map(([, t]) => t.dataSync());
        const params = model.parameters().map((p) => p.dataSync());
        model.dispose();
        return { res, buffers, params, best: existsSync(best) };
      }),
    );
    expect(out[0].buffers.length).toBeGreaterThan(0);
    out[1].buffers.forEach((b, i) => expect(b).toEqual(out[0].buffers[i]));
    out[1].params.forEach((p, i) => expect(p).toEqual(out[0].params[i]));
    expect(out[0].res.best).not.toBeNull();
    expect(out[1].res.best).toEqual(out[0].res.best);
    expect(out[1].res.test).toEqual(out[0].res.test);
    expect([out[0].best, out[1].best]).toEqual([true, false]);
  }, 120_000);

  it('a rank that throws ends the others with its message', async () => {
    const setup = sineSetup(32, 8);
    const gs = await groups(2);
    open = gs;
    const runs = gs.map(async (g) => {
      const model = setup.model(1);
      const dp = await DataParallel.create(model, g, { backend: 'tcp' });
      const trainer = new s4.Trainer({ model, task: setup.task, batchSize: 8, epochs: 1, seed: 3, distributed: dp });
      if (g.rank === 1)
        trainer.on('step', (e) => {
          if (e.step === 2) throw new Error('disk on fire');
        });
      try {
        return await trainer.fit();
      } finally {
        model.dispose();
      }
    });
    await expect(runs[1]).rejects.toThrow(/disk on fire/);
    await expect(runs[0]).rejects.toThrow(/rank 1: disk on fire/);
  }, 60_000);

  it('rejects a DataParallel of another model and bad options', async () => {
    const setup = sineSetup(16, 8);
    const [g] = await groups(1);
    const a = setup.model(1);
    const b = setup.model(2);
    const dp = await DataParallel.create(a, g);
    expect(() => new s4.Trainer({ model: b, task: setup.task, distributed: dp })).toThrow(/option 'distributed' must be a DataParallel of option 'model'/);
    await expect(DataParallel.create(a, g, { backend: 'mpi' as 'tcp' })).rejects.toThrow(/option 'backend' must be 'auto', 'nccl' or 'tcp'/);
    await expect(DataParallel.create(a, g, { bucketMb: 0 })).rejects.toThrow(/option 'bucketMb'/);
    if (device === 'cpu') await expect(DataParallel.create(a, g, { backend: 'nccl' })).rejects.toThrow(/backend 'nccl' is not available: the model is on cpu/);
    a.dispose();
    b.dispose();
    await g.close();
  });
});
