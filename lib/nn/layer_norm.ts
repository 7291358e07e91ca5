/**
 * Layer normalization over the features (weight 1, bias 0 at start, eps 1e-5 as PyTorch):
 * forward(x [..., D]) normalizes the last dimension; forwardChannels(x [B, D, L]) the
 * channel dimension of channel-major activations (statistics per (b, l)).
 */
import { backend, type DeviceName } from '../backend';
import { layerNorm, layerNormChannels } from '../ops/index';
import { expectInteger, expectNumber } from '../util/validate';
import { Tensor } from '../tensor/tensor';
import { Module } from './module';

export interface LayerNormOptions {
  eps?: number;
  device?: DeviceName;
}

export class LayerNorm extends Module {
  readonly features: number;
  readonly eps: number;

  constructor(features: number, opts: LayerNormOptions = {}) {
    super();
    this.features = expectInteger('LayerNorm', 'features', features, 1);
    this.eps = expectNumber('LayerNorm', 'eps', opts.eps ?? 1e-5, 0);
    const device = opts.device ?? backend();
    this.registerParameter('weight', Tensor.fromFloats(new Float32Array(features).fill(1), [features], 'float32', device));
    this.registerParameter('bias', Tensor.fromFloats(new Float32Array(features), [features], 'float32', device));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor {
    return this.param('bias');
  }

  /** x [..., D] -> [..., D]. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.param('weight'), this.param('bias'), this.eps);
  }

  /** x [B, D, L] -> [B, D, L]. */
  forwardChannels(x: Tensor): Tensor {
    return layerNormChannels(x, this.param('weight'), this.param('bias'), this.eps);
  }
}
