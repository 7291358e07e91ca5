/**
 * Gradients and parameters through the TCP process group, staged on the host: the transport
 * of CPU models (and of CUDA models where NCCL is missing). Tensors are packed into buckets
 * of about `bucketBytes`, every bucket's all-reduce is sent before the first answer is
 * awaited (so transfers and rank 0's sums overlap), and the results are written back in
 * place.
 */
import { core } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import type { ProcessGroup } from './process_group';

export interface GradientTransport {
  readonly name: 'tcp' | 'nccl';
  /** Replaces each tensor by its sum over the ranks (float32 tensors of identical shapes on every rank). */
  allReduceSum(tensors: readonly Tensor[]): Promise<void>;
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

function unpack(tensors: readonly Tensor[], flat: Float32Array): void {
  let at = 0;
  for (const t of tensors) {
    core.write(t.handle, flat.subarray(at, at + t.floats));
    at += t.floats;
  }
}

export class TcpTransport implements GradientTransport {
  readonly name = 'tcp' as const;
  constructor(
    private readonly group: ProcessGroup,
    private readonly bucketBytes: number,
  ) {}

  async allReduceSum(tensors: readonly Tensor[]): Promise<void> {
    const parts = buckets(tensors, this.bucketBytes);
    const sums = await Promise.all(parts.map((b) => this.group.allReduce(pack(b), 'sum')));
    parts.forEach((b, i) => unpack(b, sums[i]));
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
