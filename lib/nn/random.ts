/**
 * Seeded random numbers for parameter initialization: the same seed gives the same model
 * on every machine and backend (values are drawn in TS, then uploaded).
 */

/** mulberry32: small, fast, good enough for initialization; state is one uint32. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new TypeError(`Rng: argument 'seed' must be a finite number (got ${String(seed)})`);
    this.s = Math.floor(seed) >>> 0;
  }

  /** A uint32. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u1 = (this.nextUint32() + 1) / 4294967297; // (0, 1): log stays finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** n values uniform in [lo, hi). */
  uniformArray(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** n standard normal values times std. */
  normalArray(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = std * this.normal();
    return out;
  }

  /** A seed for a sub-module, so that adding draws in one module does not shift another. */
  fork(): number {
    return this.nextUint32();
  }
}
