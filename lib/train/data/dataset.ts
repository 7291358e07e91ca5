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
}

/** Throws a RangeError unless every index is an integer in [0, size). */
export function checkIndices(ds: Dataset, indices: readonly number[]): void {
  if (!Array.isArray(indices) || indices.length === 0) throw new RangeError(`${ds.name}.batch: argument 'indices' must be a non-empty array`);
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) throw new RangeError(`${ds.name}.batch: index ${String(i)} is outside [0, ${ds.size})`);
  }
}
