'use strict';
/**
 * A tiny raster canvas for charts without dependencies: RGB pixels, lines, dots, filled
 * rectangles, text in a 5 x 7 bitmap font (digits, letters as capitals, a few signs), and a
 * PNG encoder (zlib from node, CRC-32 here). Used by bench/curves.js.
 */
const { deflateSync } = require('node:zlib');

// 5 x 7 glyphs, one string of 7 rows of 5 bits per character ('1' = ink).
const FONT = {
  0: '01110 10001 10011 10101 11001 10001 01110', 1: '00100 01100 00100 00100 00100 00100 01110',
  2: '01110 10001 00001 00010 00100 01000 11111', 3: '11110 00001 00001 01110 00001 00001 11110',
  4: '00010 00110 01010 10010 11111 00010 00010', 5: '11111 10000 11110 00001 00001 10001 01110',
  6: '00110 01000 10000 11110 10001 10001 01110', 7: '11111 00001 00010 00100 01000 01000 01000',
  8: '01110 10001 10001 01110 10001 10001 01110', 9: '01110 10001 10001 01111 00001 00010 01100',
  A: '01110 10001 10001 11111 10001 10001 10001', B: '11110 10001 10001 11110 10001 10001 11110',
  C: '01110 10001 10000 10000 10000 10001 01110', D: '11100 10010 10001 10001 10001 10010 11100',
  E: '11111 10000 10000 11110 10000 10000 11111', F: '11111 10000 10000 11110 10000 10000 10000',
  G: '01110 10001 10000 10111 10001 10001 01111', H: '10001 10001 10001 11111 10001 10001 10001',
  I: '01110 00100 00100 00100 00100 00100 01110', J: '00111 00010 00010 00010 00010 10010 01100',
  K: '10001 10010 10100 11000 10100 10010 10001', L: '10000 10000 10000 10000 10000 10000 11111',
  M: '10001 11011 10101 10101 10001 10001 10001', N: '10001 10001 11001 10101 10011 10001 10001',
  O: '01110 10001 10001 10001 10001 10001 01110', P: '11110 10001 10001 11110 10000 10000 10000',
  Q: '01110 10001 10001 10001 10101 10010 01101', R: '11110 10001 10001 11110 10100 10010 10001',
  S: '01111 10000 10000 01110 00001 00001 11110', T: '11111 00100 00100 00100 00100 00100 00100',
  U: '10001 10001 10001 10001 10001 10001 01110', V: '10001 10001 10001 10001 10001 01010 00100',
  W: '10001 10001 10001 10101 10101 10101 01010', X: '10001 10001 01010 00100 01010 10001 10001',
  Y: '10001 10001 01010 00100 00100 00100 00100', Z: '11111 00001 00010 00100 01000 10000 11111',
  '.': '00000 00000 00000 00000 00000 01100 01100', '%': '11000 11001 00010 00100 01000 10011 00011',
  '-': '00000 00000 00000 11111 00000 00000 00000', ':': '00000 01100 01100 00000 01100 01100 00000',
  '(': '00010 00100 01000 01000 01000 00100 00010', ')': '01000 00100 00010 00010 00010 00100 01000',
  '/': '00001 00010 00010 00100 01000 01000 10000', '_': '00000 00000 00000 00000 00000 00000 11111',
  ',': '00000 00000 00000 00000 01100 00100 01000', ' ': '00000 00000 00000 00000 00000 00000 00000',
};

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function hex(color) {
  const v = parseInt(color.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

class Canvas {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.px = new Uint8Array(width * height * 3).fill(255);
  }

  set(x, y, rgb) {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.px.set(rgb, 3 * (y * this.width + x));
  }

  rect(x, y, w, h, color) {
    const rgb = hex(color);
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, rgb);
  }

  /** A line `width` pixels wide (dots along the segment). */
  line(x0, y0, x1, y1, color, width = 1) {
    const rgb = hex(color);
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) * 2));
    const r = (width - 1) / 2;
    for (let s = 0; s <= n; s++) {
      const x = x0 + ((x1 - x0) * s) / n;
      const y = y0 + ((y1 - y0) * s) / n;
      for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) this.set(x + dx, y + dy, rgb);
    }
  }

  dot(x, y, radius, color) {
    const rgb = hex(color);
    for (let dy = -radius; dy <= radius; dy++) for (let dx = -radius; dx <= radius; dx++) if (dx * dx + dy * dy <= radius * radius) this.set(x + dx, y + dy, rgb);
  }

  /** Text at (x, y) = its top-left corner, `scale` pixels per font pixel; align 'left' | 'center' | 'right'. */
  text(x, y, str, color = '#000000', scale = 1, align = 'left') {
    const rgb = hex(color);
    const s = String(str).toUpperCase();
    const w = s.length * 6 * scale - scale;
    const left = align === 'center' ? x - w / 2 : align === 'right' ? x - w : x;
    [...s].forEach((ch, k) => {
      const rows = (FONT[ch] ?? FONT[' ']).split(' ');
      rows.forEach((row, j) => {
        for (let i = 0; i < 5; i++) {
          if (row[i] !== '1') continue;
          for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) this.set(left + (6 * k + i) * scale + a, y + j * scale + b, rgb);
        }
      });
    });
  }

  png() {
    const { width, height } = this;
    const raw = Buffer.alloc((3 * width + 1) * height);
    for (let y = 0; y < height; y++) raw.set(this.px.subarray(3 * width * y, 3 * width * (y + 1)), (3 * width + 1) * y + 1);
    const chunk = (type, data) => {
      const out = Buffer.alloc(12 + data.length);
      out.writeUInt32BE(data.length, 0);
      out.write(type, 4, 'ascii');
      out.set(data, 8);
      out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
      return out;
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 8;
    ihdr[9] = 2; // RGB
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
  }
}

module.exports = { Canvas };
