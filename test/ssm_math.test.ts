import { describe, expect, it } from 'vitest';
import { cadjoint, cidentity, cmatmul, cmatrix, cmaxAbs, cadd, csolve, type CMatrix } from '../lib/ssm/complex';
import { bilinear, cToCTilde, discretizeDiag, discretizeDplr, dplrFull, zoh } from '../lib/ssm/discretize';
import { eigh } from '../lib/ssm/eigen';
import { rankCorrection, transition, type Measure } from '../lib/ssm/hippo';
import { initDiag, initDplr, MIN_NEG_RE, SeededRandom } from '../lib/ssm/init';
import { diagKernel64, dplrKernel64, dplrKernelNaive, naiveKernel } from '../lib/ssm/kernel64';
import { dplr, nplr, nplrDense } from '../lib/ssm/nplr';
import { cTildeToC, dplrKernelDense } from '../lib/ssm/step_setup';
import type { Complex64Array, DiagParams64, DplrParams64 } from '../lib/ssm/types';
import * as ssm from '../lib/ssm/index';
import { relL2 } from './helpers/device';
import { loadGolden } from './helpers/golden';

// ---- fixtures ----

const golden = loadGolden();
const flat = (a: unknown): Float64Array => Float64Array.from((a as unknown[]).flat(3) as number[]);
const cx = (o: { re: unknown; im: unknown }): Complex64Array => ({ re: flat(o.re), im: flat(o.im) });
const g = golden.dplr;
const goldenParams: DplrParams64 = { H: g.H, N2: g.N_half, lambda: cx(g.lambda), p: cx(g.p), b: cx(g.b), cTilde: cx(g.c_tilde), dt: flat(g.dt) };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

function cRel(a: CMatrix, b: CMatrix): number {
  return cmaxAbs(cadd(a, b, 1, -1)) / Math.max(cmaxAbs(b), 1e-300);
}

function randomComplex(rng: SeededRandom, n: number, scale = 1): Complex64Array {
  return { re: Float64Array.from({ length: n }, () => scale * rng.normal()), im: Float64Array.from({ length: n }, () => scale * rng.normal()) };
}

/** Random stable DPLR parameters (Re Lambda in [-1, -0.1], Im Lambda ~ pi n, random P, B, C~). */
function randomDplr(H: number, N2: number, seed: number): DplrParams64 {
  const rng = new SeededRandom(seed);
  const n = H * N2;
  return {
    H,
    N2,
    lambda: { re: Float64Array.from({ length: n }, () => -0.1 - 0.9 * rng.uniform()), im: Float64Array.from({ length: n }, (_, i) => -Math.PI * (i % N2) + rng.normal()) },
    p: randomComplex(rng, n, 0.5),
    b: randomComplex(rng, n),
    cTilde: randomComplex(rng, n),
    dt: Float64Array.from({ length: H }, () => Math.exp(Math.log(1e-3) + rng.uniform() * Math.log(100))),
  };
}

function randomDiag(H: number, N2: number, seed: number): DiagParams64 {
  const rng = new SeededRandom(seed);
  const n = H * N2;
  return {
    H,
    N2,
    lambda: { re: Float64Array.from({ length: n }, () => -0.05 - rng.uniform()), im: Float64Array.from({ length: n }, (_, i) => -Math.PI * (i % N2) + rng.normal()) },
    b: randomComplex(rng, n),
    c: randomComplex(rng, n),
    dt: Float64Array.from({ length: H }, () => 0.001 + 0.2 * rng.uniform()),
  };
}

const MEASURES: Measure[] = ['legs', 'legt', 'fout'];

// ---- HiPPO ----

describe('hippo transition', () => {
  it('legs N = 8 matches the official S4 (golden A, B)', () => {
    const { A, B } = transition('legs', 8);
    expect(maxAbsDiff(A, flat(golden.hippo_legs_N8.A))).toBeLessThan(1e-12);
    expect(maxAbsDiff(B, flat(golden.hippo_legs_N8.B))).toBeLessThan(1e-12);
  });

  it('A + sum_r P_r P_r^T is c I + skew-symmetric for every measure', () => {
    for (const m of MEASURES) {
      for (const N of [4, 8, 16]) {
        const { A } = transition(m, N);
        const rank = m === 'legt' ? 2 : 1;
        const P = rankCorrection(m, N, rank);
        const AP = A.slice();
        for (let r = 0; r < rank; r++) for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) AP[i * N + j] += P[r * N + i] * P[r * N + j];
        const c = AP[0];
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) expect(Math.abs(AP[i * N + j] + AP[j * N + i] - (i === j ? 2 * c : 0))).toBeLessThan(1e-12);
        }
      }
    }
  });

  it('rejects bad arguments naming them', () => {
    expect(() => transition('legx' as Measure, 4)).toThrow(/'measure'.*'legs', 'legt' or 'fout'/);
    expect(() => transition('legs', 0)).toThrow(RangeError);
    expect(() => rankCorrection('legt', 4, 1)).toThrow(/'rank'.*>= 2/);
  });
});

