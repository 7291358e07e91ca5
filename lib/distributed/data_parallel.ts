/**
 * Data-parallel training of one model over the ranks of a process group:
 *
 *   const group = await s4.distributed.ProcessGroup.fromEnv();   // or connect({ ... })
 *   const dp = await s4.distributed.DataParallel.create(model, group);
 *   new s4.Trainer({ model, task, distributed: dp, ... }).fit();
 *
 * Every rank holds the whole model. `create` copies rank 0's parameters and buffers to the
 * others. A step splits the global batch into consecutive parts, one per rank (`shard`);
 * each rank runs its part with the dropout masks of its slice of the global batch
 * (`setBatchOffset`) and its loss weighted by its share of the global loss terms, so the
 * summed gradients (`allReduceGradients`) are those of the whole batch in one process, and
 * the identical optimizer updates keep the ranks identical. BatchNorm is the exception: its
 * batch statistics are per rank (as PyTorch's DistributedDataParallel without SyncBatchNorm),
 * and rank 0's running statistics are copied to the others after each step.
 *
 * Gradients travel through NCCL for CUDA models when libnccl loads (lib/distributed/nccl.ts),
 * else through the TCP group staged on the host (tcp_transport.ts), in buckets that start
 * during the backward pass as soon as their gradients are final (grad_buckets.ts; `overlap:
 * false` starts them all after it).
 */
import type { Module } from '../nn/module';
import { Dropout } from '../nn/dropout';
import { GradientBuckets } from './grad_buckets';
import type { ProcessGroup } from './process_group';
import { NcclTransport } from './nccl_transport';
import { TcpTransport, type GradientTransport } from './tcp_transport';

export interface DataParallelOptions {
  /**
   * How gradients travel: 'nccl' (CUDA models; libnccl must load), 'tcp' (the process group,
   * through the host) or 'auto' (default: nccl for a CUDA model when it loads, else tcp).
   */
  backend?: 'auto' | 'nccl' | 'tcp';
  /** Gradient bucket size in MiB (default 25). */
  bucketMb?: number;
  /**
   * Start each bucket's all-reduce during the backward pass, as soon as its gradients are
   * final (default true); false starts them all in allReduceGradients(). The sums are the
   * same either way: on the CPU the two give the same steps bit for bit; on CUDA training
   * need not be bitwise reproducible from run to run to begin with (the FFT convolution's
   * backward for L <= 8192 sums dk over the batch with float atomics), so there they agree
   * to float rounding. Turn it off to accumulate gradients over several backward passes
   * before one allReduceGradients().
   */
  overlap?: boolean;
}

/** The part of a global batch of n examples that rank r of w takes: consecutive, sizes differ by at most one. */
export function shardOf(n: number, rank: number, worldSize: number): { start: number; count: number } {
  const base = Math.floor(n / worldSize);
  const extra = n % worldSize;
  return { start: rank * base + Math.min(rank, extra), count: base + (rank < extra ? 1 : 0) };
}

export class DataParallel {
  readonly model: Module;
  readonly group: ProcessGroup;
  readonly transport: GradientTransport;
  private readonly buckets: GradientBuckets;
  private closed = false;

  private constructor(model: Module, group: ProcessGroup, transport: GradientTransport, bucketBytes: number, overlap: boolean) {
    this.model = model;
    this.group = group;
    this.transport = transport;
    this.buckets = new GradientBuckets(model.parameters(), bucketBytes, transport, overlap);
  }

