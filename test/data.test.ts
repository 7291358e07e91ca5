import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';

const { parseIdx, encodeIdx, loadFashionMnist, FashionMnistClassification, FashionMnistPixels, SineDataset, AddingDataset, CopyDataset, epochOrder, FMNIST_DIR } = s4.train;

function idxHeader(type: number, dims: number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = type;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

/** A Fashion-MNIST-shaped folder with n random images and labels. */
function fixture(n: number, gz: boolean): { dir: string; images: Uint8Array; labels: Uint8Array } {
  const dir = mkdtempSync(join(tmpdir(), 's4-fmnist-'));
  const images = new Uint8Array(n * 784);
  for (let i = 0; i < images.length; i++) images[i] = (i * 131 + 7) % 256;
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10);
  const put = (name: string, bytes: Buffer): void => writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  for (const p of ['train', 't10k']) {
    put(`${p}-images-idx3-ubyte`, encodeIdx([n, 28, 28], images));
    put(`${p}-labels-idx1-ubyte`, encodeIdx([n], labels));
  }
  return { dir, images, labels };
}

describe('IDX reader', () => {
  it('reads uint8 and big-endian multi-byte element types, plain or gzip', () => {
    const u8 = encodeIdx([2, 3], Uint8Array.from([1, 2, 3, 4, 5, 255]));
    for (const bytes of [u8, gzipSync(u8)]) {
      const a = parseIdx(bytes);
      expect(a.dims).toEqual([2, 3]);
      expect([...a.data]).toEqual([1, 2, 3, 4, 5, 255]);
    }
    const i32 = Buffer.concat([idxHeader(0x0c, [2]), Buffer.from([0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0])]);
    expect([...parseIdx(i32).data]).toEqual([-2, 256]);
    const f32 = Buffer.alloc(8);
    f32.writeFloatBE(1.5, 0);
    f32.writeFloatBE(-0.25, 4);
    expect([...parseIdx(Buffer.concat([idxHeader(0x0d, [2]), f32])).data]).toEqual([1.5, -0.25]);
    const i16 = Buffer.concat([idxHeader(0x0b, [1]), Buffer.from([0x80, 0x00])]);
    expect([...parseIdx(i16).data]).toEqual([-32768]);
  });

  it('refuses truncated, oversized and foreign data', () => {
    const good = encodeIdx([4], Uint8Array.from([1, 2, 3, 4]));
    expect(() => parseIdx(good.subarray(0, good.length - 1), 'x.idx')).toThrow(/x\.idx: IDX size mismatch.*truncated/);
    expect(() => parseIdx(Buffer.concat([good, Buffer.from([0])]))).toThrow(/size mismatch/);
    expect(() => parseIdx(Buffer.from('hello world'))).toThrow(/bad magic/);
    expect(() => parseIdx(Buffer.concat([idxHeader(0x0a, [1]), Buffer.from([0])]))).toThrow(/unknown IDX element type 0xa/);
    expect(() => parseIdx(gzipSync(good).subarray(0, 12))).toThrow(/corrupt gzip/);
  });
});

describe('Fashion-MNIST', () => {
  it('loads a folder of gzip or plain IDX files, with a limit', () => {
    for (const gz of [true, false]) {
      const f = fixture(5, gz);
      const d = loadFashionMnist('train', { dir: f.dir });
      expect(d.count).toBe(5);
      expect(d.images).toEqual(f.images);
      expect(d.labels).toEqual(f.labels);
      expect(loadFashionMnist('test', { dir: f.dir, limit: 3 }).count).toBe(3);
    }
  });

  it('gives the install command when the data is missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 's4-empty-'));
    expect(() => loadFashionMnist('train', { dir: empty })).toThrow(/sudo apt-get install dataset-fashion-mnist/);
    expect(() => loadFashionMnist('train', { dir: join(empty, 'nope') })).toThrow(/train-images-idx3-ubyte\.gz and train-labels-idx1-ubyte\.gz missing/);
    expect(() => loadFashionMnist('val' as 'train', { dir: empty })).toThrow(/'split' must be 'train' or 'test'/);
  });

  it('refuses files of the wrong shape or with bad labels', () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-bad-'));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx([1, 27, 29], new Uint8Array(27 * 29)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx([1], Uint8Array.from([3])));
    expect(() => loadFashionMnist('train', { dir })).toThrow(/expected uint8 images \[N, 28, 28\] \(got \[1, 27, 29\]\)/);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx([1, 28, 28], new Uint8Array(784)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx([1], Uint8Array.from([12])));
    expect(() => loadFashionMnist('train', { dir })).toThrow(/label 12 at index 0/);
  });

  it('makes classification and next-pixel batches', () => {
    const f = fixture(4, true);
    const data = loadFashionMnist('train', { dir: f.dir });
    const cls = new FashionMnistClassification(data).batch([2, 0]);
    expect(cls.xShape).toEqual([2, 1, 784]);
    expect(cls.x[5]).toBeCloseTo(f.images[2 * 784 + 5] / 255, 7);
    expect(cls.x[784 + 9]).toBeCloseTo(f.images[9] / 255, 7);
    expect([...cls.y]).toEqual([f.labels[2], f.labels[0]]);
    const px = new FashionMnistPixels(data).batch([1]);
    expect(px.xShape).toEqual([1, 1, 784]);
    expect(px.yShape).toEqual([784]);
    expect(px.x[0]).toBe(0);
    for (const t of [1, 100, 783]) {
      expect(px.x[t]).toBeCloseTo(f.images[784 + t - 1] / 255, 7);
      expect(px.y[t]).toBe(f.images[784 + t]);
    }
    expect(() => new FashionMnistPixels(data).batch([4])).toThrow(/index 4 is outside \[0, 4\)/);
  });

  it.skipIf(!existsSync(join(FMNIST_DIR, 'train-images-idx3-ubyte.gz')))('reads the installed dataset (60000 + 10000, balanced classes)', () => {
    const test = loadFashionMnist('test');
    expect(test.count).toBe(10000);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    expect(loadFashionMnist('train', { limit: 100 }).count).toBe(100);
  });
});