// ---- eigensolver ----

describe('eigh (complex Jacobi)', () => {
  function randomHermitian(n: number, seed: number): CMatrix {
    const rng = new SeededRandom(seed);
    const m = cmatrix(n, n);
    for (let i = 0; i < n; i++) {
      m.re[i * n + i] = rng.normal();
      for (let j = i + 1; j < n; j++) {
        m.re[i * n + j] = m.re[j * n + i] = rng.normal();
        m.im[i * n + j] = rng.normal();
        m.im[j * n + i] = -m.im[i * n + j];
      }
    }
    return m;
  }

  function check(m: CMatrix): ReturnType<typeof eigh> {
    const n = m.rows;
    const e = eigh(m);
    const D = cmatrix(n, n);
    for (let i = 0; i < n; i++) D.re[i * n + i] = e.values[i];
    expect(cRel(cmatmul(m, e.vectors), cmatmul(e.vectors, D))).toBeLessThan(1e-12);
    expect(cmaxAbs(cadd(cmatmul(cadjoint(e.vectors), e.vectors), cidentity(n), 1, -1))).toBeLessThan(1e-12);
    for (let i = 1; i < n; i++) expect(e.values[i]).toBeGreaterThanOrEqual(e.values[i - 1]);
    return e;
  }

  it('diagonalizes random Hermitian matrices, orthonormal vectors, ascending values', () => {
    for (const n of [1, 2, 5, 17]) check(randomHermitian(n, 10 + n));
  });

  it('handles repeated eigenvalues (U diag(1, 1, 2, 2, 2) U^*)', () => {
    const n = 5;
    const { vectors: U } = eigh(randomHermitian(n, 3));
    const D = cmatrix(n, n);
    [1, 1, 2, 2, 2].forEach((v, i) => (D.re[i * n + i] = v));
    const e = check(cmatmul(cmatmul(U, D), cadjoint(U)));
    expect(maxAbsDiff(e.values, [1, 1, 2, 2, 2])).toBeLessThan(1e-12);
  });

  it('is deterministic: the largest component of each vector is real and positive', () => {
    const m = randomHermitian(9, 5);
    const a = eigh(m), b = eigh(m);
    expect(Array.from(a.vectors.re)).toEqual(Array.from(b.vectors.re));
    const n = 9;
    for (let k = 0; k < n; k++) {
      let best = 0, piv = 0;
      for (let i = 0; i < n; i++) {
        const mag = Math.hypot(a.vectors.re[i * n + k], a.vectors.im[i * n + k]);
        if (mag > best * (1 + 1e-9)) [best, piv] = [mag, i];
      }
      expect(a.vectors.im[piv * n + k]).toBe(0);
      expect(a.vectors.re[piv * n + k]).toBeGreaterThan(0);
    }
  });

  it('rejects a non-Hermitian matrix', () => {
    const m = cmatrix(2, 2);
    m.re[1] = 1;
    expect(() => eigh(m)).toThrow(/Hermitian/);
  });
});

// ---- NPLR / DPLR ----

