/**
 * CUDA nn ops against the CPU backend (forward and every gradient) and float64 references,
 * on shapes that cross warp/block/tile boundaries and odd lengths (1, 7, 784); the GEMM at
 * 1024 x 512 x 768 against the CPU GEMM; device-side label/index checks; determinism;
 * argmaxChannels index for index equal to the CPU (ties, NaN, -Infinity, both kernels).
 * Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import type { Tensor } from '../../lib/index';
import { randomValues, relL2 } from '../helpers/device';
import { rawGemmErrors } from '../helpers/gemm';
import { crossEntropyRef, geluRef, layerNormRef, linearRef } from '../helpers/nn_reference';

const { ops } = s4;
const TOL = 1e-4;

interface Spec {
  shape: number[];
  seed: number;
  grad?: boolean;
  scale?: number;
  /** Fixed values (labels, indices); no gradient. */
  values?: Float32Array;
}

const spec = (shape: number[], seed: number, grad = true, scale = 1): Spec => ({ shape, seed, grad, scale });
const fixed = (values: Float32Array, shape: number[]): Spec => ({ shape, seed: 0, grad: false, values });
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function make(s: Spec, device: 'cpu' | 'cuda'): Tensor {
  const data = s.values ?? randomValues(sizeOf(s.shape), s.seed).map((v) => v * (s.scale ?? 1));
  return s4.tensor(data, s.shape, { device, requiresGrad: !!s.grad });
}

/**
 * Runs op on both devices with the same inputs, backpropagates sum(y * W) and checks the
 * CUDA output and every gradient against the CPU backend. Returns the CUDA output.
 */
function parity(specs: Spec[], op: (t: Tensor[]) => Tensor, label: string, tol = TOL): Float32Array {
  const run = (device: 'cpu' | 'cuda') => {
    const ts = specs.map((s) => make(s, device));
    const y = s4.tidy(() => {
      const out = op(ts);
      const W = s4.tensor(randomValues(out.size, 7), out.shape as number[], { device });
      if (specs.some((s) => s.grad)) ops.sum(ops.mul(out, W)).backward();
      return out.dataSync();
    });
    const grads = ts.map((t) => (t.grad ? t.grad.dataSync() : null));
    s4.dispose(ts);
    return { y, grads };
  };
  const cpu = run('cpu');
  const gpu = run('cuda');
  expect(relL2(gpu.y, cpu.y), `${label}: forward`).toBeLessThan(tol);
  specs.forEach((s, k) => {
    if (!s.grad) return;
    expect(gpu.grads[k], `${label}: gradient ${k} exists`).not.toBeNull();
    expect(relL2(gpu.grads[k]!, cpu.grads[k]!), `${label}: gradient ${k}`).toBeLessThan(tol);
  });
  return gpu.y;
}

