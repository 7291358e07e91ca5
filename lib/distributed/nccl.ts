/**
 * NCCL for data-parallel training: the communicator of one rank. NCCL is opened at run time
 * like cuFFT (S4_NCCL_PATH, else libnccl.so.2, then libnccl.so); `ncclInfo()` says whether
 * it loaded. Rank 0 makes an id with `ncclUniqueId()`, the rendezvous hands it to the other
 * ranks, and every rank calls `NcclCommunicator.create(id, rank, worldSize)`.
 *
 * Collectives are in place and queued on the CUDA stream, after the work that produced the
 * tensors and before the work queued after them, so the JS thread does not wait: one
 * `allReduce` call is one NCCL group (one bucket of gradients), which may be issued while
 * the backward pass still queues kernels. `wait()` resolves once everything queued so far
 * has finished; the host needs it only before it reads the results itself.
 *
 * Nothing hangs when a rank dies: joining, queuing (the first collective connects the ranks)
 * and `wait()` end at a deadline, and an error NCCL reports on the way ends them early. Then
 * the communicator is aborted and the error names the operation, the rank and the world
 * size. See docs/ARCHITECTURE.md, "NCCL".
 */
import { core, type NativeBuffer, type NativeNcclComm, type NcclInfo } from '../native/binding';
import { Tensor } from '../tensor/tensor';
import { expectInteger } from '../util/validate';

export type { NcclInfo } from '../native/binding';

/** How long joining, queuing a collective and wait() may take by default: 5 minutes. */
export const NCCL_DEFAULT_TIMEOUT_MS = 300_000;

/** The size of a communicator id (NCCL_UNIQUE_ID_BYTES). */
export const NCCL_UNIQUE_ID_BYTES = 128;

export interface NcclCommunicatorOptions {
  /**
   * Milliseconds the other ranks may take to join, and the default limit of each queuing
   * and of wait() (default NCCL_DEFAULT_TIMEOUT_MS).
   */
  timeoutMs?: number;
}

export interface NcclAllReduceOptions {
  /** 'sum' (default) or 'avg' (the sum divided by the world size). */
  op?: 'sum' | 'avg';
}

/** Whether NCCL loaded, its version and file, or why it did not. */
export function ncclInfo(): NcclInfo {
  return core.ncclInfo();
}

/** A fresh communicator id, made once (on rank 0) and sent to every rank. Throws when NCCL did not load. */
export function ncclUniqueId(): Uint8Array {
  return core.ncclUniqueId();
}

function expectTimeout(fn: string, name: string, value: unknown): number {
  return expectInteger(fn, name, value, 1, 2 ** 31 - 1);
}

/** The native buffers of `tensors`: an array of live float32 (or complex64) CUDA tensors. */
function cudaBuffers(fn: string, tensors: unknown): NativeBuffer[] {
  if (!Array.isArray(tensors)) throw new TypeError(`${fn}: argument 'tensors' must be an array of CUDA tensors`);
  return tensors.map((t: unknown, i) => {
    const name = `tensors[${i}]`;
    if (!(t instanceof Tensor)) throw new TypeError(`${fn}: argument '${name}' must be a Tensor (got ${t === null ? 'null' : typeof t})`);
    if (t.isDisposed) throw new Error(`${fn}: argument '${name}' has been disposed`);
    if (t.device !== 'cuda') throw new TypeError(`${fn}: argument '${name}' is on ${t.device}; NCCL needs CUDA tensors`);
    // A complex64 tensor is interleaved float32 pairs; sums and averages act on each part.
    if (t.dtype !== 'float32' && t.dtype !== 'complex64') {
      throw new TypeError(`${fn}: argument '${name}' must be float32 (got ${String(t.dtype)})`);
    }
    return t.handle;
  });
}

/** One rank's NCCL communicator (on the current CUDA device). */
export class NcclCommunicator {
  private readonly handle: NativeNcclComm;
  private destroyed = false;

