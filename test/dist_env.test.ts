/**
 * The run's layout from the environment (lib/distributed/env.ts): torchrun's variables,
 * Slurm's for srun tasks (not for an allocation's shell), defaults, and errors that name
 * the variable; and the GPU a rank pins.
 */
import { describe, expect, it } from 'vitest';
import { distributedEnv, pinLocalGpu } from '../lib/distributed/env';
import { ProcessGroup } from '../lib/distributed/process_group';

describe('distributed environment', () => {
  it("reads torchrun's variables, with defaults for the rest", () => {
    expect(distributedEnv({})).toBeNull();
    expect(distributedEnv({ RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: '10.0.0.2', MASTER_PORT: '1234', S4_RUN_ID: 'x' })).toEqual({
      rank: 1,
      worldSize: 4,
      localRank: 1,
      masterAddr: '10.0.0.2',
      masterPort: 1234,
      runId: 'x',
    });
    expect(distributedEnv({ RANK: '0', WORLD_SIZE: '1' })).toEqual({ rank: 0, worldSize: 1, localRank: 0, masterAddr: '127.0.0.1', masterPort: 29500, runId: 'default' });
  });

  it("reads an srun task's variables; an allocation's shell is a single process", () => {
    const task = { SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_LOCALID: '1', MASTER_ADDR: 'node01', MASTER_PORT: '29600' };
    expect(distributedEnv(task)).toMatchObject({ rank: 3, worldSize: 8, localRank: 1, masterAddr: 'node01', masterPort: 29600 });
    expect(distributedEnv({ SLURM_NTASKS: '8' })).toBeNull();
    expect(distributedEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '1' })).toBeNull();
    expect(distributedEnv({ ...task, S4_DIST_SLURM: '0' })).toBeNull();
    expect(() => distributedEnv({ SLURM_PROCID: '3', SLURM_NTASKS: '8' })).toThrow(/under Slurm, export MASTER_ADDR/);
    // torchrun's names win over Slurm's.
    expect(distributedEnv({ ...task, RANK: '0', WORLD_SIZE: '2' })).toMatchObject({ rank: 0, worldSize: 2 });
  });

  it('names the variable that is wrong', () => {
    expect(() => distributedEnv({ RANK: '2', WORLD_SIZE: '2' })).toThrow(/RANK \(this process's rank\) must be an integer in \[0, 1\] \(got '2'\)/);
    expect(() => distributedEnv({ RANK: '0', WORLD_SIZE: 'two' })).toThrow(/WORLD_SIZE \(the number of processes\) must be an integer/);
    expect(() => distributedEnv({ RANK: '0' })).toThrow(/RANK is set but WORLD_SIZE is not/);
    expect(() => distributedEnv({ WORLD_SIZE: '2' })).toThrow(/WORLD_SIZE is 2 but RANK is not set/);
    expect(() => distributedEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '70000' })).toThrow(/MASTER_PORT \(the port rank 0 listens on\) must be an integer in \[1, 65535\]/);
  });

  it('pins the GPU of LOCAL_RANK unless one GPU is visible already', () => {
    const e = distributedEnv({ RANK: '5', WORLD_SIZE: '8', LOCAL_RANK: '1' })!;
    const env: Record<string, string | undefined> = { CUDA_VISIBLE_DEVICES: '2,3,6' };
    expect(pinLocalGpu(e, env)).toBe('3');
    expect(env.CUDA_VISIBLE_DEVICES).toBe('3');
    expect(pinLocalGpu(e, env)).toBeNull();
    const bare: Record<string, string | undefined> = {};
    expect(pinLocalGpu(e, bare)).toBe('1');
    expect(pinLocalGpu(e, { CUDA_VISIBLE_DEVICES: '0,1', S4_DIST_PIN_GPU: '0' })).toBeNull();
  });

  it('ProcessGroup.fromEnv pins the GPU before it joins', async () => {
    const env: Record<string, string | undefined> = { RANK: '0', WORLD_SIZE: '1', LOCAL_RANK: '1', CUDA_VISIBLE_DEVICES: '4,5' };
    const g = await ProcessGroup.fromEnv({}, env);
    expect(env.CUDA_VISIBLE_DEVICES).toBe('5');
    expect([g.rank, g.worldSize]).toEqual([0, 1]);
    await g.close();
  });
});
