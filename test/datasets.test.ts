/**
 * The datasets of s4.data: fromArrays and the streamed fromJsonl (padding, lengths, errors
 * naming the file and line, a cut-off last line), the ListOps generator (labels checked by
 * an independent evaluator, LRA's limits, tokens) and TSV reader, aclImdb, CIFAR-10
 * normalization, the validation split, and batching by length (the padding it saves).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { jsonlLines, tempDir, writeCifar, writeImdb, cifarRecord } from './helpers/data_fixtures';

const { data } = s4;

/** The value of a ListOps expression in LRA's text form, by a stack evaluator of its own. */
function evalListops(text: string): number {
  const stack: { op: string; args: number[] }[] = [];
  let result = NaN;
  for (const w of text.split(' ')) {
    if (w.startsWith('[')) stack.push({ op: w, args: [] });
    else if (w === ']') {
      const { op, args } = stack.pop()!;
      const s = [...args].sort((a, b) => a - b);
      const v =
        op === '[MAX' ? s[s.length - 1] : op === '[MIN' ? s[0] : op === '[SM' ? args.reduce((a, b) => a + b, 0) % 10 : Math.floor(s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2);
      if (stack.length) stack[stack.length - 1].args.push(v);
      else result = v;
    } else stack[stack.length - 1].args.push(Number(w));
  }
  return result;
}

