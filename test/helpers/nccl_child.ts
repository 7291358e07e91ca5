/**
 * Child process of test/nccl.test.ts: what NCCL looks like to a fresh process (the library
 * is opened once per process, so S4_NCCL_PATH is read at the first call). Prints JSON: the
 * info, two unique ids (or the error), and how creating a one-rank communicator ends.
 * Usage: S4_NCCL_PATH=... vite-node nccl_child.ts
 */
import { ncclInfo, ncclUniqueId, NcclCommunicator } from '../../lib/distributed/nccl';
import { cudaAvailable } from '../../lib/backend';

function errorOf(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.constructor.name, message: err.message } : { name: typeof err, message: String(err) };
}

async function main(): Promise<void> {
  const info = ncclInfo();
  let ids: number[][] | null = null;
  let idError: { name: string; message: string } | null = null;
  try {
    ids = [Array.from(ncclUniqueId()), Array.from(ncclUniqueId())];
  } catch (err) {
    idError = errorOf(err);
  }
  let createError: { name: string; message: string } | null = null;
  let created = false;
  try {
    const id = ids ? new Uint8Array(ids[0]) : new Uint8Array(128);
    const comm = await NcclCommunicator.create(id, 0, 1, { timeoutMs: 20_000 });
    created = true;
    comm.destroy();
  } catch (err) {
    createError = errorOf(err);
  }
  process.stdout.write(JSON.stringify({ info, ids, idError, created, createError, cudaAvailable: cudaAvailable() }));
}

void main();
