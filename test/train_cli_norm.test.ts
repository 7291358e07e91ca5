/**
 * `s4 train --norm batch | none` end to end, in child processes: the checkpoint records the
 * norm and (batch) the running statistics; eval rebuilds the model from it and scores what
 * training scored; a resume keeps the stored norm; generate steps a batch-norm model.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { expectGeneratePng } from './helpers/cli';

const root = join(__dirname, '..');

/**
 * Runs the CLI in a child process without blocking this one (a test worker blocked for long
 * misses its messages to the runner).
 */
function s4cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(root, 'lib/cli/s4.ts'), ...args], {
      cwd: root,
      env: { ...process.env, S4_BACKEND: 'cpu' },
      timeout: 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const small = ['--task', 'sine', '--train-size', '64', '--test-size', '16', '--length', '16', '--layers', '2', '--d-model', '8', '--d-state', '8', '--no-progress'];

describe('s4 train --norm', () => {
  it('--norm batch: the checkpoint holds the norm and the running statistics; eval and resume rebuild it', async () => {
    const out = mkdtempSync(join(tmpdir(), 's4-cli-norm-'));
    const first = await s4cli(['train', ...small, '--norm', 'batch', '--epochs', '2', '--max-steps', '3', '--out', out, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/2 layers, d_model 8, d_state 8, batch norm/);
    const r1 = JSON.parse(first.stdout);
    const ck = s4.train.loadCheckpoint(r1.checkpoint);
    expect((ck.info.model as { norm?: string }).norm).toBe('batch');
    expect(ck.params['layers.1.norm.running_var'].shape).toEqual([8]);
    expect(Array.from(ck.params['layers.0.norm.num_batches_tracked'].data)).toEqual([3]);
    // Training moved the running statistics away from their start (0, 1).
    expect(Array.from(ck.params['layers.0.norm.running_mean'].data).some((v) => v !== 0)).toBe(true);
    // The trainer's optimizer has no moments for buffers.
    expect(Object.keys(ck.moments).some((n) => n.includes('running'))).toBe(false);

    const ev = await s4cli(['eval', r1.checkpoint, '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).loss).toBeCloseTo(r1.test.loss, 6);

    const wrong = await s4cli(['train', ...small, '--norm', 'layer', '--out', out, '--resume']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/was trained with --norm batch; a resumed run keeps it \(got --norm layer\)/);
    const resumed = await s4cli(['train', ...small, '--out', out, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/batch norm/);
    expect(Array.from(s4.train.loadCheckpoint(r1.checkpoint).params['layers.0.norm.num_batches_tracked'].data)).toEqual([4]);
  });

  it('--norm none trains a model without norms; a bad --norm is explained', async () => {
    const out = mkdtempSync(join(tmpdir(), 's4-cli-norm-'));
    const r = await s4cli(['train', ...small, '--norm', 'none', '--max-steps', '2', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const ck = s4.train.loadCheckpoint(JSON.parse(r.stdout).checkpoint);
    expect((ck.info.model as { norm?: string }).norm).toBe('none');
    expect(Object.keys(ck.params).some((n) => n.includes('.norm.'))).toBe(false);
    const bad = await s4cli(['train', ...small, '--norm', 'group']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--norm.*expected one of layer, batch, none \(got 'group'\)/);
  });

  it('generate steps a batch-norm model (eval mode, running statistics)', async () => {
    const options = { dInput: 1, dOutput: 256, pool: 'none' as const, lMax: 784, nLayers: 1, dModel: 8, dState: 8, dropout: 0, seed: 2, norm: 'batch' as const };
    await expectGeneratePng('s4-gen-norm-', options, 2);
  });
});
