/**
 * Autoregressive sampling from a next-pixel model (task fmnist-gen) in recurrent mode: the
 * model's stepper takes pixel t-1 (scaled to [0, 1]; 0 before the first) and returns 256
 * logits for pixel t; a pixel is drawn from softmax(logits / temperature) and fed back.
 * Each step costs O(N) per layer, not a convolution over the prefix. Optionally the first
 * pixels are given (a prompt: e.g. the top rows of test images) and only the rest sampled.
 */
import type { SequenceModel } from '../nn/sequence_model';
import { Rng } from '../nn/random';
import { sampleIndex } from '../nn/sampling';
import { expectInteger, expectNumber } from '../util/validate';
import { runScope } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

export interface SampleOptions {
  count: number;
  /** Pixels per image (default 784). */
  length?: number;
  /** Softmax temperature (default 1; 0 picks the most likely pixel). */
  temperature?: number;
  seed?: number;
  /** Given pixels, one array per image (all of the same length < length). */
  prompts?: Uint8Array[];
  /** Called after each pixel with the number done. */
  onPixel?: (t: number) => void;
}

/** Samples `count` images as byte arrays of `length` pixels. */
export function sampleImages(model: SequenceModel, opts: SampleOptions): Uint8Array[] {
  const fn = 'sampleImages';
  const count = expectInteger(fn, 'count', opts.count, 1);
  const length = expectInteger(fn, 'length', opts.length ?? 784, 1);
  const temperature = expectNumber(fn, 'temperature', opts.temperature ?? 1, 0);
  if (model.dInput !== 1 || model.dOutput !== 256 || model.pool !== 'none') {
    throw new RangeError(`${fn}: argument 'model' must be a next-pixel model (dInput 1, dOutput 256, pool 'none'; train it with --task fmnist-gen)`);
  }
  const prompts = opts.prompts ?? [];
  if (prompts.length !== 0 && prompts.length !== count) throw new RangeError(`${fn}: option 'prompts' must hold one array per image (${count}), got ${prompts.length}`);
  const given = prompts.length ? prompts[0].length : 0;
  if (prompts.some((p) => !(p instanceof Uint8Array) || p.length !== given) || given >= length) {
    throw new RangeError(`${fn}: option 'prompts' must be Uint8Arrays of one length below ${length}`);
  }
  const rng = new Rng(opts.seed ?? 0);
  const images = Array.from({ length: count }, () => new Uint8Array(length));
  const stepper = model.stepper({ batch: count });
  try {
    const input = new Float32Array(count);
    for (let t = 0; t < length; t++) {
      const logits = runScope(() => stepper.step(Tensor.fromFloats(input, [count, 1], 'float32', model.device)).dataSync(), Tensor);
      for (let b = 0; b < count; b++) {
        const px = t < given ? prompts[b][t] : sampleIndex(logits, b * 256, 256, temperature, rng);
        images[b][t] = px;
        input[b] = px / 255;
      }
      opts.onPixel?.(t + 1);
    }
  } finally {
    stepper.dispose();
  }
  return images;
}
