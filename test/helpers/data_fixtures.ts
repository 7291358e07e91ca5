/** Small data files of every format the data tasks read, written into a fresh folder. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as s4 from '../../lib/index';
import { randomValues } from './device';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `s4-${prefix}-`));
}

/**
 * JSONL lines of sequences of numbers with lengths cycling through 1..maxLen; the label says
 * whether the first value is positive (learnable from the first step).
 */
export function jsonlLines(count: number, maxLen: number, seed: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const n = 1 + ((i * 37) % maxLen);
    const v = Array.from(randomValues(n, seed + i), (x) => Math.round(x * 1000) / 1000);
    return JSON.stringify({ input: v, label: v[0] > 0 ? 1 : 0 });
  });
}

/** aclImdb/{train,test}/{pos,neg}/<i>_<r>.txt with `per` reviews in each folder. */
export function writeImdb(dir: string, per: number): string {
  const root = join(dir, 'aclImdb');
  for (const split of ['train', 'test']) {
    for (const cls of ['pos', 'neg']) {
      mkdirSync(join(root, split, cls), { recursive: true });
      for (let i = 0; i < per; i++) {
        const text = cls === 'pos' ? `A great film, ${'wonderful '.repeat(1 + i)}acting.` : `A dull film, ${'awful '.repeat(2 + i)}plot. ÷`;
        writeFileSync(join(root, split, cls, `${i}_${cls === 'pos' ? 9 : 2}.txt`), text);
      }
    }
  }
  return root;
}

/** One CIFAR-10 binary record: label, then R, G, B planes of 1024 bytes. */
export function cifarRecord(label: number, seed: number): Buffer {
  const rec = Buffer.alloc(3073);
  rec[0] = label;
  const v = randomValues(3072, seed);
  for (let i = 0; i < 3072; i++) rec[1 + i] = Math.floor((v[i] + 1) * 127.99);
  return rec;
}

/** data_batch_1..5.bin (`perBatch` records each) and test_batch.bin (`test` records). */
export function writeCifar(dir: string, perBatch: number, test: number): void {
  for (let b = 1; b <= 5; b++) {
    writeFileSync(join(dir, `data_batch_${b}.bin`), Buffer.concat(Array.from({ length: perBatch }, (_, i) => cifarRecord((b + i) % 10, 10 * b + i))));
  }
  writeFileSync(join(dir, 'test_batch.bin'), Buffer.concat(Array.from({ length: test }, (_, i) => cifarRecord(i % 10, 100 + i))));
}

/** The four MNIST IDX files with `train` and `test` images of 28 x 28. */
export function writeMnist(dir: string, train: number, test: number): void {
  const { encodeIdx } = s4.train;
  for (const [prefix, n] of [['train', train], ['t10k', test]] as const) {
    const img = Uint8Array.from(randomValues(n * 784, n), (v) => Math.floor((v + 1) * 127.99));
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([n, 28, 28], img));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10)));
  }
}
