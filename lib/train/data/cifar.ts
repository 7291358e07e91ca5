/**
 * CIFAR-10 from its binary files (data_batch_1..5.bin, test_batch.bin; records of 1 label
 * byte and 3 x 1024 pixel bytes, red, green, blue planes in raster order), as sequences of
 * 1024 pixels: x [B, 3, 1024], or [B, 1, 1024] with `grayscale`. Normalization as the
 * official example (example.py): RGB per channel with mean (0.4914, 0.4822, 0.4465) and std
 * (0.2023, 0.1994, 0.2010); grayscale (PIL's L = 0.299 R + 0.587 G + 0.114 B, rounded) with
 * mean 122.6 / 255 and std 61 / 255.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkIndices, type Batch, type Dataset } from './dataset';

export const CIFAR_PIXELS = 1024;
const RECORD = 1 + 3 * CIFAR_PIXELS;
const RGB_MEAN = [0.4914, 0.4822, 0.4465];
const RGB_STD = [0.2023, 0.1994, 0.201];
const GRAY_MEAN = 122.6 / 255;
const GRAY_STD = 61 / 255;

export interface Cifar {
  split: 'train' | 'test';
  count: number;
  /** count records of RECORD bytes. */
  records: Uint8Array;
}

const FILES = { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ['test_batch.bin'] };

/** Reads a split; `dir` holds the .bin files (or a cifar-10-batches-bin folder holding them). */
export function loadCifar(dir: string, split: 'train' | 'test', opts: { limit?: number } = {}): Cifar {
  const root = existsSync(join(dir, 'cifar-10-batches-bin')) ? join(dir, 'cifar-10-batches-bin') : dir;
  const parts: Uint8Array[] = [];
  for (const f of FILES[split]) {
    const p = join(root, f);
    if (!existsSync(p)) {
      throw new Error(`CIFAR-10 not found: ${p} is missing (expected the binary version's ${FILES[split].join(', ')}; get cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html)`);
    }
    const bytes = readFileSync(p);
    if (bytes.length === 0 || bytes.length % RECORD !== 0) {
      throw new Error(`${p}: expected records of ${RECORD} bytes (a label and 3 x 1024 pixels); the size ${bytes.length} is not a multiple (truncated?)`);
    }
    for (let r = 0; r < bytes.length / RECORD; r++) {
      if (bytes[r * RECORD] > 9) throw new Error(`${p}: record ${r} has label ${bytes[r * RECORD]}, not a class in [0, 10)`);
    }
    parts.push(bytes);
  }
  let records = parts.length === 1 ? parts[0] : Uint8Array.from(Buffer.concat(parts));
  let count = records.length / RECORD;
  if (opts.limit !== undefined && opts.limit < count) {
    count = opts.limit;
    records = records.subarray(0, count * RECORD);
  }
  return { split, count, records };
}

/** Classification of the 1024-pixel sequences into 10 classes. */
export class CifarClassification implements Dataset {
  readonly name: string;
  readonly size: number;
  readonly channels: number;

  constructor(
    readonly data: Cifar,
    readonly grayscale = false,
  ) {
    this.name = `cifar-${data.split}${grayscale ? '-gray' : ''}`;
    this.size = data.count;
    this.channels = grayscale ? 1 : 3;
  }

  batch(indices: readonly number[]): Batch {
    checkIndices(this, indices);
    const B = indices.length;
    const C = this.channels;
    const x = new Float32Array(B * C * CIFAR_PIXELS);
    const y = new Float32Array(B);
    indices.forEach((i, b) => {
      const rec = this.data.records.subarray(i * RECORD, (i + 1) * RECORD);
      y[b] = rec[0];
      const px = rec.subarray(1);
      if (this.grayscale) {
        for (let p = 0; p < CIFAR_PIXELS; p++) {
          const l = (px[p] * 19595 + px[CIFAR_PIXELS + p] * 38470 + px[2 * CIFAR_PIXELS + p] * 7471 + 0x8000) >> 16;
          x[b * CIFAR_PIXELS + p] = (l / 255 - GRAY_MEAN) / GRAY_STD;
        }
      } else {
        for (let c = 0; c < 3; c++) {
          const row = (b * 3 + c) * CIFAR_PIXELS;
          for (let p = 0; p < CIFAR_PIXELS; p++) x[row + p] = (px[c * CIFAR_PIXELS + p] / 255 - RGB_MEAN[c]) / RGB_STD[c];
        }
      }
    });
    return { x, xShape: [B, C, CIFAR_PIXELS], y, yShape: [B] };
  }
}
