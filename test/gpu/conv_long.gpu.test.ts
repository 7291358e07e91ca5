/**
 * fftConv on CUDA for long rows (8192 < L <= 65536): the two-pass shared-memory transform
 * (native/cuda/conv_long.cu, switch 'fused', the default) against the cuFFT pipeline
 * (switch 'cufft', flipped in this process with core.setFftConvPath), the CPU backend and
 * the float64 model of the passes (test/helpers/fft_four_step.ts, itself checked against
 * the direct sums in test/fft_four_step.test.ts): forward, du, dk and dd, every subset of
 * gradients, NaN rows, and more rows than a grid's y or z dimension allows.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { core, ops } from '../../lib/native/binding';
import { fftConvGradsOn as backward, fftConvOn, makeConvCase as makeCase, type ConvCase, type ConvGradWant as Want } from '../helpers/conv_ref';
import { relL2 } from '../helpers/device';
import { fourStepBackward, fourStepConv } from '../helpers/fft_four_step';

type Path = 'fused' | 'cufft';

function withPath<T>(path: Path, fn: () => T): T {
  core.setFftConvPath(path);
  try {
    return fn();
  } finally {
    core.setFftConvPath('fused');
  }
}

function forward(device: s4.DeviceName, c: ConvCase, B: number, H: number, L: number, withD: boolean): Float32Array {
  return fftConvOn(device, c.u, c.k, withD ? c.d : null, B, H, L);
}

const KEYS = ['du', 'dk', 'dd'] as const;
// The two-pass backward sums dd = sum dy u directly (in double); the cuFFT pipeline takes
// dk[h, 0], whose error is dk's (about 1e-6 of its norm) over a value that can be much
// smaller than dk's entries, so the two agree only to that error.
const DD_VS_CUFFT = 1e-4;
const WANTS: Want[] = [
  { u: true, k: true, d: true },
  { u: true, k: false, d: false },
  { u: false, k: true, d: false },
  { u: false, k: false, d: true },
  { u: true, k: false, d: true },
];

// [B, H, L]: the smallest long length (M = 16384, odd), an odd length inside it, the
// powers of two at each transform size (M1 x M2 = 128 x 128, 128 x 256, 256 x 256).
const SHAPES: [number, number, number][] = [
  [2, 2, 8193], [2, 3, 12345], [3, 2, 16384], [2, 2, 32768], [1, 2, 65536], [2, 1, 40001],
];

describe('fftConv CUDA, long rows: two-pass kernels vs cuFFT, CPU and float64', () => {
  afterAll(() => core.setFftConvPath('fused'));

  it('runs on the cuda backend, fused by default, and the switch reads back', () => {
    expect(s4.backend()).toBe('cuda');
    expect(core.nnInfo('cuda').fftConv).toBe('fused');
    withPath('cufft', () => expect(core.nnInfo('cuda').fftConv).toBe('cufft'));
    expect(core.nnInfo('cuda').fftConv).toBe('fused');
  });

  for (const [B, H, L] of SHAPES) {
    it(`forward [${B}, ${H}, ${L}]`, () => {
      const c = makeCase(B, H, L, B + H + L);
      for (const withD of [false, true]) {
        const fused = forward('cuda', c, B, H, L, withD);
        const cufft = withPath('cufft', () => forward('cuda', c, B, H, L, withD));
        const ref = fourStepConv(c.u, c.k, withD ? c.d : null, B, H, L);
        expect(relL2(fused, cufft), 'vs cufft').toBeLessThan(1e-5);
        expect(relL2(fused, ref), 'vs float64').toBeLessThan(1e-5);
        expect(relL2(fused, forward('cpu', c, B, H, L, withD)), 'vs cpu').toBeLessThan(1e-5);
      }
    });

    it(`backward [${B}, ${H}, ${L}], every subset of gradients`, () => {
      const c = makeCase(B, H, L, 5 * L + B);
      const ref = fourStepBackward(c.w, c.u, c.k, c.d, B, H, L);
      for (const want of WANTS) {
        const fused = backward('cuda', c, B, H, L, want);
        const cufft = withPath('cufft', () => backward('cuda', c, B, H, L, want));
        for (const key of KEYS) {
          const wanted = key === 'du' ? want.u : key === 'dk' ? want.k : want.d;
          if (!wanted) {
            expect(fused[key], key).toBeNull();
            continue;
          }
          expect(relL2(fused[key]!, cufft[key]!), `${key} vs cufft`).toBeLessThan(key === 'dd' ? DD_VS_CUFFT : 1e-5);
          expect(relL2(fused[key]!, ref[key]), `${key} vs float64`).toBeLessThan(1e-5);
        }
      }
    });
  }

  it('a batch cut into chunks of several rows (B = 9, H = 64: 3 chunks of 3) equals cuFFT and the CPU', () => {
    const [B, H, L] = [9, 64, 10000];
    const c = makeCase(B, H, L, 41);
    const all = { u: true, k: true, d: true };
    const fused = backward('cuda', c, B, H, L, all);
    const cufft = withPath('cufft', () => backward('cuda', c, B, H, L, all));
    const cpu = backward('cpu', c, B, H, L, all);
    for (const key of KEYS) {
      expect(relL2(fused[key]!, cufft[key]!), `${key} vs cufft`).toBeLessThan(key === 'dd' ? DD_VS_CUFFT : 1e-5);
      expect(relL2(fused[key]!, cpu[key]!), `${key} vs cpu`).toBeLessThan(1e-5);
    }
  });

  it('repeated calls agree bit for bit (dk summed over the batch in a fixed order)', () => {
    const [B, H, L] = [3, 2, 12000];
    const c = makeCase(B, H, L, 17);
    const all = { u: true, k: true, d: true };
    const a = backward('cuda', c, B, H, L, all);
    const b = backward('cuda', c, B, H, L, all);
    for (const key of KEYS) expect(Buffer.from(a[key]!.buffer).equals(Buffer.from(b[key]!.buffer)), key).toBe(true);
    const y0 = forward('cuda', c, B, H, L, true);
    const y1 = forward('cuda', c, B, H, L, true);
    expect(Buffer.from(y0.buffer).equals(Buffer.from(y1.buffer))).toBe(true);
  });

  it('a NaN in u or dy fills its row (and only its row, and its channel of dk and dd), as cuFFT does', () => {
    const [B, H, L] = [2, 3, 9000];
    const c = makeCase(B, H, L, 23);
    const bad = (1 * H + 2) * L + 4321; // b = 1, h = 2
    const isNanRow = (a: Float32Array, r: number) => a.subarray(r * L, (r + 1) * L).every(Number.isNaN);
    const isFiniteRow = (a: Float32Array, r: number) => a.subarray(r * L, (r + 1) * L).every(Number.isFinite);
    for (const path of ['fused', 'cufft'] as const) {
      const u = Float32Array.from(c.u);
      u[bad] = NaN;
      const y = withPath(path, () => forward('cuda', { ...c, u }, B, H, L, true));
      for (let r = 0; r < B * H; r++) expect(r === H + 2 ? isNanRow(y, r) : isFiniteRow(y, r), `${path} y row ${r}`).toBe(true);
      const w = Float32Array.from(c.w);
      w[bad] = NaN;
      const g = withPath(path, () => backward('cuda', { ...c, w }, B, H, L, { u: true, k: true, d: true }));
      for (let r = 0; r < B * H; r++) expect(r === H + 2 ? isNanRow(g.du!, r) : isFiniteRow(g.du!, r), `${path} du row ${r}`).toBe(true);
      for (let h = 0; h < H; h++) {
        expect(h === 2 ? isNanRow(g.dk!, h) : isFiniteRow(g.dk!, h), `${path} dk row ${h}`).toBe(true);
        expect(Number.isNaN(g.dd![h]), `${path} dd ${h}`).toBe(h === 2);
      }
    }
  });

  it('more than 65535 rows (B*H = 65552, L = 8193): equal to cuFFT, forward and backward', () => {
    // 2.1 GB per [B, H, L] tensor: the inputs are made on the device (a random channel
    // pattern tiled over the batch, times a dropout mask that differs per element) and
    // compared there.
    const [B, H, L] = [4097, 16, 8193];
    const base = makeCase(1, H, L, 31);
    const rel = (a: s4.Tensor, b: s4.Tensor) => s4.tidy(() => {
      const diff = s4.ops.sub(a, b);
      return Math.sqrt(s4.ops.sum(s4.ops.mul(diff, diff)).item() / s4.ops.sum(s4.ops.mul(b, b)).item());
    });
    s4.tidy(() => {
      const on = { device: 'cuda' as const };
      const u = s4.ops.dropout(s4.ops.tile(s4.tensor(base.u, [1, H, L], on), B, 0), 0.5, { seed: 1, step: 0 });
      const dy = s4.ops.dropout(s4.ops.tile(s4.tensor(base.w, [1, H, L], on), B, 0), 0.5, { seed: 2, step: 0 });
      const k = s4.tensor(base.k, [H, L], on);
      const d = s4.tensor(base.d, [H], on);
      const outs = (path: Path) => withPath(path, () => {
        const y = s4.ops.fftConv(u, k, d);
        const du = s4.zeros([B, H, L], on), dk = s4.zeros([H, L], on), dd = s4.zeros([H], on);
        ops.fftConvBackward({ dy: dy.handle, u: u.handle, k: k.handle, d: d.handle, du: du.handle, dk: dk.handle, dd: dd.handle, B, H, L });
        return { y, du, dk, dd };
      });
      const f = outs('fused');
      const cu = outs('cufft');
      for (const key of ['y', 'du', 'dk', 'dd'] as const) expect(rel(f[key], cu[key]), key).toBeLessThan(key === 'dd' ? DD_VS_CUFFT : 1e-5);
    });
  });
});
