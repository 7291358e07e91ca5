/**
 * ListOps (Nangia & Bowman 2018) as the Long Range Arena builds it
 * (google-research/long-range-arena, lra_benchmarks/data/listops.py): nested lists of the
 * operators MAX, MIN, MED (the median, truncated to an integer) and SM (sum mod 10) over
 * the digits 0-9, e.g. [MAX 2 9 [MIN 4 7 ] 0 ] = 9; ten classes, the value.
 *
 * Generation follows LRA's generate_tree: at depth < max_depth (10) a node is a digit with
 * probability 0.25 (always at max depth), else an operator with 2..max_args (10) arguments;
 * a tree's length counts its digits plus two tokens (operator, ']') per list, and trees are
 * kept when min_length < length < max_length (LRA: 500 and 2000). Example i comes from its
 * own generator seeded by (seed, i) (the first tree in range it draws), so a dataset is the
 * same in any order and on every machine; LRA also drops duplicates, which at these lengths
 * never occur.
 *
 * Tokens as the official S4 loader (src/dataloaders/lra.py ListOps) makes them: the source
 * "( ( [MAX 2 ) 9 ) ] )" loses its parentheses, ']' reads as 'X', and an <eos> is appended:
 * [MAX 2 9 X <eos>. The vocabulary is fixed here (0 <pad>, 1 <unk>, 2 <eos>, 3-12 the digits,
 * 13-16 [MIN [MAX [MED [SM, 17 X: 18 tokens, the official count); the official loader numbers
 * the same tokens by their frequency in the training file instead.
 *
 * readListopsTsv reads the LRA release's files (basic_train.tsv, basic_val.tsv,
 * basic_test.tsv: a "Source\tTarget" header, then one example a line).
 */
import { readFileSync } from 'node:fs';
import type { Rng } from '../../nn/random';
import { ArraySequenceDataset, type SequenceExample, type SequenceShape } from './sequences';
import { exampleRng } from './synthetic';

export const LISTOPS_VOCAB = ['<pad>', '<unk>', '<eos>', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '[MIN', '[MAX', '[MED', '[SM', 'X'] as const;
const TOKEN_ID = new Map<string, number>(LISTOPS_VOCAB.map((t, i) => [t, i]));
const UNK = 1;
const EOS = 2;
const DIGIT0 = 3;
const OPS = [13, 14, 15, 16]; // [MIN [MAX [MED [SM, drawn uniformly as LRA's OPERATORS
const END = 17;

export const LISTOPS_SHAPE: SequenceShape = { input: { kind: 'tokens', vocab: LISTOPS_VOCAB.length }, target: { kind: 'classify', classes: 10 } };

export interface ListopsOptions {
  size: number;
  seed?: number;
  /** Trees are kept with token count in (minLength, maxLength) (LRA: 2000; with <eos> at most maxLength). */
  maxLength?: number;
  /** Default: maxLength / 4 (LRA: 500). */
  minLength?: number;
  maxDepth?: number;
  maxArgs?: number;
}

const VALUE_P = 0.25;

/** Draws one tree into `out` (tokens); returns its value, or -1 once it reaches `limit` tokens. */
function drawTree(r: Rng, depth: number, maxDepth: number, maxArgs: number, out: number[], limit: number): number {
  if (out.length >= limit) return -1;
  const rr = depth < maxDepth ? r.uniform() : 1;
  if (rr > VALUE_P) {
    const v = Math.floor(r.uniform() * 10);
    out.push(DIGIT0 + v);
    return v;
  }
  const args = 2 + Math.floor(r.uniform() * (maxArgs - 1)); // randint(2, max_args)
  const opAt = out.length;
  out.push(0); // the operator, drawn after its arguments as LRA does
  const vals: number[] = [];
  for (let a = 0; a < args; a++) {
    const v = drawTree(r, depth + 1, maxDepth, maxArgs, out, limit);
    if (v < 0) return -1;
    vals.push(v);
  }
  const op = OPS[Math.floor(r.uniform() * OPS.length)];
  out[opAt] = op;
  out.push(END);
  if (out.length >= limit) return -1;
  return listopsValue(op, vals);
}

