/**
 * Float64 references and parameter builders for the convolution, scan and stepper tests:
 * direct O(L^2) causal convolution (and its adjoint), the S4D Vandermonde kernel, random
 * stable DPLR / diagonal parameter sets, and the official-S4 golden file.
 */
import * as s4 from '../../lib/index';
import type { DiagParams64, DplrParams64 } from '../../lib/ssm/types';
import type { DiagTensorParams, DplrTensorParams } from '../../lib/ops/scan';
import { randomValues } from './device';
import { loadGolden } from './golden';

/** y[b,h,t] = sum_{s<=t} k[h,s] u[b,h,t-s] + d[h] u[b,h,t], by the definition. */
export function conv64(u: ArrayLike<number>, k: ArrayLike<number>, d: ArrayLike<number> | null, B: number, H: number, L: number): Float64Array {
  const y = new Float64Array(B * H * L);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const r = (b * H + h) * L;
      for (let t = 0; t < L; t++) {
        let acc = d ? d[h] * u[r + t] : 0;
        for (let s = 0; s <= t; s++) acc += k[h * L + s] * u[r + t - s];
        y[r + t] = acc;
      }
    }
  }
  return y;
}

/** s4.ops.fftConv(u [B,H,L], k [H,L], d [H] or none) on `device`, as floats. */
export function fftConvOn(device: s4.DeviceName, u: ArrayLike<number>, k: ArrayLike<number>, d: ArrayLike<number> | null, B: number, H: number, L: number): Float32Array {
  return s4.tidy(() => {
    const on = { device };
    return s4.ops.fftConv(s4.tensor(u, [B, H, L], on), s4.tensor(k, [H, L], on), d ? s4.tensor(d, [H], on) : null).dataSync();
  });
}

/** Random inputs of an fftConv case: u, a decaying kernel k, d, and the weights w of sum(y * w). */
export interface ConvCase {
  u: Float32Array;
  k: Float32Array;
  d: Float32Array;
  w: Float32Array;
}

export function makeConvCase(B: number, H: number, L: number, seed: number): ConvCase {
  return {
    u: randomValues(B * H * L, seed),
    k: Float32Array.from(randomValues(H * L, seed + 1), (v, i) => v * Math.exp(-(i % L) / Math.max(1, L / 4))),
    d: randomValues(H, seed + 2),
    w: randomValues(B * H * L, seed + 3),
  };
}

export type ConvGradWant = { u: boolean; k: boolean; d: boolean };
export type ConvGrads = { du: Float32Array | null; dk: Float32Array | null; dd: Float32Array | null };

/** Gradients of sum(fftConv(u, k, d) * w) on `device`; `want` picks which inputs require grad. */
export function fftConvGradsOn(device: s4.DeviceName, c: ConvCase, B: number, H: number, L: number, want: ConvGradWant): ConvGrads {
  const ut = s4.tensor(c.u, [B, H, L], { device, requiresGrad: want.u });
  const kt = s4.tensor(c.k, [H, L], { device, requiresGrad: want.k });
  const dt = s4.tensor(c.d, [H], { device, requiresGrad: want.d });
  s4.tidy(() => s4.ops.sum(s4.ops.mul(s4.ops.fftConv(ut, kt, dt), s4.tensor(c.w, [B, H, L], { device }))).backward());
  const out = { du: ut.grad?.dataSync() ?? null, dk: kt.grad?.dataSync() ?? null, dd: dt.grad?.dataSync() ?? null };
  s4.dispose(ut, kt, dt);
  return out;
}

