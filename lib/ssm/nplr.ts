/**
 * NPLR -> DPLR form of the HiPPO matrices (official S4 `nplr`):
 *
 *   A = V (diag(Lambda) - P P^*) V^*,   B = V B~,   V unitary,
 *
 * from the eigendecomposition of the normal part A + P_0 P_0^T = c I + S (S skew): Lambda =
 * c + i eig(-i S). A is real, so eigenpairs come in conjugate pairs; only N2 = N/2 are kept,
 * the official choice: eigenvalues sorted by imaginary part ascending, the first half (Im < 0;
 * the other half is their conjugate). V here is the kept N x N2 block; the full unitary
 * basis is [V, conj V], and every state sum is "kept terms + conjugates" (docs/ARCHITECTURE.md,
 * "The SSM and conjugate symmetry").
 *
 * A zero eigenvalue pair (fout: the constant coordinates 0 and 1) has a real null space;
 * its kept vector is (x + i y) / sqrt 2 for an orthonormal real basis x, y of it (the
 * official code hard-codes x = e_0, y = e_1, which this gives for fout).
 *
 * Phases: an eigenvector is defined up to a unit factor; each kept column is rotated so
 * that its entry of P (first rank row) is real and positive. The official code keeps
 * LAPACK's phases, which are arbitrary, so P and B here equal the official ones up to a
 * unit factor per state (Lambda, |P|, |B| and every kernel are the same), except where the
 * official B clip (|Im B| <= 2) acts: the clip depends on the phase. For legs, P real
 * makes B = sqrt 2 P real, so the clip never acts here.
 */
import { cadjoint, cmatmul, cmatrix, type CMatrix } from './complex';
import { eigShiftedSkew } from './eigen';
import { minRank, rankCorrection, transition, type Measure } from './hippo';
import type { Complex64Array } from './types';

export interface Nplr {
  measure: Measure;
  N: number;
  N2: number;
  rank: number;
  /** Kept eigenvalues [N2]. */
  lambda: Complex64Array;
  /** V^* P, [rank, N2] row-major. */
  p: Complex64Array;
  /** V^* B, [N2], imaginary part clipped to [-bClip, bClip] when bClip is set. */
  b: Complex64Array;
  /** Kept eigenvectors, N x N2. */
  V: CMatrix;
}

export interface NplrOptions {
  /** Rank of the correction (default: the measure's own, 2 for legt, else 1). */
  rank?: number;
  /** Clip of |Im B| (official default 2); null for none. */
  bClip?: number | null;
}

function checkEvenN(fn: string, N: unknown): asserts N is number {
  if (typeof N !== 'number' || !Number.isInteger(N) || N < 2 || N % 2 !== 0) {
    throw new RangeError(`${fn}: argument 'N' must be an even integer >= 2 (N/2 conjugate pairs are kept; got ${String(N)})`);
  }
}

function checkClip(fn: string, bClip: unknown): asserts bClip is number | null {
  if (bClip !== null && (typeof bClip !== 'number' || !(bClip > 0))) throw new RangeError(`${fn}: option 'bClip' must be a positive number or null (got ${String(bClip)})`);
}

/** Orthonormal real basis (x, y) of the real 2-D space spanned by the complex vectors u1, u2. */
function realPlane(u: CMatrix, c1: number, c2: number): [Float64Array, Float64Array] {
  const n = u.rows;
  // Real projector onto the space (it is conjugation invariant, so the projector is real).
  const proj = new Float64Array(n * n);
  for (const c of [c1, c2]) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        proj[i * n + j] += u.re[i * u.cols + c] * u.re[j * u.cols + c] + u.im[i * u.cols + c] * u.im[j * u.cols + c];
      }
    }
  }
  const column = (k: number): Float64Array => Float64Array.from({ length: n }, (_, i) => proj[i * n + k]);
  const norm = (v: Float64Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const pick = (cols: Float64Array[]): Float64Array => {
    const norms = cols.map(norm);
    const best = Math.max(...norms);
    const v = cols[norms.findIndex((x) => x >= best * (1 - 1e-9))];
    return v.map((x) => x / norm(v));
  };
  const all = Array.from({ length: n }, (_, k) => column(k));
  const x = pick(all);
  const rest = all.map((v) => {
    const d = v.reduce((s, vi, i) => s + vi * x[i], 0);
    return v.map((vi, i) => vi - d * x[i]);
  });
  return [x, pick(rest)];
}

