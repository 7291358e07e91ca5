/**
 * `s4 train --gpus 2` (one process per GPU, gradients through NCCL) against `s4 train` on
 * one GPU with the same global batch: the same losses step for step and the same
 * parameters. Needs two GPUs (skipped with fewer) and NCCL (S4_NCCL_PATH, libnccl.so.2 or
 * python3's nvidia-nccl wheel).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { cudaInfo } from '../../lib/backend';
import { relL2 } from '../helpers/device';
import { finished, root, stepLosses as losses } from '../helpers/dist';
import { useNcclFromEnvOrPython } from '../helpers/nccl_path';

useNcclFromEnvOrPython();
const cuda = cudaInfo();
const gpus = cuda.usable ? (cuda.deviceCount ?? 0) : 0;
const RUN = ['train', '--task', 'sine', '--train-size', '96', '--test-size', '32', '--length', '64', '--layers', '2', '--d-model', '32', '--d-state', '16', '--batch-size', '32', '--epochs', '2', '--dropout', '0.1', '--no-progress', '--device', 'cuda'];

function run(args: string[]) {
  const p = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(root, 'lib/cli/s4.ts'), ...args], { cwd: root, env: { ...process.env, S4_BACKEND: 'cuda' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return finished(p);
}

describe.skipIf(gpus < 2)('s4 train --gpus 2 (NCCL)', () => {
  it('equals one GPU on the same global batch', async () => {
    const one = mkdtempSync(join(tmpdir(), 's4-gpu1-'));
    const two = mkdtempSync(join(tmpdir(), 's4-gpu2-'));
    const a = await run([...RUN, '--out', one]);
    expect(a.code, a.stderr).toBe(0);
    const b = await run([...RUN, '--out', two, '--gpus', '2']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/2 ranks, gradients through nccl/);
    const [la, lb] = [losses(one), losses(two)];
    expect(lb.length).toBe(la.length);
    lb.forEach((l, i) => expect(Math.abs(l - la[i]), `step ${i + 1}`).toBeLessThan(1e-4 * Math.max(1, la[i])));
    const pa = s4.train.loadCheckpoint(join(one, 'checkpoint.safetensors')).params;
    const pb = s4.train.loadCheckpoint(join(two, 'checkpoint.safetensors')).params;
    for (const [n, v] of Object.entries(pa)) expect(relL2(pb[n].data, v.data), n).toBeLessThan(1e-4);
  }, 300_000);
});
