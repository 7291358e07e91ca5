/**
 * The launcher behind `s4 train --gpus N` / `--procs N`: starts N copies of the command as
 * ranks of one run on this machine, with the environment torchrun would give them (RANK,
 * WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) plus a fresh run id
 * (S4_RUN_ID), and one GPU each with --gpus (CUDA_VISIBLE_DEVICES).
 *
 * Rank 0 keeps the terminal (its progress bar and results); the other ranks' output is
 * prefixed with their rank. The children run in process groups of their own, so a Ctrl-C
 * reaches them once, forwarded by the launcher: SIGINT and SIGTERM stop the run after the
 * current step with a checkpoint, a second one quits at once. A rank that fails ends the
 * others through the process group (they exit with its message); the launcher then gives
 * the rest `graceMs` to exit before it kills them, and exits with the first failure's code.
 * Each child also watches the launcher (an IPC channel): if the launcher dies, the ranks
 * stop as on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { DEFAULT_MASTER_PORT } from './env';

export interface LaunchOptions {
  /** Number of ranks (processes) on this machine. */
  nprocs: number;
  /** Arguments of each child after the Node executable (the script and its arguments). */
  args: string[];
  /** One GPU per rank: CUDA_VISIBLE_DEVICES gets the rank's entry of the launcher's list (or its index). */
  gpus?: boolean;
  /** Port of the rendezvous (default: a free one). */
  masterPort?: number;
  /** Extra environment of every child. */
  env?: Record<string, string>;
  /** How long the other ranks may take to exit after one failed (default 30 s). */
  graceMs?: number;
  /** Where the ranks' output goes (default the launcher's stdout and stderr). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export interface LaunchResult {
  /** 0 when every rank succeeded, else the exit code of the first rank that failed. */
  code: number;
  /** Exit code (or signal) of each rank. */
  ranks: { code: number | null; signal: NodeJS.Signals | null }[];
  /** The first rank that failed, or null. */
  firstFailure: number | null;
}

/** A port that was free a moment ago, on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Copies lines of `from` to `to`, each prefixed. */
function prefixLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, prefix: string): void {
  let rest = '';
  from.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) to.write(`${prefix}${l}\n`);
  });
  from.on('end', () => {
    if (rest) to.write(`${prefix}${rest}\n`);
  });
}

export async function launch(opts: LaunchOptions): Promise<LaunchResult> {
  const fn = 'launch';
  const n = opts.nprocs;
  if (!Number.isSafeInteger(n) || n < 1 || n > 1024) throw new RangeError(`${fn}: option 'nprocs' must be an integer in [1, 1024] (got ${String(n)})`);
  const port = opts.masterPort ?? (process.env.MASTER_PORT ? Number(process.env.MASTER_PORT) : await freePort().catch(() => DEFAULT_MASTER_PORT));
  if (!Number.isSafeInteger(port) || port < 1 || port > 65535) throw new RangeError(`${fn}: option 'masterPort' must be a port in [1, 65535] (got ${String(port)})`);
  const graceMs = opts.graceMs ?? 30_000;
  const out = opts.stdout ?? process.stdout;
  const err = opts.stderr ?? process.stderr;
  const runId = randomBytes(8).toString('hex');
  const visible = process.env.CUDA_VISIBLE_DEVICES?.split(',').map((s) => s.trim()).filter(Boolean) ?? null;
  if (opts.gpus && visible && visible.length < n) {
    throw new RangeError(`${fn}: ${n} GPUs asked for, but CUDA_VISIBLE_DEVICES lists ${visible.length} (${visible.join(',')})`);
  }
  const children: ChildProcess[] = [];
  const ranks: LaunchResult['ranks'] = Array.from({ length: n }, () => ({ code: null, signal: null }));
  let firstFailure: number | null = null;
  let exited = 0;
  let killTimer: NodeJS.Timeout | null = null;

  const forward = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const onSignal = (signal: NodeJS.Signals) => forward(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const done = new Promise<void>((resolve) => {
    for (let rank = 0; rank < n; rank++) {
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        ...opts.env,
        RANK: String(rank),
        WORLD_SIZE: String(n),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(n),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        S4_RUN_ID: runId,
      };
      if (opts.gpus) env.CUDA_VISIBLE_DEVICES = visible ? visible[rank] : String(rank);
      const child = spawn(process.execPath, [...process.execArgv, ...opts.args], {
        env,
        stdio: ['ignore', rank === 0 ? 'inherit' : 'pipe', rank === 0 ? 'inherit' : 'pipe', 'ipc'],
        detached: true,
      });
      if (rank > 0) {
        prefixLines(child.stdout!, out, `[rank ${rank}] `);
        prefixLines(child.stderr!, err, `[rank ${rank}] `);
      }
      child.on('exit', (code, signal) => {
        ranks[rank] = { code, signal };
        if ((code !== 0 || signal !== null) && firstFailure === null) {
          firstFailure = rank;
          // The others learn of it through the process group and exit; the ones that do not
          // (stuck in native code) are killed after the grace period.
          killTimer = setTimeout(() => forward('SIGKILL'), graceMs);
        }
        if (++exited === n) resolve();
      });
      child.on('error', (e) => {
        err.write(`s4: could not start rank ${rank}: ${e.message}\n`);
      });
      children.push(child);
    }
  });
  try {
    await done;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const failed = firstFailure === null ? null : ranks[firstFailure];
  const code = failed === null ? 0 : failed.code !== null && failed.code !== 0 ? failed.code : 1;
  return { code, ranks, firstFailure };
}

/** A one-line account of a launch that failed, naming the first rank that did. */
export function describeFailure(r: LaunchResult): string {
  if (r.firstFailure === null) return 'all ranks succeeded';
  const how = (x: { code: number | null; signal: NodeJS.Signals | null }) => (x.signal ? `signal ${x.signal}` : `code ${x.code}`);
  const others = r.ranks.map((x, i) => [i, x] as const).filter(([i]) => i !== r.firstFailure);
  return `rank ${r.firstFailure} failed first (${how(r.ranks[r.firstFailure])})` + (others.length ? `; ${others.map(([i, x]) => `rank ${i}: ${how(x)}`).join(', ')}` : '');
}