// Every layer of a model asks for the same form; the eigensolver is O(N^3), so results are
// kept (per measure, N, rank, clip) and handed out as copies.
const cache = new Map<string, Nplr>();

function copyComplex(c: Complex64Array): Complex64Array {
  return { re: c.re.slice(), im: c.im.slice() };
}

function copyNplr(f: Nplr): Nplr {
  return { ...f, lambda: copyComplex(f.lambda), p: copyComplex(f.p), b: copyComplex(f.b), V: { rows: f.V.rows, cols: f.V.cols, re: f.V.re.slice(), im: f.V.im.slice() } };
}

/** The DPLR form of a HiPPO measure of state size N (even). */
export function nplr(measure: Measure, N: number, opts: NplrOptions = {}): Nplr {
  const fn = 'nplr';
  checkEvenN(fn, N);
  const rank = opts.rank ?? minRank(measure);
  const bClip = opts.bClip === undefined ? 2 : opts.bClip;
  checkClip(fn, bClip);
  const key = `${measure}/${N}/${rank}/${bClip}`;
  let f = cache.get(key);
  if (!f) {
    f = computeNplr(measure, N, rank, bClip);
    cache.set(key, f);
  }
  return copyNplr(f);
}

function computeNplr(measure: Measure, N: number, rank: number, bClip: number | null): Nplr {
  const fn = 'nplr';
  const { A, B } = transition(measure, N);
  const P = rankCorrection(measure, N, rank);
  const AP = A.slice();
  for (let r = 0; r < rank; r++) {
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) AP[i * N + j] += P[r * N + i] * P[r * N + j];
  }
  const { shift, imag, vectors } = eigShiftedSkew(AP, N);
  const N2 = N / 2;
  const V = cmatrix(N, N2);
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < N2; k++) {
      V.re[i * N2 + k] = vectors.re[i * N + k];
      V.im[i * N2 + k] = vectors.im[i * N + k];
    }
  }
  const zeroTol = 1e-4;
  if (Math.abs(imag[N2 - 1]) < zeroTol) {
    if (N2 >= 2 && Math.abs(imag[N2 - 2]) < zeroTol) throw new RangeError(`${fn}: more than one zero eigenvalue pair in the normal part of '${measure}' (N = ${N})`);
    const [x, y] = realPlane(vectors, N2 - 1, N2);
    for (let i = 0; i < N; i++) {
      V.re[i * N2 + N2 - 1] = x[i] * Math.SQRT1_2;
      V.im[i * N2 + N2 - 1] = y[i] * Math.SQRT1_2;
    }
  }
  // Phase: (V^* P_0)_k real and positive.
  let p0norm = 0;
  for (let i = 0; i < N; i++) p0norm = Math.max(p0norm, Math.abs(P[i]));
  for (let k = 0; k < N2; k++) {
    let qr = 0, qi = 0;
    for (let i = 0; i < N; i++) {
      qr += V.re[i * N2 + k] * P[i];
      qi -= V.im[i * N2 + k] * P[i];
    }
    const mag = Math.hypot(qr, qi);
    if (mag <= 1e-12 * p0norm) continue;
    const cr = qr / mag, ci = qi / mag;
    for (let i = 0; i < N; i++) {
      const vr = V.re[i * N2 + k], vi = V.im[i * N2 + k];
      V.re[i * N2 + k] = vr * cr - vi * ci;
      V.im[i * N2 + k] = vr * ci + vi * cr;
    }
  }
  const Vh = cadjoint(V);
  const project = (rows: Float64Array, count: number): Complex64Array => {
    const m = cmatrix(N, count);
    for (let r = 0; r < count; r++) for (let i = 0; i < N; i++) m.re[i * count + r] = rows[r * N + i];
    const pr = cmatmul(Vh, m); // N2 x count
    const re = new Float64Array(count * N2), im = new Float64Array(count * N2);
    for (let r = 0; r < count; r++) {
      for (let k = 0; k < N2; k++) {
        re[r * N2 + k] = pr.re[k * count + r];
        im[r * N2 + k] = pr.im[k * count + r];
      }
    }
    return { re, im };
  };
  const p = project(P, rank);
  const b = project(B, 1);
  if (bClip !== null) for (let k = 0; k < N2; k++) b.im[k] = Math.min(bClip, Math.max(-bClip, b.im[k]));
  const lambda = { re: new Float64Array(N2).fill(shift), im: imag.slice(0, N2) };
  return { measure, N, N2, rank, lambda, p, b, V };
}