/** The value of an operator over its arguments' values. */
function listopsValue(op: number, vals: number[]): number {
  switch (op) {
    case 13:
      return Math.min(...vals);
    case 14:
      return Math.max(...vals);
    case 15: {
      // int(np.median(...)): the mean of the two middle values when even, truncated.
      const s = [...vals].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : Math.floor((s[m - 1] + s[m]) / 2);
    }
    default:
      return vals.reduce((a, b) => a + b, 0) % 10;
  }
}

/** Generated ListOps examples (tokens ending in <eos>, the value as label). */
export function generateListops(opts: ListopsOptions): ArraySequenceDataset {
  const fn = 'generateListops';
  const int = (name: string, v: unknown, min: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${fn}: option '${name}' must be an integer >= ${min} (got ${String(v)})`);
    return v;
  };
  const size = int('size', opts.size, 1);
  const maxLength = int('maxLength', opts.maxLength ?? 2000, 6);
  const minLength = int('minLength', opts.minLength ?? Math.floor(maxLength / 4), 0);
  if (minLength + 1 >= maxLength - 1) throw new RangeError(`${fn}: option 'minLength' (${minLength}) must leave lengths below maxLength (${maxLength})`);
  const maxDepth = int('maxDepth', opts.maxDepth ?? 10, 1);
  const maxArgs = int('maxArgs', opts.maxArgs ?? 10, 2);
  const seed = opts.seed ?? 0;
  const examples: SequenceExample[] = [];
  // The <eos> takes one of the maxLength positions: trees have at most maxLength - 1 tokens.
  const limit = maxLength - 1;
  const tokens: number[] = [];
  for (let i = 0; i < size; i++) {
    const r = exampleRng(seed, i);
    for (;;) {
      tokens.length = 0;
      const v = drawTree(r, 1, maxDepth, maxArgs, tokens, limit + 1);
      if (v >= 0 && tokens.length > minLength && tokens.length <= limit) {
        tokens.push(EOS);
        examples.push({ values: Uint8Array.from(tokens), label: v });
        break;
      }
    }
  }
  return new ArraySequenceDataset(`listops-${seed}`, examples, LISTOPS_SHAPE);
}

/** Tokens of an LRA source string: parentheses dropped, ']' as X, <eos> appended, at most maxLength. */
export function tokenizeListops(source: string, maxLength = Infinity): Uint8Array {
  const words = source.replace(/[()]/g, ' ').replace(/]/g, 'X').split(/\s+/).filter((w) => w !== '');
  const keep = Math.min(words.length, maxLength - 1);
  const out = new Uint8Array(keep + 1);
  for (let i = 0; i < keep; i++) out[i] = TOKEN_ID.get(words[i]) ?? UNK;
  out[keep] = EOS;
  return out;
}

/** The text of generated tokens, as LRA writes a source without its parentheses. */
export function listopsText(tokens: ArrayLike<number>): string {
  return Array.from(tokens, (t) => (t === END ? ']' : LISTOPS_VOCAB[t])).filter((w) => w !== '<eos>').join(' ');
}

/** One split of the LRA release (a TSV file with a Source/Target header). */
export function readListopsTsv(path: string, maxLength = 2000): ArraySequenceDataset {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read the ListOps TSV file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected the LRA release's basic_train.tsv, basic_val.tsv, basic_test.tsv`);
  }
  const lines = text.split('\n');
  const examples: SequenceExample[] = [];
  lines.forEach((line, k) => {
    const lineNo = k + 1;
    const l = line.replace(/\r$/, '');
    if (l.trim() === '') return;
    const cols = l.split('\t');
    if (k === 0 && cols[0] === 'Source') return; // the header
    if (cols.length !== 2) throw new RangeError(`${path}:${lineNo}: expected 2 tab-separated columns, Source and Target (got ${cols.length})`);
    const target = cols[1].trim();
    if (!/^[0-9]$/.test(target)) throw new RangeError(`${path}:${lineNo}: expected a Target digit 0-9 (got '${target.slice(0, 20)}')`);
    const tokens = tokenizeListops(cols[0], maxLength);
    if (tokens.length < 2) throw new RangeError(`${path}:${lineNo}: the Source is empty`);
    examples.push({ values: tokens, label: Number(target) });
  });
  if (examples.length === 0) throw new Error(`${path}: no examples (expected a "Source\\tTarget" header and one example a line)`);
  return new ArraySequenceDataset(path, examples, LISTOPS_SHAPE);
}
