/**
 * Synthetic sequence tasks that need no download. Example i is drawn from its own seeded
 * generator (seed, i), so a dataset is the same in any batch order, on resume, and on every
 * machine; train and test splits use different seeds.
 *
 *  - sine:   forecast the next value of a sine of random frequency, phase and amplitude
 *            (x [B, 1, L], y [B, 1, L] = x shifted left by one; mean squared error).
 *  - adding: the adding problem (Hochreiter & Schmidhuber): channel 0 holds uniform [0, 1)
 *            values, channel 1 marks one position in each half; the target is the sum of the
 *            two marked values (x [B, 2, L], y [B, 1]). Predicting 1 gives MSE 1/6.
 *  - copy:   the copying-memory task: M symbols from an alphabet of K, then blanks, a
 *            delimiter, M blanks; the model must output the M symbols at the end and blanks
 *            elsewhere (tokens x [B, L], L = M + delay + M, y [B * L]).
 */
import { Rng } from '../../nn/random';
import { checkIndices, type Batch, type Dataset } from './dataset';

function positiveInt(fn: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${fn}: option '${name}' must be an integer >= ${min} (got ${String(v)})`);
  return v;
}

/** A generator for example `index` of a dataset seeded with `seed`. */
export function exampleRng(seed: number, index: number): Rng {
  // Mix so that neighbouring (seed, index) pairs give unrelated streams.
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}

export interface SyntheticOptions {
  /** Number of examples. */
  size: number;
  /** Sequence length L (copy: the delay between the symbols and the delimiter instead). */
  length: number;
  seed?: number;
}

/** `size` examples of sequence length `length` (at least 2), example i drawn from (seed, i). */
abstract class FixedLengthDataset {
  readonly size: number;
  readonly length: number;
  protected readonly seed: number;

  constructor(fn: string, opts: SyntheticOptions) {
    this.size = positiveInt(fn, 'size', opts.size);
    this.length = positiveInt(fn, 'length', opts.length, 2);
    this.seed = opts.seed ?? 0;
  }
}

export class SineDataset extends FixedLengthDataset implements Dataset {
  readonly name = 'sine';

  constructor(opts: SyntheticOptions) {
    super('SineDataset', opts);
  }

  /** L + 1 samples of one sine: input is the first L, target the last L. */
  series(index: number): Float64Array {
    const r = exampleRng(this.seed, index);
    const freq = 0.01 + 0.09 * r.uniform(); // cycles per step: periods of 10 to 100 steps
    const phase = 2 * Math.PI * r.uniform();
    const amp = 0.5 + r.uniform();
    const s = new Float64Array(this.length + 1);
    for (let t = 0; t <= this.length; t++) s[t] = amp * Math.sin(2 * Math.PI * freq * t + phase);
    return s;
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    const B = indices.length;
    const L = this.length;
    const x = new Float32Array(B * L);
    const y = new Float32Array(B * L);
    indices.forEach((i, b) => {
      const s = this.series(i);
      for (let t = 0; t < L; t++) {
        x[b * L + t] = s[t];
        y[b * L + t] = s[t + 1];
      }
    });
    return { x, xShape: [B, 1, L], y, yShape: [B, 1, L] };
  }
}

export class AddingDataset extends FixedLengthDataset implements Dataset {
  readonly name = 'adding';

  constructor(opts: SyntheticOptions) {
    super('AddingDataset', opts);
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    const B = indices.length;
    const L = this.length;
    const half = Math.floor(L / 2);
    const x = new Float32Array(B * 2 * L);
    const y = new Float32Array(B);
    indices.forEach((i, b) => {
      const r = exampleRng(this.seed, i);
      const base = b * 2 * L;
      for (let t = 0; t < L; t++) x[base + t] = r.uniform();
      const m1 = Math.floor(r.uniform() * half);
      const m2 = half + Math.floor(r.uniform() * (L - half));
      x[base + L + m1] = 1;
      x[base + L + m2] = 1;
      y[b] = x[base + m1] + x[base + m2];
    });
    return { x, xShape: [B, 2, L], y, yShape: [B, 1] };
  }
}

export interface CopyOptions {
  size: number;
  /** Blanks between the symbols and the delimiter, plus one (default 16). */
  delay?: number;
  /** Symbols to remember, M (default 8). */
  memory?: number;
  /** Alphabet size K (default 8): tokens 1..K; 0 is the blank, K + 1 the delimiter. */
  alphabet?: number;
  seed?: number;
}

export class CopyDataset implements Dataset {
  readonly name = 'copy';
  readonly size: number;
  readonly delay: number;
  readonly memory: number;
  readonly alphabet: number;
  /** Sequence length M + delay + M. */
  readonly length: number;
  /** Token count K + 2 (blank, symbols, delimiter). */
  readonly vocab: number;
  private readonly seed: number;

  constructor(opts: CopyOptions) {
    this.size = positiveInt('CopyDataset', 'size', opts.size);
    this.delay = positiveInt('CopyDataset', 'delay', opts.delay ?? 16);
    this.memory = positiveInt('CopyDataset', 'memory', opts.memory ?? 8);
    this.alphabet = positiveInt('CopyDataset', 'alphabet', opts.alphabet ?? 8);
    this.seed = opts.seed ?? 0;
    this.length = 2 * this.memory + this.delay;
    this.vocab = this.alphabet + 2;
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    const B = indices.length;
    const { memory: M, delay: T, length: L, alphabet: K } = this;
    const x = new Float32Array(B * L);
    const y = new Float32Array(B * L);
    const mask = new Uint8Array(B * L);
    indices.forEach((i, b) => {
      const r = exampleRng(this.seed, i);
      const row = b * L;
      for (let t = 0; t < M; t++) {
        const sym = 1 + Math.floor(r.uniform() * K);
        x[row + t] = sym;
        y[row + M + T + t] = sym;
        mask[row + M + T + t] = 1;
      }
      x[row + M + T - 1] = K + 1; // the delimiter: "recall now"
    });
    return { x, xShape: [B, L], y, yShape: [B * L], mask };
  }
}