describe('s4.data datasets', () => {
  it('fromArrays pads a batch to its longest and gives the lengths (numbers, vectors, tokens)', () => {
    const ds = data.fromArrays([[1, 2, 3], [4], [5, 6]], [0, 2, 1]);
    expect(ds.shape).toEqual({ input: { kind: 'features', dInput: 1 }, target: { kind: 'classify', classes: 3 } });
    const b = ds.batch([0, 1, 2]);
    expect(b.xShape).toEqual([3, 1, 3]);
    expect(Array.from(b.x)).toEqual([1, 2, 3, 4, 0, 0, 5, 6, 0]);
    expect(Array.from(b.lengths!)).toEqual([3, 1, 2]);
    expect(Array.from(b.y)).toEqual([0, 2, 1]);
    const vec = data.fromArrays([[[1, 10], [2, 20]], [[3, 30]]], [0.5, -1]);
    expect(vec.shape.target).toEqual({ kind: 'regress' });
    const bv = vec.batch([0, 1]);
    expect(bv.xShape).toEqual([2, 2, 2]);
    expect(Array.from(bv.x)).toEqual([1, 2, 10, 20, 3, 0, 30, 0]); // channel-major
    expect(bv.yShape).toEqual([2, 1]);
    const tok = data.fromArrays([[1, 4, 2]], [1], { vocab: 5 });
    expect(tok.batch([0]).xShape).toEqual([1, 3]);
    expect(() => data.fromArrays([[1, 9]], [0], { vocab: 5 })).toThrow(/inputs\[0\]\[1\] must be a token id in \[0, 5\) \(got 9\)/);
    expect(() => data.fromArrays([[1], []], [0, 1])).toThrow(/inputs\[1\] must be a non-empty array/);
    expect(() => data.fromArrays([[[1, 2]], [[1]]], [0, 1])).toThrow(/inputs\[1\]\[0\] must be an array of 2 numbers/);
    expect(() => data.fromArrays([[1]], [0, 1])).toThrow(/'labels' must hold one label per input, 1 \(got 2\)/);
  });

  it('fromJsonl streams a file: the same examples as in memory, lengths 1..500, regression by label', () => {
    const dir = tempDir('jsonl');
    const lines = jsonlLines(60, 500, 3);
    const path = join(dir, 'train.jsonl');
    writeFileSync(path, lines.join('\n') + '\n');
    const ds = data.fromJsonl(path);
    expect(ds.size).toBe(60);
    expect(ds.shape).toEqual({ input: { kind: 'features', dInput: 1 }, target: { kind: 'classify', classes: 2 } });
    const parsed = lines.map((l) => JSON.parse(l) as { input: number[]; label: number });
    const mem = data.fromArrays(parsed.map((p) => p.input), parsed.map((p) => p.label));
    const idx = [59, 3, 14, 0];
    const a = ds.batch(idx);
    const b = mem.batch(idx);
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Array.from(a.lengths!)).toEqual(idx.map((i) => parsed[i].input.length));
    expect(Math.max(...Array.from(ds.lengths))).toBeLessThanOrEqual(500);
    expect(Math.min(...Array.from(ds.lengths))).toBe(1);
    // Truncation, text as bytes, regression.
    expect(Math.max(...Array.from(data.fromJsonl(path, { maxLength: 7 }).lengths))).toBe(7);
    const text = join(dir, 'text.jsonl');
    writeFileSync(text, '{"text": "hé", "label": 0.5}\n{"text": "abc", "label": -2}');
    const t = data.fromJsonl(text);
    expect(t.shape).toEqual({ input: { kind: 'tokens', vocab: 256 }, target: { kind: 'regress' } });
    expect(Array.from(t.batch([0]).x)).toEqual([104, 195, 169]);
  });

  it('fromJsonl errors name the file, the line and what was expected; a cut-off last line is reported', () => {
    const dir = tempDir('jsonl-bad');
    const write = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const ok = '{"input": [1, 2], "label": 1}\n';
    const cut = write('cut.jsonl', ok + ok + '{"input": [1, 2], "lab');
    expect(() => data.fromJsonl(cut)).toThrow(new RegExp(`${cut}:3: the last line is incomplete`));
    const bad = write('bad.jsonl', ok + '{"input": [1, "x"], "label": 1}\n');
    expect(() => data.fromJsonl(bad)).toThrow(new RegExp(`${bad}:2: 'input'\\[1\\] must be a number \\(got "x"\\)`));
    const notJson = write('nj.jsonl', ok + 'hello\n' + ok);
    expect(() => data.fromJsonl(notJson)).toThrow(new RegExp(`${notJson}:2: not valid JSON`));
    const noLabel = write('nl.jsonl', '{"input": [1]}\n');
    expect(() => data.fromJsonl(noLabel)).toThrow(/:1: expected \{"input".*'label' is missing/);
    const mixed = write('mixed.jsonl', ok + '{"text": "a", "label": 0}\n');
    expect(() => data.fromJsonl(mixed)).toThrow(/:2: expected "input" with steps of 1 number as on line 1/);
    expect(() => data.fromJsonl(write('empty.jsonl', '\n\n'))).toThrow(/no examples/);
    expect(() => data.fromJsonl(join(dir, 'missing.jsonl'))).toThrow(/missing.jsonl: cannot read the JSONL file \(ENOENT\)/);
    const train = data.fromJsonl(write('tr.jsonl', ok + '{"input": [3], "label": 0}\n'));
    expect(() => data.fromJsonl(write('te.jsonl', '{"input": [3], "label": 4}\n'), { like: train.shape })).toThrow(/te.jsonl:1: label 4 is not one of the training data's 2 classes/);
    // A last line without a newline that is complete is an example.
    expect(data.fromJsonl(write('nonl.jsonl', ok + ok.trim())).size).toBe(2);
  });

  it('generateListops follows LRA: lengths in (min, max), depth and argument limits, correct labels, deterministic', () => {
    const ds = data.generateListops({ size: 200, seed: 7, maxLength: 200 });
    const again = data.generateListops({ size: 200, seed: 7, maxLength: 200 });
    const other = data.generateListops({ size: 200, seed: 8, maxLength: 200 });
    expect(Array.from(ds.lengths)).toEqual(Array.from(again.lengths));
    expect(Array.from(ds.lengths)).not.toEqual(Array.from(other.lengths));
    for (let i = 0; i < ds.size; i++) {
      const b = ds.batch([i]);
      const tokens = Array.from(b.x);
      expect(tokens[tokens.length - 1]).toBe(2); // <eos>
      const n = tokens.length - 1;
      expect(n).toBeGreaterThan(50);
      expect(n).toBeLessThan(200);
      const text = data.listopsText(tokens);
      expect(evalListops(text), text).toBe(b.y[0]);
      let depth = 0;
      let maxDepth = 0;
      for (const w of text.split(' ')) {
        if (w.startsWith('[')) maxDepth = Math.max(maxDepth, ++depth);
        if (w === ']') depth--;
      }
      expect(maxDepth).toBeLessThanOrEqual(10);
    }
    const labels = new Set(Array.from({ length: ds.size }, (_, i) => ds.batch([i]).y[0]));
    expect(labels.size).toBeGreaterThanOrEqual(8);
  });

  it('readListopsTsv tokenizes as the official loader and reports malformed lines', () => {
    const dir = tempDir('listops');
    const p = join(dir, 'basic_train.tsv');
    writeFileSync(p, 'Source\tTarget\n( ( ( [MAX 2 ) 9 ) ] )\t9\n( ( [SM 4 ) ( ( [MIN 3 ) 8 ) ] ) ] )\t7\n');
    const ds = data.readListopsTsv(p);
    expect(ds.size).toBe(2);
    const v = data.LISTOPS_VOCAB;
    expect(Array.from(ds.batch([0]).x, (t) => v[t])).toEqual(['[MAX', '2', '9', 'X', '<eos>']);
    expect(Array.from(data.tokenizeListops('( [MIN 1 2 ) ]', 3), (t) => v[t])).toEqual(['[MIN', '1', '<eos>']);
    writeFileSync(p, 'Source\tTarget\n( [MAX 2 ] )\t12\n');
    expect(() => data.readListopsTsv(p)).toThrow(new RegExp(`${p}:2: expected a Target digit 0-9 \\(got '12'\\)`));
    writeFileSync(p, 'Source\tTarget\n( [MAX 2 ] )\n');
    expect(() => data.readListopsTsv(p)).toThrow(/:2: expected 2 tab-separated columns/);
  });

  it('aclImdb bytes with labels, CIFAR-10 records normalized as the official example', () => {
    const dir = tempDir('files');
    writeImdb(dir, 3);
    const imdb = data.loadImdb(dir, 'train', { maxLength: 20 });
    expect(imdb.size).toBe(6);
    expect(Array.from({ length: 6 }, (_, i) => imdb.batch([i]).y[0])).toEqual([0, 1, 0, 1, 0, 1]);
    expect(Math.max(...Array.from(imdb.lengths))).toBe(20);
    expect(() => data.loadImdb(join(dir, 'nothing'), 'test')).toThrow(/IMDB not found: .*test\/neg is missing/);

    writeCifar(dir, 2, 3);
    const rec = cifarRecord(1, 10); // data_batch_1's first record
    const rgb = new data.CifarClassification(data.loadCifar(dir, 'train'));
    expect(rgb.size).toBe(10);
    const b = rgb.batch([0]);
    expect(b.xShape).toEqual([1, 3, 1024]);
    expect(b.y[0]).toBe(1);
    expect(b.x[5]).toBeCloseTo((rec[1 + 5] / 255 - 0.4914) / 0.2023, 5);
    expect(b.x[1024 + 5]).toBeCloseTo((rec[1 + 1024 + 5] / 255 - 0.4822) / 0.1994, 5);
    const gray = new data.CifarClassification(data.loadCifar(dir, 'test'), true).batch([0]);
    const t0 = cifarRecord(0, 100);
    const l = Math.round(0.299 * t0[1] + 0.587 * t0[1025] + 0.114 * t0[2049]);
    expect(gray.xShape).toEqual([1, 1, 1024]);
    expect(gray.x[0]).toBeCloseTo((l / 255 - 122.6 / 255) / (61 / 255), 1);
    appendFileSync(join(dir, 'test_batch.bin'), Buffer.alloc(10));
    expect(() => data.loadCifar(dir, 'test')).toThrow(/test_batch.bin: expected records of 3073 bytes .* not a multiple \(truncated\?\)/);
  });

  it('holdOut: disjoint, covering, the same on every call', () => {
    const ds = data.fromArrays(Array.from({ length: 50 }, (_, i) => [i]), Array.from({ length: 50 }, (_, i) => i % 2));
    const { train, val } = data.holdOut(ds, 0.1);
    expect(val.size).toBe(5);
    expect(train.size).toBe(45);
    const all = [...train.indices, ...val.indices].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(data.holdOut(ds, 0.1).val.indices)).toEqual(Array.from(val.indices));
    expect(Array.from(val.lengths!)).toEqual([1, 1, 1, 1, 1]);
    expect(val.batch([0]).x[0]).toBe(val.indices[0]);
    expect(() => data.holdOut(ds, 1)).toThrow(/'fraction' must be in \(0, 1\)/);
  });

  it('batching by length: every example once per epoch, deterministic, far less padding (ListOps)', () => {
    const ds = data.generateListops({ size: 3000, seed: 1, maxLength: 2000 });
    const bs = 32;
    const batches = data.epochBatches(ds, bs, 3, 0);
    expect(batches.length).toBe(Math.ceil(3000 / bs));
    expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(batches.slice(0, -1).every((b) => b.length === bs)).toBe(true);
    expect(data.epochBatches(ds, bs, 3, 0)).toEqual(batches);
    expect(data.epochBatches(ds, bs, 3, 1)).not.toEqual(batches);
    const shuffled = data.epochBatches(ds, bs, 3, 0, false);
    const before = data.paddingShare(ds, shuffled);
    const after = data.paddingShare(ds, batches);
    // The figure for the record: the share of padded positions in an epoch of batches.
    ds.padMultiple = 64; // as the listops task pads
    const after64 = data.paddingShare(ds, batches);
    console.log(
      `ListOps (3000 examples, lengths 500..2000, batch ${bs}): padding ${(100 * before).toFixed(1)}% shuffled, ` +
        `${(100 * after).toFixed(1)}% bucketed, ${(100 * after64).toFixed(1)}% bucketed with lengths rounded up to 64`,
    );
    expect(before).toBeGreaterThan(0.3);
    expect(after).toBeLessThan(0.05);
    expect(after64).toBeLessThan(0.1);
  });
});