/** Gradients of sum(conv64(u, k, d) * dy): the adjoint of the definition. */
export function convBackward64(
  dy: ArrayLike<number>,
  u: ArrayLike<number>,
  k: ArrayLike<number>,
  d: ArrayLike<number> | null,
  B: number,
  H: number,
  L: number,
): { du: Float64Array; dk: Float64Array; dd: Float64Array } {
  const du = new Float64Array(B * H * L);
  const dk = new Float64Array(H * L);
  const dd = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const r = (b * H + h) * L;
      for (let t = 0; t < L; t++) {
        const g = dy[r + t];
        if (d) du[r + t] += d[h] * g;
        dd[h] += g * u[r + t];
        for (let s = 0; s <= t; s++) {
          du[r + t - s] += k[h * L + s] * g;
          dk[h * L + s] += u[r + t - s] * g;
        }
      }
    }
  }
  return { du, dk, dd };
}

function rand64(n: number, seed: number, lo: number, hi: number): Float64Array {
  const v = randomValues(n, seed);
  return Float64Array.from(v, (x) => lo + ((x + 1) / 2) * (hi - lo));
}

/** dt log-uniform in [1e-3, 1e-1] (the S4 default range). */
function randomDt(H: number, seed: number): Float64Array {
  return Float64Array.from(randomValues(H, seed), (x) => Math.exp(Math.log(1e-3) + ((x + 1) / 2) * (Math.log(1e-1) - Math.log(1e-3))));
}

/**
 * Random DPLR parameters that are stable for any P: Re Lambda < 0 and A = diag(Lambda) - P P^*
 * has a negative definite Hermitian part. Im Lambda spreads like HiPPO-LegS (about pi n).
 */
export function randomDplr(H: number, N2: number, seed: number): DplrParams64 {
  const n = H * N2;
  const lre = rand64(n, seed, -1, -0.2);
  const lim = Float64Array.from(rand64(n, seed + 1, -0.5, 0.5), (j, i) => Math.PI * (i % N2) + j);
  return {
    H,
    N2,
    lambda: { re: lre, im: lim },
    p: { re: rand64(n, seed + 2, -0.7, 0.7), im: rand64(n, seed + 3, -0.7, 0.7) },
    b: { re: rand64(n, seed + 4, -1, 1), im: rand64(n, seed + 5, -1, 1) },
    cTilde: { re: rand64(n, seed + 6, -1, 1), im: rand64(n, seed + 7, -1, 1) },
    dt: randomDt(H, seed + 8),
  };
}

/** Random S4D parameters (S4D-Lin-like: Re Lambda = -1/2 +- jitter, Im Lambda ~ pi n). */
export function randomDiag(H: number, N2: number, seed: number): DiagParams64 {
  const n = H * N2;
  return {
    H,
    N2,
    lambda: { re: rand64(n, seed, -0.8, -0.2), im: Float64Array.from(rand64(n, seed + 1, -0.5, 0.5), (j, i) => Math.PI * (i % N2) + j) },
    b: { re: rand64(n, seed + 2, -1, 1), im: rand64(n, seed + 3, -1, 1) },
    c: { re: rand64(n, seed + 4, -1, 1), im: rand64(n, seed + 5, -1, 1) },
    dt: randomDt(H, seed + 6),
  };
}

/** K[h,l] = 2 Re sum_n C_n Bb_n Ab_n^l with ZOH Ab = exp(dt Lambda), Bb = (Ab - 1)/Lambda B. */
export function diagKernel64(p: DiagParams64, L: number): Float64Array {
  const K = new Float64Array(p.H * L);
  for (let h = 0; h < p.H; h++) {
    const dt = p.dt[h];
    for (let n = 0; n < p.N2; n++) {
      const i = h * p.N2 + n;
      const lr = p.lambda.re[i], li = p.lambda.im[i];
      const m = Math.exp(dt * lr);
      const ar = m * Math.cos(dt * li), ai = m * Math.sin(dt * li);
      const l2 = lr * lr + li * li;
      const fr = ((ar - 1) * lr + ai * li) / l2, fi = (ai * lr - (ar - 1) * li) / l2;
      const br = fr * p.b.re[i] - fi * p.b.im[i], bi = fr * p.b.im[i] + fi * p.b.re[i];
      // v = C Bb, then times Ab each step
      let vr = p.c.re[i] * br - p.c.im[i] * bi, vi = p.c.re[i] * bi + p.c.im[i] * br;
      for (let l = 0; l < L; l++) {
        K[h * L + l] += 2 * vr;
        [vr, vi] = [vr * ar - vi * ai, vr * ai + vi * ar];
      }
    }
  }
  return K;
}

