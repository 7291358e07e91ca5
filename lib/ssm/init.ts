/**
 * Initialization of a layer's SSM parameters (float64), as the official S4 / S4D:
 *
 *  dt_h = exp(U[log dtMin, log dtMax])      per channel (log-uniform)
 *  C    ~ complex normal, variance 1/2 per part (torch.randn of a complex dtype), per channel
 *  DPLR (initDplr): Lambda, P, B from nplr(init, N) broadcast to every channel, and
 *       C~ = C (I - Ab^L) for the kernel length L (official _setup_C on the first call).
 *       Re Lambda is capped at -1e-4 as the official parameter transform does (it clamps
 *       -Re Lambda to >= 1e-4): fout's normal part has Re Lambda = 0 and a zero eigenvalue,
 *       where Ab would have the eigenvalue 1, I - Ab^L would be singular and the Cauchy
 *       sums would divide by zero.
 *  Diagonal (initDiag, S4D): Re Lambda = -1/2 and
 *       'legs' | 'legt' | 'fout': Im Lambda and B from the normal part of the HiPPO matrix
 *                                 ('legs' = S4D-LegS; the others the same construction)
 *       'lin'  (S4D-Lin):  Im Lambda_n = -pi n,                    B = 1
 *       'inv'  (S4D-Inv):  Im Lambda_n = -N/pi (N/(2n + 1) - 1),    B = 1
 * Imaginary parts are <= 0, the half of each conjugate pair the official code keeps (the
 * other half is implied). Everything is seeded: the same options give the same numbers.
 */
import { cToCTilde } from './discretize';
import { MEASURES, type Measure } from './hippo';
import { dplr, nplr } from './nplr';
import type { Complex64Array, DiagParams64, DplrParams64 } from './types';

/** Smallest -Re Lambda of an initialized DPLR layer (official: clamp of the A_real parameter). */
export const MIN_NEG_RE = 1e-4;

export type DiagInit = Measure | 'lin' | 'inv';

export interface InitDplrOptions {
  H: number;
  /** State size (even); N/2 pairs are stored. */
  N: number;
  init?: Measure;
  dtMin?: number;
  dtMax?: number;
  /** Kernel length C~ is set up for. */
  L: number;
  seed?: number;
  /** Clip of |Im B| (official 2), null for none. */
  bClip?: number | null;
}

export interface InitDiagOptions {
  H: number;
  N: number;
  init?: DiagInit;
  dtMin?: number;
  dtMax?: number;
  seed?: number;
  bClip?: number | null;
}

/** DPLR parameters plus the C they were made from and the length L of C~. */
export interface DplrInit64 extends DplrParams64 {
  c: Complex64Array;
  L: number;
}

/** Seeded uniform [0, 1) (mulberry32) and standard normal (Box-Muller) draws. */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

function checkInt(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${fn}: option '${name}' must be an integer >= ${min} (got ${String(v)})`);
  return v;
}

function checkCommon(fn: string, opts: { H: number; N: number; dtMin?: number; dtMax?: number; seed?: number }): { H: number; N: number; dtMin: number; dtMax: number; seed: number } {
  if (!opts || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with H and N`);
  const H = checkInt(fn, 'H', opts.H, 1);
  const N = checkInt(fn, 'N', opts.N, 2);
  if (N % 2 !== 0) throw new RangeError(`${fn}: option 'N' must be even (N/2 conjugate pairs are stored; got ${N})`);
  const dtMin = opts.dtMin ?? 1e-3;
  const dtMax = opts.dtMax ?? 1e-1;
  if (typeof dtMin !== 'number' || !(dtMin > 0) || !Number.isFinite(dtMin)) throw new RangeError(`${fn}: option 'dtMin' must be a positive finite number (got ${String(dtMin)})`);
  if (typeof dtMax !== 'number' || !(dtMax >= dtMin) || !Number.isFinite(dtMax)) throw new RangeError(`${fn}: option 'dtMax' must be a finite number >= dtMin = ${dtMin} (got ${String(dtMax)})`);
  const seed = checkInt(fn, 'seed', opts.seed ?? 0, 0);
  if (seed > 0xffffffff) throw new RangeError(`${fn}: option 'seed' must be an integer in [0, 2^32) (got ${seed})`);
  return { H, N, dtMin, dtMax, seed };
}

