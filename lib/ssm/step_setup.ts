/**
 * Float64 set-up of the recurrent (stepping) view, and dense float64 references of it.
 *
 * The native scan (native/common/scan_layout.h) steps every model as "diagonal plus rank one":
 *   s   = 2 Re sum_n w_n x_n
 *   y_t = 2 Re sum_n ca_n x_n - cg s + cu u_t          (from the state before the update)
 *   x_n <- a_n x_n - g_n s + bb_n u_t
 * This file computes (a, w, g, bb, ca, cg, cu) per channel.
 *
 * DPLR, bilinear (docs/ARCHITECTURE.md, Discretization): A = diag(Lambda) - P P^* on the
 * full conjugate-symmetric space [x; conj x]; c = dt/2, D_n = 1 - c Lambda_n,
 * E_n = 1 + c Lambda_n. Woodbury gives
 *   (I - cA)^-1 = D^-1 - c r D^-1 P P^* D^-1,   r = 1 / (1 + c P^* D^-1 P)
 * and, since D + E = 2,
 *   Ab = (I - cA)^-1 (I + cA) = diag(E/D) - dt r (P/D) (P^* D^-1)
 *   Bb = (I - cA)^-1 dt B     = dt (B/D - c r (P/D) (P^* D^-1 B))
 * where every P^*(.) is a full-space product, 2 Re of the half sum. Hence
 *   a = E/D, w = conj(P)/D, g = dt r P/D, bb = Bb, ca = C a, cg = 2Re sum C g,
 *   cu = 2Re sum C bb + D.
 * (Same as the official S4's _setup_linear / _step_state_linear, which apply
 * (I + cA) and then the Woodbury inverse in two passes; here they are one rank-1 update.)
 * C comes from C~ for length L: C = C~ (I - Ab^L)^-1, solved densely in the real
 * representation of the state (Re x, Im x) in float64.
 *
 * Diagonal (S4D), zero-order hold: a = exp(dt Lambda), bb = (exp(dt Lambda) - 1)/Lambda B,
 * w = g = 0, ca = C a, cg = 0, cu = 2Re sum C bb + D.
 */
import type { Complex64Array, DiagParams64, DplrParams64 } from './types';

/**
 * Floats per channel in the coefficient buffer: the arrays a, w, g, bb, ca (N2 complex
 * each, interleaved re, im), then cg, cu (native/common/scan_layout.h).
 */
export function scanCoefStride(N2: number): number {
  return 10 * N2 + 2;
}

/** Float offset of complex element n of array `which` (0 a, 1 w, 2 g, 3 bb, 4 ca) in a channel's row. */
function at(which: number, n: number, N2: number): number {
  return 2 * (which * N2 + n);
}

function checkFinite(fn: string, name: string, a: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new RangeError(`${fn}: parameter '${name}' has a non-finite value at index ${i}`);
  }
}

function checkComplex(fn: string, name: string, c: Complex64Array, count: number): void {
  if (!c || c.re?.length !== count || c.im?.length !== count) {
    throw new RangeError(`${fn}: parameter '${name}' must hold H * N2 = ${count} complex values`);
  }
  checkFinite(fn, `${name}.re`, c.re);
  checkFinite(fn, `${name}.im`, c.im);
}

function checkD(fn: string, d: ArrayLike<number> | null | undefined, H: number): void {
  if (d == null) return;
  if (d.length !== H) throw new RangeError(`${fn}: parameter 'd' must hold H = ${H} values (got ${d.length})`);
  checkFinite(fn, 'd', d);
}

function checkDt(fn: string, dt: ArrayLike<number>, H: number): void {
  if (!dt || dt.length !== H) throw new RangeError(`${fn}: parameter 'dt' must hold H = ${H} values`);
  for (let h = 0; h < H; h++) {
    if (!Number.isFinite(dt[h]) || dt[h] <= 0) throw new RangeError(`${fn}: parameter 'dt' must be positive and finite (dt[${h}] = ${dt[h]})`);
  }
}

// ---- small dense real linear algebra (row-major n x n Float64Array) ----

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[ci + k];
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) c[ci + j] += aik * b[bk + j];
    }
  }
  return c;
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function matpow(a: Float64Array, n: number, p: number): Float64Array {
  let result: Float64Array | null = null;
  let base = a;
  while (p > 0) {
    if (p & 1) result = result ? matmul(result, base, n) : base.slice();
    p = Math.floor(p / 2);
    if (p > 0) base = matmul(base, base, n);
  }
  return result ?? identity(n);
}

