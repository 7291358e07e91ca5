/**
 * Float64 references of the neural-network ops and of the S4 layer, written from their naive
 * definitions, and central finite differences on them. Shared by the nn op, layer and model
 * tests on the CPU and their CUDA counterparts in test/gpu.
 */
import { dplrKernelDense } from '../../lib/ssm/step_setup';
import type { DplrParams64 } from '../../lib/ssm/types';

export type Vec = ArrayLike<number>;

export function linearRef(x: Vec, w: Vec, b: Vec | null, M: number, K: number, N: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  return y;
}

export function linearChannelsRef(x: Vec, w: Vec, b: Vec | null, B: number, H: number, L: number, O: number): Float64Array {
  const y = new Float64Array(B * O * L);
  for (let bi = 0; bi < B; bi++)
    for (let o = 0; o < O; o++)
      for (let l = 0; l < L; l++) {
        let s = b ? b[o] : 0;
        for (let hh = 0; hh < H; hh++) s += w[o * H + hh] * x[(bi * H + hh) * L + l];
        y[(bi * O + o) * L + l] = s;
      }
  return y;
}

export function layerNormRef(x: Vec, w: Vec | null, b: Vec | null, rows: number, D: number, eps: number): Float64Array {
  const y = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    let mu = 0;
    for (let i = 0; i < D; i++) mu += x[r * D + i];
    mu /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (x[r * D + i] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) y[r * D + i] = (x[r * D + i] - mu) * rs * (w ? w[i] : 1) + (b ? b[i] : 0);
  }
  return y;
}

/** Layer norm over the channels of x [B, H, L]: the row layer norm of each column x[b, :, l]. */
export function layerNormChannelsRef(x: Vec, w: Vec | null, b: Vec | null, B: number, H: number, L: number, eps: number): Float64Array {
  const y = new Float64Array(B * H * L);
  for (let bi = 0; bi < B; bi++)
    for (let l = 0; l < L; l++) {
      const column = Float64Array.from({ length: H }, (_, h) => x[(bi * H + h) * L + l]);
      layerNormRef(column, w, b, 1, H, eps).forEach((v, h) => (y[(bi * H + h) * L + l] = v));
    }
  return y;
}

/** erf to double precision (Abramowitz-Stegun 7.1.26 is too coarse): series / continued fraction. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    // Maclaurin series: 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)).
    let term = ax;
    let s = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      s += add;
      if (Math.abs(add) < 1e-17 * Math.abs(s)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * s;
  } else {
    // erfc continued fraction (Lentz).
    const tiny = 1e-300;
    let f = ax;
    let C = ax;
    let Dd = 0;
    for (let n = 1; n < 200; n++) {
      const an = n / 2;
      Dd = ax + an * Dd;
      Dd = Dd === 0 ? tiny : Dd;
      C = ax + an / C;
      C = C === 0 ? tiny : C;
      Dd = 1 / Dd;
      const delta = C * Dd;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  }
  return x < 0 ? -r : r;
}

export function geluRef(v: number, tanhApprox: boolean): number {
  if (tanhApprox) return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  return 0.5 * v * (1 + erf(v / Math.SQRT2));
}

export function sigmoidRef(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

export function gluRef(x: Vec, outer: number, half: number, inner: number): Float64Array {
  const y = new Float64Array(outer * half * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < inner; j++) {
        const a = x[(o * 2 * half + i) * inner + j];
        const g = x[(o * 2 * half + half + i) * inner + j];
        y[(o * half + i) * inner + j] = a * sigmoidRef(g);
      }
  return y;
}

export function crossEntropyRef(z: Vec, labels: Vec, M: number, C: number): number {
  let total = 0;
  for (let r = 0; r < M; r++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, z[r * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[r * C + c] - mx);
    total += Math.log(s) + mx - z[r * C + labels[r]];
  }
  return total / M;
}

export function transposeRef(x: Vec, B: number, M: number, N: number): Float64Array {
  const y = new Float64Array(B * M * N);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) y[(b * N + j) * M + i] = x[(b * M + i) * N + j];
  return y;
}

/**
 * Row-major C = alpha * sum_b op(A_b) op(B_b) + beta * C0 per batch (all batches into one
 * C when reduce): A_b is [M, K] ([K, M] when ta), B_b is [K, N] ([N, K] when tb).
 */
export function gemmRef(
  A: Vec, B: Vec, C0: Vec | null, ta: boolean, tb: boolean, M: number, N: number, K: number,
  alpha: number, beta: number, batch: number, reduce: boolean,
): Float64Array {
  const out = new Float64Array((reduce ? 1 : batch) * M * N);
  for (let b = 0; b < batch; b++) {
    const o = reduce ? 0 : b * M * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const a = ta ? A[b * M * K + k * M + i] : A[b * M * K + i * K + k];
          const bb = tb ? B[b * K * N + j * K + k] : B[b * K * N + k * N + j];
          s += a * bb;
        }
        out[o + i * N + j] += alpha * s;
      }
  }
  if (C0 && beta !== 0) for (let t = 0; t < out.length; t++) out[t] += beta * C0[t];
  return out;
}

