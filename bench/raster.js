'use strict';
/**
 * A tiny raster canvas for charts without dependencies: RGB pixels, lines, dots, filled
 * rectangles, text in a 5 x 7 bitmap font (digits, letters as capitals, a few signs), saved
 * as PNG by the package's own encoder (lib/util/png.ts, from dist/: npm run build:ts). Used
 * by bench/curves.js.
 */
const { encodePng } = require('../dist/util/png.js');

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
    return encodePng({ width: this.width, height: this.height, channels: 3, pixels: this.px });
  }
}

module.exports = { Canvas };
