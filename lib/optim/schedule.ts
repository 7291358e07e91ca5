/**
 * Learning-rate schedule: linear warm-up, then cosine decay (the official S4 trains with
 * cosine decay and warm-up). Step s (0-based, the s-th optimizer update) uses
 *   factor(s) = (s + 1) / warmupSteps                                 for s < warmupSteps
 *             = minFactor + (1 - minFactor) (1 + cos(pi q)) / 2,     q = (s - warmupSteps) / (totalSteps - warmupSteps)
 * with q clamped to [0, 1]: the first update already moves (no wasted step at lr 0) and
 * the last one of the run uses minFactor.
 */
import { expectInteger, expectNumber } from '../util/validate';
import type { AdamW } from './adamw';

export interface CosineScheduleOptions {
  warmupSteps?: number;
  totalSteps: number;
  /** Final lr as a fraction of the initial one (default 0). */
  minFactor?: number;
}

export interface CosineScheduleState {
  /** Index of the next optimizer update (to resume a run; default 0). */
  startStep?: number;
}

function checkOptions(fn: string, opts: CosineScheduleOptions): Required<CosineScheduleOptions> {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'totalSteps'`);
  const totalSteps = expectInteger(fn, 'totalSteps', opts.totalSteps, 1);
  const warmupSteps = expectInteger(fn, 'warmupSteps', opts.warmupSteps ?? 0, 0, totalSteps);
  const minFactor = expectNumber(fn, 'minFactor', opts.minFactor ?? 0, 0, 1);
  return { totalSteps, warmupSteps, minFactor };
}

/** The lr factor of update s. */
export function cosineWarmupFactor(step: number, opts: CosineScheduleOptions): number {
  const fn = 'cosineWarmupFactor';
  const { totalSteps, warmupSteps, minFactor } = checkOptions(fn, opts);
  const s = expectInteger(fn, 'step', step, 0, Number.MAX_SAFE_INTEGER);
  if (s < warmupSteps) return (s + 1) / warmupSteps;
  const span = totalSteps - warmupSteps;
  const q = span <= 1 ? 1 : Math.min(1, (s - warmupSteps) / (span - 1));
  return minFactor + ((1 - minFactor) * (1 + Math.cos(Math.PI * q))) / 2;
}

/**
 * Drives an optimizer's group learning rates: lr = initialLr * factor(s). It sets the lr of
 * update 0 when made; call step() after each optimizer.step().
 */
export class CosineWarmupSchedule {
  private s = 0;
  private readonly opts: Required<CosineScheduleOptions>;
  private readonly optimizer: AdamW;

  constructor(optimizer: AdamW, opts: CosineScheduleOptions & CosineScheduleState) {
    if (!optimizer || !Array.isArray((optimizer as AdamW).paramGroups)) {
      throw new TypeError("CosineWarmupSchedule: argument 'optimizer' must be an optimizer with paramGroups");
    }
    this.optimizer = optimizer;
    this.opts = checkOptions('CosineWarmupSchedule', opts);
    this.s = expectInteger('CosineWarmupSchedule', 'startStep', opts.startStep ?? 0, 0, Number.MAX_SAFE_INTEGER);
    this.apply();
  }

  /** Index of the next optimizer update. */
  get stepCount(): number {
    return this.s;
  }

  /** The current learning rate of each group. */
  get lrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  step(): void {
    this.s++;
    this.apply();
  }

  private apply(): void {
    const f = cosineWarmupFactor(this.s, this.opts);
    for (const g of this.optimizer.paramGroups) g.lr = g.initialLr * f;
  }
}