/** sum(f(x) * W) as a scalar loss of a vector-valued f. */
export function weightedSum(y: Vec, W: Vec): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * W[i];
  return s;
}

/** Central differences of a scalar f at x (float64), step h. */
export function finiteDiff(f: (x: Float64Array) => number, x: Vec, h = 1e-5): Float64Array {
  const base = Float64Array.from(x);
  const g = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const keep = base[i];
    base[i] = keep + h;
    const fp = f(base);
    base[i] = keep - h;
    const fm = f(base);
    base[i] = keep;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Flat float64 values of an S4Layer's parameters, by the layer's own parameter names. */
export type LayerParams64 = Record<string, Float64Array>;

/** Interleaved complex values as their real and imaginary parts. */
function complexOf(flat: Float64Array): { re: Float64Array; im: Float64Array } {
  return { re: flat.filter((_, i) => i % 2 === 0), im: flat.filter((_, i) => i % 2 === 1) };
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
  /** Lags of the backward kernel: 'official' (default; from lag 1) or 'lag0'. */
  convention?: 'official' | 'lag0';
  /** Output channels per SSM (default 1). */
  channels?: number;
  /** Independent (A, B, P) copies (default H). */
  nSsm?: number;
  /** 'truncate': a kernel of min(L, lMax) taps, zeros beyond (default: L <= lMax expected). */
  truncate?: boolean;
}

/**
 * The parameters with one row per output channel (C H rows): row r takes SSM copy r mod S
 * and the dt of channel r mod H, as the official repeats; C and D are already [C, H, *].
 */
export function expandRows(P: LayerParams64, s: LayerShape): LayerParams64 {
  const C = s.channels ?? 1, S = s.nSsm ?? s.H, R = C * s.H;
  const rows = (a: Float64Array, per: number, mod: number): Float64Array => {
    const out = new Float64Array(R * per);
    for (let r = 0; r < R; r++) out.set(a.subarray((r % mod) * per, (r % mod + 1) * per), r * per);
    return out;
  };
  const out: LayerParams64 = { ...P };
  out.logNegRe = rows(P.logNegRe, s.N2, S);
  out.imLambda = rows(P.imLambda, s.N2, S);
  out.b = rows(P.b, 2 * s.N2, S);
  if (P.p) out.p = rows(P.p, 2 * s.N2, S);
  out.logDt = rows(P.logDt, 1, s.H);
  return out;
}

/**
 * S4Layer forward in float64 (eval mode): conv + D u (+ backward conv in the shape's
 * convention) per output channel, GELU, Linear C H -> 2H, GLU.
 */
export function s4Layer64(P: LayerParams64, s: LayerShape, u: ArrayLike<number>, B: number, L: number): Float64Array {
  const { H } = s;
  const C = s.channels ?? 1, R = C * H;
  const c = s.kind === 'dplr' ? 'cTilde' : 'c';
  const E = expandRows(P, s);
  const taps = s.truncate ? Math.min(L, s.lMax) : L;
  const kernel = (name: string): Float64Array => {
    const k = layerKernel64(E, name, s.kind, R, s.N2, taps, s.lMax);
    const full = new Float64Array(R * L);
    for (let r = 0; r < R; r++) full.set(k.subarray(r * taps, (r + 1) * taps), r * L);
    return full;
  };
  const k = kernel(c);
  const kb = s.bidirectional ? kernel(`${c}Bwd`) : null;
  const lag = (s.convention ?? 'official') === 'official' ? 1 : 0;
  const g = new Float64Array(B * R * L);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < R; r++) {
      const h = r % H;
      const row = (b * H + h) * L;
      const orow = (b * R + r) * L;
      for (let l = 0; l < L; l++) {
        let acc = P.d[r] * u[row + l];
        for (let j = 0; j <= l; j++) acc += k[r * L + j] * u[row + l - j];
        // Backward kernel: input s = l + j (j >= lag) with tap j - lag.
        if (kb) for (let j = lag; l + j < L; j++) acc += kb[r * L + j - lag] * u[row + l + j];
        g[orow + l] = geluRef(acc, false);
      }
    }
  const o = linearChannelsRef(g, P['output.weight'], P['output.bias'], B, R, L, 2 * H);
  const y = new Float64Array(B * H * L);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++) y[(b * H + h) * L + l] = o[(b * 2 * H + h) * L + l] * sigmoidRef(o[(b * 2 * H + H + h) * L + l]);
  return y;
}
