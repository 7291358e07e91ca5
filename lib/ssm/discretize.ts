/**
 * Discretization of continuous SSMs (float64), dense and structured, and C -> C~.
 *
 *   bilinear: Ab = (I - dt/2 A)^-1 (I + dt/2 A),   Bb = (I - dt/2 A)^-1 dt B
 *   ZOH:      Ab = exp(dt A),                        Bb = A^-1 (exp(dt A) - I) B
 *
 * DPLR parameters are expanded to the full conjugate-symmetric state [x; conj x]
 * (N = 2 N2): A = diag(Lambda, conj Lambda) - Pf Pf^*, Pf = [P; conj P], Bf = [B; conj B],
 * and the output row is Cf = [C, conj C], so y = Cf x is real. The diagonal (S4D) form is
 * discretized per state in closed form.
 */
import { cadd, cexpm, cidentity, cmatrix, csolve, type CMatrix } from './complex';
import type { Complex64Array, DiagParams64, DplrParams64 } from './types';

export type Discretization = 'bilinear' | 'zoh';

function checkDisc(fn: string, disc: unknown): asserts disc is Discretization {
  if (disc !== 'bilinear' && disc !== 'zoh') throw new TypeError(`${fn}: argument 'disc' must be 'bilinear' or 'zoh' (got ${String(disc)})`);
}

function checkFiniteArray(fn: string, name: string, a: unknown, count: number): void {
  if (!(a instanceof Float64Array) || a.length !== count) throw new RangeError(`${fn}: parameter '${name}' must be a Float64Array of ${count} values`);
  for (let i = 0; i < count; i++) if (!Number.isFinite(a[i])) throw new RangeError(`${fn}: parameter '${name}' has a non-finite value at index ${i}`);
}

function checkComplex(fn: string, name: string, c: Complex64Array | undefined, count: number): void {
  if (!c || typeof c !== 'object') throw new TypeError(`${fn}: parameter '${name}' must be { re, im } with ${count} values each`);
  checkFiniteArray(fn, `${name}.re`, c.re, count);
  checkFiniteArray(fn, `${name}.im`, c.im, count);
}

function checkShape(fn: string, H: unknown, N2: unknown): void {
  if (!Number.isInteger(H) || (H as number) < 1) throw new RangeError(`${fn}: parameter 'H' must be a positive integer (got ${String(H)})`);
  if (!Number.isInteger(N2) || (N2 as number) < 1) throw new RangeError(`${fn}: parameter 'N2' must be a positive integer (got ${String(N2)})`);
}

function checkDt(fn: string, dt: Float64Array, H: number): void {
  checkFiniteArray(fn, 'dt', dt, H);
  for (let h = 0; h < H; h++) if (!(dt[h] > 0)) throw new RangeError(`${fn}: parameter 'dt' must be positive (dt[${h}] = ${dt[h]})`);
}

/** Checks a DPLR parameter set (cTilde too unless withCTilde is false); throws naming the parameter. */
export function validateDplr64(fn: string, params: DplrParams64, withCTilde = true): void {
  if (!params || typeof params !== 'object') throw new TypeError(`${fn}: argument 'params' must be an object { H, N2, lambda, p, b, cTilde, dt }`);
  checkShape(fn, params.H, params.N2);
  const count = params.H * params.N2;
  checkComplex(fn, 'lambda', params.lambda, count);
  checkComplex(fn, 'p', params.p, count);
  checkComplex(fn, 'b', params.b, count);
  if (withCTilde) checkComplex(fn, 'cTilde', params.cTilde, count);
  checkDt(fn, params.dt, params.H);
}

/** Checks a diagonal parameter set; throws naming the parameter. */
export function validateDiag64(fn: string, params: DiagParams64): void {
  if (!params || typeof params !== 'object') throw new TypeError(`${fn}: argument 'params' must be an object { H, N2, lambda, b, c, dt }`);
  checkShape(fn, params.H, params.N2);
  const count = params.H * params.N2;
  checkComplex(fn, 'lambda', params.lambda, count);
  checkComplex(fn, 'b', params.b, count);
  checkComplex(fn, 'c', params.c, count);
  checkDt(fn, params.dt, params.H);
}

/** Bilinear discretization of a dense (A n x n, B n x m). */
export function bilinear(A: CMatrix, B: CMatrix, dt: number): { Ab: CMatrix; Bb: CMatrix } {
  const n = A.rows;
  if (A.cols !== n || B.rows !== n) throw new RangeError(`bilinear: A must be n x n and B n x m (got ${A.rows}x${A.cols}, ${B.rows}x${B.cols})`);
  if (!(dt > 0) || !Number.isFinite(dt)) throw new RangeError(`bilinear: argument 'dt' must be positive and finite (got ${dt})`);
  const I = cidentity(n);
  const minus = cadd(I, A, 1, -dt / 2);
  const plus = cadd(I, A, 1, dt / 2);
  return { Ab: csolve(minus, plus), Bb: csolve(minus, cadd(B, B, dt, 0)) };
}

