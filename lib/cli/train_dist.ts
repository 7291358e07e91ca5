/**
 * The data-parallel side of `s4 train`: `--gpus N` / `--procs N` start the ranks
 * (lib/distributed/launch.ts), and a rank (started so, or by torchrun or Slurm, see
 * lib/distributed/env.ts) joins the process group and wraps its model in DataParallel.
 */
import { readFileNamed } from '../util/files';
import { extname, join } from 'node:path';
import { DataParallel } from '../distributed/data_parallel';
import { distributedEnv, type DistributedEnv } from '../distributed/env';
import { describeFailure, launch } from '../distributed/launch';
import { ProcessGroup } from '../distributed/process_group';
import type { Module } from '../nn/module';
import { decodeCheckpoint, loadCheckpoint, type CheckpointState } from '../train/checkpoint';

export type DistBackend = 'auto' | 'nccl' | 'tcp';

export interface DistFlags {
  gpus?: number;
  procs?: number;
  masterPort?: number;
  distBackend?: DistBackend;
  /** Gradient bucket size in MiB (DataParallel's bucketMb). */
  bucketMb?: number;
  /** false: --no-grad-overlap (DataParallel's overlap). */
  gradOverlap?: boolean;
  device?: string;
}

/** The launcher's own flags, removed from the ranks' command line. */
const LAUNCH_FLAGS = ['--gpus', '--procs', '--master-port'];

/** argv without the launcher flags (and their values). */
export function rankArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (LAUNCH_FLAGS.includes(a)) {
      i++;
      continue;
    }
    if (LAUNCH_FLAGS.some((f) => a.startsWith(`${f}=`))) continue;
    out.push(a);
  }
  return out;
}

/**
 * How a rank starts this command line: `node dist/cli/s4.js`, or from the TypeScript
 * sources (development, tests) through vite-node, as the launcher itself was.
 */
function entryArgs(): string[] {
  const ext = extname(__filename);
  const entry = join(__dirname, `s4${ext}`);
  return ext === '.ts' ? [require.resolve('vite-node/vite-node.mjs'), entry] : [entry];
}

/**
 * Whether this invocation is the launcher (`--gpus` or `--procs`, and not itself a rank); if
 * so, runs the ranks and sets the exit code. A launcher flag inside a rank (the environment
 * already names a run) is an error.
 */
export async function launchIfAsked(f: DistFlags): Promise<boolean> {
  const n = f.gpus ?? f.procs;
  if (n === undefined) return false;
  if (f.gpus !== undefined && f.procs !== undefined) throw new Error('--gpus and --procs exclude each other (--gpus: one process per GPU; --procs: processes without a GPU each)');
  if (distributedEnv()) throw new Error('--gpus / --procs start the ranks of a run, but this process is already a rank (RANK / WORLD_SIZE are set): drop the flag under torchrun or srun');
  const args = [...entryArgs(), ...rankArgs(process.argv.slice(2))];
  if (f.gpus !== undefined && f.device === undefined) args.push('--device', 'cuda');
  const env: Record<string, string> = {};
  // Processes that share the CPU (or one GPU) exchange gradients through the host.
  if (f.procs !== undefined && f.distBackend === undefined) env.S4_DIST_BACKEND = 'tcp';
  console.error(`s4 train: starting ${n} ranks (${f.gpus !== undefined ? 'one GPU each' : 'processes'}); rank 0 reports, the others' lines are marked [rank r]`);
  const res = await launch({ nprocs: n, args, gpus: f.gpus !== undefined, masterPort: f.masterPort, env });
  if (res.code !== 0) {
    console.error(`s4 train: the run failed: ${describeFailure(res)}`);
    process.exitCode = res.code;
  }
  return true;
}

/** A rank's place in the run: its group and environment, or null for a single-process run. */
export interface RankContext {
  env: DistributedEnv;
  group: ProcessGroup;
  backend: DistBackend;
  bucketMb?: number;
  overlap: boolean;
}

/** Joins the run the environment describes (ProcessGroup.fromEnv pins this rank's GPU), or null. */
export async function joinRun(f: DistFlags): Promise<RankContext | null> {
  const env = distributedEnv();
  if (!env) return null;
  const backend = (f.distBackend ?? (process.env.S4_DIST_BACKEND as DistBackend | undefined) ?? 'auto') as DistBackend;
  if (!['auto', 'nccl', 'tcp'].includes(backend)) throw new Error(`S4_DIST_BACKEND must be auto, nccl or tcp (got '${backend}')`);
  // A launched rank follows its launcher: if the launcher dies, stop as on SIGTERM.
  if (process.send && process.env.S4_RUN_ID) process.channel?.unref();
  const group = await ProcessGroup.fromEnv();
  return { env, group, backend, bucketMb: f.bucketMb, overlap: f.gradOverlap !== false };
}

/** The checkpoint to resume from: rank 0 reads it and sends it to the others (no shared disk needed). */
export async function loadRunCheckpoint(path: string, ctx: RankContext | null): Promise<CheckpointState> {
  if (!ctx) return loadCheckpoint(path);
  let bytes: Uint8Array | null = null;
  if (ctx.group.rank === 0) {
    try {
      bytes = readFileNamed('loadCheckpoint', path);
    } catch (err) {
      ctx.group.abort((err as Error).message);
      throw err;
    }
  }
  return decodeCheckpoint(await ctx.group.broadcast(bytes), path);
}

/** The model wrapped for the run (its parameters become rank 0's). */
export function wrapModel(model: Module, ctx: RankContext): Promise<DataParallel> {
  return DataParallel.create(model, ctx.group, { backend: ctx.backend, bucketMb: ctx.bucketMb, overlap: ctx.overlap });
}
