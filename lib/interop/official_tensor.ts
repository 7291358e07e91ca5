/**
 * Tensors of an official (PyTorch) state_dict as plain values, and the checks every mapping
 * applies to them. A value is { shape, dtype?, data }: data holds the elements in row-major
 * order (a number array or a typed array; int64 may come as a BigInt64Array), complex
 * parameters are real views with a last dimension of 2 (re, im), as torch saves them.
 */

export interface OfficialTensor {
  shape: readonly number[];
  /** torch's name without the prefix: 'float32', 'float64', 'float16', 'bfloat16', 'int64', ... (default float32). */
  dtype?: string;
  data: ArrayLike<number> | BigInt64Array;
}

export type OfficialStateDict = Record<string, OfficialTensor>;

export function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isInteger(d) && d >= 0);
}

/** Checks that `sd` is an object of { shape, data } entries with consistent sizes. */
export function checkStateDict(fn: string, sd: unknown): OfficialStateDict {
  if (sd === null || typeof sd !== 'object' || Array.isArray(sd)) {
    throw new TypeError(`${fn}: argument 'stateDict' must be an object mapping official names to { shape, dtype?, data }`);
  }
  for (const [key, v] of Object.entries(sd as Record<string, unknown>)) {
    const t = v as Partial<OfficialTensor> | null;
    if (t === null || typeof t !== 'object' || !isShape(t.shape)) {
      throw new TypeError(`${fn}: entry '${key}' must be { shape: number[], dtype?, data } (got ${t === null ? 'null' : typeof t})`);
    }
    const data = t.data as ArrayLike<number> | undefined;
    if (data === undefined || data === null || typeof data.length !== 'number') throw new TypeError(`${fn}: entry '${key}' has no 'data' array`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new RangeError(`${fn}: entry '${key}' has shape ${shapeText(t.shape)} (${count} values) but ${data.length} values`);
    if (t.dtype !== undefined && typeof t.dtype !== 'string') throw new TypeError(`${fn}: entry '${key}' has a non-string dtype`);
  }
  return sd as OfficialStateDict;
}

/** Element i as a JS number (int64 through Number: exact below 2^53). */
export function valueAt(t: OfficialTensor, i: number): number {
  const v = (t.data as ArrayLike<number | bigint>)[i];
  return typeof v === 'bigint' ? Number(v) : v;
}

/** All elements as float64, every one finite (else an error naming the key and the index). */
export function float64Of(fn: string, key: string, t: OfficialTensor): Float64Array {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = valueAt(t, i);
    if (!Number.isFinite(v)) throw new RangeError(`${fn}: entry '${key}' holds a non-finite value at index ${i}`);
    out[i] = v;
  }
  return out;
}

/**
 * Reads the entries of a state dict with their expected shapes, so that every failure names
 * the key: a missing key, a wrong shape, and (strict) any key that no read asked for.
 */
export class StateReader {
  constructor(
    readonly fn: string,
    readonly sd: OfficialStateDict,
    readonly prefix = '',
    /** The keys read so far, shared by a reader and its children. */
    private readonly used = new Set<string>(),
  ) {}

  /** A reader of the entries under `prefix.` (sharing the record of keys used). */
  child(prefix: string): StateReader {
    return new StateReader(this.fn, this.sd, this.prefix + prefix, this.used);
  }

  has(name: string): boolean {
    return this.prefix + name in this.sd;
  }

  /** The entry `name` with exactly `shape` (a name in a shape is only for the message). */
  take(name: string, shape: readonly number[], dims?: readonly string[]): { key: string; t: OfficialTensor } {
    const key = this.prefix + name;
    const t = this.sd[key];
    const want = dims ? `${shapeText(dims)} = ${shapeText(shape)}` : shapeText(shape);
    if (t === undefined) throw new RangeError(`${this.fn}: missing key '${key}' (expected shape ${want})`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new RangeError(`${this.fn}: key '${key}' must have shape ${want} (got ${shapeText(t.shape)})`);
    }
    this.used.add(key);
    return { key, t };
  }

  /** take() as float64 values. */
  floats(name: string, shape: readonly number[], dims?: readonly string[]): Float64Array {
    const { key, t } = this.take(name, shape, dims);
    return float64Of(this.fn, key, t);
  }

  /** The shape of `name` (for entries whose shape decides an option), marking nothing. */
  shapeOf(name: string): readonly number[] | null {
    const t = this.sd[this.prefix + name];
    return t ? t.shape : null;
  }

  /** Strict mode: every key of the dict was read (else an error naming the first extra one). */
  expectAllUsed(): void {
    for (const key of Object.keys(this.sd)) {
      if (!this.used.has(key)) throw new RangeError(`${this.fn}: unexpected key '${key}' (not part of the official module this config describes; pass { strict: false } to ignore it)`);
    }
  }
}
