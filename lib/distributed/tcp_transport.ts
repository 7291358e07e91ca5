/**
 * Gradients and parameters through the TCP process group, staged on the host: the transport
 * of CPU models (and of CUDA models where NCCL is missing). Each bucket of gradients is
 * packed into one array and sent as soon as it is started, without waiting for the answers
 * of earlier buckets (so transfers and rank 0's sums overlap with each other and with the
 * backward pass that goes on), and its sums are written back in place when they arrive.
 *
 * Where the values come from: a CPU tensor is read at once (CPU ops have run when they
 * return). A CUDA tensor is read with an asynchronous download queued on the stream right
 * after the kernels that wrote it, so the host copy holds the finished values without the
 * JS thread waiting for the GPU; the collective keeps its place in the call order and the
 * part is sent when the copy lands.
 */
import { core } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import type { ProcessGroup } from './process_group';

export interface GradientTransport {
  readonly name: 'tcp' | 'nccl';
  /**
   * Starts replacing each tensor of one bucket by its sum over the ranks (float32 tensors of
   * identical shapes on every rank; every rank starts the same buckets in the same order).
   * Its Promise settles once this bucket is summed in place or, where the sum runs on the
   * device stream, queued there (finishSums then waits for it).
   */
  startSum(tensors: readonly Tensor[]): Promise<void>;
  /** Resolves when every sum started so far is complete. */
  finishSums(): Promise<void>;
  /** Replaces each tensor by rank 0's. */
  broadcast(tensors: readonly Tensor[]): Promise<void>;
  close(): void;
}

/** Consecutive runs of tensors of at most `bytes` (a larger tensor is a bucket of its own). */
export function buckets(tensors: readonly Tensor[], bytes: number): Tensor[][] {
  const out: Tensor[][] = [];
  let cur: Tensor[] = [];
  let size = 0;
  for (const t of tensors) {
    const b = t.floats * 4;
    if (cur.length > 0 && size + b > bytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(t);
    size += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function pack(tensors: readonly Tensor[]): Float32Array {
  const n = tensors.reduce((a, t) => a + t.floats, 0);
  const flat = new Float32Array(n);
  let at = 0;
  for (const t of tensors) {
    flat.set(t.dataSync(), at);
    at += t.floats;
  }
  return flat;
}

/** The values of tensors read by asynchronous downloads (queued on the stream now), packed. */
async function packLater(tensors: readonly Tensor[]): Promise<Float32Array> {
  const parts = await Promise.all(tensors.map((t) => t.data()));
  const flat = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    flat.set(p, at);
    at += p.length;
  }
  return flat;
}

function unpack(tensors: readonly Tensor[], flat: Float32Array): void {
  let at = 0;
  for (const t of tensors) {
    core.write(t.handle, flat.subarray(at, at + t.floats));
    at += t.floats;
  }
}

export interface TcpTransportOptions {
  /**
   * Read the gradients with asynchronous downloads (default: for CUDA tensors, whose
   * synchronous read would hold the JS thread until the GPU has caught up).
   */
  readLater?: boolean;
}

export class TcpTransport implements GradientTransport {
  readonly name = 'tcp' as const;
  constructor(
    private readonly group: ProcessGroup,
    private readonly opts: TcpTransportOptions = {},
  ) {}

  startSum(tensors: readonly Tensor[]): Promise<void> {
    const later = this.opts.readLater ?? tensors.some((t) => t.device === 'cuda');
    return this.group.allReduce(later ? packLater(tensors) : pack(tensors), 'sum').then((sum) => unpack(tensors, sum));
  }

  finishSums(): Promise<void> {
    return Promise.resolve();
  }

  async broadcast(tensors: readonly Tensor[]): Promise<void> {
    const flat = this.group.rank === 0 ? pack(tensors) : null;
    const bytes = await this.group.broadcast(flat ? new Uint8Array(flat.buffer) : null);
    const expected = tensors.reduce((a, t) => a + t.floats, 0) * 4;
    if (bytes.byteLength !== expected) {
      throw new RangeError(`DataParallel: rank 0 sent ${bytes.byteLength / 4} parameter values, this rank's model holds ${expected / 4}: the ranks built different models`);
    }
    const aligned = new Float32Array(expected / 4);
    new Uint8Array(aligned.buffer).set(bytes);
    unpack(tensors, aligned);
  }

  close(): void {}
}
