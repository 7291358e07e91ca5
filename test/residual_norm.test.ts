/**
 * residualNorm on the current backend (CPU in `npm test`): the fused tail of a residual S4
 * block, [LayerNorm](x + dropout(GLU(z + zBias))) over channels. Forward against a float64
 * reference on shapes with L = 1, 7, 784 and H across 32 / 256 / 1024; the dropout mask equal
 * to the dropout op's (the composition glu + dropout + add + layerNormChannels gives the same
 * result); zBias equal to adding the bias to z first (and to the
 * bias of the linearChannels before it); gradients (zBias's too) against float64 finite
 * differences; NaN propagation; argument errors; saved statistics freed.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import type { Tensor } from '../lib/index';
import { ops as native } from '../lib/native/binding';
import { device, randomValues, relL2 } from './helpers/device';
import { finiteDiff, weightedSum } from './helpers/nn_reference';
import { residualNormRaw } from './helpers/residual_norm_raw';
import { residualNormRef } from './helpers/residual_norm_ref';

const { ops } = s4;
const TOL = 1e-4;

interface Case {
  B: number;
  H: number;
  L: number;
}

const SHAPES: Case[] = [
  { B: 2, H: 31, L: 1 },
  { B: 3, H: 32, L: 7 },
  { B: 2, H: 33, L: 784 },
  { B: 1, H: 255, L: 7 },
  { B: 4, H: 256, L: 1 },
  { B: 1, H: 257, L: 784 },
  { B: 2, H: 1023, L: 1 },
  { B: 1, H: 1024, L: 7 },
  { B: 1, H: 1025, L: 784 },
];

/** Inputs of one case: z scaled so the GLU gates spread over the sigmoid, x, w, b. */
function inputs({ B, H, L }: Case, seed: number) {
  return {
    z: randomValues(B * 2 * H * L, seed).map((v) => 2 * v),
    x: randomValues(B * H * L, seed + 1),
    w: randomValues(H, seed + 2).map((v) => 1 + 0.5 * v),
    b: randomValues(H, seed + 3),
  };
}

/** A bias for z [B, 2H, L]: one value per channel, spread wider than z's so it moves the gates. */
function zBiasValues(H: number, seed: number): Float32Array {
  return randomValues(2 * H, seed).map((v) => 1.5 * v);
}

/** z + zb with channel c of z [B, C, L] getting zb[c], rounded to float32 (as the op adds it). */
function addChannelBias(z: Float32Array, zb: Float32Array, B: number, C: number, L: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let bi = 0; bi < B; bi++)
    for (let c = 0; c < C; c++)
      for (let l = 0; l < L; l++) out[(bi * C + c) * L + l] = z[(bi * C + c) * L + l] + zb[c];
  return out;
}

/** The dropout op's multipliers on [n] elements (0 or 1/(1-p)), from the native dropout op. */
function dropoutMask(n: number, p: number, seed: number, step: number): Float32Array {
  return s4.tidy(() => {
    const ones = s4.tensor(new Float32Array(n).fill(1), [n]);
    const out = s4.zeros([n]);
    native.dropout({ x: ones.handle, out: out.handle, n, p, seed, step, offset: 0 });
    return out.dataSync();
  });
}

