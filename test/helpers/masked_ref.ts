/** Float64 references of the padding-aware ops (lib/ops/pool.ts) and padded batches. */

type Vec = ArrayLike<number>;

/** x [B, H, L] with x[b, :, l] = 0 for l >= lengths[b]. */
export function lengthMaskRef(x: Vec, lengths: Vec, B: number, H: number, L: number): Float64Array {
  const y = new Float64Array(B * H * L);
  for (let r = 0; r < B * H; r++) for (let l = 0; l < lengths[Math.floor(r / H)]; l++) y[r * L + l] = x[r * L + l];
  return y;
}

/** Mean of x[b, h, :lengths[b]] -> [B, H]. */
export function maskedMeanPoolRef(x: Vec, lengths: Vec, B: number, H: number, L: number): Float64Array {
  const y = new Float64Array(B * H);
  for (let r = 0; r < B * H; r++) {
    const n = lengths[Math.floor(r / H)];
    let s = 0;
    for (let l = 0; l < n; l++) s += x[r * L + l];
    y[r] = s / n;
  }
  return y;
}

/** x[b, h, lengths[b] - 1] -> [B, H]. */
export function maskedLastPoolRef(x: Vec, lengths: Vec, B: number, H: number, L: number): Float64Array {
  return Float64Array.from({ length: B * H }, (_, r) => x[r * L + lengths[Math.floor(r / H)] - 1]);
}

/** Lengths in [1, L] with at least one equal to L (a padded batch's longest sets L). */
export function someLengths(B: number, L: number, seed: number): number[] {
  const out = Array.from({ length: B }, (_, b) => 1 + ((b * 7919 + seed * 104729) % L));
  out[seed % B] = L;
  return out;
}
