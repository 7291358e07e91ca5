/**
 * Float64 references of the nn layers, written from the definitions (used by the nn and
 * model tests), and finite-difference helpers.
 */
import { dplrKernelDense } from '../../lib/ssm/step_setup';
import type { DplrParams64 } from '../../lib/ssm/types';

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc, Chebyshev fit). */
export function erf64(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

export function gelu64(x: number): number {
  return 0.5 * x * (1 + erf64(x / Math.SQRT2));
}

export function sigmoid64(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** y[b, o, l] = sum_h w[o, h] x[b, h, l] + bias[o]. */
export function linearChannels64(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, B: number, H: number, L: number, O: number): Float64Array {
  const y = new Float64Array(B * O * L);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++)
      for (let l = 0; l < L; l++) {
        let acc = bias ? bias[o] : 0;
        for (let h = 0; h < H; h++) acc += w[o * H + h] * x[(b * H + h) * L + l];
        y[(b * O + o) * L + l] = acc;
      }
  return y;
}

/** Layer norm over the channels of x [B, H, L] (biased variance, as PyTorch). */
export function layerNormChannels64(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number>, B: number, H: number, L: number, eps: number): Float64Array {
  const y = new Float64Array(B * H * L);
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++) {
      let mean = 0;
      for (let h = 0; h < H; h++) mean += x[(b * H + h) * L + l];
      mean /= H;
      let v = 0;
      for (let h = 0; h < H; h++) v += (x[(b * H + h) * L + l] - mean) ** 2;
      const r = 1 / Math.sqrt(v / H + eps);
      for (let h = 0; h < H; h++) y[(b * H + h) * L + l] = (x[(b * H + h) * L + l] - mean) * r * w[h] + bias[h];
    }
  return y;
}

/** Flat float64 values of an S4Layer's parameters, by the layer's own parameter names. */
export type LayerParams64 = Record<string, Float64Array>;

function complexOf(flat: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = flat.length / 2;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = flat[2 * i];
    im[i] = flat[2 * i + 1];
  }
  return { re, im };
}

/** Kernel [H, L] of an S4 layer in float64: dense DPLR (C~ for lMax, first L taps) or S4D (ZOH). */
export function layerKernel64(P: LayerParams64, cName: string, kind: 'dplr' | 'diag', H: number, N2: number, L: number, lMax: number): Float64Array {
  const lambda = { re: P.logNegRe.map((v) => -Math.exp(v)), im: P.imLambda.slice() };
  const dt = P.logDt.map(Math.exp);
  if (kind === 'dplr') {
    const p64: DplrParams64 = { H, N2, lambda, p: complexOf(P.p), b: complexOf(P.b), cTilde: complexOf(P[cName]), dt };
    const full = dplrKernelDense(p64, lMax);
    const k = new Float64Array(H * L);
    for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) k[h * L + l] = full[h * lMax + l];
    return k;
  }
  const b = complexOf(P.b);
  const c = complexOf(P[cName]);
  const k = new Float64Array(H * L);
  for (let h = 0; h < H; h++) {
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const [lr, li] = [lambda.re[i] * dt[h], lambda.im[i] * dt[h]];
      // Ab = exp(dt lambda); Bb = (Ab - 1) / lambda * B; coefficient C Bb, then times Ab^l.
      const ea = Math.exp(lr);
      const [ar, ai] = [ea * Math.cos(li), ea * Math.sin(li)];
      const [nr, ni] = [ar - 1, ai];
      const den = lambda.re[i] ** 2 + lambda.im[i] ** 2;
      const qr = (nr * lambda.re[i] + ni * lambda.im[i]) / den;
      const qi = (ni * lambda.re[i] - nr * lambda.im[i]) / den;
      const [bbr, bbi] = [qr * b.re[i] - qi * b.im[i], qr * b.im[i] + qi * b.re[i]];
      let [wr, wi] = [c.re[i] * bbr - c.im[i] * bbi, c.re[i] * bbi + c.im[i] * bbr];
      for (let l = 0; l < L; l++) {
        k[h * L + l] += 2 * wr;
        [wr, wi] = [wr * ar - wi * ai, wr * ai + wi * ar];
      }
    }
  }
  return k;
}

export interface LayerShape {
  kind: 'dplr' | 'diag';
  H: number;
  N2: number;
  lMax: number;
  bidirectional: boolean;
}

/** S4Layer forward in float64 (eval mode): conv + D u (+ backward conv), GELU, Linear H -> 2H, GLU. */
export function s4Layer64(P: LayerParams64, s: LayerShape, u: ArrayLike<number>, B: number, L: number): Float64Array {
  const { H } = s;
  const c = s.kind === 'dplr' ? 'cTilde' : 'c';
  const k = layerKernel64(P, c, s.kind, H, s.N2, L, s.lMax);
  const kb = s.bidirectional ? layerKernel64(P, `${c}Bwd`, s.kind, H, s.N2, L, s.lMax) : null;
  const g = new Float64Array(B * H * L);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const row = (b * H + h) * L;
      for (let l = 0; l < L; l++) {
        let acc = P.d[h] * u[row + l];
        for (let j = 0; j <= l; j++) acc += k[h * L + j] * u[row + l - j];
        if (kb) for (let j = 0; l + j < L; j++) acc += kb[h * L + j] * u[row + l + j];
        g[row + l] = gelu64(acc);
      }
    }
  const o = linearChannels64(g, P['output.weight'], P['output.bias'], B, H, L, 2 * H);
  const y = new Float64Array(B * H * L);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++) y[(b * H + h) * L + l] = o[(b * 2 * H + h) * L + l] * sigmoid64(o[(b * 2 * H + H + h) * L + l]);
  return y;
}

/** sum_i y[i] w[i] in float64. */
export function dot64(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}