describe(`residualNorm (${device})`, () => {
  it('forward equals the float64 reference (normalize on and off, p = 0 and 0.3)', () => {
    SHAPES.forEach((c, k) => {
      const { B, H, L } = c;
      const v = inputs(c, 10 * k + 1);
      for (const normalize of [true, false])
        for (const p of [0, 0.3]) {
          const mask = p > 0 ? dropoutMask(B * H * L, p, 7, k) : null;
          const got = s4.tidy(() => {
            const z = s4.tensor(v.z, [B, 2 * H, L]);
            const x = s4.tensor(v.x, [B, H, L]);
            const y = ops.residualNorm(z, x, s4.tensor(v.w, [H]), s4.tensor(v.b, [H]), { eps: 1e-5, normalize, p, seed: 7, step: k });
            expect(y.shape).toEqual([B, H, L]);
            return y.dataSync();
          });
          const want = residualNormRef(v.z, v.x, v.w, v.b, mask, B, H, L, 1e-5, normalize).out;
          expect(relL2(got, want), `${B}x${H}x${L} normalize=${normalize} p=${p}`).toBeLessThan(TOL);
        }
    });
  });

  it('writes mean and rstd when asked (raw op), and the output without w and b', () => {
    const [B, H, L] = [3, 40, 9];
    const v = inputs({ B, H, L }, 5);
    const ref = residualNormRef(v.z, v.x, null, null, null, B, H, L, 1e-3, true);
    const [out, mean, rstd] = residualNormRaw(v.z, v.x, B, H, L, device);
    expect(relL2(out, ref.out)).toBeLessThan(TOL);
    expect(relL2(mean, ref.mean)).toBeLessThan(TOL);
    expect(relL2(rstd, ref.rstd)).toBeLessThan(TOL);
  });

  it('the dropout mask is the dropout op\'s: equal to glu + dropout + add + layerNormChannels', () => {
    for (const [B, H, L] of [[2, 33, 784], [3, 256, 1], [1, 40, 7]]) {
      const v = inputs({ B, H, L }, 40 + H);
      for (const normalize of [true, false]) {
        const [fused, composed] = s4.tidy(() => {
          const z = s4.tensor(v.z, [B, 2 * H, L]);
          const x = s4.tensor(v.x, [B, H, L]);
          const w = s4.tensor(v.w, [H]);
          const b = s4.tensor(v.b, [H]);
          const f = ops.residualNorm(z, x, w, b, { eps: 1e-5, normalize, p: 0.3, seed: 11, step: 5 });
          const r = ops.add(x, ops.dropout(ops.glu(z, 1), 0.3, { seed: 11, step: 5 }));
          const c = normalize ? ops.layerNormChannels(r, w, b, 1e-5) : r;
          return [f.dataSync(), c.dataSync()];
        });
        expect(relL2(fused, composed), `${B}x${H}x${L} normalize=${normalize}`).toBeLessThan(1e-6);
      }
    }
    // Another step draws another mask.
    const v = inputs({ B: 1, H: 64, L: 50 }, 3);
    const [a, b] = s4.tidy(() => {
      const z = s4.tensor(v.z, [1, 128, 50]);
      const x = s4.tensor(v.x, [1, 64, 50]);
      return [1, 2].map((step) => ops.residualNorm(z, x, null, null, { normalize: false, p: 0.5, seed: 1, step }).dataSync());
    });
    expect(relL2(a, b)).toBeGreaterThan(0.1);
  });


  it('zBias: equals residualNorm of z + zBias and the float64 reference (normalize on and off, p = 0 and 0.3)', () => {
    SHAPES.forEach((c, k) => {
      const { B, H, L } = c;
      const v = inputs(c, 10 * k + 2);
      const zb = zBiasValues(H, 10 * k + 7);
      const zPlus = addChannelBias(v.z, zb, B, 2 * H, L);
      for (const normalize of [true, false])
        for (const p of [0, 0.3]) {
          const mask = p > 0 ? dropoutMask(B * H * L, p, 4, k) : null;
          const [fused, added] = s4.tidy(() => {
            const x = s4.tensor(v.x, [B, H, L]);
            const w = s4.tensor(v.w, [H]);
            const b = s4.tensor(v.b, [H]);
            const o = { eps: 1e-5, normalize, p, seed: 4, step: k };
            const f = ops.residualNorm(s4.tensor(v.z, [B, 2 * H, L]), x, w, b, { ...o, zBias: s4.tensor(zb, [2 * H]) });
            const a = ops.residualNorm(s4.tensor(zPlus, [B, 2 * H, L]), x, w, b, o);
            return [f.dataSync(), a.dataSync()];
          });
          const label = `${B}x${H}x${L} normalize=${normalize} p=${p}`;
          expect(relL2(fused, added), `${label}: vs z + zBias`).toBeLessThan(1e-6);
          const want = residualNormRef(v.z, v.x, v.w, v.b, mask, B, H, L, 1e-5, normalize, zb).out;
          expect(relL2(fused, want), `${label}: vs reference`).toBeLessThan(TOL);
        }
    });
  });

  it('zBias takes the bias of the linearChannels before it: values and every gradient', () => {
    for (const [B, H, L] of [[2, 33, 1], [3, 32, 7], [1, 40, 784], [2, 257, 1], [1, 1025, 7]]) {
      const K = 24; // the linear's input channels
      const uv = randomValues(B * K * L, H + 1);
      const Wv = randomValues(2 * H * K, H + 2).map((t) => t / Math.sqrt(K));
      const biasv = zBiasValues(H, H + 3);
      const v = inputs({ B, H, L }, H + 4);
      const G = randomValues(B * H * L, H + 5);
      // Each path: u -> linearChannels -> residualNorm, backpropagating sum(y * G).
      const run = (fused: boolean) => {
        const t = (data: Float32Array, shape: number[]) => s4.tensor(data, shape, { requiresGrad: true });
        const u = t(uv, [B, K, L]);
        const W = t(Wv, [2 * H, K]);
        const bias = t(biasv, [2 * H]);
        const x = t(v.x, [B, H, L]);
        const w = t(v.w, [H]);
        const b = t(v.b, [H]);
        const y = s4.tidy(() => {
          const o = { eps: 1e-5, p: 0.2, seed: 8, step: H };
          const out = fused
            ? ops.residualNorm(ops.linearChannels(u, W), x, w, b, { ...o, zBias: bias })
            : ops.residualNorm(ops.linearChannels(u, W, bias), x, w, b, o);
          ops.sum(ops.mul(out, s4.tensor(G, [B, H, L]))).backward();
          return out.dataSync();
        });
        const grads = [u, W, bias, x, w, b].map((a) => a.grad!.dataSync());
        s4.dispose(u, W, bias, x, w, b);
        return [y, ...grads];
      };
      const fused = run(true);
      const plain = run(false);
      ['out', 'u', 'W', 'bias', 'x', 'w', 'b'].forEach((name, i) =>
        expect(relL2(fused[i], plain[i]), `${B}x${H}x${L}: ${name}`).toBeLessThan(TOL),
      );
    }
  });


  it('gradients to z, x, w and b equal float64 finite differences', () => {
    for (const [B, H, L] of [[2, 3, 5], [1, 4, 1], [2, 5, 3]])
      for (const normalize of [true, false])
        for (const p of [0, 0.3]) {
          const v = inputs({ B, H, L }, 70 + B + H + L);
          const mask = p > 0 ? dropoutMask(B * H * L, p, 3, 9) : null;
          const z = s4.tensor(v.z, [B, 2 * H, L], { requiresGrad: true });
          const x = s4.tensor(v.x, [B, H, L], { requiresGrad: true });
          const w = s4.tensor(v.w, [H], { requiresGrad: true });
          const b = s4.tensor(v.b, [H], { requiresGrad: true });
          const W = randomValues(B * H * L, 99);
          s4.tidy(() => {
            const y = ops.residualNorm(z, x, w, b, { eps: 1e-5, normalize, p, seed: 3, step: 9 });
            ops.sum(ops.mul(y, s4.tensor(W, [B, H, L]))).backward();
          });
          const f64 = [v.z, v.x, v.w, v.b].map((a) => Float64Array.from(a));
          const loss = (k: number) => (t: Float64Array) => {
            const a: ArrayLike<number>[] = f64.slice();
            a[k] = t;
            return weightedSum(residualNormRef(a[0], a[1], a[2], a[3], mask, B, H, L, 1e-5, normalize).out, W);
          };
          const label = `${B}x${H}x${L} normalize=${normalize} p=${p}`;
          [z, x, w, b].forEach((t, k) => {
            const fd = finiteDiff(loss(k), f64[k]);
            const got = t.grad!.dataSync();
            // Without the norm, w and b take no part: zero gradients (the finite differences say so too).
            if (!normalize && k >= 2) expect(Array.from(got)).toEqual(new Array(H).fill(0));
            else expect(relL2(got, fd), `${label}: gradient ${['z', 'x', 'w', 'b'][k]}`).toBeLessThan(TOL);
          });
          s4.dispose(z, x, w, b);
        }
  });

  it('with zBias: gradients to zBias, z, x, w and b equal float64 finite differences (zBias alone too)', () => {
    for (const [B, H, L] of [[2, 3, 5], [1, 4, 1], [3, 3, 1], [2, 5, 3], [1, 3, 40]])
      for (const normalize of [true, false])
        for (const p of [0, 0.3])
          for (const only of [false, true]) {
            // only: zBias alone needs a gradient (the op sums a dz it is not asked for).
            const v = inputs({ B, H, L }, 170 + B + H + L);
            const zb = zBiasValues(H, 180 + H);
            const mask = p > 0 ? dropoutMask(B * H * L, p, 6, 2) : null;
            const rg = { requiresGrad: !only };
            const zBias = s4.tensor(zb, [2 * H], { requiresGrad: true });
            const z = s4.tensor(v.z, [B, 2 * H, L], rg);
            const x = s4.tensor(v.x, [B, H, L], rg);
            const w = s4.tensor(v.w, [H], rg);
            const b = s4.tensor(v.b, [H], rg);
            const W = randomValues(B * H * L, 98);
            s4.tidy(() => {
              const y = ops.residualNorm(z, x, w, b, { eps: 1e-5, normalize, p, seed: 6, step: 2, zBias });
              ops.sum(ops.mul(y, s4.tensor(W, [B, H, L]))).backward();
            });
            const f64 = [zb, v.z, v.x, v.w, v.b].map((a) => Float64Array.from(a));
            const loss = (k: number) => (t: Float64Array) => {
              const a: ArrayLike<number>[] = f64.slice();
              a[k] = t;
              return weightedSum(residualNormRef(a[1], a[2], a[3], a[4], mask, B, H, L, 1e-5, normalize, a[0]).out, W);
            };
            const label = `${B}x${H}x${L} normalize=${normalize} p=${p}${only ? ' zBias alone' : ''}`;
            [zBias, z, x, w, b].forEach((t, k) => {
              if (only && k > 0) {
                expect(t.grad, `${label}: no gradient ${k}`).toBeFalsy();
                return;
              }
              const got = t.grad!.dataSync();
              if (!normalize && k >= 3) expect(Array.from(got)).toEqual(new Array(H).fill(0));
              else expect(relL2(got, finiteDiff(loss(k), f64[k])), `${label}: gradient ${['zBias', 'z', 'x', 'w', 'b'][k]}`).toBeLessThan(TOL);
            });
            s4.dispose(zBias, z, x, w, b);
          }
  });

  it('the native gradZBias is the channel sum of gradZ, with or without gradZ asked for', () => {
    for (const [B, H, L] of [[3, 5, 1], [2, 6, 4], [2, 7, 300]]) {
      const v = inputs({ B, H, L }, 190 + L);
      const zb = zBiasValues(H, 191);
      const [dz, withDz, alone] = s4.tidy(() => {
        const z = s4.tensor(v.z, [B, 2 * H, L]);
        const bias = s4.tensor(zb, [2 * H]);
        const x = s4.tensor(v.x, [B, H, L]);
        const g = s4.tensor(randomValues(B * H * L, 192), [B, H, L]);
        const m = s4.zeros([B, L]);
        const r = s4.zeros([B, L]);
        const out = s4.zeros([B, H, L]);
        const a = { B, H, L, p: 0.25, seed: 3, step: 4, offset: 0 };
        native.residualNormForward({ z: z.handle, zBias: bias.handle, x: x.handle, out: out.handle, mean: m.handle, rstd: r.handle, ...a, eps: 1e-5, normalize: true });
        const back = { gradOut: g.handle, z: z.handle, zBias: bias.handle, x: x.handle, mean: m.handle, rstd: r.handle, ...a, normalize: true };
        const gz = s4.zeros([B, 2 * H, L]);
        const gb1 = s4.zeros([2 * H]);
        const gb2 = s4.zeros([2 * H]);
        native.residualNormBackward({ ...back, gradZ: gz.handle, gradZBias: gb1.handle });
        native.residualNormBackward({ ...back, gradZBias: gb2.handle });
        return [gz.dataSync(), gb1.dataSync(), gb2.dataSync()];
      });
      const sums = new Float64Array(2 * H);
      for (let bi = 0; bi < B; bi++)
        for (let c = 0; c < 2 * H; c++)
          for (let l = 0; l < L; l++) sums[c] += dz[(bi * 2 * H + c) * L + l];
      expect(relL2(withDz, sums), `${B}x${H}x${L}`).toBeLessThan(1e-6);
      expect(Array.from(alone), `${B}x${H}x${L}: without gradZ`).toEqual(Array.from(withDz));
    }
  });

  it('the native backward writes only the gradients asked for, and needs the statistics when normalizing', () => {
    const [B, H, L] = [2, 6, 4];
    const v = inputs({ B, H, L }, 80);
    s4.tidy(() => {
      const z = s4.tensor(v.z, [B, 2 * H, L]);
      const x = s4.tensor(v.x, [B, H, L]);
      const g = s4.tensor(randomValues(B * H * L, 81), [B, H, L]);
      const dx = s4.zeros([B, H, L]);
      // Without the norm, dx is dOut itself.
      native.residualNormBackward({ gradOut: g.handle, z: z.handle, x: x.handle, gradX: dx.handle, B, H, L, p: 0, seed: 0, step: 0, offset: 0, normalize: false });
      expect(Array.from(dx.dataSync())).toEqual(Array.from(g.dataSync()));
      expect(() =>
        native.residualNormBackward({ gradOut: g.handle, z: z.handle, x: x.handle, gradX: dx.handle, B, H, L, p: 0, seed: 0, step: 0, offset: 0, normalize: true }),
      ).toThrow(/residualNormBackward: arguments 'mean' and 'rstd'/);
    });
  });

  it('a NaN in z or x gives NaN in the output (it never passes)', () => {
    const [B, H, L] = [2, 8, 5];
    const v = inputs({ B, H, L }, 90);
    const ref = residualNormRef(v.z, v.x, v.w, v.b, null, B, H, L, 1e-5, true).out;
    for (const which of ['z', 'x'] as const)
      for (const normalize of [true, false]) {
        const z = v.z.slice();
        const x = v.x.slice();
        // Element (b 1, h 2, l 3); in z its gate half.
        if (which === 'z') z[(1 * 2 * H + H + 2) * L + 3] = NaN;
        else x[(1 * H + 2) * L + 3] = NaN;
        const got = s4.tidy(() =>
          ops.residualNorm(s4.tensor(z, [B, 2 * H, L]), s4.tensor(x, [B, H, L]), s4.tensor(v.w, [H]), s4.tensor(v.b, [H]), { normalize }).dataSync(),
        );
        expect(Number.isNaN(got[(1 * H + 2) * L + 3]), `${which} normalize=${normalize}`).toBe(true);
        if (normalize) for (let h = 0; h < H; h++) expect(Number.isNaN(got[(1 * H + h) * L + 3])).toBe(true);
        expect(Number.isNaN(got[0])).toBe(false);
        expect(relL2(got, ref)).toBe(Infinity);
      }
  });

  it('writes into opts.out, frees its saved statistics, and names the argument in errors', () => {
    const [B, H, L] = [2, 3, 4];
    const v = inputs({ B, H, L }, 100);
    const z = s4.tensor(v.z, [B, 2 * H, L], { requiresGrad: true });
    const x = s4.tensor(v.x, [B, H, L], { requiresGrad: true });
    const w = s4.tensor(v.w, [H]);
    const out = s4.zeros([B, H, L]);
    const before = s4.memory()[device].tensors;
    s4.tidy(() => {
      const y = ops.residualNorm(z, x, w, null, { eps: 1e-5 }, { out });
      expect(y).toBe(out);
      ops.sum(y).backward();
    });
    s4.zeroGrad([z, x]);
    expect(s4.memory()[device].tensors).toBe(before);
    expect(relL2(out.dataSync(), residualNormRef(v.z, v.x, v.w, null, null, B, H, L, 1e-5, true).out)).toBeLessThan(TOL);
    s4.noGrad(() => {
      const y = ops.residualNorm(z, x, w);
      y.dispose();
      expect(s4.memory()[device].tensors).toBe(before);
    });

    const bad = s4.tensor(randomValues(B * 2 * H * (L + 1), 1), [B, 2 * H, L + 1]);
    expect(() => ops.residualNorm(bad, x)).toThrow(/residualNorm: argument 'z' must have shape \[B, 2H, L\] = \[2, 6, 4\]/);
    expect(() => ops.residualNorm(z, z)).toThrow(/residualNorm: argument 'z' must have shape \[B, 2H, L\] = \[2, 12, 4\]/);
    expect(() => ops.residualNorm(z, s4.zeros([B, H]))).toThrow(/residualNorm: argument 'x' must have rank 3/);
    expect(() => ops.residualNorm(z, x, s4.zeros([H + 1]))).toThrow(/residualNorm: argument 'w' must have shape \[H\] = \[3\]/);
    expect(() => ops.residualNorm(z, x, null, s4.zeros([1]))).toThrow(/residualNorm: argument 'b' must have shape \[H\] = \[3\]/);
    expect(() => ops.residualNorm(z, x, null, null, { zBias: s4.zeros([H]) })).toThrow(/residualNorm: argument 'zBias' must have shape \[2H\] = \[6\]/);
    expect(() => ops.residualNorm(z, x, null, null, { zBias: s4.complex([1], [2]) })).toThrow(/residualNorm: argument 'zBias' must be float32/);
    expect(() => ops.residualNorm(z, x, null, null, { eps: 0 })).toThrow(/residualNorm: argument 'eps' must be in \(0, 1\]/);
    expect(() => ops.residualNorm(z, x, null, null, { p: 1, seed: 0, step: 0 })).toThrow(/residualNorm: argument 'p' must be in \[0, 1\)/);
    expect(() => ops.residualNorm(z, x, null, null, { p: 0.1 })).toThrow(/residualNorm: argument 'seed'/);
    expect(() => ops.residualNorm(z, x, null, null, { p: 0.1, seed: 1, step: -1 })).toThrow(/residualNorm: argument 'step'/);
    expect(() => ops.residualNorm(z, x, null, null, {}, { out: x })).toThrow(/residualNorm: option 'out' must not be the input 'x'/);
    expect(() => ops.residualNorm(z, x, null, null, {}, { out: s4.zeros([B, H, L + 1]) })).toThrow(/residualNorm: argument 'out' must have shape/);
    expect(() => ops.residualNorm('z' as unknown as Tensor, x)).toThrow(TypeError);
    expect(() => ops.residualNorm(z, s4.complex([1], [2]))).toThrow(/residualNorm: argument 'x' must be float32/);
    // The raw op checks its buffers by name too.
    expect(() =>
      native.residualNormForward({ z: x.handle, x: x.handle, out: out.handle, B, H, L, p: 0, seed: 0, step: 0, offset: 0, eps: 1e-5, normalize: true }),
    ).toThrow(/residualNormForward: argument 'z' must hold \[B, 2\*H, L\]/);
    expect(() =>
      native.residualNormForward({ z: z.handle, x: x.handle, out: x.handle, B, H, L, p: 0, seed: 0, step: 0, offset: 0, eps: 1e-5, normalize: true }),
    ).toThrow(/residualNormForward: argument 'out' must not be the same buffer as 'x'/);
    // B L = 2: out and zBias have one byte count, and must still be two buffers.
    const [B2, H2, L2] = [1, 2, 2];
    const z2 = s4.zeros([B2, 2 * H2, L2]);
    const x2 = s4.zeros([B2, H2, L2]);
    const zb2 = s4.zeros([2 * H2]);
    expect(() =>
      native.residualNormForward({ z: z2.handle, zBias: zb2.handle, x: x2.handle, out: zb2.handle, B: B2, H: H2, L: L2, p: 0, seed: 0, step: 0, offset: 0, eps: 1e-5, normalize: false }),
    ).toThrow(/residualNormForward: argument 'out' must not be the same buffer as 'zBias'/);
    s4.dispose(z2, x2, zb2);
    s4.dispose(z, x, w, out, bad);
  });
});
