/**
 * Subsets of a dataset, and the validation split: a fixed share of the training set held
 * out, chosen by a seeded shuffle (as the official example's random_split with seed 42), so
 * the same examples are held out on every run and on resume.
 */
import type { Batch, Dataset } from './dataset';
import { checkIndices } from './dataset';
import { epochOrder } from '../batching';

export class Subset implements Dataset {
  readonly size: number;
  readonly lengths?: Int32Array;
  /** The parent's batchLength on the mapped indices, where the parent has one. */
  readonly batchLength?: (indices: readonly number[]) => number;

  constructor(
    readonly name: string,
    readonly parent: Dataset,
    readonly indices: Uint32Array,
  ) {
    this.size = indices.length;
    const pl = parent.lengths;
    if (pl) this.lengths = Int32Array.from(indices, (i) => pl[i]);
    const length = parent.batchLength?.bind(parent);
    if (length) this.batchLength = (idx) => length(idx.map((i) => this.indices[i]));
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    return this.parent.batch(indices.map((i) => this.indices[i]));
  }

}

/** Splits `ds` into train and val, val holding round(fraction * size) examples (at least 1). */
export function holdOut(ds: Dataset, fraction: number, seed = 42): { train: Subset; val: Subset } {
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) throw new RangeError(`holdOut: argument 'fraction' must be in (0, 1) (got ${String(fraction)})`);
  const nVal = Math.max(1, Math.round(fraction * ds.size));
  if (nVal >= ds.size) throw new RangeError(`holdOut: a validation share of ${fraction} leaves no training examples of ${ds.size}`);
  const order = epochOrder(ds.size, seed, 0);
  // Sorted within each part: batches of the parent read in file order where that matters.
  const train = Uint32Array.from(order.subarray(0, ds.size - nVal)).sort();
  const val = Uint32Array.from(order.subarray(ds.size - nVal)).sort();
  return { train: new Subset(`${ds.name}-train`, ds, train), val: new Subset(`${ds.name}-val`, ds, val) };
}
