/**
 * JSON Lines datasets, one example a line:
 *
 *   {"input": [0.5, 1, ...], "label": 3}          a sequence of numbers (d = 1)
 *   {"input": [[0.5, 1], [2, 0], ...], "label": 1} a sequence of d-vectors
 *   {"text": "a review ...", "label": 0}          UTF-8 bytes as tokens (vocab 256)
 *
 * Sequences may have any length >= 1. Labels that are all integers >= 0 make a
 * classification task, anything else regression (one number, mean squared error).
 *
 * Streamed: opening the file reads it once, line by line, to check every line and keep only
 * each line's byte offset, byte count, sequence length and label (about 24 bytes an example);
 * batch() reads its lines from the file again. A file larger than memory trains.
 * Errors name the file, the line and what was expected; a last line cut off in the middle
 * (no final newline, not valid JSON) is reported as such, not skipped.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { areClassIds, channelMajor, SequenceDataset, type SequenceExample, type SequenceShape } from './sequences';

/** Bytes read at a time while indexing. */
const CHUNK = 1 << 20;
/** Tokens of a "text" example: its UTF-8 bytes. */
export const BYTE_VOCAB = 256;

export interface JsonlOptions {
  /** Keep at most the first maxLength steps of each sequence (default: all). */
  maxLength?: number;
  /** The inputs and targets the examples must have (e.g. the training file's, for a test file). */
  like?: SequenceShape;
  /** Force 'classify' or 'regress' (default: from the labels). */
  task?: 'classify' | 'regress';
  name?: string;
}

/** What one line holds, checked. */
interface ParsedLine {
  kind: 'numbers' | 'vectors' | 'text';
  /** Steps (before truncation). */
  n: number;
  /** Channels per step. */
  d: number;
  label: number;
  values: Float32Array;
}

export class JsonlDataset extends SequenceDataset {
  readonly name: string;
  readonly size: number;
  readonly lengths: Int32Array;
  readonly shape: SequenceShape;
  private readonly offsets: Float64Array;
  private readonly byteCounts: Int32Array;
  private readonly labels: Float32Array;

  constructor(
    readonly path: string,
    opts: JsonlOptions = {},
  ) {
    super();
    const fn = 'fromJsonl';
    if (typeof path !== 'string' || path === '') throw new TypeError(`${fn}: argument 'path' must be a file path`);
    if (opts.maxLength !== undefined && (!Number.isInteger(opts.maxLength) || opts.maxLength < 1)) {
      throw new RangeError(`${fn}: option 'maxLength' must be a positive integer (got ${String(opts.maxLength)})`);
    }
    this.name = opts.name ?? path;
    const index = indexFile(path, opts.maxLength);
    this.size = index.count;
    this.offsets = index.offsets;
    this.byteCounts = index.byteCounts;
    this.lengths = index.lengths;
    this.labels = index.labels;
    const kind = index.kind!;
    const input: SequenceShape['input'] = kind === 'text' ? { kind: 'tokens', vocab: BYTE_VOCAB } : { kind: 'features', dInput: index.d };
    const classIds = areClassIds(this.labels);
    const task = opts.task ?? opts.like?.target.kind ?? (classIds ? 'classify' : 'regress');
    let target: SequenceShape['target'];
    if (task === 'classify') {
      if (!classIds) {
        const i = this.labels.findIndex((v) => !Number.isInteger(v) || v < 0);
        throw new RangeError(`${path}:${index.lineOf(i)}: expected a class id (an integer >= 0) as 'label', as in the training data (got ${this.labels[i]})`);
      }
      const classes = opts.like?.target.kind === 'classify' ? opts.like.target.classes : Math.max(...this.labels) + 1;
      const bad = this.labels.findIndex((v) => v >= classes);
      if (bad >= 0) throw new RangeError(`${path}:${index.lineOf(bad)}: label ${this.labels[bad]} is not one of the training data's ${classes} classes`);
      target = { kind: 'classify', classes };
    } else {
      target = { kind: 'regress' };
    }
    if (opts.like) {
      const a = opts.like.input;
      const same = a.kind === input.kind && (a.kind === 'tokens' || (input.kind === 'features' && a.dInput === input.dInput));
      if (!same) throw new RangeError(`${path}: the examples hold ${describe(input)}, the training data ${describe(a)}`);
    }
    this.shape = { input, target };
  }

