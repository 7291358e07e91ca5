/**
 * Child rank of the process-group failure tests: joins a group, answers collectives as told,
 * then dies the way it is told.
 * Usage: vite-node dist_rank_child.ts <rank> <worldSize> <port> <action>
 *   action 'exit-after-join': joins, then exits with code 3 without closing the group
 *   action 'sum-then-exit':    joins, takes part in one allReduce, then exits with code 3
 */
import { ProcessGroup } from '../../lib/distributed/process_group';

const [rank, worldSize, port] = process.argv.slice(2, 5).map(Number);
const action = process.argv[5];

async function main(): Promise<void> {
  const g = await ProcessGroup.connect({ rank, worldSize, masterPort: port, connectTimeoutMs: 30_000 });
  process.stdout.write('joined\n');
  if (action === 'sum-then-exit') await g.allReduce(Float32Array.of(rank), 'sum');
  process.exit(3);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
});