/** dt [H], log-uniform in [dtMin, dtMax]. */
function drawDt(rng: SeededRandom, H: number, dtMin: number, dtMax: number): Float64Array {
  const lo = Math.log(dtMin), hi = Math.log(dtMax);
  return Float64Array.from({ length: H }, () => Math.exp(lo + rng.uniform() * (hi - lo)));
}

/** Complex normal [count] with variance 1/2 per part. */
function drawC(rng: SeededRandom, count: number): Complex64Array {
  const re = new Float64Array(count), im = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    re[i] = rng.normal() * Math.SQRT1_2;
    im[i] = rng.normal() * Math.SQRT1_2;
  }
  return { re, im };
}

function tile(values: ArrayLike<number>, H: number): Float64Array {
  const out = new Float64Array(H * values.length);
  for (let h = 0; h < H; h++) out.set(values, h * values.length);
  return out;
}

/** S4 (DPLR) parameters of a layer: A, B from HiPPO, dt log-uniform, C random, stored as C~ for L. */
export function initDplr(opts: InitDplrOptions): DplrInit64 {
  const fn = 'initDplr';
  const { H, N, dtMin, dtMax, seed } = checkCommon(fn, opts);
  const init = opts.init ?? 'legs';
  if (!MEASURES.includes(init)) throw new TypeError(`${fn}: option 'init' must be 'legs', 'legt' or 'fout' (got ${String(init)})`);
  if (init === 'legt') throw new RangeError(`${fn}: init 'legt' needs a rank-2 correction (A = diag(Lambda) - P P^* with P of 2 rows); the DPLR kernels take rank 1: use 'legs' or 'fout', or the diagonal kernel`);
  const L = checkInt(fn, 'L', opts.L, 1);
  const base = dplr(init, N, H, { bClip: opts.bClip });
  const rng = new SeededRandom(seed);
  const dt = drawDt(rng, H, dtMin, dtMax);
  const c = drawC(rng, H * base.N2);
  const lambda = { re: base.lambda.re.map((x) => Math.min(x, -MIN_NEG_RE)), im: base.lambda.im };
  const partial = { H, N2: base.N2, lambda, p: base.p, b: base.b, dt };
  const cTilde = cToCTilde(partial, c, L);
  return { ...partial, cTilde, c, L };
}

/** S4D (diagonal) parameters of a layer. */
export function initDiag(opts: InitDiagOptions): DiagParams64 {
  const fn = 'initDiag';
  const { H, N, dtMin, dtMax, seed } = checkCommon(fn, opts);
  const init = opts.init ?? 'legs';
  const N2 = N / 2;
  let im: Float64Array;
  let b: Complex64Array;
  if (MEASURES.includes(init as Measure)) {
    const f = nplr(init as Measure, N, { bClip: opts.bClip });
    im = f.lambda.im.slice();
    b = { re: f.b.re.slice(), im: f.b.im.slice() };
  } else if (init === 'lin' || init === 'inv') {
    im = Float64Array.from({ length: N2 }, (_, n) => (init === 'lin' ? -Math.PI * n : -(N / Math.PI) * (N / (2 * n + 1) - 1)));
    b = { re: new Float64Array(N2).fill(1), im: new Float64Array(N2) };
  } else {
    throw new TypeError(`${fn}: option 'init' must be 'legs', 'legt', 'fout', 'lin' or 'inv' (got ${String(init)})`);
  }
  const rng = new SeededRandom(seed);
  const dt = drawDt(rng, H, dtMin, dtMax);
  const c = drawC(rng, H * N2);
  return {
    H,
    N2,
    lambda: { re: new Float64Array(H * N2).fill(-0.5), im: tile(im, H) },
    b: { re: tile(b.re, H), im: tile(b.im, H) },
    c,
    dt,
  };
}
