import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../lib/util/crc32';
import { encodePng, imageGrid } from '../lib/util/png';

/** A minimal independent PNG reader: chunk walk, CRC check, inflate, un-filter (type 0 only). */
function decodePng(png: Buffer): { width: number; height: number; colorType: number; pixels: Uint8Array; chunks: string[] } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let pos = 8;
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  let colorType = -1;
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('ascii', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    const crc = png.readUInt32BE(pos + 8 + len);
    // The CRC covers type and data; compare with a bitwise reference implementation.
    let c = 0xffffffff;
    for (const byte of png.subarray(pos + 4, pos + 8 + len)) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    expect(crc).toBe((c ^ 0xffffffff) >>> 0);
    chunks.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      colorType = data[9];
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const channels = colorType === 2 ? 3 : 1;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  expect(raw.length).toBe((stride + 1) * height);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, colorType, pixels, chunks };
}

describe('crc32', () => {
  it('matches the standard check value and continues across chunks', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const all = Buffer.from('The quick brown fox jumps over the lazy dog');
    expect(crc32(all)).toBe(0x414fa339);
    expect(crc32(all.subarray(10), crc32(all.subarray(0, 10)))).toBe(0x414fa339);
  });
});

describe('encodePng', () => {
  it('round-trips grayscale and RGB images of odd sizes', () => {
    for (const [w, h, ch] of [[1, 1, 1], [7, 3, 1], [28, 28, 1], [5, 9, 3]] as const) {
      const pixels = new Uint8Array(w * h * ch);
      for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + 11) % 256;
      const png = encodePng({ width: w, height: h, channels: ch, pixels });
      const d = decodePng(png);
      expect(d.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
      expect([d.width, d.height, d.colorType]).toEqual([w, h, ch === 1 ? 0 : 2]);
      expect(d.pixels).toEqual(pixels);
    }
  });

  it('refuses bad arguments with messages that name them', () => {
    expect(() => encodePng({ width: 0, height: 1, channels: 1, pixels: new Uint8Array(0) })).toThrow(/'width'/);
    expect(() => encodePng({ width: 2, height: 2, channels: 1, pixels: new Uint8Array(3) })).toThrow(/'pixels' must hold .* = 4 bytes/);
    expect(() => encodePng({ width: 2, height: 2, channels: 2 as 1, pixels: new Uint8Array(8) })).toThrow(/'channels'/);
  });
});

describe('imageGrid', () => {
  it('places each image in its cell, scaled, with padding', () => {
    const a = Uint8Array.from([1, 2, 3, 4, 5, 6]); // 2 x 3
    const b = Uint8Array.from([7, 8, 9, 10, 11, 12]);
    const c = Uint8Array.from([13, 14, 15, 16, 17, 18]);
    const g = imageGrid([a, b, c], 2, 3, { columns: 2, padding: 1, background: 0, scale: 2 });
    // 2 columns of 6 px + 3 pads; 2 rows of 4 px + 3 pads.
    expect([g.width, g.height]).toEqual([15, 11]);
    const at = (x: number, y: number): number => g.pixels[y * g.width + x];
    expect(at(1, 1)).toBe(1);
    expect(at(2, 2)).toBe(1);
    expect(at(3, 1)).toBe(2);
    expect(at(6, 4)).toBe(6);
    expect(at(8, 1)).toBe(7); // second column starts at 1 + 6 + 1
    expect(at(1, 6)).toBe(13); // second row starts at 1 + 4 + 1
    expect(at(0, 0)).toBe(0);
    expect(at(14, 10)).toBe(0); // the empty fourth cell is background
    expect(decodePng(encodePng(g)).pixels).toEqual(g.pixels);
  });

  it('refuses images of the wrong size', () => {
    expect(() => imageGrid([new Uint8Array(5)], 2, 3)).toThrow(/images\[0\]/);
    expect(() => imageGrid([], 2, 3)).toThrow(/'images'/);
  });
});
