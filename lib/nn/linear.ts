/**
 * Linear layers with PyTorch's default initialization: weight and bias uniform in
 * [-1/sqrt(fanIn), 1/sqrt(fanIn)]. One weight [out, in] serves both layouts:
 * forward(x [..., in]) -> [..., out] (feature-last), and forwardChannels(x [B, in, L]) ->
 * [B, out, L] (the channel-major activations of the model).
 */
import { backend, type DeviceName } from '../backend';
import { linear, linearChannels } from '../ops/index';
import { expectInteger } from '../util/validate';
import { Tensor } from '../tensor/tensor';
import { Module } from './module';
import { Rng } from './random';

export interface LinearOptions {
  bias?: boolean;
  seed?: number;
  device?: DeviceName;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly hasBias: boolean;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = expectInteger('Linear', 'inFeatures', inFeatures, 1);
    this.outFeatures = expectInteger('Linear', 'outFeatures', outFeatures, 1);
    this.hasBias = opts.bias ?? true;
    const rng = new Rng(opts.seed ?? 0);
    const device = opts.device ?? backend();
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter('weight', Tensor.fromFloats(rng.uniformArray(outFeatures * inFeatures, -bound, bound), [outFeatures, inFeatures], 'float32', device));
    if (this.hasBias) this.registerParameter('bias', Tensor.fromFloats(rng.uniformArray(outFeatures, -bound, bound), [outFeatures], 'float32', device));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.param('bias') : null;
  }

  /** x [..., in] -> [..., out]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias ?? undefined);
  }

  /** x [B, in, L] -> [B, out, L]. */
  forwardChannels(x: Tensor): Tensor {
    return linearChannels(x, this.weight, this.bias ?? undefined);
  }
}
