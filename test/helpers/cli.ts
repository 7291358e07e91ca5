/**
 * `s4 ...` in a child process (vite-node on lib/cli/s4.ts, CPU backend). Asynchronous, so the
 * test worker keeps answering vitest while the child runs (a blocking spawnSync of a minute
 * makes vitest report "Timeout calling onTaskUpdate" on a loaded machine).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import * as s4 from '../../lib/index';

export const root = join(__dirname, '..', '..');

export function s4cli(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'node_modules/vite-node/vite-node.mjs'), join(root, 'lib/cli/s4.ts'), ...args],
      { cwd: root, env: { ...process.env, S4_BACKEND: 'cpu' }, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Saves a next-pixel (fmnist-gen) checkpoint of a new CPU SequenceModel with these options (its parameters and buffers) for `s4 generate`. */
export function saveGenerateCheckpoint(path: string, options: Omit<s4.nn.SequenceModelOptions, 'device'>): void {
  const model = new s4.nn.SequenceModel({ ...options, device: 'cpu' });
  const params = Object.fromEntries(model.namedState().map(([n, t]) => [n, { shape: [...t.shape], dtype: t.dtype, data: t.dataSync() }]));
  s4.train.saveCheckpoint(path, { step: 1, epoch: 0, batch: 1, seed: 0, params, moments: {}, scheduleStep: 1, dropout: {}, info: { task: { name: 'fmnist-gen', options: {} }, model: options } });
  model.dispose();
}

/**
 * Runs `s4 generate` (--count `count`, --scale 1) on a new checkpoint of these options in a new
 * temporary folder named from `prefix`, expecting it to succeed and write the PNG; the paths of both.
 */
export async function expectGeneratePng(prefix: string, options: Omit<s4.nn.SequenceModelOptions, 'device'>, count: number): Promise<{ ck: string; png: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ck = join(dir, 'gen.safetensors');
  saveGenerateCheckpoint(ck, options);
  const png = join(dir, 'out.png');
  const r = await s4cli(['generate', ck, '--out', png, '--count', String(count), '--scale', '1', '--no-progress']);
  expect(r.code, r.stderr).toBe(0);
  expect(existsSync(png)).toBe(true);
  return { ck, png };
}