/** Solves M X = R for X (M n x n, R n x m, row-major); Gaussian elimination, partial pivoting. */
function solve(mIn: Float64Array, rIn: Float64Array, n: number, m: number): Float64Array {
  const a = mIn.slice();
  const r = rIn.slice();
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let i = col + 1; i < n; i++) if (Math.abs(a[i * n + col]) > Math.abs(a[piv * n + col])) piv = i;
    if (a[piv * n + col] === 0) throw new RangeError('step set-up: singular matrix (I - Ab^L); check the parameters');
    if (piv !== col) {
      for (let j = 0; j < n; j++) [a[col * n + j], a[piv * n + j]] = [a[piv * n + j], a[col * n + j]];
      for (let j = 0; j < m; j++) [r[col * m + j], r[piv * m + j]] = [r[piv * m + j], r[col * m + j]];
    }
    const inv = 1 / a[col * n + col];
    for (let i = col + 1; i < n; i++) {
      const f = a[i * n + col] * inv;
      if (f === 0) continue;
      for (let j = col; j < n; j++) a[i * n + j] -= f * a[col * n + j];
      for (let j = 0; j < m; j++) r[i * m + j] -= f * r[col * m + j];
    }
  }
  for (let col = n - 1; col >= 0; col--) {
    const inv = 1 / a[col * n + col];
    for (let j = 0; j < m; j++) r[col * m + j] *= inv;
    for (let i = 0; i < col; i++) {
      const f = a[i * n + col];
      if (f === 0) continue;
      for (let j = 0; j < m; j++) r[i * m + j] -= f * r[col * m + j];
    }
  }
  return r;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

/**
 * Dense real representation of channel h of a DPLR model, discretized (bilinear):
 * the state is z = [Re x; Im x] (length N = 2 N2); z' = Ab z + Bb u; the output functional
 * of a half-space row vector C (y = 2 Re C x) is [2 Re C, -2 Im C].
 * Ab is formed by an explicit dense inverse, independent of the Woodbury algebra above.
 */
export function dplrDenseReal(params: DplrParams64, h: number): { N: number; Ab: Float64Array; Bb: Float64Array } {
  const { N2 } = params;
  const N = 2 * N2;
  const dt = params.dt[h];
  const off = h * N2;
  const lr = params.lambda.re, li = params.lambda.im, pr = params.p.re, pi = params.p.im;
  // Continuous A as a real-linear map: (A x)_n = Lambda_n x_n - P_n * 2 Re(sum_m conj(P_m) x_m).
  const A = new Float64Array(N * N);
  for (let j = 0; j < N2; j++) {
    // column for Re x_j = 1: Lambda_j e_j - P * 2 Re P_j ; column for Im x_j = 1: i Lambda_j e_j - P * 2 Im P_j
    const cRe = 2 * pr[off + j];
    const cIm = 2 * pi[off + j];
    for (let n = 0; n < N2; n++) {
      A[n * N + j] -= pr[off + n] * cRe; // Re row, Re-col
      A[(N2 + n) * N + j] -= pi[off + n] * cRe; // Im row, Re-col
      A[n * N + N2 + j] -= pr[off + n] * cIm; // Re row, Im-col
      A[(N2 + n) * N + N2 + j] -= pi[off + n] * cIm; // Im row, Im-col
    }
    A[j * N + j] += lr[off + j];
    A[(N2 + j) * N + j] += li[off + j];
    A[j * N + N2 + j] += -li[off + j];
    A[(N2 + j) * N + N2 + j] += lr[off + j];
  }
  const minus = identity(N);
  const plus = identity(N);
  for (let i = 0; i < N * N; i++) {
    minus[i] -= (dt / 2) * A[i];
    plus[i] += (dt / 2) * A[i];
  }
  const Ab = solve(minus, plus, N, N);
  const bvec = new Float64Array(N);
  for (let n = 0; n < N2; n++) {
    bvec[n] = dt * params.b.re[off + n];
    bvec[N2 + n] = dt * params.b.im[off + n];
  }
  const Bb = solve(minus, bvec, N, 1);
  return { N, Ab, Bb };
}

/** C = C~ (I - Ab^L)^-1 for every channel (float64, dense solve in the real representation). */
export function cTildeToC(params: DplrParams64, L: number): Complex64Array {
  const { H, N2 } = params;
  const re = new Float64Array(H * N2);
  const im = new Float64Array(H * N2);
  for (let h = 0; h < H; h++) {
    const { N, Ab } = dplrDenseReal(params, h);
    const M = matpow(Ab, N, L);
    for (let i = 0; i < N * N; i++) M[i] = (i % (N + 1) === 0 ? 1 : 0) - M[i];
    // c_r M = ct_r  <=>  M^T c_r^T = ct_r^T
    const ct = new Float64Array(N);
    for (let n = 0; n < N2; n++) {
      ct[n] = 2 * params.cTilde.re[h * N2 + n];
      ct[N2 + n] = -2 * params.cTilde.im[h * N2 + n];
    }
    const c = solve(transpose(M, N), ct, N, 1);
    for (let n = 0; n < N2; n++) {
      re[h * N2 + n] = c[n] / 2;
      im[h * N2 + n] = -c[N2 + n] / 2;
    }
  }
  return { re, im };
}

