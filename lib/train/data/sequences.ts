/**
 * Datasets of sequences of any length: each example is a sequence of tokens (ids in
 * [0, vocab)) or of d-vectors, and one label, a class id (classification) or a number
 * (regression). batch() pads the examples to the longest of the batch and gives their
 * lengths (Batch.lengths); `lengths` lets the trainer bucket examples of similar length.
 *
 *   tokens:   x [B, L] (ids, padding 0), the model embeds them (SequenceModel `embedding`)
 *   features: x [B, d, L] (channel-major, padding 0)
 *   labels:   y [B] class ids, or y [B, 1] values (regression)
 */
import { checkIndices, type Batch, type Dataset } from './dataset';

/** One example: its values channel-major ([d, n] as d * n numbers; tokens: d = 1), its label. */
export interface SequenceExample {
  values: ArrayLike<number>;
  label: number;
}

/** What the model needs to know of a dataset's inputs and outputs. */
export interface SequenceShape {
  /** Token ids (an embedding of `vocab` rows) or d-vectors (`dInput` channels). */
  input: { kind: 'tokens'; vocab: number } | { kind: 'features'; dInput: number };
  /** Classification into `classes`, or regression of one number. */
  target: { kind: 'classify'; classes: number } | { kind: 'regress' };
}

/** A dataset of padded variable-length sequences; subclasses say where the examples come from. */
export abstract class SequenceDataset implements Dataset {
  abstract readonly name: string;
  abstract readonly size: number;
  /** The length of each example. */
  abstract readonly lengths: Int32Array;
  abstract readonly shape: SequenceShape;
  /**
   * A batch is padded to its longest example rounded up to a multiple of this (default 1).
   * Tasks use 64: a few distinct lengths keep the number of FFT sizes (and cached cuFFT
   * plans) small, for a little more padding.
   */
  padMultiple = 1;
  /** The examples with these indices (already checked), in that order. */
  protected abstract examples(indices: readonly number[]): SequenceExample[];

  /** The longest example. */
  maxLength(): number {
    let m = 0;
    for (let i = 0; i < this.lengths.length; i++) m = Math.max(m, this.lengths[i]);
    return m;
  }

  /** The length batch(indices) pads to: the longest example, rounded up to padMultiple. */
  batchLength(indices: readonly number[]): number {
    let n = 0;
    for (const i of indices) n = Math.max(n, this.lengths[i]);
    return Math.ceil(n / this.padMultiple) * this.padMultiple;
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    const B = indices.length;
    const ex = this.examples(indices);
    const lengths = Int32Array.from(indices, (i) => this.lengths[i]);
    const L = this.batchLength(indices);
    const C = this.shape.input.kind === 'tokens' ? 1 : this.shape.input.dInput;
    const x = new Float32Array(B * C * L);
    ex.forEach((e, b) => {
      const n = lengths[b];
      for (let c = 0; c < C; c++) {
        const row = (b * C + c) * L;
        for (let l = 0; l < n; l++) x[row + l] = e.values[c * n + l];
      }
    });
    const y = Float32Array.from(ex, (e) => e.label);
    const regress = this.shape.target.kind === 'regress';
    return {
      x,
      xShape: this.shape.input.kind === 'tokens' ? [B, L] : [B, C, L],
      y,
      yShape: regress ? [B, 1] : [B],
      lengths,
    };
  }
}

/** Sequences held in memory (the library's fromArrays, and the generated or read datasets). */
export class ArraySequenceDataset extends SequenceDataset {
  readonly size: number;
  readonly lengths: Int32Array;

  constructor(
    readonly name: string,
    private readonly data: readonly SequenceExample[],
    readonly shape: SequenceShape,
  ) {
    super();
    this.size = data.length;
    const C = shape.input.kind === 'tokens' ? 1 : shape.input.dInput;
    this.lengths = Int32Array.from(data, (e) => e.values.length / C);
  }

  protected examples(indices: readonly number[]): SequenceExample[] {
    return indices.map((i) => this.data[i]);
  }
}

/** An example as a user writes it: numbers (d = 1) or d-vectors, one per time step. */
export type ArrayInput = readonly number[] | readonly (readonly number[])[] | Float32Array;

export interface FromArraysOptions {
  /** Dataset name (default 'arrays'). */
  name?: string;
  /** Inputs are token ids in [0, vocab) (embedded by the model) instead of values. */
  vocab?: number;
  /**
   * 'classify' (labels are class ids 0..C-1) or 'regress'; default: 'classify' when every
   * label is a non-negative integer, else 'regress'.
   */
  task?: 'classify' | 'regress';
  /** Class count (default: the largest label + 1). */
  classes?: number;
}

