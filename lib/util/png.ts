/**
 * A small PNG encoder (8-bit grayscale or RGB, no interlace): signature, IHDR, one IDAT
 * holding the zlib-deflated scanlines (filter byte 0 each), IEND; every chunk ends with the
 * CRC-32 of its type and data. Enough to write sample grids without a dependency.
 */
import { deflateSync } from 'node:zlib';
import { crc32 } from './crc32';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export interface PngImage {
  width: number;
  height: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: 1 | 3;
  /** height * width * channels bytes, row-major, channels interleaved. */
  pixels: Uint8Array;
}

function checkDim(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1) {
    throw new RangeError(`encodePng: '${name}' must be an integer in [1, 2^31) (got ${String(v)})`);
  }
  return v;
}

/** Encodes an image as PNG bytes. */
export function encodePng(img: PngImage): Buffer {
  const width = checkDim('width', img.width);
  const height = checkDim('height', img.height);
  if (img.channels !== 1 && img.channels !== 3) throw new RangeError(`encodePng: 'channels' must be 1 or 3 (got ${String(img.channels)})`);
  if (!(img.pixels instanceof Uint8Array)) throw new TypeError("encodePng: 'pixels' must be a Uint8Array");
  const stride = width * img.channels;
  if (img.pixels.length !== stride * height) {
    throw new RangeError(`encodePng: 'pixels' must hold width * height * channels = ${stride * height} bytes (got ${img.pixels.length})`);
  }
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type None
    raw.set(img.pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = img.channels === 1 ? 0 : 2; // colour type: grayscale | truecolour
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}

export interface GridOptions {
  /** Images per row (default ceil(sqrt(count))). */
  columns?: number;
  /** Pixels between images (default 2). */
  padding?: number;
  /** Value of the padding pixels (default 128). */
  background?: number;
  /** Integer upscaling factor of every pixel (default 1). */
  scale?: number;
}

/**
 * Lays grayscale images of equal size (each height * width bytes) out as a grid and returns
 * the grid as one grayscale image.
 */
export function imageGrid(images: readonly Uint8Array[], height: number, width: number, opts: GridOptions = {}): PngImage {
  if (!Array.isArray(images) || images.length === 0) throw new RangeError("imageGrid: argument 'images' must be a non-empty array");
  checkDim('height', height);
  checkDim('width', width);
  images.forEach((im, i) => {
    if (!(im instanceof Uint8Array) || im.length !== height * width) {
      throw new RangeError(`imageGrid: images[${i}] must be a Uint8Array of height * width = ${height * width} bytes`);
    }
  });
  const n = images.length;
  const cols = opts.columns ?? Math.ceil(Math.sqrt(n));
  const pad = opts.padding ?? 2;
  const s = opts.scale ?? 1;
  if (!Number.isInteger(cols) || cols < 1) throw new RangeError(`imageGrid: option 'columns' must be a positive integer (got ${cols})`);
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`imageGrid: option 'padding' must be an integer >= 0 (got ${pad})`);
  if (!Number.isInteger(s) || s < 1) throw new RangeError(`imageGrid: option 'scale' must be a positive integer (got ${s})`);
  const rows = Math.ceil(n / cols);
  const cellW = width * s;
  const cellH = height * s;
  const W = cols * cellW + (cols + 1) * pad;
  const H = rows * cellH + (rows + 1) * pad;
  const pixels = new Uint8Array(W * H).fill(opts.background ?? 128);
  images.forEach((im, k) => {
    const x0 = pad + (k % cols) * (cellW + pad);
    const y0 = pad + Math.floor(k / cols) * (cellH + pad);
    for (let y = 0; y < cellH; y++) {
      const src = Math.floor(y / s) * width;
      const dst = (y0 + y) * W + x0;
      for (let x = 0; x < cellW; x++) pixels[dst + x] = im[src + Math.floor(x / s)];
    }
  });
  return { width: W, height: H, channels: 1, pixels };
}