  protected examples(indices: readonly number[]): SequenceExample[] {
    const fd = openSync(this.path, 'r');
    try {
      return indices.map((i) => {
        const buf = Buffer.alloc(this.byteCounts[i]);
        const got = readSync(fd, buf, 0, buf.length, this.offsets[i]);
        if (got !== buf.length) throw new Error(`${this.path}: the file changed since it was opened (example ${i} is cut short)`);
        const p = parseLine(buf.toString('utf8'), this.path, `example ${i}`);
        const n = this.lengths[i];
        // Truncation keeps the first n steps of every channel.
        const values = p.n === n ? p.values : truncate(p.values, p.d, p.n, n);
        return { values, label: p.label };
      });
    } finally {
      closeSync(fd);
    }
  }
}

/** Opens a JSONL file as a dataset (see the file comment). */
export function fromJsonl(path: string, opts: JsonlOptions = {}): JsonlDataset {
  return new JsonlDataset(path, opts);
}

function describe(i: SequenceShape['input']): string {
  return i.kind === 'tokens' ? '"text"' : `"input" steps of ${i.dInput} number${i.dInput > 1 ? 's' : ''}`;
}

function truncate(v: Float32Array, d: number, n: number, keep: number): Float32Array {
  const out = new Float32Array(d * keep);
  for (let c = 0; c < d; c++) out.set(v.subarray(c * n, c * n + keep), c * keep);
  return out;
}

/** Grows a typed array by doubling. */
function grow<T extends Float64Array | Int32Array | Float32Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

interface FileIndex {
  count: number;
  offsets: Float64Array;
  byteCounts: Int32Array;
  lengths: Int32Array;
  labels: Float32Array;
  kind: ParsedLine['kind'] | null;
  d: number;
  lineOf(example: number): number;
}