describe('nplr', () => {
  for (const m of MEASURES) {
    it(`${m}: V (Lambda - P P^*) V^* = A and V B~ = B (N = 4, 8, 16, 64), V orthonormal to its conjugate`, () => {
      for (const N of [4, 8, 16, 64]) {
        const f = nplr(m, N, { bClip: null });
        expect(f.N2).toBe(N / 2);
        expect(f.rank).toBe(m === 'legt' ? 2 : 1);
        const { A, B } = transition(m, N);
        const back = nplrDense(f);
        expect(cRel(back.A, { rows: N, cols: N, re: A, im: new Float64Array(N * N) })).toBeLessThan(1e-12);
        expect(cRel(back.B, { rows: N, cols: 1, re: B, im: new Float64Array(N) })).toBeLessThan(1e-12);
        // [V, conj V] unitary: V^* V = I and V^T V = 0.
        const Vh = cadjoint(f.V);
        expect(cmaxAbs(cadd(cmatmul(Vh, f.V), cidentity(N / 2), 1, -1))).toBeLessThan(1e-12);
        const Vc = { ...f.V, im: f.V.im.map((x) => -x) };
        expect(cmaxAbs(cmatmul(Vh, Vc))).toBeLessThan(1e-12);
        // Kept half: Im Lambda <= 0, ascending.
        for (let k = 0; k < N / 2; k++) expect(f.lambda.im[k]).toBeLessThanOrEqual(1e-12);
        for (let k = 1; k < N / 2; k++) expect(f.lambda.im[k]).toBeGreaterThanOrEqual(f.lambda.im[k - 1]);
      }
    });
  }

  it('legs N = 16 matches the official Lambda and |P| (golden dplr)', () => {
    // The golden parameters went through the official module's float32 parameters: compare
    // to float32 rounding.
    const f = nplr('legs', 16);
    const ref = goldenParams;
    expect(relL2(f.lambda.re, ref.lambda.re.subarray(0, 8))).toBeLessThan(1e-6);
    expect(relL2(f.lambda.im, ref.lambda.im.subarray(0, 8))).toBeLessThan(1e-6);
    const mag = (c: Complex64Array) => Float64Array.from({ length: 8 }, (_, k) => Math.hypot(c.re[k], c.im[k]));
    expect(relL2(mag(f.p), mag(ref.p))).toBeLessThan(1e-6);
    for (let k = 0; k < 8; k++) expect(Math.abs(f.lambda.im[k] - ref.lambda.im[k])).toBeLessThan(1e-6 * Math.abs(f.lambda.im[k]));
    // Phase convention here: P real positive, so legs B = sqrt 2 P (the official phases are LAPACK's).
    for (let k = 0; k < 8; k++) {
      expect(Math.abs(f.p.im[k])).toBeLessThan(1e-12);
      expect(f.p.re[k]).toBeGreaterThan(0);
      expect(f.b.re[k]).toBeCloseTo(Math.SQRT2 * f.p.re[k], 12);
    }
  });

  it('fout keeps its zero eigenvalue pair as (e0 + i e1)/sqrt 2', () => {
    const f = nplr('fout', 8);
    const k = f.N2 - 1;
    expect(f.lambda.re[k]).toBe(0);
    expect(Math.abs(f.lambda.im[k])).toBeLessThan(1e-12);
    expect(f.V.re[0 * f.N2 + k]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(f.V.im[1 * f.N2 + k]).toBeCloseTo(Math.SQRT1_2, 12);
    // Im Lambda of fout are -pi * (frequency), frequencies N/2 - 1 .. 0.
    expect(maxAbsDiff(f.lambda.im, [-3 * Math.PI, -2 * Math.PI, -Math.PI, 0])).toBeLessThan(1e-12);
  });

  it('clips |Im B| at bClip (default 2)', () => {
    const f = nplr('legt', 16);
    const raw = nplr('legt', 16, { bClip: null });
    let clipped = 0;
    for (let k = 0; k < 8; k++) {
      expect(Math.abs(f.b.im[k])).toBeLessThanOrEqual(2);
      expect(f.b.re[k]).toBe(raw.b.re[k]);
      if (Math.abs(raw.b.im[k]) > 2) clipped++;
    }
    expect(clipped).toBeGreaterThan(0);
  });

  it('hands out independent copies (cached eigendecomposition)', () => {
    const a = nplr('legs', 8);
    const want = a.lambda.im[0];
    a.lambda.im[0] = 123;
    a.V.re[0] = 123;
    const b = nplr('legs', 8);
    expect(b.lambda.im[0]).toBe(want);
    expect(b.V.re[0]).not.toBe(123);
  });

  it('dplr broadcasts the rank-1 form to H channels and refuses legt', () => {
    const d = dplr('legs', 8, 3);
    const f = nplr('legs', 8);
    for (let h = 0; h < 3; h++) expect(Array.from(d.lambda.im.subarray(h * 4, h * 4 + 4))).toEqual(Array.from(f.lambda.im));
    expect(() => dplr('legt', 8)).toThrow(/rank-2/);
    expect(() => nplr('legs', 7)).toThrow(/'N' must be an even integer/);
  });
});

// ---- discretization ----

describe('discretization', () => {
  const p = randomDplr(2, 4, 7);

  it('bilinear satisfies (I - dt/2 A) Ab = I + dt/2 A and (I - dt/2 A) Bb = dt B', () => {
    const { A, B } = dplrFull(p, 1);
    const dt = p.dt[1];
    const { Ab, Bb } = discretizeDplr(p, 1, 'bilinear');
    const I = cidentity(A.rows);
    const minus = cadd(I, A, 1, -dt / 2);
    expect(cRel(cmatmul(minus, Ab), cadd(I, A, 1, dt / 2))).toBeLessThan(1e-13);
    expect(cRel(cmatmul(minus, Bb), cadd(B, B, dt, 0))).toBeLessThan(1e-13);
  });

  it('ZOH satisfies A Bb = (Ab - I) B and Ab(dt1 + dt2) = Ab(dt1) Ab(dt2)', () => {
    const { A, B } = dplrFull(p, 0);
    const { Ab, Bb } = zoh(A, B, 0.3);
    const I = cidentity(A.rows);
    expect(cRel(cmatmul(A, Bb), cmatmul(cadd(Ab, I, 1, -1), B))).toBeLessThan(1e-12);
    const viaParams = discretizeDplr({ ...p, dt: Float64Array.of(0.3, 0.3) }, 0, 'zoh');
    expect(cRel(viaParams.Ab, Ab)).toBe(0);
    // ZOH and bilinear agree to O(dt^3) per step
    const small = 1e-3;
    expect(cRel(zoh(A, B, small).Ab, bilinear(A, B, small).Ab)).toBeLessThan(10 * small ** 3 * cmaxAbs(A) ** 3 + 1e-14);
    const a1 = zoh(A, B, 0.1).Ab, a2 = zoh(A, B, 0.2).Ab;
    expect(cRel(cmatmul(a1, a2), Ab)).toBeLessThan(1e-12);
    // exp of a large-norm matrix (scaling and squaring) still inverts exp(-dt A)
    const big = zoh(A, B, 5).Ab, inv = zoh(cadd(A, A, -1, 0), B, 5).Ab;
    expect(cmaxAbs(cadd(cmatmul(big, inv), I, 1, -1))).toBeLessThan(1e-10);
  });

  it('the diagonal closed forms equal the dense discretizations of diag(Lambda)', () => {
    const d = randomDiag(2, 5, 3);
    d.lambda.re[3] = 0; // the Lambda -> 0 limit of ZOH
    d.lambda.im[3] = 0;
    for (const disc of ['zoh', 'bilinear'] as const) {
      const { ab, bb } = discretizeDiag(d, disc);
      for (let h = 0; h < d.H; h++) {
        const A = cmatrix(5, 5);
        const B = cmatrix(5, 1);
        for (let n = 0; n < 5; n++) {
          A.re[n * 5 + n] = d.lambda.re[h * 5 + n];
          A.im[n * 5 + n] = d.lambda.im[h * 5 + n];
          B.re[n] = d.b.re[h * 5 + n];
          B.im[n] = d.b.im[h * 5 + n];
        }
        const dense = disc === 'zoh' ? zoh(A, B, d.dt[h]) : bilinear(A, B, d.dt[h]);
        for (let n = 0; n < 5; n++) {
          expect(Math.abs(ab.re[h * 5 + n] - dense.Ab.re[n * 5 + n]) + Math.abs(ab.im[h * 5 + n] - dense.Ab.im[n * 5 + n])).toBeLessThan(1e-13);
          expect(Math.abs(bb.re[h * 5 + n] - dense.Bb.re[n]) + Math.abs(bb.im[h * 5 + n] - dense.Bb.im[n])).toBeLessThan(1e-13);
        }
      }
    }
  });

  it('C <-> C~ round trip (cToCTilde here, cTildeToC in step_setup) and the golden C~', () => {
    const c = randomComplex(new SeededRandom(1), p.H * p.N2);
    for (const L of [1, 7, 64, 1000]) {
      const ct = cToCTilde(p, c, L);
      const back = cTildeToC({ ...p, cTilde: ct }, L);
      expect(relL2(back.re, c.re)).toBeLessThan(1e-10);
      expect(relL2(back.im, c.im)).toBeLessThan(1e-10);
    }
    const ct = cToCTilde(goldenParams, cx(g.c), g.L);
    expect(relL2(ct.re, goldenParams.cTilde.re)).toBeLessThan(1e-10);
    expect(relL2(ct.im, goldenParams.cTilde.im)).toBeLessThan(1e-10);
  });

  it('rejects bad parameters naming them', () => {
    expect(() => discretizeDplr({ ...p, dt: Float64Array.of(0.1, -1) }, 0)).toThrow(/'dt' must be positive/);
    expect(() => discretizeDplr(p, 0, 'euler' as 'zoh')).toThrow(/'disc'/);
    expect(() => discretizeDplr(p, 2)).toThrow(/'h'/);
    expect(() => cToCTilde(p, c0(p), 0)).toThrow(/'L' must be a positive integer/);
    expect(() => discretizeDiag({ ...randomDiag(1, 2, 1), b: { re: new Float64Array(2), im: Float64Array.of(0, NaN) } })).toThrow(/'b.im' has a non-finite value/);
  });
});

function c0(p: DplrParams64): Complex64Array {
  return { re: new Float64Array(p.H * p.N2), im: new Float64Array(p.H * p.N2) };
}

// ---- kernels ----

describe('float64 kernels', () => {
  it('golden DPLR kernel K (official S4, float64)', () => {
    const K = dplrKernel64(goldenParams, g.L);
    const err = relL2(K, flat(g.K));
    console.log(`dplrKernel64 vs official golden K: relative L2 ${err.toExponential(3)}`);
    expect(err).toBeLessThan(1e-4);
    expect(err).toBeLessThan(1e-12);
    expect(relL2(dplrKernelNaive(goldenParams, g.L), flat(g.K))).toBeLessThan(1e-12);
  });

  const cases: [number, number[]][] = [
    [4, [1, 2, 7, 64, 784, 1024]],
    [16, [1, 2, 7, 64, 784, 1024]],
    [64, [1, 2, 7, 64, 784]],
  ];
  for (const [N, Ls] of cases) {
    it(`generating function = naive products within 1e-9 (N = ${N}, L = ${Ls.join(', ')})`, () => {
      for (const L of Ls) {
        const sets = [randomDplr(2, N / 2, N + L), initDplr({ H: 2, N, init: 'legs', L, seed: L }), initDplr({ H: 1, N, init: 'fout', L, seed: 2 * L })];
        for (const params of sets) {
          const K = dplrKernel64(params, L);
          const naive = dplrKernelNaive(params, L);
          expect(relL2(K, naive)).toBeLessThan(1e-9);
          // and the independent dense reference (real representation) of step_setup
          if (L <= 784) expect(relL2(K, dplrKernelDense(params, L))).toBeLessThan(1e-9);
        }
      }
    });
  }

  it('the DPLR kernel is a truncation: K for L is the naive K[0..L) of the C the C~ came from', () => {
    // C~ built from one C for two lengths gives the same first taps.
    const base = initDplr({ H: 1, N: 8, L: 50, seed: 4 });
    const k50 = dplrKernel64(base, 50);
    const k9 = dplrKernel64({ ...base, cTilde: cToCTilde(base, base.c, 9) }, 9);
    expect(relL2(k9, k50.subarray(0, 9))).toBeLessThan(1e-12);
  });

  it('S4D Vandermonde kernel = naive products (ZOH and bilinear)', () => {
    const d = randomDiag(3, 6, 9);
    for (const disc of ['zoh', 'bilinear'] as const) {
      for (const L of [1, 7, 300]) {
        const K = diagKernel64(d, L, disc);
        const { ab, bb } = discretizeDiag(d, disc);
        for (let h = 0; h < d.H; h++) {
          const Ab = cmatrix(12, 12), Bb = cmatrix(12, 1), C = cmatrix(1, 12);
          for (let n = 0; n < 6; n++) {
            for (const [k, s] of [[n, 1], [n + 6, -1]]) {
              Ab.re[k * 12 + k] = ab.re[h * 6 + n];
              Ab.im[k * 12 + k] = s * ab.im[h * 6 + n];
              Bb.re[k] = bb.re[h * 6 + n];
              Bb.im[k] = s * bb.im[h * 6 + n];
              C.re[k] = d.c.re[h * 6 + n];
              C.im[k] = s * d.c.im[h * 6 + n];
            }
          }
          expect(relL2(K.subarray(h * L, (h + 1) * L), naiveKernel(Ab, Bb, C, L))).toBeLessThan(1e-11);
        }
      }
    }
  });

  it('rejects bad arguments naming them', () => {
    const p = randomDplr(1, 2, 1);
    expect(() => dplrKernel64(p, 0)).toThrow(/'L' must be a positive integer/);
    expect(() => dplrKernel64(p, 2.5)).toThrow(/'L'/);
    expect(() => dplrKernel64({ ...p, lambda: { re: Float64Array.of(NaN, -1), im: new Float64Array(2) } }, 4)).toThrow(/'lambda.re' has a non-finite/);
    expect(() => dplrKernel64({ ...p, p: { re: new Float64Array(3), im: new Float64Array(3) } }, 4)).toThrow(/'p.re' must be a Float64Array of 2/);
    expect(() => diagKernel64(randomDiag(1, 2, 1), 4, 'x' as 'zoh')).toThrow(/'disc'/);
    // a pole of the generating function (lambda = 0 at frequency 0) is an error, not NaN
    expect(() => dplrKernel64({ ...p, lambda: { re: new Float64Array(2), im: new Float64Array(2) } }, 4)).toThrow(/not finite/);
  });
});

// ---- initialization ----

describe('initialization', () => {
  it('initDplr: HiPPO A, B in every channel, dt log-uniform in range, C ~ CN(0, 1), C~ for L', () => {
    const H = 400, N = 16, L = 32;
    const p = initDplr({ H, N, init: 'legs', dtMin: 1e-3, dtMax: 1e-1, L, seed: 42 });
    const f = nplr('legs', N);
    for (let h = 0; h < H; h++) {
      expect(Array.from(p.lambda.im.subarray(h * 8, h * 8 + 8))).toEqual(Array.from(f.lambda.im));
      expect(Array.from(p.b.re.subarray(h * 8, h * 8 + 8))).toEqual(Array.from(f.b.re));
      expect(Array.from(p.p.re.subarray(h * 8, h * 8 + 8))).toEqual(Array.from(f.p.re));
    }
    const logs = Array.from(p.dt, Math.log);
    for (const x of logs) expect(x >= Math.log(1e-3) && x <= Math.log(1e-1)).toBe(true);
    const mean = logs.reduce((s, x) => s + x, 0) / H;
    expect(Math.abs(mean - (Math.log(1e-3) + Math.log(1e-1)) / 2)).toBeLessThan(0.2);
    expect(Math.min(...logs)).toBeLessThan(Math.log(1e-3) + 0.1);
    expect(Math.max(...logs)).toBeGreaterThan(Math.log(1e-1) - 0.1);
    const n = p.c.re.length;
    const variance = (a: Float64Array) => a.reduce((s, x) => s + x * x, 0) / n;
    expect(Math.abs(variance(p.c.re) - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(variance(p.c.im) - 0.5)).toBeLessThan(0.05);
    const back = cTildeToC(p, L);
    expect(relL2(back.re, p.c.re)).toBeLessThan(1e-9);
    expect(relL2(back.im, p.c.im)).toBeLessThan(1e-9);
  });

  it('initDplr fout caps Re Lambda at -1e-4 (official clamp), keeping the kernel finite', () => {
    const p = initDplr({ H: 2, N: 8, init: 'fout', L: 16, seed: 1 });
    for (const x of p.lambda.re) expect(x).toBe(-MIN_NEG_RE);
    const K = dplrKernel64(p, 16);
    expect(relL2(K, dplrKernelNaive(p, 16))).toBeLessThan(1e-9);
  });

  it('is deterministic with a seed and differs across seeds', () => {
    const a = initDplr({ H: 3, N: 8, L: 10, seed: 5 });
    const b = initDplr({ H: 3, N: 8, L: 10, seed: 5 });
    const c = initDplr({ H: 3, N: 8, L: 10, seed: 6 });
    expect(Array.from(a.cTilde.re)).toEqual(Array.from(b.cTilde.re));
    expect(Array.from(a.dt)).toEqual(Array.from(b.dt));
    expect(Array.from(a.c.re)).not.toEqual(Array.from(c.c.re));
    expect(Array.from(a.dt)).not.toEqual(Array.from(c.dt));
    const d1 = initDiag({ H: 3, N: 8, init: 'lin', seed: 5 });
    const d2 = initDiag({ H: 3, N: 8, init: 'lin', seed: 5 });
    expect(Array.from(d1.c.im)).toEqual(Array.from(d2.c.im));
  });

  it('initDiag: S4D-Lin, S4D-Inv, S4D-LegS', () => {
    const N = 8, H = 2;
    const lin = initDiag({ H, N, init: 'lin', seed: 1 });
    const inv = initDiag({ H, N, init: 'inv', seed: 1 });
    const legs = initDiag({ H, N, init: 'legs', seed: 1 });
    const f = nplr('legs', N);
    for (let h = 0; h < H; h++) {
      for (let n = 0; n < N / 2; n++) {
        const i = h * (N / 2) + n;
        for (const d of [lin, inv, legs]) expect(d.lambda.re[i]).toBe(-0.5);
        expect(lin.lambda.im[i]).toBeCloseTo(-Math.PI * n, 12);
        expect(inv.lambda.im[i]).toBeCloseTo(-(N / Math.PI) * (N / (2 * n + 1) - 1), 12);
        expect(lin.b.re[i]).toBe(1);
        expect(lin.b.im[i]).toBe(0);
        expect(legs.lambda.im[i]).toBe(f.lambda.im[n]);
        expect(legs.b.re[i]).toBe(f.b.re[n]);
      }
    }
    for (const x of legs.dt) expect(x >= 1e-3 && x <= 1e-1).toBe(true);
    // the S4D kernel of an initialized layer is finite and decays (Re Lambda = -1/2: by
    // exp(-dt L / 2) over L steps)
    const L = 4000;
    const K = diagKernel64(legs, L);
    for (let h = 0; h < H; h++) {
      const row = K.subarray(h * L, (h + 1) * L);
      for (const x of row) expect(Number.isFinite(x)).toBe(true);
      const head = Math.max(...row.subarray(0, 50).map(Math.abs));
      const tail = Math.max(...row.subarray(L - 50).map(Math.abs));
      expect(head).toBeGreaterThan(0);
      expect(tail).toBeLessThan(head * Math.exp(-0.5 * legs.dt[h] * (L - 100)) * 10);
    }
  });

  it('rejects bad options naming them', () => {
    expect(() => initDplr({ H: 1, N: 7, L: 4 })).toThrow(/'N' must be even/);
    expect(() => initDplr({ H: 0, N: 8, L: 4 })).toThrow(/'H'/);
    expect(() => initDplr({ H: 1, N: 8, L: 0 })).toThrow(/'L'/);
    expect(() => initDplr({ H: 1, N: 8, L: 4, dtMin: 0 })).toThrow(/'dtMin'/);
    expect(() => initDplr({ H: 1, N: 8, L: 4, dtMin: 0.1, dtMax: 0.01 })).toThrow(/'dtMax'/);
    expect(() => initDplr({ H: 1, N: 8, L: 4, seed: -1 })).toThrow(/'seed'/);
    expect(() => initDplr({ H: 1, N: 8, L: 4, init: 'legx' as Measure })).toThrow(TypeError);
    expect(() => initDplr({ H: 1, N: 8, L: 4, init: 'legt' })).toThrow(/rank-2/);
    expect(() => initDiag({ H: 1, N: 8, init: 'foo' as 'lin' })).toThrow(/'init'/);
  });
});

describe('s4.ssm namespace', () => {
  it('exports the set-up math by name, and not the test references', () => {
    for (const name of ['transition', 'nplr', 'dplr', 'bilinear', 'zoh', 'cToCTilde', 'cTildeToC', 'initDplr', 'initDiag', 'dplrKernel64', 'diagKernel64', 'stepper', 'diagStepper']) {
      expect(typeof (ssm as Record<string, unknown>)[name]).toBe('function');
    }
    for (const name of ['eigh', 'dplrKernelDense', 'naiveKernel', 'scanReference', 'cmatrix', 'csolve']) {
      expect((ssm as Record<string, unknown>)[name]).toBeUndefined();
    }
  });

  it('csolve solves complex systems (residual at rounding)', () => {
    const rng = new SeededRandom(8);
    const n = 7;
    const A = cmatrix(n, n), B = cmatrix(n, 2);
    for (const m of [A, B]) for (let i = 0; i < m.re.length; i++) [m.re[i], m.im[i]] = [rng.normal(), rng.normal()];
    const X = csolve(A, B);
    expect(cRel(cmatmul(A, X), B)).toBeLessThan(1e-12);
    expect(() => csolve(cmatrix(2, 2), cmatrix(2, 1))).toThrow(/singular/);
  });
});
