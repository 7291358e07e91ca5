/**
 * Token embedding: indices (float32 holding integers in [0, V)) -> rows of a [V, D] table
 * initialized N(0, 1) as PyTorch.
 */
import { backend, type DeviceName } from '../backend';
import { embedding } from '../ops/index';
import { expectInteger } from '../util/validate';
import { Tensor } from '../tensor/tensor';
import { Module } from './module';
import { Rng } from './random';

export interface EmbeddingOptions {
  seed?: number;
  device?: DeviceName;
}

export class Embedding extends Module {
  readonly vocab: number;
  readonly dim: number;

  constructor(vocab: number, dim: number, opts: EmbeddingOptions = {}) {
    super();
    this.vocab = expectInteger('Embedding', 'vocab', vocab, 1);
    this.dim = expectInteger('Embedding', 'dim', dim, 1);
    const rng = new Rng(opts.seed ?? 0);
    this.registerParameter('weight', Tensor.fromFloats(rng.normalArray(vocab * dim), [vocab, dim], 'float32', opts.device ?? backend()));
  }

  /** idx [...] -> [..., D]. */
  forward(idx: Tensor): Tensor {
    return embedding(idx, this.param('weight'));
  }
}
