/**
 * Fashion-MNIST from the IDX files of Debian's dataset-fashion-mnist package (gzip'd, in
 * /usr/share/datasets/fashion-mnist). Images are 28 x 28 bytes, read as sequences of 784
 * pixels in raster order: classification ([B, 1, 784] in [0, 1] -> one of 10 classes)
 * and next-pixel prediction ([B, 1, 784] shifted right by one -> 256-way logits per pixel).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkIndices, type Batch, type Dataset } from './dataset';
import { readIdxFile } from './idx';

export const FMNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FMNIST_INSTALL = 'sudo apt-get install dataset-fashion-mnist';
export const FMNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FMNIST_SIDE = 28;
export const FMNIST_PIXELS = FMNIST_SIDE * FMNIST_SIDE;

export interface FashionMnist {
  split: 'train' | 'test';
  count: number;
  /** count * 784 pixel bytes. */
  images: Uint8Array;
  /** count class ids in [0, 10). */
  labels: Uint8Array;
}

export interface FashionMnistOptions {
  /** Folder with the IDX files (default FMNIST_DIR, or $S4_FMNIST_DIR). */
  dir?: string;
  /** Keep only the first `limit` examples. */
  limit?: number;
}

function findFile(dir: string, base: string): string | null {
  for (const name of [`${base}.gz`, base]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Loads one split; a missing folder or file throws an Error that gives the install command. */
export function loadFashionMnist(split: 'train' | 'test', opts: FashionMnistOptions = {}): FashionMnist {
  if (split !== 'train' && split !== 'test') throw new TypeError(`loadFashionMnist: argument 'split' must be 'train' or 'test' (got ${String(split)})`);
  const dir = opts.dir ?? process.env.S4_FMNIST_DIR ?? FMNIST_DIR;
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgPath = findFile(dir, `${prefix}-images-idx3-ubyte`);
  const labPath = findFile(dir, `${prefix}-labels-idx1-ubyte`);
  if (!imgPath || !labPath) {
    const missing = [!imgPath && `${prefix}-images-idx3-ubyte.gz`, !labPath && `${prefix}-labels-idx1-ubyte.gz`].filter(Boolean).join(' and ');
    throw new Error(
      `Fashion-MNIST not found: ${missing} missing in ${dir}. Install it with \`${FMNIST_INSTALL}\` ` +
        '(or pass --data-dir / set S4_FMNIST_DIR to a folder holding the IDX files), or train a synthetic task: --task sine|adding|copy',
    );
  }
  const img = readIdxFile(imgPath);
  const lab = readIdxFile(labPath);
  if (img.dims.length !== 3 || img.dims[1] !== FMNIST_SIDE || img.dims[2] !== FMNIST_SIDE || !(img.data instanceof Uint8Array)) {
    throw new Error(`${imgPath}: expected uint8 images [N, 28, 28] (got [${img.dims.join(', ')}])`);
  }
  if (lab.dims.length !== 1 || lab.dims[0] !== img.dims[0] || !(lab.data instanceof Uint8Array)) {
    throw new Error(`${labPath}: expected ${img.dims[0]} uint8 labels (got [${lab.dims.join(', ')}])`);
  }
  let count = img.dims[0];
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new RangeError(`loadFashionMnist: option 'limit' must be a positive integer (got ${String(opts.limit)})`);
    count = Math.min(count, opts.limit);
  }
  const labels = lab.data.subarray(0, count);
  for (let i = 0; i < count; i++) if (labels[i] > 9) throw new Error(`${labPath}: label ${labels[i]} at index ${i} is outside [0, 10)`);
  return { split, count, images: img.data.subarray(0, count * FMNIST_PIXELS), labels };
}

/** Classification: x [B, 1, 784] = pixel / 255, y [B] = class id. */
export class FashionMnistClassification implements Dataset {
  readonly name: string;
  readonly size: number;
  constructor(readonly data: FashionMnist) {
    this.name = `fmnist-${data.split}`;
    this.size = data.count;
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    const B = indices.length;
    const x = new Float32Array(B * FMNIST_PIXELS);
    const y = new Float32Array(B);
    indices.forEach((i, b) => {
      const src = this.data.images.subarray(i * FMNIST_PIXELS, (i + 1) * FMNIST_PIXELS);
      for (let p = 0; p < FMNIST_PIXELS; p++) x[b * FMNIST_PIXELS + p] = src[p] / 255;
      y[b] = this.data.labels[i];
    });
    return { x, xShape: [B, 1, FMNIST_PIXELS], y, yShape: [B] };
  }
}

/**
 * Next-pixel prediction: input at position t is pixel t-1 (scaled to [0, 1]; 0 before the
 * first pixel), the target is pixel t as one of 256 classes: y [B * 784], row b * 784 + t.
 */
export class FashionMnistPixels implements Dataset {
  readonly name: string;
  readonly size: number;
  constructor(readonly data: FashionMnist) {
    this.name = `fmnist-gen-${data.split}`;
    this.size = data.count;
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    const B = indices.length;
    const L = FMNIST_PIXELS;
    const x = new Float32Array(B * L);
    const y = new Float32Array(B * L);
    indices.forEach((i, b) => {
      const src = this.data.images.subarray(i * L, (i + 1) * L);
      for (let t = 0; t < L; t++) {
        x[b * L + t] = t === 0 ? 0 : src[t - 1] / 255;
        y[b * L + t] = src[t];
      }
    });
    return { x, xShape: [B, 1, L], y, yShape: [B * L] };
  }
}
