/** The `s4` command line end to end (train, resume, eval, generate, errors), in child processes. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { expectGeneratePng, s4cli } from './helpers/cli';

const small = ['--task', 'sine', '--train-size', '64', '--test-size', '16', '--length', '16', '--layers', '1', '--d-model', '8', '--d-state', '8', '--no-progress'];

describe('s4 train / eval', () => {
  it('trains, stops at --max-steps, resumes to the end, evaluates the checkpoint', async () => {
    const out = mkdtempSync(join(tmpdir(), 's4-cli-'));
    const first = await s4cli(['train', ...small, '--epochs', '2', '--max-steps', '3', '--out', out, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1.step).toBe(3);
    expect(r1.checkpoint).toBe(join(out, 'checkpoint.safetensors'));
    expect(s4.train.loadCheckpoint(r1.checkpoint).step).toBe(3);

    const second = await s4cli(['train', ...small, '--out', out, '--resume', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resuming sine from .* at step 3 \(epoch 2, batch 1\)/);
    const r2 = JSON.parse(second.stdout);
    expect(r2.step).toBe(4); // 2 epochs of 2 batches: the stored recipe wins over the flags' defaults
    expect(Number.isFinite(r2.test.loss)).toBe(true);

    const log = s4.train.parseJsonl(readFileSync(join(out, 'log.jsonl'), 'utf8'));
    expect(log.filter((l) => l.type === 'step').map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(log.filter((l) => l.type === 'start').map((l) => l.resumed)).toEqual([false, true]);

    const ev = await s4cli(['eval', r1.checkpoint, '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    const m = JSON.parse(ev.stdout);
    expect(m).toMatchObject({ task: 'sine', split: 'test', step: 4, count: 16 });
    expect(m.loss).toBeCloseTo(r2.test.loss, 6);
  });

  it('explains bad flags, missing data, corrupt checkpoints and divergence', async () => {
    const badTask = await s4cli(['train', '--task', 'mnist-x']);
    expect(badTask.code).not.toBe(0);
    expect(badTask.stderr).toMatch(/--task.*expected one of fmnist, fmnist-gen, sine, adding, copy, mnist, cifar, listops, imdb, jsonl/);
    const badNum = await s4cli(['train', '--task', 'sine', '--batch-size', '0']);
    expect(badNum.stderr).toMatch(/--batch-size.*expected an integer >= 1/);
    const noData = await s4cli(['train', '--task', 'fmnist', '--data-dir', join(tmpdir(), 'no-such-folder')]);
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/sudo apt-get install dataset-fashion-mnist/);
    const dir = mkdtempSync(join(tmpdir(), 's4-cli-'));
    writeFileSync(join(dir, 'bad.safetensors'), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    const corrupt = await s4cli(['eval', join(dir, 'bad.safetensors')]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/bad\.safetensors: not a valid checkpoint/);
    const nan = await s4cli(['train', ...small, '--lr', '1e30', '--ssm-lr', '1e30', '--out', dir]);
    expect(nan.code).toBe(2);
    expect(nan.stderr).toMatch(/training diverged: the (loss is NaN|gradient norm is NaN|parameters are (NaN|-?Infinity)) at step \d+/);
  });

  it('--help lists the tasks and their defaults', async () => {
    const h = await s4cli(['train', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/fmnist +layers 4, d_model 128, d_state 64, dropout 0.1, post-norm, lr 0.01, ssm lr 0.001, wd 0.01, batch 64, epochs 3/);
    expect((await s4cli(['--help'])).stdout).toMatch(/train[\s\S]*eval[\s\S]*generate/);
  });
});

describe('s4 generate', () => {
  it('writes a PNG grid of sampled images from a next-pixel checkpoint', async () => {
    const options = { dInput: 1, dOutput: 256, pool: 'none' as const, lMax: 784, nLayers: 1, dModel: 8, dState: 8, dropout: 0, seed: 2 };
    const { ck, png } = await expectGeneratePng('s4-gen-', options, 3);
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
    // 2 columns x 2 rows of 28 px with 2 px padding.
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([62, 62]);
    const wrong = await s4cli(['generate', ck, '--prompt-rows', '28']);
    expect(wrong.stderr).toMatch(/--prompt-rows must be below 28/);
  });
});
