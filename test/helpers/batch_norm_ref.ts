/**
 * Float64 reference of batch normalization over (B, L) per channel of x [B, H, L], from
 * torch.nn.BatchNorm1d's definition:
 *   training:  mean, var = the channel's mean and biased variance over (B, L)
 *              y = (x - mean) / sqrt(var + eps) * w + b
 *              running_mean <- (1 - m) running_mean + m mean
 *              running_var  <- (1 - m) running_var  + m var * n / (n - 1)   (n = B L, unbiased)
 *   eval:      y = (x - running_mean) / sqrt(running_var + eps) * w + b
 * and its adjoint (the input gradient holds the statistics' dependence on x in training
 * mode only).
 */
import type { Vec } from './nn_reference';

export interface BatchNormRefOptions {
  training: boolean;
  eps?: number;
  momentum?: number;
  /** Required in eval mode; updated copies are returned in training mode. */
  runningMean?: Vec | null;
  runningVar?: Vec | null;
}

export interface BatchNormRef {
  out: Float64Array;
  /** The statistics used: the batch's (training) or the running ones (eval); var biased. */
  mean: Float64Array;
  var: Float64Array;
  /** The running statistics after the call (null when none were given). */
  runningMean: Float64Array | null;
  runningVar: Float64Array | null;
}

export function batchNormRef(x: Vec, w: Vec | null, b: Vec | null, B: number, H: number, L: number, o: BatchNormRefOptions): BatchNormRef {
  const eps = o.eps ?? 1e-5;
  const m = o.momentum ?? 0.1;
  const n = B * L;
  const mean = new Float64Array(H);
  const variance = new Float64Array(H);
  const rm = o.runningMean ? Float64Array.from(o.runningMean) : null;
  const rv = o.runningVar ? Float64Array.from(o.runningVar) : null;
  for (let c = 0; c < H; c++) {
    if (o.training) {
      let s = 0;
      for (let bi = 0; bi < B; bi++) for (let l = 0; l < L; l++) s += x[(bi * H + c) * L + l];
      const mu = s / n;
      let q = 0;
      for (let bi = 0; bi < B; bi++)
        for (let l = 0; l < L; l++) {
          const d = x[(bi * H + c) * L + l] - mu;
          q += d * d;
        }
      mean[c] = mu;
      variance[c] = q / n;
      if (rm && rv) {
        rm[c] = (1 - m) * rm[c] + m * mu;
        rv[c] = (1 - m) * rv[c] + (m * q) / (n - 1);
      }
    } else {
      if (!rm || !rv) throw new Error('batchNormRef: eval mode needs the running statistics');
      mean[c] = rm[c];
      variance[c] = rv[c];
    }
  }
  const out = new Float64Array(B * H * L);
  for (let bi = 0; bi < B; bi++)
    for (let c = 0; c < H; c++) {
      const rstd = 1 / Math.sqrt(variance[c] + eps);
      for (let l = 0; l < L; l++) {
        const i = (bi * H + c) * L + l;
        out[i] = (x[i] - mean[c]) * rstd * (w ? w[c] : 1) + (b ? b[c] : 0);
      }
    }
  return { out, mean, var: variance, runningMean: rm, runningVar: rv };
}

/**
 * The adjoint of batchNormRef's output for the output gradient dy: dx, dw, db. Training:
 * dx = w rstd (dy - mean(dy) - xhat mean(dy xhat)) per channel; eval: dx = w rstd dy.
 */
export function batchNormBackwardRef(
  dy: Vec, x: Vec, w: Vec | null, B: number, H: number, L: number, o: BatchNormRefOptions,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const eps = o.eps ?? 1e-5;
  const { mean, var: variance } = batchNormRef(x, w, null, B, H, L, { ...o, runningMean: o.runningMean, runningVar: o.runningVar });
  const n = B * L;
  const dx = new Float64Array(B * H * L);
  const dw = new Float64Array(H);
  const db = new Float64Array(H);
  for (let c = 0; c < H; c++) {
    const rstd = 1 / Math.sqrt(variance[c] + eps);
    let sg = 0;
    let sgx = 0;
    for (let bi = 0; bi < B; bi++)
      for (let l = 0; l < L; l++) {
        const i = (bi * H + c) * L + l;
        sg += dy[i];
        sgx += dy[i] * (x[i] - mean[c]) * rstd;
      }
    dw[c] = sgx;
    db[c] = sg;
    const k = rstd * (w ? w[c] : 1);
    for (let bi = 0; bi < B; bi++)
      for (let l = 0; l < L; l++) {
        const i = (bi * H + c) * L + l;
        const xh = (x[i] - mean[c]) * rstd;
        dx[i] = o.training ? k * (dy[i] - sg / n - (xh * sgx) / n) : k * dy[i];
      }
  }
  return { dx, dw, db };
}
