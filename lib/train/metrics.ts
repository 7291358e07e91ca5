/**
 * Running metrics over batches: the mean loss (weighted by batch size), and accuracy --
 * argmax over classes for classification and per-position prediction (only the masked
 * positions when the batch has a mask), |prediction - target| < tolerance for regression
 * when a tolerance is given.
 *
 * Classification and per-position accuracy can be scored two ways with identical results:
 * batchAccuracy from the whole model output on the host, or scorePredictions from the
 * predicted indices alone (ops.argmaxChannels on the device, which follows argmax below to
 * the tie and NaN), so only [B, L] values need to leave the GPU.
 */
import type { Batch } from './data/dataset';
import type { TaskKind } from './loss';

export interface Metrics {
  loss: number;
  /** Fraction in [0, 1]; absent for regression without a tolerance. */
  accuracy?: number;
  /** Examples seen. */
  count: number;
}

/**
 * Index of the largest of n values starting at `offset` with `stride` between them: the
 * first of equal maxima, 0 when all are -Infinity, -1 when any value is NaN.
 */
export function argmax(values: Float32Array, offset: number, n: number, stride = 1): number {
  let best = 0;
  let bestV = -Infinity;
  for (let c = 0; c < n; c++) {
    const v = values[offset + c * stride];
    if (Number.isNaN(v)) return -1; // NaN outputs are never right
    if (v > bestV) {
      best = c;
      bestV = v;
    }
  }
  return best;
}

/** Correct and counted predictions of one batch from the model output (host copy). */
export function batchAccuracy(
  kind: TaskKind,
  out: Float32Array,
  outShape: readonly number[],
  batch: Batch,
  tolerance?: number,
): { correct: number; total: number } | null {
  let correct = 0;
  let total = 0;
  if (kind === 'classify') {
    const [B, C] = outShape;
    for (let b = 0; b < B; b++) {
      total++;
      if (argmax(out, b * C, C) === batch.y[b]) correct++;
    }
  } else if (kind === 'sequence') {
    const [B, C, L] = outShape;
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < L; l++) {
        if (batch.mask && !batch.mask[b * L + l]) continue;
        if (batch.lengths && l >= batch.lengths[b]) continue; // padding
        total++;
        if (argmax(out, b * C * L + l, C, L) === batch.y[b * L + l]) correct++;
      }
    }
  } else {
    if (tolerance === undefined) return null;
    // Per-position outputs [B, C, L] of a padded batch: only the valid positions count.
    const L = outShape.length === 3 && batch.lengths ? outShape[2] : 0;
    const C = L ? outShape[1] : 0;
    for (let i = 0; i < out.length; i++) {
      if (L && i % L >= batch.lengths![Math.floor(i / (C * L))]) continue;
      total++;
      if (Math.abs(out[i] - batch.y[i]) < tolerance) correct++;
    }
  }
  return { correct, total };
}

/**
 * Correct and counted predictions of one batch from predicted class indices: pred [B] for
 * 'classify' and [B * L] (position b * L + l) for 'sequence', as ops.argmaxChannels gives
 * them for the output [B, C] or [B, C, L] (-1, from a NaN output, is never correct).
 * 'sequence' counts only the positions the batch's mask keeps, and none of the padding of
 * a batch with lengths. The same score as
 * batchAccuracy on the full output. 'regress' has no predicted indices: use batchAccuracy.
 */
export function scorePredictions(kind: TaskKind, pred: ArrayLike<number>, batch: Batch): { correct: number; total: number } {
  const fn = 'scorePredictions';
  if (kind !== 'classify' && kind !== 'sequence') {
    throw new RangeError(`${fn}: argument 'kind' must be 'classify' or 'sequence' (got ${String(kind)}); score regression with batchAccuracy`);
  }
  const y = batch.y;
  if (pred.length !== y.length) {
    throw new RangeError(`${fn}: argument 'pred' must have one prediction per target (${y.length}), got ${pred.length}`);
  }
  const mask = kind === 'sequence' ? batch.mask : undefined;
  const lengths = kind === 'sequence' ? batch.lengths : undefined;
  const L = lengths ? y.length / lengths.length : 0;
  let correct = 0;
  let total = 0;
  for (let i = 0; i < y.length; i++) {
    if (mask && !mask[i]) continue;
    if (lengths && i % L >= lengths[Math.floor(i / L)]) continue;
    total++;
    if (pred[i] === y[i]) correct++;
  }
  return { correct, total };
}

export class MetricAccumulator {
  private lossSum = 0;
  private count = 0;
  private correct = 0;
  private total = 0;
  private hasAccuracy = false;

  constructor(
    readonly kind: TaskKind,
    readonly tolerance?: number,
  ) {}

  /** Adds a batch's mean loss, weighted by its size. */
  add(loss: number, batchSize: number): void {
    this.lossSum += loss * batchSize;
    this.count += batchSize;
  }

  /** Adds correct / total predictions (see batchAccuracy). */
  addScore(score: { correct: number; total: number } | null): void {
    if (!score) return;
    this.hasAccuracy = true;
    this.correct += score.correct;
    this.total += score.total;
  }

  /** Adds a batch and scores the model output (host copy) against its targets. */
  addBatch(loss: number, out: Float32Array, outShape: readonly number[], batch: Batch): void {
    this.add(loss, batch.xShape[0]);
    this.addScore(batchAccuracy(this.kind, out, outShape, batch, this.tolerance));
  }

  /** Adds a batch and scores predicted class indices against its targets (see scorePredictions). */
  addPredictions(loss: number, pred: ArrayLike<number>, batch: Batch): void {
    this.add(loss, batch.xShape[0]);
    this.addScore(scorePredictions(this.kind, pred, batch));
  }

  /**
   * The running sums (loss times count, count, correct, total, whether scored) as one array,
   * for adding accumulators of several processes (a data-parallel evaluation) with addSums.
   */
  sums(): Float64Array {
    return Float64Array.of(this.lossSum, this.count, this.correct, this.total, this.hasAccuracy ? 1 : 0);
  }

  /** Adds the sums of another accumulator (see sums). */
  addSums(s: ArrayLike<number>): void {
    this.lossSum += s[0];
    this.count += s[1];
    this.correct += s[2];
    this.total += s[3];
    if (s[4] > 0) this.hasAccuracy = true;
  }

  result(): Metrics {
    const m: Metrics = { loss: this.count ? this.lossSum / this.count : NaN, count: this.count };
    if (this.hasAccuracy) m.accuracy = this.total ? this.correct / this.total : 0;
    return m;
  }

  reset(): void {
    this.lossSum = 0;
    this.count = 0;
    this.correct = 0;
    this.total = 0;
    this.hasAccuracy = false;
  }
}
