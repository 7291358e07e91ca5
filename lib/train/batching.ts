/**
 * The batches of an epoch. A dataset of one length is cut into consecutive slices of a
 * shuffled order. A variable-length dataset (one that gives `lengths`) is bucketed: the
 * shuffled order is split into windows of BUCKET_WINDOW batches, each window is sorted by
 * length and cut into batches, and the batches are shuffled, so a batch holds sequences of
 * similar length (little padding) while every epoch still mixes the examples differently.
 * Everything follows from (seed, epoch): a resumed run sees the same batches, and only the
 * last window can leave a short batch, so an epoch has ceil(size / batchSize) of them.
 */
import { Rng } from '../nn/random';
import type { Dataset } from './data/dataset';

/** Batches per sorting window: large enough to find neighbours, small enough to mix. */
export const BUCKET_WINDOW = 64;

/** The order of epoch `epoch`'s examples: a Fisher-Yates shuffle seeded by (seed, epoch). */
export function epochOrder(size: number, seed: number, epoch: number): Uint32Array {
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca77)) >>> 0);
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  shuffle(order, rng);
  return order;
}

function shuffle<T>(a: { length: number; [i: number]: T }, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/** The index lists of an epoch's batches, in training order (see the file comment). */
export function epochBatches(ds: Dataset, batchSize: number, seed: number, epoch: number, bucket = true): number[][] {
  const order = epochOrder(ds.size, seed, epoch);
  const lengths = bucket ? ds.lengths : undefined;
  const batches: number[][] = [];
  if (!lengths) {
    for (let from = 0; from < order.length; from += batchSize) batches.push(Array.from(order.subarray(from, from + batchSize)));
    return batches;
  }
  const window = batchSize * BUCKET_WINDOW;
  for (let w = 0; w < order.length; w += window) {
    // Stable on ties: equal lengths keep their shuffled order.
    const part = Array.from(order.subarray(w, w + window)).sort((a, b) => lengths[a] - lengths[b]);
    for (let from = 0; from < part.length; from += batchSize) batches.push(part.slice(from, from + batchSize));
  }
  // The short batch (if any) is the last of the last window; keep it last, shuffle the rest,
  // so that every full batch is equally likely at every position.
  const short = batches.length > 0 && batches[batches.length - 1].length < batchSize ? batches.pop()! : null;
  shuffle(batches, new Rng((Math.imul(seed >>> 0, 0x2545f491) ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0));
  if (short) batches.push(short);
  return batches;
}

/** Evaluation batches: in index order, sorted by length when the dataset has lengths. */
export function evalBatches(ds: Dataset, count: number, batchSize: number): number[][] {
  const idx = Array.from({ length: count }, (_, i) => i);
  const lengths = ds.lengths;
  if (lengths) idx.sort((a, b) => lengths[a] - lengths[b]);
  const batches: number[][] = [];
  for (let from = 0; from < count; from += batchSize) batches.push(idx.slice(from, from + batchSize));
  return batches;
}

/**
 * The share of a set of batches' positions that is padding: 1 - sum of lengths / sum over
 * batches of (batch size x padded length). The padded length is the batch's longest, rounded
 * up to the dataset's padMultiple when it has one. 0 for datasets of one length.
 */
export function paddingShare(ds: Dataset, batches: readonly (readonly number[])[]): number {
  const lengths = ds.lengths;
  if (!lengths) return 0;
  const m = (ds as { padMultiple?: number }).padMultiple ?? 1;
  let valid = 0;
  let total = 0;
  for (const b of batches) {
    let longest = 0;
    for (const i of b) {
      valid += lengths[i];
      longest = Math.max(longest, lengths[i]);
    }
    total += Math.ceil(longest / m) * m * b.length;
  }
  return total > 0 ? 1 - valid / total : 0;
}
