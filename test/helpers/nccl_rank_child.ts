/**
 * One rank of test/gpu/nccl_two_ranks.gpu.test.ts, in its own process on its own GPU
 * (CUDA_VISIBLE_DEVICES). Joins the communicator NCCL_TEST_ID (hex) as NCCL_TEST_RANK of
 * NCCL_TEST_WORLD, checks sum, avg and broadcast against values every rank can compute, and
 * prints a JSON report. NCCL_TEST_SCENARIO=die: afterwards the last rank exits without a
 * word and the others try one more all-reduce, which must end in an error, not a hang.
 * Usage: vite-node nccl_rank_child.ts
 */
import * as s4 from '../../lib/index';
import { NcclCommunicator } from '../../lib/distributed/nccl';

const cuda = { device: 'cuda' as const };
const rank = Number(process.env.NCCL_TEST_RANK);
const world = Number(process.env.NCCL_TEST_WORLD);
const id = Uint8Array.from(Buffer.from(process.env.NCCL_TEST_ID ?? '', 'hex'));
const sizes = [1, 1023, 65_537];

/** Element j of tensor i on rank r. */
function value(r: number, i: number, j: number): number {
  return (r + 1) * ((j % 13) - 6) + i;
}

function tensors(r: number): s4.Tensor[] {
  return sizes.map((n, i) => s4.tensor(Float32Array.from({ length: n }, (_, j) => value(r, i, j)), [n], cuda));
}

/** The largest |got - want(i, j)| over the tensors. */
function maxError(xs: s4.Tensor[], want: (i: number, j: number) => number): number {
  let worst = 0;
  xs.forEach((x, i) => x.dataSync().forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want(i, j))))));
  return worst;
}

function sumOverRanks(i: number, j: number): number {
  let s = 0;
  for (let r = 0; r < world; r++) s += value(r, i, j);
  return s;
}

async function main(): Promise<void> {
  const report: Record<string, unknown> = { rank };
  const comm = await NcclCommunicator.create(id, rank, world, { timeoutMs: 120_000 });
  const sum = tensors(rank);
  comm.allReduce(sum);
  const avg = tensors(rank);
  comm.allReduce(avg, { op: 'avg' });
  const root = world - 1;
  const bcast = tensors(rank);
  comm.broadcast(bcast, root);
  await comm.wait(60_000);
  report.sumError = maxError(sum, sumOverRanks);
  report.avgError = maxError(avg, (i, j) => sumOverRanks(i, j) / world);
  report.broadcastError = maxError(bcast, (i, j) => value(root, i, j));
  s4.dispose(...sum, ...avg, ...bcast);
  if (process.env.NCCL_TEST_SCENARIO === 'die') {
    if (rank === world - 1) {
      process.stdout.write(JSON.stringify({ ...report, died: true }));
      process.exit(0);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const xs = tensors(rank);
    try {
      comm.allReduce(xs);
      await comm.wait(10_000);
      report.afterDeath = 'completed';
    } catch (err) {
      report.afterDeath = (err as Error).message;
    }
    try {
      comm.allReduce(xs);
      report.useAfterDeath = 'accepted';
    } catch (err) {
      report.useAfterDeath = (err as Error).message;
    }
    comm.destroy();
  } else {
    comm.destroy();
  }
  process.stdout.write(JSON.stringify(report));
}

main().catch((err: unknown) => {
  process.stdout.write(JSON.stringify({ rank, error: (err as Error).message }));
});
