/**
 * IMDB reviews (Maas et al. 2011) from the aclImdb folder (train|test / pos|neg / *.txt), as
 * LRA Text: byte level, each review's UTF-8 bytes as tokens (vocabulary 256), truncated to
 * maxLength (LRA: 4096), label 1 for pos and 0 for neg. Files are read in name order, so the
 * dataset is the same on every machine.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BYTE_VOCAB } from './jsonl';
import { ArraySequenceDataset, type SequenceExample, type SequenceShape } from './sequences';

export const IMDB_SHAPE: SequenceShape = { input: { kind: 'tokens', vocab: BYTE_VOCAB }, target: { kind: 'classify', classes: 2 } };

/** One split of aclImdb; `dir` is the aclImdb folder (or its parent). */
export function loadImdb(dir: string, split: 'train' | 'test', opts: { maxLength?: number; limit?: number } = {}): ArraySequenceDataset {
  const root = existsSync(join(dir, 'aclImdb')) ? join(dir, 'aclImdb') : dir;
  const maxLength = opts.maxLength ?? 4096;
  const examples: SequenceExample[] = [];
  for (const [label, cls] of [[0, 'neg'], [1, 'pos']] as const) {
    const folder = join(root, split, cls);
    if (!existsSync(folder)) {
      throw new Error(`IMDB not found: ${folder} is missing (expected the aclImdb folder with train|test / pos|neg / *.txt; get it from https://ai.stanford.edu/~amaas/data/sentiment/)`);
    }
    const files = readdirSync(folder).filter((f) => f.endsWith('.txt')).sort();
    if (files.length === 0) throw new Error(`IMDB: ${folder} holds no .txt reviews`);
    for (const f of files) {
      const bytes = readFileSync(join(folder, f));
      if (bytes.length === 0) throw new Error(`IMDB: ${join(folder, f)} is empty (a review needs at least one byte)`);
      examples.push({ values: bytes.subarray(0, Math.min(bytes.length, maxLength)), label });
    }
  }
  // Mixed classes in a fixed order: a limit then keeps both.
  const mixed = interleave(examples);
  const kept = opts.limit !== undefined ? mixed.slice(0, opts.limit) : mixed;
  return new ArraySequenceDataset(`imdb-${split}`, kept, IMDB_SHAPE);
}

/** neg_0, pos_0, neg_1, pos_1, ...: the two classes alternate, the rest follow. */
function interleave(ex: SequenceExample[]): SequenceExample[] {
  const neg = ex.filter((e) => e.label === 0);
  const pos = ex.filter((e) => e.label === 1);
  const out: SequenceExample[] = [];
  for (let i = 0; i < Math.max(neg.length, pos.length); i++) {
    if (i < neg.length) out.push(neg[i]);
    if (i < pos.length) out.push(pos[i]);
  }
  return out;
}