/**
 * Dense float64 reference of the DPLR kernel, K[h, l] = C Ab^l Bb (C from C~ for length L),
 * row-major [H, L]. O(L N^2) per channel: for tests.
 */
export function dplrKernelDense(params: DplrParams64, L: number): Float64Array {
  const { H, N2 } = params;
  const C = cTildeToC(params, L);
  const K = new Float64Array(H * L);
  for (let h = 0; h < H; h++) {
    const { N, Ab, Bb } = dplrDenseReal(params, h);
    const cr = new Float64Array(N);
    for (let n = 0; n < N2; n++) {
      cr[n] = 2 * C.re[h * N2 + n];
      cr[N2 + n] = -2 * C.im[h * N2 + n];
    }
    let v = Bb.slice();
    let next = new Float64Array(N);
    for (let l = 0; l < L; l++) {
      let acc = 0;
      for (let i = 0; i < N; i++) acc += cr[i] * v[i];
      K[h * L + l] = acc;
      next.fill(0);
      for (let i = 0; i < N; i++) {
        let s = 0;
        const row = i * N;
        for (let j = 0; j < N; j++) s += Ab[row + j] * v[j];
        next[i] = s;
      }
      [v, next] = [next, v];
    }
  }
  return K;
}

// ---- coefficients of the native scan ----

function put(out: Float32Array, i: number, re: number, im: number): void {
  out[i] = re;
  out[i + 1] = im;
}

/**
 * Step coefficients of a DPLR model whose C~ was set up for length L; d is the skip [H]
 * (optional). Returns float32 [H, 10 N2 + 2] for the native scan.
 */
export function dplrStepCoefficients(params: DplrParams64, L: number, d?: ArrayLike<number> | null): Float32Array {
  const fn = 'dplrStepCoefficients';
  const { H, N2 } = params;
  if (!Number.isInteger(L) || L < 1) throw new RangeError(`${fn}: argument 'L' must be a positive integer (got ${L})`);
  const count = H * N2;
  checkComplex(fn, 'lambda', params.lambda, count);
  checkComplex(fn, 'p', params.p, count);
  checkComplex(fn, 'b', params.b, count);
  checkComplex(fn, 'cTilde', params.cTilde, count);
  checkDt(fn, params.dt, H);
  checkD(fn, d, H);
  const C = cTildeToC(params, L);
  const stride = scanCoefStride(N2);
  const out = new Float32Array(H * stride);
  for (let h = 0; h < H; h++) {
    const dt = params.dt[h];
    const c = dt / 2;
    const base = h * stride;
    // Per-state quantities in float64.
    const Dr = new Float64Array(N2), Di = new Float64Array(N2); // 1/D
    let pdp = 0; // 2 Re sum conj(P) P / D
    let pdb = 0; // 2 Re sum conj(P) B / D
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const dr = 1 - c * params.lambda.re[i], di = -c * params.lambda.im[i];
      const den = dr * dr + di * di;
      Dr[n] = dr / den;
      Di[n] = -di / den;
      const pr = params.p.re[i], pi = params.p.im[i];
      const p2 = pr * pr + pi * pi;
      pdp += 2 * p2 * Dr[n];
      // conj(P) B: (pr - i pi)(br + i bi) -> real part pr br + pi bi, imag pr bi - pi br
      const cbr = pr * params.b.re[i] + pi * params.b.im[i];
      const cbi = pr * params.b.im[i] - pi * params.b.re[i];
      pdb += 2 * (cbr * Dr[n] - cbi * Di[n]);
    }
    const r = 1 / (1 + c * pdp);
    let cg = 0;
    let cu = d ? d[h] : 0;
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const idr = Dr[n], idi = Di[n];
      // a = E / D
      const er = 1 + c * params.lambda.re[i], ei = c * params.lambda.im[i];
      const ar = er * idr - ei * idi, ai = er * idi + ei * idr;
      // w = conj(P) / D
      const pr = params.p.re[i], pi = params.p.im[i];
      const wr = pr * idr + pi * idi, wi = pr * idi - pi * idr;
      // q = P / D ; g = dt r q
      const qr = pr * idr - pi * idi, qi = pr * idi + pi * idr;
      const gr = dt * r * qr, gi = dt * r * qi;
      // bb = dt (B/D - c r q pdb)
      const br = params.b.re[i], bi = params.b.im[i];
      const bdr = br * idr - bi * idi, bdi = br * idi + bi * idr;
      const bbr = dt * (bdr - c * r * qr * pdb), bbi = dt * (bdi - c * r * qi * pdb);
      const Cr = C.re[i], Ci = C.im[i];
      put(out, base + at(0, n, N2), ar, ai);
      put(out, base + at(1, n, N2), wr, wi);
      put(out, base + at(2, n, N2), gr, gi);
      put(out, base + at(3, n, N2), bbr, bbi);
      put(out, base + at(4, n, N2), Cr * ar - Ci * ai, Cr * ai + Ci * ar);
      cg += 2 * (Cr * gr - Ci * gi);
      cu += 2 * (Cr * bbr - Ci * bbi);
    }
    out[base + 10 * N2] = cg;
    out[base + 10 * N2 + 1] = cu;
  }
  checkFinite(fn, 'step coefficients (from the parameters)', out);
  return out;
}