function complexTensor(c: { re: Float64Array; im: Float64Array }, H: number, N2: number, device: s4.DeviceName): s4.Tensor {
  return s4.complex(c.re, c.im, [H, N2], { device });
}

/** The parameter set as tensors on `device` (d float32 [H] when given). */
export function dplrTensors(p: DplrParams64, d: ArrayLike<number> | null, device: s4.DeviceName): DplrTensorParams {
  return {
    lambda: complexTensor(p.lambda, p.H, p.N2, device),
    p: complexTensor(p.p, p.H, p.N2, device),
    b: complexTensor(p.b, p.H, p.N2, device),
    cTilde: complexTensor(p.cTilde, p.H, p.N2, device),
    dt: s4.tensor(p.dt, [p.H], { device }),
    d: d ? s4.tensor(d, [p.H], { device }) : null,
  };
}

export function diagTensors(p: DiagParams64, d: ArrayLike<number> | null, device: s4.DeviceName): DiagTensorParams {
  return {
    lambda: complexTensor(p.lambda, p.H, p.N2, device),
    b: complexTensor(p.b, p.H, p.N2, device),
    c: complexTensor(p.c, p.H, p.N2, device),
    dt: s4.tensor(p.dt, [p.H], { device }),
    d: d ? s4.tensor(d, [p.H], { device }) : null,
  };
}

/** Parameters rounded to float32 (what the tensors hold), for float64 references of tensor ops. */
export function roundDplr(p: DplrParams64): DplrParams64 {
  const r = (a: Float64Array) => Float64Array.from(Float32Array.from(a));
  const rc = (c: { re: Float64Array; im: Float64Array }) => ({ re: r(c.re), im: r(c.im) });
  return { H: p.H, N2: p.N2, lambda: rc(p.lambda), p: rc(p.p), b: rc(p.b), cTilde: rc(p.cTilde), dt: r(p.dt) };
}

export function roundDiag(p: DiagParams64): DiagParams64 {
  const r = (a: Float64Array) => Float64Array.from(Float32Array.from(a));
  const rc = (c: { re: Float64Array; im: Float64Array }) => ({ re: r(c.re), im: r(c.im) });
  return { H: p.H, N2: p.N2, lambda: rc(p.lambda), b: rc(p.b), c: rc(p.c), dt: r(p.dt) };
}

export interface GoldenDplr {
  params: DplrParams64;
  c: { re: Float64Array; im: Float64Array };
  L: number;
  K: Float64Array;
  u: Float64Array;
  D: Float64Array;
  y: Float64Array;
}

/** The official-S4 golden DPLR case (S4_GOLDEN_DIR, else ../shared/golden beside or inside the repo), flattened. */
export function loadGoldenDplr(): GoldenDplr {
  const g = loadGolden().dplr;
  const flat = (a: unknown): Float64Array => Float64Array.from((a as unknown[]).flat(3) as number[]);
  const cx = (o: { re: unknown; im: unknown }) => ({ re: flat(o.re), im: flat(o.im) });
  const H: number = g.H;
  const N2: number = g.N_half;
  return {
    params: { H, N2, lambda: cx(g.lambda), p: cx(g.p), b: cx(g.b), cTilde: cx(g.c_tilde), dt: flat(g.dt) },
    c: cx(g.c),
    L: g.L,
    K: flat(g.K),
    u: flat(g.u),
    D: flat(g.D),
    y: flat(g.y),
  };
}