/**
 * The dense matrices the DPLR form stands for, rebuilt in the full basis [V, conj V]:
 * A = Vf (diag(Lambda, conj Lambda) - Pf Pf^*) Vf^*, B = Vf [b; conj b]. Complex N x N and
 * N x 1 (their imaginary parts are rounding). For checks.
 */
export function nplrDense(f: Nplr): { A: CMatrix; B: CMatrix } {
  const { N, N2, rank } = f;
  const Vf = cmatrix(N, N);
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < N2; k++) {
      Vf.re[i * N + k] = Vf.re[i * N + N2 + k] = f.V.re[i * N2 + k];
      Vf.im[i * N + k] = f.V.im[i * N2 + k];
      Vf.im[i * N + N2 + k] = -f.V.im[i * N2 + k];
    }
  }
  const Pf = cmatrix(N, rank);
  const Bf = cmatrix(N, 1);
  const M = cmatrix(N, N);
  for (let k = 0; k < N; k++) {
    const h = k % N2, sign = k < N2 ? 1 : -1;
    M.re[k * N + k] = f.lambda.re[h];
    M.im[k * N + k] = sign * f.lambda.im[h];
    for (let r = 0; r < rank; r++) {
      Pf.re[k * rank + r] = f.p.re[r * N2 + h];
      Pf.im[k * rank + r] = sign * f.p.im[r * N2 + h];
    }
    Bf.re[k] = f.b.re[h];
    Bf.im[k] = sign * f.b.im[h];
  }
  const PP = cmatmul(Pf, cadjoint(Pf));
  for (let i = 0; i < N * N; i++) {
    M.re[i] -= PP.re[i];
    M.im[i] -= PP.im[i];
  }
  return { A: cmatmul(cmatmul(Vf, M), cadjoint(Vf)), B: cmatmul(Vf, Bf) };
}

export interface DplrInitial {
  H: number;
  N2: number;
  lambda: Complex64Array;
  p: Complex64Array;
  b: Complex64Array;
}

/**
 * The rank-1 DPLR form of a measure repeated over H channels ([H, N2] each), the layout of
 * the project's kernels. legt needs a rank-2 correction, which these kernels do not take.
 */
export function dplr(measure: Measure, N: number, H = 1, opts: { bClip?: number | null } = {}): DplrInitial {
  const fn = 'dplr';
  if (!Number.isInteger(H) || H < 1) throw new RangeError(`${fn}: argument 'H' must be a positive integer (got ${H})`);
  if (minRank(measure) !== 1) {
    throw new RangeError(`${fn}: measure '${measure}' needs a rank-${minRank(measure)} correction; the DPLR kernels take rank 1: use 'legs' or 'fout' (or nplr() for the rank-2 form)`);
  }
  const f = nplr(measure, N, { rank: 1, bClip: opts.bClip });
  const N2 = f.N2;
  const tile = (c: Complex64Array): Complex64Array => {
    const re = new Float64Array(H * N2), im = new Float64Array(H * N2);
    for (let h = 0; h < H; h++) {
      re.set(c.re.subarray(0, N2), h * N2);
      im.set(c.im.subarray(0, N2), h * N2);
    }
    return { re, im };
  };
  return { H, N2, lambda: tile(f.lambda), p: tile(f.p), b: tile(f.b) };
}
