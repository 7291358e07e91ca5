/**
 * Batch normalization of channel-major activations, as torch.nn.BatchNorm1d(features) on
 * [B, features, L] (statistics per channel over (B, L); weight 1 and bias 0 at start, eps
 * 1e-5, momentum 0.1). In training mode it normalizes with the batch's statistics and
 * updates the running ones in place; in eval mode it normalizes with the running ones (a
 * per-channel affine map, so it also steps one token at a time). Parameters `weight`, `bias`;
 * buffers `running_mean`, `running_var`, `num_batches_tracked` (torch's names, so state
 * dicts and checkpoints carry them as torch does; the counter is a float32 scalar here,
 * exact up to 2^24 batches).
 */
import { backend, type DeviceName } from '../backend';
import { batchNorm } from '../ops/index';
import type { OpOptions } from '../ops/define';
import { expectInteger, expectNumber } from '../util/validate';
import { Tensor } from '../tensor/tensor';
import { Module } from './module';

export interface BatchNormOptions {
  /** Inside the square root, in (0, 1] (default 1e-5). */
  eps?: number;
  /** Weight of each batch in the running statistics, in [0, 1] (default 0.1). */
  momentum?: number;
  device?: DeviceName;
}

export class BatchNorm extends Module {
  readonly features: number;
  readonly eps: number;
  readonly momentum: number;

  constructor(features: number, opts: BatchNormOptions = {}) {
    super();
    const fn = 'BatchNorm';
    this.features = expectInteger(fn, 'features', features, 1);
    this.eps = expectNumber(fn, 'eps', opts.eps ?? 1e-5);
    if (!(this.eps > 0 && this.eps <= 1)) throw new RangeError(`${fn}: option 'eps' must be in (0, 1] (got ${this.eps})`);
    this.momentum = expectNumber(fn, 'momentum', opts.momentum ?? 0.1, 0, 1);
    const device = opts.device ?? backend();
    const ones = (): Float32Array => new Float32Array(features).fill(1);
    this.registerParameter('weight', Tensor.fromFloats(ones(), [features], 'float32', device));
    this.registerParameter('bias', Tensor.fromFloats(new Float32Array(features), [features], 'float32', device));
    this.registerBuffer('running_mean', Tensor.fromFloats(new Float32Array(features), [features], 'float32', device));
    this.registerBuffer('running_var', Tensor.fromFloats(ones(), [features], 'float32', device));
    this.registerBuffer('num_batches_tracked', Tensor.fromFloats(new Float32Array(1), [], 'float32', device));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor {
    return this.param('bias');
  }

  get runningMean(): Tensor {
    return this.buffer('running_mean');
  }

  get runningVar(): Tensor {
    return this.buffer('running_var');
  }

  /** Training calls so far (a float32 scalar tensor). */
  get numBatchesTracked(): Tensor {
    return this.buffer('num_batches_tracked');
  }

  /**
   * x [B, features, L] -> [B, features, L]: batch statistics and a running update in
   * training mode (B L >= 2), the running statistics in eval mode. opts.out: a tensor to
   * write into.
   */
  forward(x: Tensor, opts?: OpOptions): Tensor {
    return batchNorm(
      x,
      this.param('weight'),
      this.param('bias'),
      this.training
        ? { training: true, runningMean: this.runningMean, runningVar: this.runningVar, numBatchesTracked: this.numBatchesTracked, momentum: this.momentum, eps: this.eps }
        : { training: false, runningMean: this.runningMean, runningVar: this.runningVar, eps: this.eps },
      opts,
    );
  }

  /** forward(): the channel dimension of [B, features, L] is normalized (LayerNorm's name for it). */
  forwardChannels(x: Tensor, opts?: OpOptions): Tensor {
    return this.forward(x, opts);
  }
}
