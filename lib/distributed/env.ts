/**
 * Where this process stands in a data-parallel run, from the environment variables the
 * launchers set: `s4 train --gpus N` / `--procs N` (lib/distributed/launch.ts), torchrun
 * (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and Slurm's srun (SLURM_PROCID,
 * SLURM_NTASKS, SLURM_LOCALID, with MASTER_ADDR and MASTER_PORT exported by the job script,
 * as for torchrun under Slurm). torchrun's names win where both are set.
 */

export interface DistributedEnv {
  /** This process's index in [0, worldSize). Rank 0 hosts the rendezvous, logs and checkpoints. */
  rank: number;
  worldSize: number;
  /** Index among the processes of this machine (picks the GPU). */
  localRank: number;
  /** Address and port where rank 0 listens. */
  masterAddr: string;
  masterPort: number;
  /** Identifier of the run every rank must present at the rendezvous (S4_RUN_ID; default 'default'). */
  runId: string;
}

/** Default port when MASTER_PORT is not set (torchrun's default). */
export const DEFAULT_MASTER_PORT = 29500;

type Env = Record<string, string | undefined>;

function integer(env: Env, names: string[], what: string, min: number, max: number): number | undefined {
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const v = Number(raw);
    if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new RangeError(`distributed environment: ${name} (${what}) must be an integer in [${min}, ${max}] (got '${raw}')`);
    }
    return v;
  }
  return undefined;
}

/**
 * The run's layout from the environment, or null when it names none (no RANK / WORLD_SIZE
 * and no Slurm task count above 1): a plain single-process run. A partial or inconsistent
 * set throws and names the variable.
 */
export function distributedEnv(env: Env = process.env): DistributedEnv | null {
  const hasTorchrun = env.RANK !== undefined || env.WORLD_SIZE !== undefined;
  // A task started by srun has SLURM_PROCID; an allocation's shell (salloc, sbatch) has
  // SLURM_NTASKS but no task id of its own, and runs as a single process.
  const slurmTasks = env.SLURM_PROCID !== undefined ? integer(env, ['SLURM_NTASKS'], 'the task count', 1, 65536) : undefined;
  if (!hasTorchrun && (slurmTasks === undefined || slurmTasks < 2 || env.S4_DIST_SLURM === '0')) return null;
  const worldSize = integer(env, hasTorchrun ? ['WORLD_SIZE'] : ['SLURM_NTASKS'], 'the number of processes', 1, 65536);
  if (worldSize === undefined) throw new RangeError('distributed environment: RANK is set but WORLD_SIZE is not');
  const rank = integer(env, hasTorchrun ? ['RANK'] : ['SLURM_PROCID'], "this process's rank", 0, worldSize - 1);
  if (rank === undefined) throw new RangeError(`distributed environment: WORLD_SIZE is ${worldSize} but ${hasTorchrun ? 'RANK' : 'SLURM_PROCID'} is not set`);
  const localRank = integer(env, hasTorchrun ? ['LOCAL_RANK'] : ['SLURM_LOCALID'], 'the rank on this machine', 0, 65535) ?? rank;
  const masterAddr = (env.MASTER_ADDR ?? '').trim() || '127.0.0.1';
  if (worldSize > 1 && env.MASTER_ADDR === undefined && !hasTorchrun) {
    throw new RangeError('distributed environment: under Slurm, export MASTER_ADDR (the first node of the job) and MASTER_PORT before srun');
  }
  const masterPort = integer(env, ['MASTER_PORT'], 'the port rank 0 listens on', 1, 65535) ?? DEFAULT_MASTER_PORT;
  const runId = env.S4_RUN_ID && env.S4_RUN_ID.length > 0 ? env.S4_RUN_ID : 'default';
  return { rank, worldSize, localRank, masterAddr, masterPort, runId };
}

/**
 * Makes this rank's GPU the only visible one (CUDA_VISIBLE_DEVICES), before CUDA starts:
 * the addon computes on device 0, so under torchrun, where every rank sees every GPU, rank
 * r takes entry LOCAL_RANK of the visible list. A list of one entry (set per task by
 * `s4 train --gpus` or Slurm's --gpus-per-task) is kept. S4_DIST_PIN_GPU=0 turns this off.
 * Returns the device it chose, or null when it changed nothing.
 */
export function pinLocalGpu(e: DistributedEnv, env: Env = process.env): string | null {
  if (env.S4_DIST_PIN_GPU === '0') return null;
  const list = env.CUDA_VISIBLE_DEVICES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (list && list.length === 1) return null;
  const choice = list ? list[e.localRank % list.length] : String(e.localRank);
  env.CUDA_VISIBLE_DEVICES = choice;
  return choice;
}