/** Zero-order hold of a dense (A, B), from exp(dt [[A, B], [0, 0]]) (no inverse of A needed). */
export function zoh(A: CMatrix, B: CMatrix, dt: number): { Ab: CMatrix; Bb: CMatrix } {
  const n = A.rows, m = B.cols;
  if (A.cols !== n || B.rows !== n) throw new RangeError(`zoh: A must be n x n and B n x m (got ${A.rows}x${A.cols}, ${B.rows}x${B.cols})`);
  if (!(dt > 0) || !Number.isFinite(dt)) throw new RangeError(`zoh: argument 'dt' must be positive and finite (got ${dt})`);
  const k = n + m;
  const aug = cmatrix(k, k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      aug.re[i * k + j] = dt * A.re[i * n + j];
      aug.im[i * k + j] = dt * A.im[i * n + j];
    }
    for (let j = 0; j < m; j++) {
      aug.re[i * k + n + j] = dt * B.re[i * m + j];
      aug.im[i * k + n + j] = dt * B.im[i * m + j];
    }
  }
  const E = cexpm(aug);
  const Ab = cmatrix(n, n), Bb = cmatrix(n, m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      Ab.re[i * n + j] = E.re[i * k + j];
      Ab.im[i * n + j] = E.im[i * k + j];
    }
    for (let j = 0; j < m; j++) {
      Bb.re[i * m + j] = E.re[i * k + n + j];
      Bb.im[i * m + j] = E.im[i * k + n + j];
    }
  }
  return { Ab, Bb };
}

/** Row [c, conj c] (1 x N) of channel h of a half-space complex array [H, N2]. */
export function fullRow(c: Complex64Array, h: number, N2: number): CMatrix {
  const r = cmatrix(1, 2 * N2);
  for (let n = 0; n < N2; n++) {
    r.re[n] = r.re[N2 + n] = c.re[h * N2 + n];
    r.im[n] = c.im[h * N2 + n];
    r.im[N2 + n] = -c.im[h * N2 + n];
  }
  return r;
}

/** Continuous (A, B) of channel h of a DPLR model in the full state, N x N and N x 1. */
export function dplrFull(params: Pick<DplrParams64, 'N2' | 'lambda' | 'p' | 'b'>, h: number): { A: CMatrix; B: CMatrix } {
  const { N2 } = params;
  const N = 2 * N2;
  const pf = fullRow(params.p, h, N2);
  const bf = fullRow(params.b, h, N2);
  const A = cmatrix(N, N);
  const B = cmatrix(N, 1);
  for (let i = 0; i < N; i++) {
    const pr = pf.re[i], pi = pf.im[i];
    for (let j = 0; j < N; j++) {
      // -(Pf Pf^*)_ij = -P_i conj(P_j)
      const qr = pf.re[j], qi = -pf.im[j];
      A.re[i * N + j] = -(pr * qr - pi * qi);
      A.im[i * N + j] = -(pr * qi + pi * qr);
    }
    const n = i % N2, sign = i < N2 ? 1 : -1;
    A.re[i * N + i] += params.lambda.re[h * N2 + n];
    A.im[i * N + i] += sign * params.lambda.im[h * N2 + n];
    B.re[i] = bf.re[i];
    B.im[i] = bf.im[i];
  }
  return { A, B };
}

/** Discretized (Ab N x N, Bb N x 1) of channel h of a DPLR model in the full state. */
export function discretizeDplr(params: DplrParams64, h: number, disc: Discretization = 'bilinear'): { Ab: CMatrix; Bb: CMatrix } {
  const fn = 'discretizeDplr';
  checkDisc(fn, disc);
  validateDplr64(fn, params, false);
  if (!Number.isInteger(h) || h < 0 || h >= params.H) throw new RangeError(`${fn}: argument 'h' must be an integer in [0, ${params.H}) (got ${h})`);
  const { A, B } = dplrFull(params, h);
  return disc === 'bilinear' ? bilinear(A, B, params.dt[h]) : zoh(A, B, params.dt[h]);
}

/**
 * Per-state discretization of a diagonal model: ab, bb complex [H, N2].
 * ZOH uses exp(x) - 1 = expm1(Re x) cos(Im x) - 2 sin^2(Im x / 2) + i e^{Re x} sin(Im x), exact
 * for small dt Lambda, and the limit dt B at Lambda = 0.
 */
