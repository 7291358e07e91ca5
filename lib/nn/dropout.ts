/**
 * Dropout with a reproducible mask: each call in training mode draws its mask from
 * (seed, step) and then advances step, so a run is repeatable from its seed, and the two
 * backends draw the same masks. Identity in eval mode or with p = 0. `tie` draws one mask
 * value per row of the last dimension (per batch element and channel of [B, H, L], shared
 * over L), as the official DropoutNd / nn.Dropout1d.
 */
import { dropout } from '../ops/index';
import { expectInteger, expectNumber } from '../util/validate';
import type { Tensor } from '../tensor/tensor';
import { Module } from './module';

export interface DropoutOptions {
  seed?: number;
  /** One mask value per row, shared over the last dimension (default false). */
  tie?: boolean;
}

export class Dropout extends Module {
  readonly p: number;
  readonly seed: number;
  readonly tie: boolean;
  /** Calls made in training mode so far (the mask counter). */
  step = 0;
  /**
   * Index of this process's first example in the global batch (default 0). A data-parallel
   * rank sets it so that its part of the batch gets exactly its slice of the mask the whole
   * batch would get in one process (lib/distributed/data_parallel.ts).
   */
  batchOffset = 0;

  constructor(p: number, opts: DropoutOptions = {}) {
    super();
    this.p = expectNumber('Dropout', 'p', p, 0, 1);
    if (p >= 1) throw new RangeError(`Dropout: argument 'p' must be in [0, 1) (got ${p})`);
    this.seed = expectInteger('Dropout', 'seed', opts.seed ?? 0, 0, 2 ** 32 - 1);
    this.tie = opts.tie ?? false;
    if (typeof this.tie !== 'boolean') throw new TypeError(`Dropout: option 'tie' must be a boolean (got ${String(opts.tie)})`);
  }

  /**
   * Continues another run's mask stream (seed and counter): a resumed checkpoint's, or rank
   * 0's on every data-parallel rank. The seed is read-only otherwise: a model built with
   * another seed draws other masks, and only whole streams are taken over.
   */
  restoreStream(seed: number, step: number): void {
    (this as { seed: number }).seed = expectInteger('Dropout.restoreStream', 'seed', seed, 0, 2 ** 32 - 1);
    this.step = expectInteger('Dropout.restoreStream', 'step', step, 0, Number.MAX_SAFE_INTEGER);
  }

  /**
   * The mask of the next training call, for ops that apply dropout inside a fused kernel
   * (p = 0 in eval mode); advances the counter as forward() does.
   */
  draw(): { p: number; seed: number; step: number; tie: boolean; batchOffset: number } {
    if (!this.training || this.p === 0) return { p: 0, seed: this.seed, step: 0, tie: this.tie, batchOffset: 0 };
    return { p: this.p, seed: this.seed, step: this.step++, tie: this.tie, batchOffset: this.batchOffset };
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, { seed: this.seed, step: this.step++, tie: this.tie, batchOffset: this.batchOffset });
  }
}
