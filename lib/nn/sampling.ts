/**
 * Drawing an index from logits: softmax(logits / temperature) restricted to the topK
 * largest (temperature 0: the largest; ties to the smallest index). Shared by streaming
 * generation (lib/nn/generate.ts) and image sampling (lib/train/generate.ts).
 */
import type { Rng } from './random';

/** Draws one index from the n logits at `offset`; topK 0 keeps every class. */
export function sampleIndex(logits: ArrayLike<number>, offset: number, n: number, temperature: number, rng: Rng, topK = 0): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (logits[offset + c] > logits[offset + best]) best = c;
  if (temperature === 0) return best;
  const max = logits[offset + best];
  // The k-th largest logit bounds the candidates (ties at the bound are all kept).
  let floor = -Infinity;
  if (topK > 0 && topK < n) {
    const sorted = Float64Array.from({ length: n }, (_, c) => logits[offset + c]).sort();
    floor = sorted[n - topK];
  }
  let total = 0;
  const p = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const z = logits[offset + c];
    if (z >= floor) total += p[c] = Math.exp((z - max) / temperature);
  }
  let u = rng.uniform() * total;
  for (let c = 0; c < n; c++) {
    u -= p[c];
    if (p[c] > 0 && u < 0) return c;
  }
  return best;
}
