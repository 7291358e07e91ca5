/**
 * NCCL across processes: two ranks, each a process on its own GPU (CUDA_VISIBLE_DEVICES),
 * joined through an id made here, agree on sums, averages and a broadcast from rank 1; and
 * when one rank exits without a word, the other's next all-reduce ends in an error naming
 * the rank and the world size instead of hanging. Needs two GPUs (skipped with fewer).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaInfo } from '../../lib/backend';
import { ncclInfo, ncclUniqueId } from '../../lib/distributed/nccl';
import { ncclMissing, useNcclFromEnvOrPython } from '../helpers/nccl_path';

useNcclFromEnvOrPython();

const cuda = cudaInfo();
const gpus = cuda.usable ? (cuda.deviceCount ?? 0) : 0;

interface RankReport {
  rank: number;
  error?: string;
  sumError?: number;
  avgError?: number;
  broadcastError?: number;
  died?: boolean;
  afterDeath?: string;
  useAfterDeath?: string;
}

/** Runs one process per rank with the same id; resolves with their reports in rank order. */
function runRanks(world: number, scenario: string): Promise<RankReport[]> {
  const info = ncclInfo();
  if (!info.loaded) throw ncclMissing(info.reason);
  const id = Buffer.from(ncclUniqueId()).toString('hex');
  const child = join(__dirname, '../helpers/nccl_rank_child.ts');
  const vite = join(__dirname, '../../node_modules/vite-node/vite-node.mjs');
  return Promise.all(
    Array.from({ length: world }, (_, rank) =>
      new Promise<RankReport>((resolve, reject) => {
        const p = spawn(process.execPath, [vite, child], {
          env: {
            ...process.env,
            CUDA_VISIBLE_DEVICES: String(rank),
            NCCL_TEST_ID: id,
            NCCL_TEST_RANK: String(rank),
            NCCL_TEST_WORLD: String(world),
            NCCL_TEST_SCENARIO: scenario,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('error', reject);
        p.on('close', (code) => {
          try {
            resolve(JSON.parse(out) as RankReport);
          } catch {
            reject(new Error(`rank ${rank} exited with ${code} and no report: ${out}\n${err.slice(-4000)}`));
          }
        });
      }),
    ),
  );
}

describe.skipIf(gpus < 2)('NCCL with two ranks on two GPUs', () => {
  it('sum, avg and broadcast agree across the ranks', async () => {
    const reports = await runRanks(2, 'ok');
    for (const r of reports) {
      expect(r.error, `rank ${r.rank}`).toBeUndefined();
      expect(r.sumError).toBe(0);
      expect(r.avgError).toBeLessThanOrEqual(1e-6);
      expect(r.broadcastError).toBe(0);
    }
  }, 300_000);

  it('a rank that dies ends the other with an error, not a hang', async () => {
    const [survivor, dead] = await runRanks(2, 'die');
    expect(dead.died).toBe(true);
    expect(survivor.error).toBeUndefined();
    expect(survivor.sumError).toBe(0);
    expect(survivor.afterDeath).toMatch(/^nccl(AllReduce|Wait): /);
    expect(survivor.afterDeath).toMatch(/rank 0 of world size 2/);
    expect(survivor.afterDeath).toMatch(/a rank may have died or hung; the communicator was aborted/);
    expect(survivor.useAfterDeath).toMatch(/^ncclAllReduce: the communicator was aborted after an error/);
  }, 300_000);
});
