/**
 * Float64 reference of residualNorm, from its definition: with z [B, 2H, L], zb [2H] (null:
 * zero), x [B, H, L],
 *   u = z + zb (channel c of z gets zb[c]),  g = u[:, :H] * sigmoid(u[:, H:]),  r = x + mask * g,
 *   out = normalize ? LayerNorm over H of r at each (b, l), times w plus b : r
 * `mask` [B, H, L] holds the dropout's multipliers (0 or 1/(1-p), as the dropout op applied to
 * ones gives them); null means no dropout. Also returns the statistics per (b, l).
 */
import type { Vec } from './nn_reference';

export interface ResidualNormRef {
  out: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}

export function residualNormRef(
  z: Vec, x: Vec, w: Vec | null, b: Vec | null, mask: Vec | null,
  B: number, H: number, L: number, eps: number, normalize: boolean, zb: Vec | null = null,
): ResidualNormRef {
  const out = new Float64Array(B * H * L);
  const mean = new Float64Array(B * L);
  const rstd = new Float64Array(B * L);
  for (let bi = 0; bi < B; bi++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++) {
        const o = (bi * H + h) * L + l;
        const a = z[(bi * 2 * H + h) * L + l] + (zb ? zb[h] : 0);
        const gate = z[(bi * 2 * H + H + h) * L + l] + (zb ? zb[H + h] : 0);
        const g = a / (1 + Math.exp(-gate));
        out[o] = x[o] + (mask ? mask[o] : 1) * g;
      }
  if (!normalize) return { out, mean, rstd };
  for (let bi = 0; bi < B; bi++)
    for (let l = 0; l < L; l++) {
      const at = (h: number) => (bi * H + h) * L + l;
      let mu = 0;
      for (let h = 0; h < H; h++) mu += out[at(h)];
      mu /= H;
      let v = 0;
      for (let h = 0; h < H; h++) v += (out[at(h)] - mu) ** 2;
      const rs = 1 / Math.sqrt(v / H + eps);
      mean[bi * L + l] = mu;
      rstd[bi * L + l] = rs;
      for (let h = 0; h < H; h++) out[at(h)] = (out[at(h)] - mu) * rs * (w ? w[h] : 1) + (b ? b[h] : 0);
    }
  return { out, mean, rstd };
}
