/**
 * Tiny runs of every data task through `s4 train` on the CPU, with fixtures the tests write
 * (JSONL of lengths 1..500, a generated ListOps, an aclImdb folder, CIFAR-10 and MNIST
 * records): each trains, prints a test accuracy; --config with the command line winning,
 * unknown config keys, --val-split with its best checkpoint. The shipped configs/ use only
 * flags of `s4 train`, or the ones other work adds (listed below).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { registerTrain } from '../lib/cli/train';
import { root, s4cli } from './helpers/cli';
import { jsonlLines, tempDir, writeCifar, writeImdb, writeMnist } from './helpers/data_fixtures';



/** `s4 train ...` in this process, for the errors raised before any training. */
async function trainError(args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerTrain(program);
  program.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined }));
  try {
    await program.parseAsync(['train', ...args], { from: 'user' });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`s4 train ${args.join(' ')} did not fail`);
}

const tiny = ['--layers', '1', '--d-model', '8', '--d-state', '4', '--epochs', '1', '--batch-size', '8', '--no-progress', '--json'];

/** Runs `s4 train`, expects success and a test accuracy in [0, 1]; returns the JSON result. */
async function trainOk(args: string[]): Promise<{ test: { accuracy: number; count: number }; [k: string]: unknown }> {
  const r = await s4cli(['train', ...args, ...tiny]);
  expect(r.code, r.stderr).toBe(0);
  const res = JSON.parse(r.stdout);
  expect(res.test.accuracy).toBeGreaterThanOrEqual(0);
  expect(res.test.accuracy).toBeLessThanOrEqual(1);
  return res;
}