/** Channel-major values [d, n] of one time-major input (n steps of d numbers). */
export function channelMajor(steps: readonly (readonly number[])[], d: number): Float32Array {
  const n = steps.length;
  const out = new Float32Array(d * n);
  for (let t = 0; t < n; t++) for (let c = 0; c < d; c++) out[c * n + t] = steps[t][c];
  return out;
}

/** Whether every label is a class id: an integer >= 0. */
export function areClassIds(labels: ArrayLike<number>): boolean {
  for (let i = 0; i < labels.length; i++) if (!Number.isInteger(labels[i]) || labels[i] < 0) return false;
  return true;
}

/**
 * A dataset of in-memory sequences: inputs[i] is a sequence of numbers or of d-vectors (any
 * length >= 1, the same d for all), labels[i] its class id or target value.
 */
export function fromArrays(inputs: readonly ArrayInput[], labels: ArrayLike<number>, opts: FromArraysOptions = {}): ArraySequenceDataset {
  const fn = 'fromArrays';
  if (!Array.isArray(inputs) || inputs.length === 0) throw new TypeError(`${fn}: argument 'inputs' must be a non-empty array of sequences`);
  if (labels === null || typeof labels !== 'object' || labels.length !== inputs.length) {
    throw new RangeError(`${fn}: argument 'labels' must hold one label per input, ${inputs.length} (got ${labels === null || typeof labels !== 'object' ? String(labels) : labels.length})`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (typeof labels[i] !== 'number' || !Number.isFinite(labels[i])) throw new RangeError(`${fn}: labels[${i}] must be a finite number (got ${String(labels[i])})`);
  }
  const task = opts.task ?? (areClassIds(labels) ? 'classify' : 'regress');
  if (task !== 'classify' && task !== 'regress') throw new TypeError(`${fn}: option 'task' must be 'classify' or 'regress' (got ${String(task)})`);
  let classes = 0;
  if (task === 'classify') {
    if (!areClassIds(labels)) throw new RangeError(`${fn}: classification labels must be integers >= 0`);
    classes = opts.classes ?? Math.max(...Array.from(labels)) + 1;
    for (let i = 0; i < labels.length; i++) if (labels[i] >= classes) throw new RangeError(`${fn}: labels[${i}] = ${labels[i]} is not a class id in [0, ${classes})`);
  }
  const first = inputs[0];
  const d = opts.vocab !== undefined ? 1 : typeof first?.[0] === 'object' ? (first[0] as readonly number[]).length : 1;
  if (opts.vocab !== undefined && (!Number.isInteger(opts.vocab) || opts.vocab < 1)) throw new RangeError(`${fn}: option 'vocab' must be a positive integer (got ${String(opts.vocab)})`);
  const examples = inputs.map((inp, i) => ({ values: checkInput(fn, `inputs[${i}]`, inp, d, opts.vocab), label: labels[i] }));
  return new ArraySequenceDataset(
    opts.name ?? 'arrays',
    examples,
    {
      input: opts.vocab !== undefined ? { kind: 'tokens', vocab: opts.vocab } : { kind: 'features', dInput: d },
      target: task === 'classify' ? { kind: 'classify', classes } : { kind: 'regress' },
    },
  );
}

/**
 * Checks one input (numbers, or steps of d numbers; token ids in [0, vocab) when vocab is
 * given) and returns it channel-major; `where` names it in errors.
 */
export function checkInput(fn: string, where: string, inp: unknown, d: number, vocab?: number): Float32Array {
  if (!(Array.isArray(inp) || inp instanceof Float32Array) || inp.length === 0) {
    throw new TypeError(`${fn}: ${where} must be a non-empty array of numbers${vocab === undefined ? ' or of number arrays' : ''}`);
  }
  const vectors = typeof inp[0] === 'object';
  if (vectors) {
    if (vocab !== undefined) throw new TypeError(`${fn}: ${where} must be an array of token ids (got arrays)`);
    const steps = inp as unknown[];
    steps.forEach((s, t) => {
      if (!Array.isArray(s) || s.length !== d) throw new RangeError(`${fn}: ${where}[${t}] must be an array of ${d} numbers (the first step's size)`);
      s.forEach((v, c) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${fn}: ${where}[${t}][${c}] must be a finite number (got ${String(v)})`);
      });
    });
    return channelMajor(steps as number[][], d);
  }
  if (d !== 1) throw new RangeError(`${fn}: ${where} must be an array of ${d}-vectors, as the first input (got numbers)`);
  const out = new Float32Array(inp.length);
  for (let t = 0; t < inp.length; t++) {
    const v = (inp as ArrayLike<unknown>)[t];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${fn}: ${where}[${t}] must be a finite number (got ${String(v)})`);
    if (vocab !== undefined && (!Number.isInteger(v) || v < 0 || v >= vocab)) throw new RangeError(`${fn}: ${where}[${t}] must be a token id in [0, ${vocab}) (got ${v})`);
    out[t] = v;
  }
  return out;
}
