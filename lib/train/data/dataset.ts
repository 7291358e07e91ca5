/** The dataset interface of the trainer: indexed examples, stacked into batches on demand. */

export interface Batch {
  /** Model input: features [B, dInput, L], or token ids [B, L]. */
  x: Float32Array;
  xShape: number[];
  /** Targets: class ids [B] or [B * L] (row b * L + l), or values shaped like the output. */
  y: Float32Array;
  yShape: number[];
  /** For per-position targets: 1 where a position counts for accuracy (all when absent). */
  mask?: Uint8Array;
  /**
   * Sequences of different lengths, padded to the batch's longest (the last dimension of
   * xShape): the true length of each, in [1, L]. The model masks the padding with them.
   */
  lengths?: Int32Array;
}

export interface Dataset {
  readonly name: string;
  /** Number of examples. */
  readonly size: number;
  /** Stacks the examples with these indices (each in [0, size)). */
  batch(indices: readonly number[]): Batch;
  /**
   * Variable-length datasets: the length of each example. The trainer then groups examples
   * of similar length into batches (lib/train/batching.ts), so that little is padding.
   */
  readonly lengths?: ArrayLike<number>;
  /**
   * Variable-length datasets: the length batch(indices) pads to, without reading the
   * examples. A data-parallel rank reads only its part of a batch and pads it to the whole
   * batch's length with it (lib/train/trainer.ts); without it the rank reads the whole batch.
   */
  batchLength?(indices: readonly number[]): number;
}

/**
 * A batch of per-example labels (y [B] or [B, k], no mask) padded with zeros along its last
 * input dimension to length L (>= its own): what batch() of a variable-length dataset gives
 * for the same examples in a batch whose longest example is longer. Null when the targets
 * are per position (their padding is the dataset's to say).
 */
export function padBatchTo(batch: Batch, L: number): Batch | null {
  const B = batch.xShape[0];
  const L0 = batch.xShape[batch.xShape.length - 1];
  if (batch.mask || batch.yShape[0] !== B || batch.yShape.length > 2 || L < L0) return null;
  if (L === L0) return batch;
  const rows = batch.x.length / L0;
  const x = new Float32Array(rows * L);
  for (let r = 0; r < rows; r++) x.set(batch.x.subarray(r * L0, (r + 1) * L0), r * L);
  return { ...batch, x, xShape: [...batch.xShape.slice(0, -1), L] };
}

/** Throws a RangeError unless every index is an integer in [0, size). */
export function checkIndices(ds: Dataset, indices: readonly number[]): void {
  if (!Array.isArray(indices) || indices.length === 0) throw new RangeError(`${ds.name}.batch: argument 'indices' must be a non-empty array`);
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) throw new RangeError(`${ds.name}.batch: index ${String(i)} is outside [0, ${ds.size})`);
  }
}