describe('s4 train on data tasks', () => {
  it('jsonl (lengths 1..500, validation split, best checkpoint), listops (generated), all through the CLI', async () => {
    const dir = tempDir('data-cli');
    const train = join(dir, 'train.jsonl');
    const test = join(dir, 'test.jsonl');
    writeFileSync(train, jsonlLines(40, 500, 1).join('\n') + '\n');
    writeFileSync(test, jsonlLines(12, 500, 100).join('\n') + '\n');
    const out = join(dir, 'jsonl');
    const res = await trainOk(['--task', 'jsonl', '--train', train, '--test', test, '--val-split', '0.25', '--out', out]);
    expect(res.test.count).toBe(12);
    expect((res.val as { count: number }).count).toBe(10);
    expect(res.best).toMatchObject({ step: 4 });
    expect(existsSync(join(out, 'best.safetensors'))).toBe(true);
    const log = s4.train.parseJsonl(readFileSync(join(out, 'log.jsonl'), 'utf8'));
    expect(log.filter((l) => l.type === 'eval').map((l) => l.split)).toEqual(['val', 'test']);
    // The checkpoint rebuilds the same validation split.
    const ev = await s4cli(['eval', join(out, 'best.safetensors'), '--split', 'val', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout)).toMatchObject({ split: 'val', count: 10, loss: (res.best as { metrics: { loss: number } }).metrics.loss });

    // The curves of bench/curves.js read the log: the validation evaluations, a PNG.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const curves = require('../bench/curves.js') as { readRun(spec: string): { split: string; points: unknown[]; label: string }; png(runs: unknown[]): Buffer };
    const run = curves.readRun(`${join(out, 'log.jsonl')}:jsonl`);
    expect(run).toMatchObject({ split: 'val', label: 'jsonl' });
    expect(run.points.length).toBe(1);
    expect(curves.png([run]).subarray(1, 4).toString('ascii')).toBe('PNG');

    const lo = await trainOk(['--task', 'listops', '--train-size', '24', '--test-size', '8', '--max-length', '80', '--out', join(dir, 'listops')]);
    expect(lo.test.count).toBe(8);
  });

  it('imdb (aclImdb folder), cifar (--grayscale; 3 channels in-process), mnist (IDX files)', async () => {
    const dir = tempDir('data-cli');
    writeImdb(dir, 4);
    expect((await trainOk(['--task', 'imdb', '--data-dir', dir, '--max-length', '64', '--out', join(dir, 'imdb')])).test.count).toBe(8);
    writeCifar(dir, 2, 4);
    const gray = await s4cli(['train', '--task', 'cifar', '--data-dir', dir, '--grayscale', '--out', join(dir, 'gray'), ...tiny.filter((f) => f !== '--json')]);
    expect(gray.code, gray.stderr).toBe(0);
    expect(gray.stdout).toMatch(/test accuracy \d+\.\d\d%/);
    const rgb = s4.train.createTask('cifar', { dataDir: dir });
    expect(rgb.model).toMatchObject({ dInput: 3, dOutput: 10, lMax: 1024 });
    expect(rgb.train.batch([0, 1]).xShape).toEqual([2, 3, 1024]);
    writeMnist(dir, 16, 8);
    expect((await trainOk(['--task', 'mnist', '--data-dir', dir, '--out', join(dir, 'mnist')])).test.count).toBe(8);
    expect(await trainError(['--task', 'imdb', '--data-dir', join(dir, 'nothing')])).toMatch(/IMDB not found: .*train\/neg is missing/);
    expect(await trainError(['--task', 'cifar'])).toMatch(/task cifar: --data-dir is required/);
    expect(await trainError(['--task', 'jsonl'])).toMatch(/task jsonl: --train FILE and --test FILE are required/);
    expect(await trainError(['--task', 'sine', '--grayscale'])).toMatch(/--grayscale applies to --task cifar, not sine/);
  });

  it('--config: keys are the long flags, the command line wins, unknown keys and bad values are named', async () => {
    const dir = tempDir('data-cli');
    const cfg = join(dir, 'tiny.json');
    writeFileSync(cfg, JSON.stringify({ task: 'listops', 'train-size': 16, 'test-size': 4, 'max-length': 60, 'd-model': 16, layers: 1, 'd-state': 4, epochs: 3, 'batch-size': 8, bidirectional: true, prenorm: false }));
    const r = await s4cli(['train', '--config', cfg, '--d-model', '8', '--epochs', '1', '--no-progress', '--json', '--out', join(dir, 'run')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/task listops: 16 train \/ 4 test examples; .*\(1 layers, d_model 8, d_state 4, layer norm\); 1 epochs of 2 steps, batch 8/);
    const ck = s4.train.loadCheckpoint(join(dir, 'run', 'checkpoint.safetensors'));
    expect(ck.info.model).toMatchObject({ dModel: 8, bidirectional: true, embedding: 18 });

    writeFileSync(cfg, JSON.stringify({ task: 'listops', 'd-modle': 8 }));
    expect(await trainError(['--config', cfg])).toMatch(new RegExp(`--config ${cfg}: unknown key 'd-modle': not a flag of \`s4 train\``));
    writeFileSync(cfg, JSON.stringify({ task: 'listops', 'batch-size': 0 }));
    expect(await trainError(['--config', cfg])).toMatch(/key 'batch-size': expected an integer >= 1 \(got '0'\)/);
    writeFileSync(cfg, JSON.stringify({ task: 'listops', bidirectional: 'yes' }));
    expect(await trainError(['--config', cfg])).toMatch(/key 'bidirectional' must be true or false \(got "yes"\)/);
    writeFileSync(cfg, '{"task": ');
    expect(await trainError(['--config', cfg])).toMatch(/not valid JSON/);
    expect(await trainError(['--layers', '2'])).toMatch(/--task is required/);
    // --no-bidirectional and --no-prenorm turn off what a task's recipe turns on; neither flag: the recipe's.
    const parsed = async (args: string[]) => {
      const cmd = new Command();
      registerTrain(cmd);
      const train = cmd.commands[0].action(() => undefined);
      await cmd.parseAsync(['train', ...args], { from: 'user' });
      return train.opts();
    };
    expect(await parsed(['--task', 'imdb', '--no-bidirectional', '--no-prenorm'])).toMatchObject({ bidirectional: false, prenorm: false });
    const plain = await parsed(['--task', 'imdb']);
    expect([plain.bidirectional, plain.prenorm]).toEqual([undefined, undefined]);

    // The shipped configs: every key is a flag of s4 train.
    const program = new Command();
    registerTrain(program);
    const flags = program.commands[0].options.map((o) => o.long);
    for (const f of readdirSync(join(root, 'configs')).filter((n) => n.endsWith('.json'))) {
      const keys = Object.keys(JSON.parse(readFileSync(join(root, 'configs', f), 'utf8')) as object).filter((k) => k !== '//');
      for (const k of keys) expect(flags.includes(`--${k}`), `${f}: key '${k}'`).toBe(true);
    }
  });
});
