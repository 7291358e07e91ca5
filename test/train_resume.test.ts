/**
 * Checkpoint, kill, resume: the resumed run's next steps equal those of a run that was never
 * interrupted (same losses, bit for bit on one machine, and the same parameters at the end).
 * The run has dropout on and crosses epoch boundaries, so the dropout counters, shuffling
 * position, optimizer moments and schedule must all be restored.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { onGpu } from './helpers/device';
import { makeTrainer } from './helpers/train_setup';

/** Bit for bit on the CPU; on a GPU, reductions may sum in another order from run to run. */
function same(got: number, want: number | undefined, what: string): void {
  if (!onGpu) expect(got, what).toBe(want);
  else expect(Math.abs(got - want!), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-5 * Math.abs(want!) + 1e-7);
}

function sameParams(got: Record<string, number[]>, want: Record<string, number[]>): void {
  if (!onGpu) {
    expect(got).toEqual(want);
    return;
  }
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const n of Object.keys(want)) got[n].forEach((v, i) => same(v, want[n][i], `${n}[${i}]`));
}

async function losses(trainer: s4.Trainer): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  trainer.on('step', (e) => out.set(e.step, e.loss));
  await trainer.fit();
  return out;
}

function params(trainer: s4.Trainer): Record<string, number[]> {
  return Object.fromEntries(trainer.model.namedParameters().map(([n, t]) => [n, [...t.dataSync()]]));
}

/** A checkpoint path in a new temporary folder. */
function checkpointPath(prefix: string): string {
  return join(mkdtempSync(join(tmpdir(), prefix)), 'ck.safetensors');
}

describe('resume', () => {
  let reference: Map<number, number>;
  let referenceParams: Record<string, number[]>;

  /** Runs a resumed trainer to the end: the steps after `from` and the final parameters are the reference run's. */
  async function expectFinishesLikeReference(trainer: s4.Trainer, from: number): Promise<void> {
    const rest = await losses(trainer);
    expect([...rest.keys()]).toEqual(Array.from({ length: 12 - from }, (_, i) => from + 1 + i));
    for (const [step, loss] of rest) same(loss, reference.get(step), `step ${step}`);
    sameParams(params(trainer), referenceParams);
    trainer.model.dispose();
  }

  it('an uninterrupted reference run', async () => {
    const t = makeTrainer();
    reference = await losses(t);
    referenceParams = params(t);
    expect(reference.size).toBe(12); // 4 epochs x 3 batches
    for (const v of reference.values()) expect(Number.isFinite(v)).toBe(true);
    t.model.dispose();
  });

  for (const stopAt of [2, 3, 7]) {
    it(`saved after step ${stopAt}, resumed in a fresh model and optimizer: same next steps`, async () => {
      const path = checkpointPath('s4-resume-');
      const first = makeTrainer({ checkpoint: path, maxSteps: stopAt });
      await first.fit();
      expect(first.step).toBe(stopAt);
      first.model.dispose();
      // A different initialization: everything must come from the checkpoint.
      const second = makeTrainer({ modelSeed: 99, checkpoint: path });
      second.resume(path);
      expect(second.step).toBe(stopAt);
      await expectFinishesLikeReference(second, stopAt);
    });
  }

  it('a killed process (SIGKILL while checkpointing every step) resumes from its last checkpoint', async () => {
    const path = checkpointPath('s4-kill-');
    const child = spawn(process.execPath, [join(__dirname, '../node_modules/vite-node/vite-node.mjs'), join(__dirname, 'helpers/train_child.ts'), path], {
      env: process.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Every read must see a whole checkpoint (old or new), never a partial one.
    let seen = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (existsSync(path)) {
        seen = s4.train.loadCheckpoint(path).step;
        if (seen >= 3) break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await exited;
    expect(seen, `the child did not checkpoint in time: ${stderr}`).toBeGreaterThanOrEqual(3);
    const ck = s4.train.loadCheckpoint(path);
    expect(ck.step).toBeGreaterThanOrEqual(3);
    expect(ck.step, 'the child finished before it was killed').toBeLessThan(12);
    expect(readFileSync(path).length).toBeGreaterThan(0);
    const resumed = makeTrainer({ modelSeed: 7 });
    resumed.resume(path);
    await expectFinishesLikeReference(resumed, ck.step);
  });

  it('refuses a checkpoint of another task or batch size, and corrupt files', async () => {
    const path = checkpointPath('s4-resume-');
    const t = makeTrainer({ checkpoint: path, maxSteps: 1 });
    await t.fit();
    const st = s4.train.loadCheckpoint(path);
    const other = makeTrainer();
    expect(() => other.resume({ ...st, info: { ...st.info, batchSize: 4 } })).toThrow(/batchSize 4; resume with the same \(got 16\)/);
    expect(() => other.resume({ ...st, info: { ...st.info, task: { name: 'copy' } } })).toThrow(/task 'copy', not 'sine'/);
    expect(() => other.resume({ ...st, params: { ...st.params, extra: { shape: [1], dtype: 'float32', data: new Float32Array(1) } } })).toThrow(/unexpected key 'extra'/);
    const bytes = readFileSync(path);
    const bad = join(dirname(path), 'bad.safetensors');
    require('node:fs').writeFileSync(bad, bytes.subarray(0, bytes.length - 8));
    expect(() => other.resume(bad)).toThrow(/bad\.safetensors: not a valid checkpoint \(truncated/);
    t.model.dispose();
    other.model.dispose();
  });
});
