/**
 * True lengths of a padded batch: a batch of sequences of different lengths is padded to
 * its longest, L, and the model is told each sequence's length so that the padding never
 * reaches a valid position (lib/ops/pool.ts: lengthMask, maskedMeanPool, maskedLastPool).
 * The values are checked here, on the host, before they go to the device as float32.
 */
/** Lengths as a caller gives them: one integer in [1, L] per sequence of the batch. */
export type SequenceLengths = ArrayLike<number>;

/** Throws unless `lengths` holds B integers in [1, L]; returns them as float32. */
export function checkLengths(fn: string, lengths: unknown, B: number, L: number): Float32Array {
  const arr = lengths as ArrayLike<number> | null | undefined;
  if (arr === null || typeof arr !== 'object' || typeof arr.length !== 'number') {
    throw new TypeError(`${fn}: option 'lengths' must be an array of ${B} integers in [1, ${L}] (got ${String(lengths)})`);
  }
  if (arr.length !== B) throw new RangeError(`${fn}: option 'lengths' must hold one length per sequence, ${B} (got ${arr.length})`);
  const out = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    const n = arr[b];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > L) {
      throw new RangeError(`${fn}: option 'lengths' must hold integers in [1, ${L}] (the padded length); lengths[${b}] is ${String(n)}`);
    }
    out[b] = n;
  }
  return out;
}

/** Whether every length is L: the batch has no padding and needs no mask. */
export function isFull(lengths: ArrayLike<number>, L: number): boolean {
  for (let i = 0; i < lengths.length; i++) if (lengths[i] !== L) return false;
  return true;
}
