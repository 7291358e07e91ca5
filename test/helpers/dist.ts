/** Helpers of the process-group and data-parallel tests: free ports, groups in one process, child ranks. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../lib/distributed/launch';
import { ProcessGroup, type ProcessGroupOptions } from '../../lib/distributed/process_group';

export const root = join(__dirname, '..', '..');

export { freePort } from '../../lib/distributed/launch';

/** `worldSize` groups of one run in this process (ranks as separate connections). */
export async function groups(worldSize: number, opts: Partial<ProcessGroupOptions> = {}): Promise<ProcessGroup[]> {
  const masterPort = opts.masterPort ?? (await freePort());
  return Promise.all(Array.from({ length: worldSize }, (_, rank) => ProcessGroup.connect({ rank, worldSize, masterPort, connectTimeoutMs: 20_000, ...opts })));
}

/** Runs a TypeScript file with vite-node in a child process (CPU backend). */
export function spawnTs(file: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), file, ...args], {
    cwd: root,
    env: { ...process.env, S4_BACKEND: 'cpu', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The exit code and output of a child process. */
export function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** The losses of the step records in a run's log.jsonl, in order. */
export function stepLosses(dir: string): number[] {
  return readFileSync(join(dir, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; loss?: number })
    .filter((e) => e.type === 'step')
    .map((e) => e.loss!);
}
