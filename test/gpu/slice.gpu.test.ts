/**
 * ops.slice on CUDA against the CPU backend (forward and gradient, bit for bit: both are
 * copies) on both kernel shapes (rows shorter than 64 floats take one thread per element,
 * longer rows a grid of row chunks), windows at the row edges, L = 1, 7, 784 and more rows
 * than one grid dimension holds; the native window check on the device; NaN passing.
 * Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { ops as native } from '../../lib/native/binding';
import { expectCpuGpuEqual } from '../helpers/cpu_gpu_parity';

const { ops } = s4;

/**
 * slice on both devices with the same input; backpropagates sum(y * W) and checks that the
 * CUDA output and gradient equal the CPU ones exactly. Returns the CUDA output.
 */
function parity(shape: number[], start: number, len: number, seed: number): Float32Array {
  return expectCpuGpuEqual(shape, (x) => ops.slice(x, start, len), 'float32', seed, `[${shape}] start ${start} len ${len}`);
}

describe('slice on CUDA vs CPU', () => {
  it('short and long rows, windows at the edges, L = 1, 7, 784, 5000', () => {
    for (const L of [1, 7, 63, 64, 65, 784, 5000]) {
      const cases: [number, number][] = [
        [0, L],
        [0, 1],
        [L - 1, 1],
        [Math.floor(L / 4), Math.max(1, Math.floor(L / 2))],
      ];
      if (L > 64) cases.push([L - 64, 64], [3, 63]);
      for (const [start, len] of cases) {
        if (start + len > L) continue;
        parity([3, 5, L], start, len, L + start);
      }
    }
  });

  it('more rows than one grid dimension holds (65535), rank 1 and rank 4', () => {
    parity([70000, 64], 0, 64, 1);
    parity([70000, 130], 1, 128, 2);
    parity([70000, 9], 2, 5, 3);
    parity([300], 17, 200, 4);
    parity([2, 3, 4, 100], 50, 50, 5);
  });

  it('the S4 kernel cut: k [H, lMax] -> [H, L]', () => {
    parity([256, 4096], 0, 1024, 6);
    parity([64, 16384], 0, 16383, 7);
  });

  it('NaN passes through; the native op checks the window on the device path too', () => {
    const x = s4.tensor([1, NaN, 3, Infinity, -Infinity, 6], [2, 3], { device: 'cuda' });
    const got = s4.tidy(() => ops.slice(x, 1, 2).dataSync());
    expect(Number.isNaN(got[0])).toBe(true);
    expect(Array.from(got.slice(1))).toEqual([3, -Infinity, 6]);
    const out = s4.zeros([2, 2], { device: 'cuda' });
    expect(() => native.sliceLast({ x: x.handle, out: out.handle, rows: 2, L: 3, start: 2, len: 2 })).toThrow(
      /sliceLast: argument 'len' must be at most L - start = 1/,
    );
    const cpuOut = s4.zeros([2, 2], { device: 'cpu' });
    expect(() => native.sliceLast({ x: x.handle, out: cpuOut.handle, rows: 2, L: 3, start: 0, len: 2 })).toThrow(/argument 'out' is on cpu but 'x' is on cuda/);
    s4.dispose(x, out, cpuOut);
  });
});