describe('nn ops on CUDA vs CPU', () => {
  it('GEMM at 1024 x 512 x 768 matches the CPU GEMM; the raw gemm with transposes, batches, batch-reduce', () => {
    const info = ops.gemmInfo('cuda');
    // S4_GEMM picks the engine (S4_TF32=1 alone means 'tf32', cuBLAS on TF32 tensor cores).
    const mode = process.env.S4_GEMM || (process.env.S4_TF32 === '1' ? 'tf32' : 'cublas');
    expect(info.mode).toBe(mode);
    if (mode === '3xtf32') expect(info.gemm, `3xTF32 not used: ${info.reason}`).toBe('3xtf32');
    else if (process.env.S4_CUBLAS === '0' || mode === 'builtin') expect(info.gemm).toBe('builtin');
    else expect(info.gemm, `cuBLAS not used: ${info.reason}`).toBe('cublas');
    expect(info.tf32).toBe(mode === 'tf32' && process.env.S4_CUBLAS !== '0');
    // s4.info() names the path without empty fields (e.g. 'cublas (cuBLAS 130100)').
    expect(s4.info().gemm).toMatch(/^(cublas|3xtf32|builtin)\b/);
    expect(s4.info().gemm).not.toMatch(/, \)|\(\)|, ,/);
    const [M, K, N] = [1024, 512, 768];
    parity([spec([M, K], 1, false), spec([N, K], 2, false)], ([x, w]) => ops.linear(x, w), 'gemm 1024x512x768');
    // Enough output tiles for the large tiles of the builtin kernel, ragged edges.
    parity([spec([2047, 301], 1, false), spec([2049, 301], 2, false)], ([x, w]) => ops.linear(x, w), 'gemm 2047x301x2049');
    for (const [label, err] of rawGemmErrors('cuda', 67, 130, 129, 3, 3)) expect(err, label).toBeLessThan(TOL);
  });

  it('linear and linearChannels: forward and gradients across tile edges', () => {
    for (const [xs, N] of [
      [[1, 1], 1],
      [[63, 129], 65],
      [[2, 7, 200], 33],
      [[4096, 64], 128],
    ] as [number[], number][]) {
      const K = xs[xs.length - 1];
      parity([spec(xs, 11), spec([N, K], 12), spec([N], 13)], ([x, w, b]) => ops.linear(x, w, b), `linear ${xs} N=${N}`);
    }
    const small = parity([spec([5, 7], 14), spec([3, 7], 15), spec([3], 16)], ([x, w, b]) => ops.linear(x, w, b), 'linear small');
    expect(relL2(small, linearRef(randomValues(35, 14), randomValues(21, 15), randomValues(3, 16), 5, 7, 3))).toBeLessThan(TOL);
    for (const [B, H, L, O] of [
      [1, 1, 1, 1],
      [2, 129, 784, 256],
      [3, 64, 7, 130],
      // Long L with few output tiles: dW takes the split-K path (even and uneven slices).
      [2, 64, 8192, 130],
      [1, 32, 5000, 48],
    ]) {
      parity([spec([B, H, L], 17), spec([O, H], 18), spec([O], 19)], ([x, w, b]) => ops.linearChannels(x, w, b), `linearChannels ${[B, H, L, O]}`);
    }
  });

  it('layerNorm over D = 1, 7, 128, 129, 1000, 1025, 4096 and rows 1, 63, 4096', () => {
    for (const D of [1, 7, 128, 129, 1000, 1025, 4096])
      for (const rows of [1, 63, 4096]) {
        if (rows * D > 4096 * 1025) continue;
        parity([spec([rows, D], 21, true, 3), spec([D], 22), spec([D], 23)], ([x, w, b]) => ops.layerNorm(x, w, b), `layerNorm rows=${rows} D=${D}`);
      }
    const y = parity([spec([63, 129], 24, true, 3)], ([x]) => ops.layerNorm(x), 'layerNorm plain');
    expect(relL2(y, layerNormRef(randomValues(63 * 129, 24).map((v) => v * 3), null, null, 63, 129, 1e-5))).toBeLessThan(TOL);
    for (const [B, H, L] of [
      [1, 1, 1],
      [3, 7, 784],
      [2, 129, 33],
      [1, 512, 1000],
    ]) {
      parity([spec([B, H, L], 25, true, 2), spec([H], 26), spec([H], 27)], ([x, w, b]) => ops.layerNormChannels(x, w, b), `layerNormChannels ${[B, H, L]}`);
    }
  });

  it('gelu, glu, exp, dropout on odd and large sizes', () => {
    for (const n of [1, 7, 1_000_003]) {
      for (const approximate of ['none', 'tanh'] as const) {
        const y = parity([spec([n], 31, true, 4)], ([x]) => ops.gelu(x, { approximate }), `gelu ${approximate} n=${n}`);
        if (n === 7) {
          const xv = randomValues(7, 31).map((v) => v * 4);
          expect(relL2(y, Array.from(xv, (v) => geluRef(v, approximate === 'tanh')))).toBeLessThan(TOL);
        }
      }
      parity([spec([n], 32, true, 3)], ([x]) => ops.exp(x), `exp n=${n}`);
    }
    for (const [shape, dim] of [
      [[4, 258, 784], 1],
      [[3, 7, 2], -1],
      [[2, 1, 6], 2],
    ] as [number[], number][]) {
      parity([spec(shape, 33, true, 2)], ([x]) => ops.glu(x, dim), `glu ${shape} dim=${dim}`);
    }
    // Same counter-based mask on both backends, bit for bit, forward and backward.
    for (const n of [1, 7, 1_000_003]) {
      const y = parity([spec([n], 34)], ([x]) => ops.dropout(x, 0.25, { seed: 42, step: 3 }), `dropout n=${n}`, 1e-7);
      if (n > 1000) {
        const dropped = y.reduce((a, v) => a + (v === 0 ? 1 : 0), 0) / n;
        expect(Math.abs(dropped - 0.25)).toBeLessThan(0.005);
      }
    }
  });

  it('pooling, transpose12, flip and complex parts', () => {
    for (const L of [1, 7, 784, 1025, 5000]) {
      parity([spec([3, 65, L], 41)], ([x]) => ops.meanPool(x), `meanPool L=${L}`);
      parity([spec([3, 65, L], 42)], ([x]) => ops.lastPool(x), `lastPool L=${L}`);
      parity([spec([2, 5, L], 43)], ([x]) => ops.flip(x), `flip L=${L}`);
    }
    for (const [B, M, N] of [
      [1, 1, 1],
      [3, 129, 784],
      [2, 33, 7],
    ]) {
      parity([spec([B, M, N], 44)], ([x]) => ops.transpose12(x), `transpose12 ${[B, M, N]}`);
    }
    parity(
      [spec([1001], 45), spec([1001], 46)],
      ([re, im]) => ops.add(ops.realPart(ops.complexFromParts(re, im)), ops.scale(ops.imagPart(ops.complexFromParts(re, im)), 3)),
      'complex parts',
    );
  });

  it('crossEntropy (M = 1, 63, 4096; C = 1, 10, 1000, 1500) and mse', () => {
    for (const M of [1, 63, 4096])
      for (const C of [1, 10, 1000, 1500]) {
        if (M * C > 4096 * 1000) continue;
        const labels = Float32Array.from({ length: M }, (_, i) => (i * 7919 + 3) % C);
        const y = parity([spec([M, C], 51, true, 5), fixed(labels, [M])], ([z, l]) => ops.crossEntropy(z, l), `crossEntropy M=${M} C=${C}`);
        if (M * C <= 63 * 1000) {
          const z = randomValues(M * C, 51).map((v) => v * 5);
          const want = crossEntropyRef(z, labels, M, C);
          expect(Math.abs(y[0] - want), `crossEntropy M=${M} C=${C} vs float64`).toBeLessThan(TOL * Math.max(1, Math.abs(want)));
        }
      }
    for (const n of [1, 7, 1_000_003]) parity([spec([n], 52), spec([n], 53)], ([a, b]) => ops.mse(a, b), `mse n=${n}`);
  });

  it('argmaxChannels: the very indices of the CPU (ties, NaN, -Infinity, -0; a thread and a warp per column)', () => {
    // Thread per column for L >= 32 or C < 64, a warp per column below: shapes on both
    // sides of that line, positions crossing 256-thread blocks, rank 2 (L = 1).
    for (const shape of [
      [1, 1, 1],
      [3, 7, 5],
      [2, 256, 784],
      [32, 256, 784],
      [3, 65, 1025],
      [4, 63, 31],
      [4, 64, 31],
      [2, 300, 17],
      [5, 33, 32],
      [64, 10],
      [100, 1000],
      [3, 70001],
    ]) {
      const [B, C] = shape;
      const L = shape.length === 3 ? shape[2] : 1;
      const n = B * C * L;
      const random = randomValues(n, n % 1000);
      const special = random.map((v) => Math.round(v * 2));
      for (let i = 0; i < n; i++) {
        const hash = (i * 2654435761) >>> 0;
        if (hash % 7 === 0) special[i] = -Infinity;
        else if (hash % 13 === 0) special[i] = -0;
        else if (hash % 1009 === 0) special[i] = NaN;
      }
      special.fill(-Infinity, 0, C * L); // batch row 0: every column -Infinity
      for (const [label, x] of [
        ['random', random],
        ['special', special],
      ] as const) {
        const run = (device: 'cpu' | 'cuda') => s4.tidy(() => ops.argmaxChannels(s4.tensor(x, shape, { device })).dataSync());
        const cpu = run('cpu');
        const gpu = run('cuda');
        expect(gpu.length).toBe(B * L);
        const bad = gpu.findIndex((v, i) => v !== cpu[i]);
        expect(bad, `argmaxChannels ${label} [${shape}]: first difference at ${bad} (cuda ${gpu[bad]}, cpu ${cpu[bad]})`).toBe(-1);
        if (label === 'special') {
          expect(Array.from(gpu.subarray(0, L)), `all -Infinity columns [${shape}]`).toEqual(Array(L).fill(0));
          if (n > 5000) expect(gpu.some((v) => v === -1), `NaN columns [${shape}]`).toBe(true);
        }
      }
    }
  });

  it('bad labels and indices throw RangeError on the GPU and leave the device usable', () => {
    const z = s4.tensor(randomValues(4096 * 10, 1), [4096, 10], { device: 'cuda' });
    const lab = Float32Array.from({ length: 4096 }, (_, i) => i % 10);
    lab[3000] = 10;
    lab[3500] = -1;
    const bad = s4.tensor(lab, [4096], { device: 'cuda' });
    expect(() => ops.crossEntropy(z, bad)).toThrow(/crossEntropy: argument 'labels' must hold integer class indices in \[0, 10\) \(got 10 at row 3000\)/);
    const table = s4.tensor(randomValues(40, 2), [10, 4], { device: 'cuda', requiresGrad: true });
    const idx = s4.tensor([1, 2, 2.5, 3], [4], { device: 'cuda' });
    expect(() => ops.embedding(idx, table)).toThrow(/embedding: argument 'indices' must hold integer row indices in \[0, 10\) \(got 2.5 at position 2\)/);
    const ok = s4.tensor([1, 2, 3, 9], [4], { device: 'cuda' });
    expect(ops.embedding(ok, table).dataSync().length).toBe(16);
    s4.dispose(z, bad, table, idx, ok);
  });

  it('embedding: forward and deterministic backward (M = 4096 over V = 1000; D = 1, 7, 128, 129)', () => {
    for (const D of [1, 7, 128, 129]) {
      const M = 4096;
      const V = 1000;
      const idx = Float32Array.from({ length: M }, (_, i) => (i * i * 31 + 7) % V);
      const a = parity([fixed(idx, [64, 64]), spec([V, D], 61)], ([i, t]) => ops.embedding(i, t), `embedding D=${D}`);
      expect(a.length).toBe(M * D);
      const grads = [0, 1].map(() => {
        const table = s4.tensor(randomValues(V * D, 61), [V, D], { device: 'cuda', requiresGrad: true });
        const ids = s4.tensor(idx, [M], { device: 'cuda' });
        s4.tidy(() => ops.sum(ops.mul(ops.embedding(ids, table), s4.tensor(randomValues(M * D, 62), [M, D], { device: 'cuda' }))).backward());
        const g = table.grad!.dataSync();
        s4.dispose(table, ids);
        return g;
      });
      expect(Array.from(grads[1])).toEqual(Array.from(grads[0]));
    }
  });

  it('adamwStep on 1_000_003 parameters matches the CPU', () => {
    const n = 1_000_003;
    const opts = { lr: 3e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.05 };
    const run = (device: 'cpu' | 'cuda') => {
      const p = s4.tensor(randomValues(n, 71), [n], { device });
      const m = s4.zeros([n], { device });
      const v = s4.zeros([n], { device });
      for (let step = 1; step <= 3; step++) {
        const g = s4.tensor(randomValues(n, 80 + step), [n], { device });
        ops.adamwStep(p, g, m, v, { ...opts, step });
        g.dispose();
      }
      const out = [p.dataSync(), m.dataSync(), v.dataSync()];
      s4.dispose(p, m, v);
      return out;
    };
    const c = run('cpu');
    const g = run('cuda');
    for (let k = 0; k < 3; k++) expect(relL2(g[k], c[k])).toBeLessThan(1e-6);
  });

  it('frees everything: a forward + backward in tidy leaves no device buffers behind', () => {
    const x = s4.tensor(randomValues(2 * 64 * 100, 1), [2, 64, 100], { device: 'cuda', requiresGrad: true });
    const w = s4.tensor(randomValues(128 * 64, 2), [128, 64], { device: 'cuda', requiresGrad: true });
    const labels = s4.tensor(Float32Array.from({ length: 2 }, (_, i) => i), [2], { device: 'cuda' });
    const before = s4.memory().cuda.tensors;
    expect(before).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < 3; i++) {
      s4.tidy(() => {
        const h = ops.glu(ops.linearChannels(ops.layerNormChannels(x), w), 1);
        ops.crossEntropy(ops.meanPool(ops.dropout(ops.gelu(h), 0.1, { seed: 1, step: i })), labels).backward();
      });
    }
    s4.zeroGrad([x, w]);
    expect(s4.memory().cuda.tensors).toBe(before);
    s4.dispose(x, w, labels);
  });
});
