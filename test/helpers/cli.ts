/**
 * `s4 ...` in a child process (vite-node on lib/cli/s4.ts, CPU backend). Asynchronous, so the
 * test worker keeps answering vitest while the child runs (a blocking spawnSync of a minute
 * makes vitest report "Timeout calling onTaskUpdate" on a loaded machine).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

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