  get rank(): number {
    return this.group.rank;
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  /** Whether gradient buckets start during the backward pass (option `overlap`). */
  get overlap(): boolean {
    return this.buckets.overlap;
  }

  /** How gradients travel: 'nccl' or 'tcp'. */
  get backend(): 'nccl' | 'tcp' {
    return this.transport.name;
  }

  /** Sets up the gradient transport and copies rank 0's parameters and buffers to every rank. */
  static async create(model: Module, group: ProcessGroup, opts: DataParallelOptions = {}): Promise<DataParallel> {
    const fn = 'DataParallel';
    if (!model || typeof model.namedParameters !== 'function') throw new TypeError(`${fn}: argument 'model' must be a Module`);
    if (!group || typeof group.allReduce !== 'function') throw new TypeError(`${fn}: argument 'group' must be a ProcessGroup`);
    const backend = opts.backend ?? 'auto';
    if (!['auto', 'nccl', 'tcp'].includes(backend)) throw new TypeError(`${fn}: option 'backend' must be 'auto', 'nccl' or 'tcp' (got ${String(backend)})`);
    const mb = opts.bucketMb ?? 25;
    if (!(typeof mb === 'number' && mb > 0 && Number.isFinite(mb))) throw new RangeError(`${fn}: option 'bucketMb' must be a positive number (got ${String(mb)})`);
    const bucketBytes = Math.max(4, Math.floor(mb * 2 ** 20));
    const overlap = opts.overlap ?? true;
    if (typeof overlap !== 'boolean') throw new TypeError(`${fn}: option 'overlap' must be true or false (got ${String(overlap)})`);
    const device = model.parameters()[0]?.device ?? 'cpu';
    // Every rank must take the same decision: NCCL only where it works on every rank (the
    // largest vote decides).
    let useNccl = false;
    if (backend !== 'tcp') {
      const why = device !== 'cuda' ? `the model is on ${device}` : NcclTransport.unavailable();
      const votes = await group.allReduce(Float64Array.of(why === null ? 0 : 1), 'max');
      if (votes[0] > 0 && backend === 'nccl') {
        throw new Error(`${fn}: backend 'nccl' is not available${why ? `: ${why}` : ' on every rank'}`);
      }
      useNccl = votes[0] === 0;
    }
    if (overlap) GradientBuckets.checkUnwatched(model.parameters());
    const transport = useNccl ? await NcclTransport.create(group, bucketBytes) : new TcpTransport(group);
    const dp = new DataParallel(model, group, transport, bucketBytes, overlap);
    await dp.broadcastState();
    return dp;
  }

  /** This rank's part of a global batch of n examples (see shardOf). */
  shard(n: number): { start: number; count: number } {
    return shardOf(n, this.rank, this.worldSize);
  }

  /** Every dropout of the model draws the masks of the global batch from example `start` on. */
  setBatchOffset(start: number): void {
    for (const [, m] of this.model.namedModules()) if (m instanceof Dropout) m.batchOffset = start;
  }

  /**
   * Sums the parameters' gradients over the ranks, in place: starts (before it returns its
   * Promise) the buckets the backward pass has not started, and resolves when all are summed.
   * Call it once after each backward pass, on every rank, before any other collective of the
   * group, so that every rank's collectives come in the same order. A parameter without a
   * gradient on this rank (it took no part in the loss, or this rank had no examples) counts
   * as zeros and gets a gradient tensor, so every rank sends the same buckets.
   */
  async allReduceGradients(): Promise<void> {
    this.checkOpen();
    if (!this.buckets.holds(this.model.parameters())) {
      throw new Error("DataParallel: the model's parameters are not those it was created with (moved with to()?); create the DataParallel after moving the model");
    }
    await this.buckets.finish();
  }

  /**
   * Copies rank 0's parameters, buffers and dropout streams (seed and counter of every
   * Dropout: a mask depends on them, and models built with other seeds draw other masks)
   * to every rank.
   */
  async broadcastState(): Promise<void> {
    this.checkOpen();
    await this.transport.broadcast(this.model.namedState().map(([, t]) => t));
    const drops = this.model.namedModules().filter((e): e is [string, Dropout] => e[1] instanceof Dropout);
    const mine = JSON.stringify(drops.map(([n, d]) => [n, d.seed, d.step]));
    const theirs = new TextDecoder().decode(await this.group.broadcast(this.rank === 0 ? new TextEncoder().encode(mine) : null));
    const streams = JSON.parse(theirs) as [string, number, number][];
    if (streams.length !== drops.length || streams.some(([n], i) => n !== drops[i][0])) {
      throw new RangeError('DataParallel: rank 0 has other dropout modules than this rank: the ranks built different models');
    }
    streams.forEach(([, seed, step], i) => drops[i][1].restoreStream(seed, step));
  }

  /** Copies rank 0's buffers (BatchNorm running statistics) to every rank; nothing without buffers. */
  async broadcastBuffers(): Promise<void> {
    this.checkOpen();
    const bufs = this.model.namedBuffers().map(([, t]) => t);
    if (bufs.length > 0) await this.transport.broadcast(bufs);
  }

  /** Removes the gradient hooks and ends the transport (the process group stays open: its owner closes it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.buckets.close();
    this.transport.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('DataParallel: used after close()');
  }
}