describe('synthetic tasks', () => {
  it('sine: the target is the input shifted by one, examples independent of batch order', () => {
    const ds = new SineDataset({ size: 10, length: 7, seed: 3 });
    const b = ds.batch([4, 9]);
    expect(b.xShape).toEqual([2, 1, 7]);
    expect(b.yShape).toEqual([2, 1, 7]);
    for (let t = 0; t < 6; t++) expect(b.y[t]).toBe(b.x[t + 1]);
    const again = ds.batch([9, 4]);
    expect(again.x.subarray(0, 7)).toEqual(b.x.subarray(7, 14));
    expect(new SineDataset({ size: 10, length: 7, seed: 4 }).batch([4]).x).not.toEqual(b.x.subarray(0, 7));
    expect(Math.max(...b.x.map(Math.abs))).toBeLessThanOrEqual(1.5);
  });

  it('adding: one marker in each half, target is the sum of the marked values', () => {
    const L = 9;
    const ds = new AddingDataset({ size: 50, length: L, seed: 1 });
    const b = ds.batch(Array.from({ length: 50 }, (_, i) => i));
    expect(b.xShape).toEqual([50, 2, L]);
    expect(b.yShape).toEqual([50, 1]);
    for (let i = 0; i < 50; i++) {
      const vals = b.x.subarray(i * 2 * L, i * 2 * L + L);
      const marks = b.x.subarray(i * 2 * L + L, (i + 1) * 2 * L);
      const where = [...marks.keys()].filter((t) => marks[t] === 1);
      expect(where.length).toBe(2);
      expect(where[0]).toBeLessThan(Math.floor(L / 2));
      expect(where[1]).toBeGreaterThanOrEqual(Math.floor(L / 2));
      expect(b.y[i]).toBeCloseTo(vals[where[0]] + vals[where[1]], 6);
    }
  });

  it('copy: symbols, blanks, delimiter; the symbols are the targets at the end', () => {
    const ds = new CopyDataset({ size: 20, delay: 5, memory: 3, alphabet: 4, seed: 2 });
    expect(ds.length).toBe(11);
    expect(ds.vocab).toBe(6);
    const b = ds.batch([0, 7]);
    expect(b.xShape).toEqual([2, 11]);
    expect(b.yShape).toEqual([22]);
    for (let i = 0; i < 2; i++) {
      const x = b.x.subarray(i * 11, (i + 1) * 11);
      const y = b.y.subarray(i * 11, (i + 1) * 11);
      const m = b.mask!.subarray(i * 11, (i + 1) * 11);
      for (let t = 0; t < 3; t++) expect(x[t]).toBeGreaterThanOrEqual(1);
      for (let t = 0; t < 3; t++) expect(x[t]).toBeLessThanOrEqual(4);
      expect([...x.subarray(3)]).toEqual([0, 0, 0, 0, 5, 0, 0, 0]);
      expect([...y.subarray(0, 8)]).toEqual(new Array(8).fill(0));
      expect([...y.subarray(8)]).toEqual([...x.subarray(0, 3)]);
      expect([...m]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    }
  });

  it('refuses bad options and indices', () => {
    expect(() => new SineDataset({ size: 0, length: 8 })).toThrow(/'size' must be an integer >= 1/);
    expect(() => new AddingDataset({ size: 4, length: 1 })).toThrow(/'length' must be an integer >= 2/);
    expect(() => new CopyDataset({ size: 4, memory: 0 })).toThrow(/'memory'/);
    expect(() => new SineDataset({ size: 4, length: 8 }).batch([1.5])).toThrow(/index 1.5 is outside/);
    expect(() => new SineDataset({ size: 4, length: 8 }).batch([])).toThrow(/non-empty/);
  });
});

describe('shuffling', () => {
  it('gives a seeded permutation per epoch', () => {
    const a = epochOrder(1000, 7, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(1000, 7, 0)).toEqual(a);
    expect(epochOrder(1000, 7, 1)).not.toEqual(a);
    expect(epochOrder(1000, 8, 0)).not.toEqual(a);
    expect([...epochOrder(1, 0, 0)]).toEqual([0]);
  });
});
