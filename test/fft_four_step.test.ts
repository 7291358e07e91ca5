/**
 * The decomposition of the CUDA long-sequence FFT convolution (native/cuda/conv_long.cu),
 * modelled in float64 by test/helpers/fft_four_step.ts, against the direct causal
 * convolution and correlation: forward, du, dk and dd, at transform sizes from the
 * smallest (M = 16) to the largest the kernels take (M = 65536), odd lengths included.
 */
import { describe, expect, it } from 'vitest';
import { convBackward64, conv64 } from './helpers/conv_ref';
import { randomValues, relL2 } from './helpers/device';
import { blockPairs, fourStepBackward, fourStepConv, fourStepSize, unitRow } from './helpers/fft_four_step';

function makeCase(B: number, H: number, L: number, seed: number) {
  return {
    u: Float64Array.from(randomValues(B * H * L, seed)),
    k: Float64Array.from(randomValues(H * L, seed + 1), (v, i) => v * Math.exp(-(i % L) / Math.max(1, L / 4))),
    d: Float64Array.from(randomValues(H, seed + 2)),
    dy: Float64Array.from(randomValues(B * H * L, seed + 3)),
  };
}

/** Direct y[t] = sum_{s<=t} k[s] u[t-s] + d u[t] of one row at the positions `ts`. */
function convAt(u: ArrayLike<number>, k: ArrayLike<number>, d: number, ts: number[], off: number, koff: number): number[] {
  return ts.map((t) => {
    let acc = d * u[off + t];
    for (let s = 0; s <= t; s++) acc += k[koff + s] * u[off + t - s];
    return acc;
  });
}

/** Direct corr(dy, x)[t] = sum_{s>=t} x[s-t] dy[s] of one row at the positions `ts`. */
function corrAt(dy: ArrayLike<number>, x: ArrayLike<number>, L: number, ts: number[], off: number, xoff: number): number[] {
  return ts.map((t) => {
    let acc = 0;
    for (let s = t; s < L; s++) acc += x[xoff + s - t] * dy[off + s];
    return acc;
  });
}

/** Positions to check in a long row: both ends, the middle, the transform's column edges, and a spread. */
function samplePositions(L: number): number[] {
  const set = new Set<number>([0, 1, 2, L - 1, L - 2, L >> 1, (L >> 1) - 1]);
  const s = fourStepSize(L);
  for (const q of [s.M2 - 1, s.M2, 2 * s.M2 - 1, 2 * s.M2 + 1]) if (q < L) set.add(q);
  for (let i = 0; i < 48; i++) set.add(Math.floor((i * 7919 * L) / 48 / 7919 + i * 13) % L);
  return [...set].sort((a, b) => a - b);
}

describe('four-step FFT convolution (float64 model of the CUDA passes)', () => {
  it('splits M into two factors and its blocks into whole bin pairs', () => {
    for (const L of [1, 16, 17, 100, 8193, 16384, 32768, 65536]) {
      const s = fourStepSize(L);
      expect(s.M).toBeGreaterThanOrEqual(L);
      expect(s.M1 * s.M2).toBe(s.M);
      expect(s.M1).toBeLessThanOrEqual(s.M2);
      expect(s.M2 % s.C).toBe(0);
      expect((s.M1 / 2) % s.G).toBe(0);
      // every position appears in exactly one block, and every bin 0..M/2 is handled once
      const seen = new Set<number>();
      const bins = new Set<number>();
      for (let u0 = 0; u0 < s.M1 / 2; u0 += s.G) {
        const rows = Array.from({ length: 2 * s.G }, (_, lr) => unitRow(s, u0, lr));
        for (const r of rows) {
          expect(seen.has(r)).toBe(false);
          seen.add(r);
        }
        for (const { k } of blockPairs(s, rows)) {
          expect(bins.has(k)).toBe(false);
          bins.add(k);
        }
      }
      expect(seen.size).toBe(s.M1);
      expect(bins.size).toBe(s.M / 2 + 1);
    }
  });

  for (const [B, H, L] of [[2, 2, 1], [2, 3, 7], [3, 2, 16], [2, 2, 100], [2, 3, 1000], [1, 2, 4097]] as const) {
    it(`forward and backward equal the direct sums [${B}, ${H}, ${L}]`, () => {
      const c = makeCase(B, H, L, 3 * L + B);
      for (const withD of [false, true]) {
        const d = withD ? c.d : null;
        expect(relL2(fourStepConv(c.u, c.k, d, B, H, L), conv64(c.u, c.k, d, B, H, L)), 'y').toBeLessThan(1e-12);
        const want = convBackward64(c.dy, c.u, c.k, d, B, H, L);
        const got = fourStepBackward(c.dy, c.u, c.k, d, B, H, L);
        for (const key of ['du', 'dk', 'dd'] as const) expect(relL2(got[key], want[key]), key).toBeLessThan(1e-12);
        expect(relL2(fourStepConv(c.dy, c.k, d, B, H, L, true), want.du), 'correlation').toBeLessThan(1e-12);
      }
    });
  }

  // Long rows: the direct sums at sampled positions (the full O(L^2) sums would take minutes).
  for (const [B, L] of [[2, 8193], [2, 12345], [1, 16384], [1, 32768], [1, 65536]] as const) {
    it(`long row L = ${L}: y, du, dk and dd at sampled positions`, () => {
      const H = 1;
      const c = makeCase(B, H, L, L);
      const ts = samplePositions(L);
      const y = fourStepConv(c.u, c.k, c.d, B, H, L);
      const g = fourStepBackward(c.dy, c.u, c.k, c.d, B, H, L);
      const dk = new Float64Array(ts.length);
      let dd = 0;
      for (let b = 0; b < B; b++) {
        const off = b * L;
        const pick = (a: Float64Array) => ts.map((t) => a[off + t]);
        expect(relL2(pick(y), convAt(c.u, c.k, c.d[0], ts, off, 0)), `y row ${b}`).toBeLessThan(1e-11);
        const du = corrAt(c.dy, c.k, L, ts, off, 0).map((v, i) => v + c.d[0] * c.dy[off + ts[i]]);
        expect(relL2(pick(g.du), du), `du row ${b}`).toBeLessThan(1e-11);
        corrAt(c.dy, c.u, L, ts, off, off).forEach((v, i) => { dk[i] += v; });
        for (let t = 0; t < L; t++) dd += c.dy[off + t] * c.u[off + t];
      }
      expect(relL2(ts.map((t) => g.dk[t]), dk), 'dk').toBeLessThan(1e-11);
      expect(Math.abs(g.dd[0] - dd) / Math.abs(dd), 'dd').toBeLessThan(1e-11);
    });
  }
});