export function discretizeDiag(params: DiagParams64, disc: Discretization = 'zoh'): { ab: Complex64Array; bb: Complex64Array } {
  const fn = 'discretizeDiag';
  checkDisc(fn, disc);
  validateDiag64(fn, params);
  const { H, N2 } = params;
  const ab = { re: new Float64Array(H * N2), im: new Float64Array(H * N2) };
  const bb = { re: new Float64Array(H * N2), im: new Float64Array(H * N2) };
  for (let h = 0; h < H; h++) {
    const dt = params.dt[h];
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const lr = params.lambda.re[i], li = params.lambda.im[i];
      let ar: number, ai: number, fr: number, fi: number; // f: Bb / B
      if (disc === 'zoh') {
        const xr = dt * lr, xi = dt * li;
        const m = Math.exp(xr);
        ar = m * Math.cos(xi);
        ai = m * Math.sin(xi);
        const er = Math.expm1(xr) * Math.cos(xi) - 2 * Math.sin(xi / 2) ** 2, ei = ai;
        const l2 = lr * lr + li * li;
        if (l2 === 0) {
          fr = dt;
          fi = 0;
        } else {
          fr = (er * lr + ei * li) / l2;
          fi = (ei * lr - er * li) / l2;
        }
      } else {
        const dr = 1 - (dt / 2) * lr, di = -(dt / 2) * li;
        const den = dr * dr + di * di;
        const ur = 1 + (dt / 2) * lr, ui = (dt / 2) * li;
        ar = (ur * dr + ui * di) / den;
        ai = (ui * dr - ur * di) / den;
        fr = (dt * dr) / den;
        fi = (-dt * di) / den;
      }
      ab.re[i] = ar;
      ab.im[i] = ai;
      const br = params.b.re[i], bi = params.b.im[i];
      bb.re[i] = fr * br - fi * bi;
      bb.im[i] = fr * bi + fi * br;
    }
  }
  return { ab, bb };
}

/**
 * C~ = C (I - Ab^L) per channel (bilinear Ab of the DPLR model; params.cTilde is ignored).
 * C Ab^L is L row-vector products with the Woodbury form of Ab (O(N L) per channel, see
 * step_setup.ts): with c = dt/2, D = 1 - c Lambda, E = 1 + c Lambda over the full state,
 *   x Ab = x E/D - dt r (x . P/D) conj(P)/D,   r = 1 / (1 + c P^* D^-1 P),
 * and every full-state sum is 2 Re of the half sum. The inverse is cTildeToC in step_setup.ts.
 */
export function cToCTilde(params: Omit<DplrParams64, 'cTilde'> & { cTilde?: Complex64Array }, c: Complex64Array, L: number): Complex64Array {
  const fn = 'cToCTilde';
  validateDplr64(fn, params as DplrParams64, false);
  checkComplex(fn, 'c', c, params.H * params.N2);
  if (!Number.isInteger(L) || L < 1) throw new RangeError(`${fn}: argument 'L' must be a positive integer (got ${L})`);
  const { H, N2 } = params;
  const re = new Float64Array(H * N2), im = new Float64Array(H * N2);
  const ar = new Float64Array(N2), ai = new Float64Array(N2); // E / D
  const qr = new Float64Array(N2), qi = new Float64Array(N2); // P / D
  const gr = new Float64Array(N2), gi = new Float64Array(N2); // conj(P) / D
  const xr = new Float64Array(N2), xi = new Float64Array(N2);
  for (let h = 0; h < H; h++) {
    const dt = params.dt[h];
    const half = dt / 2;
    let pdp = 0;
    for (let n = 0; n < N2; n++) {
      const i = h * N2 + n;
      const lr = params.lambda.re[i], li = params.lambda.im[i];
      const dr = 1 - half * lr, di = -half * li;
      const den = dr * dr + di * di;
      const idr = dr / den, idi = -di / den;
      const er = 1 + half * lr, ei = half * li;
      ar[n] = er * idr - ei * idi;
      ai[n] = er * idi + ei * idr;
      const pr = params.p.re[i], pi = params.p.im[i];
      qr[n] = pr * idr - pi * idi;
      qi[n] = pr * idi + pi * idr;
      gr[n] = pr * idr + pi * idi;
      gi[n] = pr * idi - pi * idr;
      pdp += 2 * (pr * pr + pi * pi) * idr;
      xr[n] = c.re[i];
      xi[n] = c.im[i];
    }
    const k = dt / (1 + half * pdp);
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let n = 0; n < N2; n++) s += 2 * (xr[n] * qr[n] - xi[n] * qi[n]);
      for (let n = 0; n < N2; n++) {
        const vr = xr[n] * ar[n] - xi[n] * ai[n] - k * s * gr[n];
        const vi = xr[n] * ai[n] + xi[n] * ar[n] - k * s * gi[n];
        xr[n] = vr;
        xi[n] = vi;
      }
    }
    for (let n = 0; n < N2; n++) {
      re[h * N2 + n] = c.re[h * N2 + n] - xr[n];
      im[h * N2 + n] = c.im[h * N2 + n] - xi[n];
    }
  }
  return { re, im };
}