  private constructor(
    handle: NativeNcclComm,
    /** This process's rank, in [0, worldSize). */
    readonly rank: number,
    readonly worldSize: number,
    /** The default limit of queuing and wait(), in milliseconds. */
    readonly timeoutMs: number,
  ) {
    this.handle = handle;
  }

  /**
   * Joins the communicator `id` (from ncclUniqueId on one rank) as `rank` of `worldSize`.
   * Rejects when NCCL or the GPU is unavailable, or when the other ranks do not join within
   * opts.timeoutMs (the half-made communicator is aborted).
   */
  static async create(id: Uint8Array, rank: number, worldSize: number, opts: NcclCommunicatorOptions = {}): Promise<NcclCommunicator> {
    const fn = 'NcclCommunicator.create';
    if (!(id instanceof Uint8Array)) throw new TypeError(`${fn}: argument 'id' must be a Uint8Array from ncclUniqueId()`);
    if (id.length !== NCCL_UNIQUE_ID_BYTES) {
      throw new RangeError(`${fn}: argument 'id' must hold ${NCCL_UNIQUE_ID_BYTES} bytes (got ${id.length})`);
    }
    expectInteger(fn, 'worldSize', worldSize, 1);
    expectInteger(fn, 'rank', rank, 0, worldSize - 1);
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
    const timeoutMs = expectTimeout(fn, 'opts.timeoutMs', opts.timeoutMs ?? NCCL_DEFAULT_TIMEOUT_MS);
    const handle = await core.ncclCommCreate(id, rank, worldSize, timeoutMs);
    return new NcclCommunicator(handle, rank, worldSize, timeoutMs);
  }

  /** False once destroy() was called. */
  get isLive(): boolean {
    return !this.destroyed;
  }

  private live(fn: string): NativeNcclComm {
    if (this.destroyed) throw new Error(`${fn}: the communicator has been destroyed`);
    return this.handle;
  }

  /**
   * Sums (or averages) each tensor over the ranks, in place, as one NCCL group queued on the
   * stream. Every rank must pass tensors of the same sizes in the same order.
   */
  allReduce(tensors: Tensor[], opts: NcclAllReduceOptions = {}): void {
    const fn = 'NcclCommunicator.allReduce';
    const handle = this.live(fn);
    const buffers = cudaBuffers(fn, tensors);
    const op = opts?.op ?? 'sum';
    if (op !== 'sum' && op !== 'avg') throw new TypeError(`${fn}: option 'op' must be 'sum' or 'avg' (got ${String(op)})`);
    core.ncclAllReduce(handle, buffers, op);
  }

  /** Replaces each tensor by root's, in place, as one NCCL group queued on the stream. */
  broadcast(tensors: Tensor[], root = 0): void {
    const fn = 'NcclCommunicator.broadcast';
    const handle = this.live(fn);
    const buffers = cudaBuffers(fn, tensors);
    expectInteger(fn, 'root', root, 0, this.worldSize - 1);
    core.ncclBroadcast(handle, buffers, root);
  }

  /**
   * Resolves when the collectives queued so far have finished (waits on a worker thread).
   * On an NCCL error, or when they take longer than timeoutMs, the communicator is aborted
   * and the Promise rejects.
   */
  async wait(timeoutMs: number = this.timeoutMs): Promise<void> {
    const fn = 'NcclCommunicator.wait';
    const handle = this.live(fn);
    await core.ncclWait(handle, expectTimeout(fn, 'timeoutMs', timeoutMs));
  }

  /** Ends the communicator at once, dropping its queued collectives; later calls throw. */
  abort(): void {
    if (!this.destroyed) core.ncclAbort(this.handle);
  }

  /**
   * Lets the queued collectives finish and frees the communicator (throws, after aborting,
   * when the other ranks do not answer within timeoutMs). Safe to call again.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    core.ncclDestroy(this.handle);
  }
}
