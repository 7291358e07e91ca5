/**
 * Gradients and parameters of a CUDA model through NCCL: each bucket of gradients is one
 * NCCL group queued on the stream, in place, right after the backward kernels that wrote
 * it (the backward pass then queues the kernels of earlier layers behind it); broadcasts go
 * in buckets of about `bucketBytes`. `finishSums()` waits off the JS thread, so a rank that
 * died (NCCL would wait for it forever) ends in an error at the group's deadline, or at once
 * when the TCP group's watch sees the rank go (it aborts the communicator).
 */
import type { Tensor } from '../tensor/tensor';
import type { ProcessGroup } from './process_group';
import { NcclCommunicator, ncclInfo, ncclUniqueId } from './nccl';
import { buckets, type GradientTransport } from './tcp_transport';

export class NcclTransport implements GradientTransport {
  readonly name = 'nccl' as const;

  private constructor(
    private readonly comm: NcclCommunicator,
    private readonly bucketBytes: number,
    private readonly timeoutMs: number,
  ) {}

  /** Why NCCL cannot serve this process (null when it can). */
  static unavailable(): string | null {
    const info = ncclInfo();
    return info.loaded ? null : (info.reason ?? 'libnccl did not load');
  }

  /** Rank 0 makes the communicator id, the process group hands it to every rank, all join. */
  static async create(group: ProcessGroup, bucketBytes: number): Promise<NcclTransport> {
    const id = await group.broadcast(group.rank === 0 ? ncclUniqueId() : null);
    const comm = await NcclCommunicator.create(Uint8Array.from(id), group.rank, group.worldSize, { timeoutMs: group.timeoutMs });
    group.onFailure(() => {
      if (comm.isLive) comm.abort();
    });
    return new NcclTransport(comm, bucketBytes, group.timeoutMs);
  }

  /** Queues the bucket's NCCL group on the stream, after the kernels queued so far (those that wrote its gradients). */
  startSum(tensors: readonly Tensor[]): Promise<void> {
    this.comm.allReduce([...tensors], { op: 'sum' });
    return Promise.resolve();
  }

  async finishSums(): Promise<void> {
    await this.comm.wait(this.timeoutMs);
  }

  async broadcast(tensors: readonly Tensor[]): Promise<void> {
    for (const b of buckets(tensors, this.bucketBytes)) this.comm.broadcast(b, 0);
    await this.comm.wait(this.timeoutMs);
  }

  close(): void {
    if (this.comm.isLive) this.comm.destroy();
  }
}
