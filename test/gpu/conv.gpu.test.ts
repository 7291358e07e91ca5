/**
 * fftConv on CUDA (cuFFT) against the CPU backend and the float64 definition, forward and
 * backward, on odd lengths, lengths whose spectra cross block boundaries, both the
 * vectorized (L % 4 == 0) and scalar paths, and the benchmark shape.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { convBackward64, conv64, fftConvGradsOn as backward, fftConvOn, loadGoldenDplr, makeConvCase as makeCase, type ConvCase } from '../helpers/conv_ref';
import { relL2 } from '../helpers/device';

type Dev = 'cpu' | 'cuda';

function forward(dev: Dev, c: ConvCase, B: number, H: number, L: number, withD: boolean): Float32Array {
  return fftConvOn(dev, c.u, c.k, withD ? c.d : null, B, H, L);
}

// [B, H, L]: odd lengths, 1, lengths with > 256 bins (several product blocks), L % 4 == 0
// (vectorized pad/crop) and not, batches not a multiple of the unroll (4) of the product.
// L <= 8192 runs the fused kernel (transform sizes 16 .. 16384, radix passes of 2 .. 16
// and 32 .. 256 threads; L = 2, 8, 9, 4097, 8192 sit at its size boundaries); longer rows and
// the dk/dd backward run the cuFFT pipeline.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [2, 1, 2], [3, 2, 8], [3, 2, 9],
  [2, 3, 7], [1, 2, 4097], [2, 2, 8192], [3, 5, 784],
  [5, 3, 999], [2, 4, 1000], [1, 2, 4096], [6, 2, 1025],
];

/** The forward with d and all three gradients on CUDA equal the CPU backend's. */
function expectCudaMatchesCpu(B: number, H: number, L: number, seed: number): void {
  const c = makeCase(B, H, L, seed);
  expect(relL2(forward('cuda', c, B, H, L, true), forward('cpu', c, B, H, L, true)), 'y').toBeLessThan(1e-4);
  const all = { u: true, k: true, d: true };
  const g = backward('cuda', c, B, H, L, all);
  const cpu = backward('cpu', c, B, H, L, all);
  for (const key of ['du', 'dk', 'dd'] as const) expect(relL2(g[key]!, cpu[key]!), key).toBeLessThan(1e-4);
}

describe('fftConv CUDA vs CPU and float64', () => {
  it('runs on the cuda backend', () => {
    expect(s4.backend()).toBe('cuda');
  });

  for (const [B, H, L] of SHAPES) {
    it(`forward [${B}, ${H}, ${L}]`, () => {
      const c = makeCase(B, H, L, B + H + L);
      for (const withD of [false, true]) {
        const g = forward('cuda', c, B, H, L, withD);
        const cpu = forward('cpu', c, B, H, L, withD);
        expect(relL2(g, cpu)).toBeLessThan(1e-4);
        if (L <= 8192) expect(relL2(g, conv64(c.u, c.k, withD ? c.d : null, B, H, L))).toBeLessThan(1e-4);
      }
    });

    it(`backward [${B}, ${H}, ${L}]`, () => {
      const c = makeCase(B, H, L, 7 * L + B);
      const ref = L <= 8192 ? convBackward64(c.w, c.u, c.k, c.d, B, H, L) : null;
      for (const want of [
        { u: true, k: true, d: true },
        { u: true, k: false, d: false },
        { u: false, k: true, d: false },
        { u: false, k: false, d: true },
      ]) {
        const g = backward('cuda', c, B, H, L, want);
        const cpu = backward('cpu', c, B, H, L, want);
        for (const key of ['du', 'dk', 'dd'] as const) {
          const wanted = key === 'du' ? want.u : key === 'dk' ? want.k : want.d;
          if (!wanted) {
            expect(g[key], key).toBeNull();
            continue;
          }
          expect(relL2(g[key]!, cpu[key]!), `${key} vs cpu`).toBeLessThan(1e-4);
          if (ref) expect(relL2(g[key]!, ref[key]), `${key} vs float64`).toBeLessThan(1e-4);
        }
      }
    });
  }

  it('long sequence L = 16384', () => expectCudaMatchesCpu(2, 3, 16384, 5));

  it('benchmark shape B = 16, H = 256, L = 4096 (forward and backward)', () => expectCudaMatchesCpu(16, 256, 4096, 9));

  it('reuses its cuFFT plans: repeated calls agree bit for bit', () => {
    const [B, H, L] = [3, 4, 300];
    const c = makeCase(B, H, L, 11);
    const a = forward('cuda', c, B, H, L, true);
    forward('cuda', makeCase(2, 2, 77, 1), 2, 2, 77, false); // another plan in between
    const b = forward('cuda', c, B, H, L, true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  it('reproduces the golden y on CUDA', () => {
    const g = loadGoldenDplr();
    const { H } = g.params;
    const B = g.u.length / (H * g.L);
    const y = s4.tidy(() =>
      s4.ops.fftConv(s4.tensor(g.u, [B, H, g.L], { device: 'cuda' }), s4.tensor(g.K, [H, g.L], { device: 'cuda' }), s4.tensor(g.D, [H], { device: 'cuda' })).dataSync(),
    );
    expect(relL2(y, g.y)).toBeLessThan(1e-4);
  });

  it('refuses inputs on different devices', () => {
    s4.tidy(() => {
      const u = s4.zeros([1, 2, 5], { device: 'cuda' });
      expect(() => s4.ops.fftConv(u, s4.zeros([2, 5], { device: 'cpu' }))).toThrow(/fftConv: argument 'k' is on cpu but 'u' is on cuda/);
      expect(() => s4.ops.fftConv(u, s4.zeros([2, 5], { device: 'cuda' }), s4.zeros([2], { device: 'cpu' }))).toThrow(/'d' is on cpu/);
    });
  });
});