/** One pass over the file: checks every line, keeps offsets, sizes, lengths, labels. */
function indexFile(path: string, maxLength?: number): FileIndex {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new Error(`${path}: cannot read the JSONL file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let offsets = new Float64Array(1024);
  let byteCounts = new Int32Array(1024);
  let lengths = new Int32Array(1024);
  let labels = new Float32Array(1024);
  let lines = new Int32Array(1024);
  let count = 0;
  let kind: ParsedLine['kind'] | null = null;
  let d = 0;
  let firstLine = 0;
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(CHUNK);
    let carry: Buffer = Buffer.alloc(0);
    let carryStart = 0; // file offset of carry[0]
    let pos = 0;
    let lineNo = 0;
    const take = (bytes: Buffer, start: number, complete: boolean): void => {
      lineNo++;
      const text = bytes.toString('utf8');
      if (text.trim() === '') return;
      let p: ParsedLine;
      try {
        p = parseLine(text, path, `line ${lineNo}`);
      } catch (err) {
        if (!complete && err instanceof SyntaxError) {
          throw new Error(`${path}:${lineNo}: the last line is incomplete (no newline at the end and not valid JSON); the file looks cut off while being written`);
        }
        throw err;
      }
      if (kind === null) {
        kind = p.kind;
        d = p.d;
        firstLine = lineNo;
      } else if ((kind === 'text') !== (p.kind === 'text') || p.d !== d) {
        const want = kind === 'text' ? '"text"' : `"input" with steps of ${d} number${d > 1 ? 's' : ''}`;
        throw new RangeError(`${path}:${lineNo}: expected ${want} as on line ${firstLine} (every line must have the same kind of input)`);
      }
      offsets = grow(offsets, count + 1);
      byteCounts = grow(byteCounts, count + 1);
      lengths = grow(lengths, count + 1);
      labels = grow(labels, count + 1);
      lines = grow(lines, count + 1);
      offsets[count] = start;
      byteCounts[count] = bytes.length;
      lengths[count] = maxLength !== undefined ? Math.min(p.n, maxLength) : p.n;
      labels[count] = p.label;
      lines[count] = lineNo;
      count++;
    };
    while (pos < size) {
      const got = readSync(fd, chunk, 0, Math.min(CHUNK, size - pos), pos);
      if (got <= 0) break;
      pos += got;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, got)]) : chunk.subarray(0, got);
      let from = 0;
      for (let nl = data.indexOf(10, from); nl >= 0; nl = data.indexOf(10, from)) {
        take(data.subarray(from, nl), carryStart + from, true);
        from = nl + 1;
      }
      carry = Buffer.from(data.subarray(from));
      carryStart += from;
    }
    if (carry.length > 0) take(carry, carryStart, false);
  } finally {
    closeSync(fd);
  }
  if (count === 0) throw new Error(`${path}: no examples (expected one JSON object a line: {"input": [...], "label": n} or {"text": "...", "label": n})`);
  const finalLines = lines;
  return {
    count,
    offsets: offsets.subarray(0, count),
    byteCounts: byteCounts.subarray(0, count),
    lengths: lengths.slice(0, count),
    labels: labels.slice(0, count),
    kind,
    d,
    lineOf: (i) => finalLines[i],
  };
}

/** Parses and checks one line; `where` names it ('line 7', 'example 3') in errors. */
function parseLine(text: string, path: string, where: string): ParsedLine {
  const at = `${path}:${where.replace(/^line /, '')}`;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`${at}: not valid JSON (${(err as Error).message})`);
  }
  const expected = 'expected {"input": [numbers] | [[numbers]], "label": n} or {"text": "...", "label": n}';
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new TypeError(`${at}: ${expected}`);
  const o = obj as Record<string, unknown>;
  if (typeof o.label !== 'number' || !Number.isFinite(o.label)) throw new TypeError(`${at}: ${expected}; 'label' is ${o.label === undefined ? 'missing' : JSON.stringify(o.label)}`);
  if (typeof o.text === 'string' && o.input === undefined) {
    const bytes = Buffer.from(o.text, 'utf8');
    if (bytes.length === 0) throw new RangeError(`${at}: 'text' is empty (a sequence needs at least one byte)`);
    return { kind: 'text', n: bytes.length, d: 1, label: o.label, values: Float32Array.from(bytes) };
  }
  const inp = o.input;
  if (!Array.isArray(inp) || o.text !== undefined) throw new TypeError(`${at}: ${expected}`);
  if (inp.length === 0) throw new RangeError(`${at}: 'input' is empty (a sequence needs at least one step)`);
  if (Array.isArray(inp[0])) {
    const d = (inp[0] as unknown[]).length;
    if (d === 0) throw new RangeError(`${at}: 'input'[0] is empty (each step needs at least one number)`);
    for (let t = 0; t < inp.length; t++) {
      const s = inp[t];
      if (!Array.isArray(s) || s.length !== d) throw new RangeError(`${at}: 'input'[${t}] must be an array of ${d} numbers, as 'input'[0]`);
      for (let c = 0; c < d; c++) if (typeof s[c] !== 'number') throw new TypeError(`${at}: 'input'[${t}][${c}] must be a number (got ${JSON.stringify(s[c])})`);
    }
    return { kind: 'vectors', n: inp.length, d, label: o.label, values: channelMajor(inp as number[][], d) };
  }
  const values = new Float32Array(inp.length);
  for (let t = 0; t < inp.length; t++) {
    if (typeof inp[t] !== 'number') throw new TypeError(`${at}: 'input'[${t}] must be a number (got ${JSON.stringify(inp[t])})`);
    values[t] = inp[t] as number;
  }
  return { kind: 'numbers', n: inp.length, d: 1, label: o.label, values };
}