/** Step coefficients of a diagonal (S4D, ZOH) model; C used directly. float32 [H, 10 N2 + 2]. */
export function diagStepCoefficients(params: DiagParams64, d?: ArrayLike<number> | null): Float32Array {
  const fn = 'diagStepCoefficients';
  const { H, N2 } = params;
  const count = H * N2;
  checkComplex(fn, 'lambda', params.lambda, count);
  checkComplex(fn, 'b', params.b, count);
  checkComplex(fn, 'c', params.c, count);
  checkDt(fn, params.dt, H);
  checkD(fn, d, H);
  const stride = scanCoefStride(N2);
  const out = new Float32Array(H * stride);
  for (let h = 0; h < H; h++) {
    const dt = params.dt[h];
    const base = h * stride;
    let cu = d ? d[h] : 0;
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const lr = params.lambda.re[i], li = params.lambda.im[i];
      const mag = Math.exp(dt * lr);
      const ar = mag * Math.cos(dt * li), ai = mag * Math.sin(dt * li);
      // (exp(dt L) - 1) / L, with the L -> 0 limit dt
      let fr: number, fi: number;
      const l2 = lr * lr + li * li;
      if (l2 * dt * dt < 1e-20) {
        fr = dt;
        fi = 0;
      } else {
        const nr = ar - 1, ni = ai;
        fr = (nr * lr + ni * li) / l2;
        fi = (ni * lr - nr * li) / l2;
      }
      const br = params.b.re[i], bi = params.b.im[i];
      const bbr = fr * br - fi * bi, bbi = fr * bi + fi * br;
      const Cr = params.c.re[i], Ci = params.c.im[i];
      put(out, base + at(0, n, N2), ar, ai);
      put(out, base + at(1, n, N2), 0, 0);
      put(out, base + at(2, n, N2), 0, 0);
      put(out, base + at(3, n, N2), bbr, bbi);
      put(out, base + at(4, n, N2), Cr * ar - Ci * ai, Cr * ai + Ci * ar);
      cu += 2 * (Cr * bbr - Ci * bbi);
    }
    out[base + 10 * N2] = 0;
    out[base + 10 * N2 + 1] = cu;
  }
  checkFinite(fn, 'step coefficients (from the parameters)', out);
  return out;
}

/**
 * Float64 reference of the native scan for given coefficients (same algebra, double
 * state): y [B, H, T] from u [B, H, T], zero initial state. For tests.
 */
export function scanReference(coef: Float32Array, u: ArrayLike<number>, B: number, H: number, N2: number, T: number): Float64Array {
  const stride = scanCoefStride(N2);
  const y = new Float64Array(B * H * T);
  const xr = new Float64Array(N2), xi = new Float64Array(N2);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      xr.fill(0);
      xi.fill(0);
      const c = h * stride;
      const cg = coef[c + 10 * N2], cu = coef[c + 10 * N2 + 1];
      const row = (b * H + h) * T;
      for (let t = 0; t < T; t++) {
        const ut = u[row + t];
        let s = 0, o = 0;
        for (let n = 0; n < N2; n++) {
          const w = c + at(1, n, N2), ca = c + at(4, n, N2);
          s += coef[w] * xr[n] - coef[w + 1] * xi[n];
          o += coef[ca] * xr[n] - coef[ca + 1] * xi[n];
        }
        s *= 2;
        o *= 2;
        y[row + t] = o - cg * s + cu * ut;
        for (let n = 0; n < N2; n++) {
          const a = c + at(0, n, N2), g = c + at(2, n, N2), bb = c + at(3, n, N2);
          const re = coef[a] * xr[n] - coef[a + 1] * xi[n] - coef[g] * s + coef[bb] * ut;
          const im = coef[a] * xi[n] + coef[a + 1] * xr[n] - coef[g + 1] * s + coef[bb + 1] * ut;
          xr[n] = re;
          xi[n] = im;
        }
      }
    }
  }
  return y;
}
