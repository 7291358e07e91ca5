/** Random inputs of SequenceModel tests, the same on every backend. */
import type * as s4 from '../../lib/index';
import { randomValues } from './device';

/** n token ids (or class labels) in [0, vocab), as float32. */
export function randomTokens(n: number, vocab: number, seed: number): Float32Array {
  return Float32Array.from(randomValues(n, seed), (v) => Math.floor(((v + 1) / 2) * vocab) % vocab);
}

/** Input of a model: features [B, dInput, L] or tokens [B, L]. */
export function modelInput(o: s4.nn.SequenceModelOptions, B: number, L: number, seed: number): { values: Float32Array; shape: number[] } {
  if (o.embedding) return { values: randomTokens(B * L, o.embedding, seed), shape: [B, L] };
  return { values: randomValues(B * o.dInput! * L, seed), shape: [B, o.dInput!, L] };
}
