/**
 * The S4 layer options through training and checkpoints: `s4 train` with --channels,
 * --n-ssm, --init, --bidirectional, --tie-dropout and --dt-lr stores them (and each layer's
 * kernel length) in the checkpoint, `s4 eval` rebuilds the same model; modelFromCheckpoint
 * restores grown kernel lengths, and reads bidirectional checkpoints from before the
 * official convention with the lag-0 kernel they were trained with.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';

const root = join(__dirname, '..');

function s4cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(root, 'lib/cli/s4.ts'), ...args], {
    cwd: root,
    env: { ...process.env, S4_BACKEND: 'cpu' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const small = ['--task', 'sine', '--train-size', '32', '--test-size', '16', '--length', '16', '--layers', '1', '--d-model', '8', '--d-state', '8', '--no-progress'];

/** A checkpoint state holding a model's parameters and the given info. */
function stateOf(model: s4.nn.SequenceModel, info: Record<string, unknown>): s4.train.CheckpointState {
  const params = Object.fromEntries(model.namedParameters().map(([n, t]) => [n, { shape: [...t.shape], dtype: t.dtype, data: t.dataSync() }]));
  return { step: 0, epoch: 0, batch: 0, seed: 0, params, moments: {}, scheduleStep: 0, dropout: {}, info };
}

describe('S4 layer options in training and checkpoints', () => {
  it('s4 train stores the options, the kernel lengths and the dt group; s4 eval rebuilds the model', () => {
    const out = mkdtempSync(join(tmpdir(), 's4-opts-'));
    const flags = ['--kernel', 'diag', '--init', 'diag-lin', '--channels', '2', '--n-ssm', '2', '--bidirectional', '--tie-dropout', '--dropout', '0.1', '--dt-lr', '0.0005'];
    const tr = s4cli(['train', ...small, ...flags, '--epochs', '1', '--out', out, '--json']);
    expect(tr.code, tr.stderr).toBe(0);
    const r = JSON.parse(tr.stdout);
    const st = s4.train.loadCheckpoint(r.checkpoint);
    expect(st.info.model).toMatchObject({ kernel: 'diag', init: 'diag-lin', channels: 2, nSsm: 2, bidirectional: true, bidirectionalConvention: 'official', tieDropout: true });
    expect(st.info.kernelLengths).toEqual([16]);
    expect(st.params['layers.0.s4.c'].shape).toEqual([2, 8, 4]);
    expect(st.params['layers.0.s4.logNegRe'].shape).toEqual([2, 4]);
    expect(st.params['layers.0.s4.output.weight'].shape).toEqual([16, 16]);
    const groups = st.optimizer!.groups;
    expect(groups.length).toBe(3);
    expect(groups[2]).toMatchObject({ names: ['layers.0.s4.logDt'], initialLr: 0.0005, weightDecay: 0 });
    const ev = s4cli(['eval', r.checkpoint, '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).loss).toBeCloseTo(r.test.loss, 6);
    const bad = s4cli(['train', ...small, '--bidirectional-convention', 'lag0', '--out', out]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--bidirectional-convention needs --bidirectional/);
    const badInit = s4cli(['train', ...small, '--init', 'hippo', '--out', out]);
    expect(badInit.stderr).toMatch(/--init.*expected one of legs/);
  });

  it('modelFromCheckpoint restores grown kernel lengths', () => {
    const options: s4.nn.SequenceModelOptions = { dInput: 2, dModel: 4, nLayers: 2, dState: 4, dOutput: 3, lMax: 8, dropout: 0, pool: 'none' };
    const m = new s4.nn.SequenceModel({ ...options, seed: 3, device });
    m.eval();
    const x = s4.tensor(randomValues(2 * 2 * 20, 1), [2, 2, 20], { device });
    const y = s4.tidy(() => m.forward(x).dataSync());
    expect(m.kernelLengths()).toEqual([32, 32]);
    const back = s4.train.modelFromCheckpoint(stateOf(m, { model: options, kernelLengths: m.kernelLengths() }), device);
    back.eval();
    expect(back.kernelLengths()).toEqual([32, 32]);
    expect(relL2(s4.tidy(() => back.forward(x).dataSync()), y)).toBe(0);
    expect(() => s4.train.modelFromCheckpoint(stateOf(m, { model: options, kernelLengths: [32] }), device)).toThrow(/'lengths' must be an array of 2 lengths/);
    s4.dispose(x);
    m.dispose();
    back.dispose();
  });

  it('a bidirectional checkpoint without a convention (older) is rebuilt with the lag-0 kernel', () => {
    const options: s4.nn.SequenceModelOptions = { dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 2, lMax: 6, dropout: 0, pool: 'mean', bidirectional: true };
    const lag0 = new s4.nn.SequenceModel({ ...options, bidirectionalConvention: 'lag0', seed: 2, device });
    const back = s4.train.modelFromCheckpoint(stateOf(lag0, { model: options }), device);
    expect(back.layers[0].bidirectionalConvention).toBe('lag0');
    const now = s4.train.modelFromCheckpoint(stateOf(lag0, { model: { ...options, bidirectionalConvention: 'official' } }), device);
    expect(now.layers[0].bidirectionalConvention).toBe('official');
    s4.dispose(lag0, back, now);
  });
});
