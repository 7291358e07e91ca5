/**
 * Neural-network ops on the current backend (CPU in `npm test`): forward against float64
 * references, gradients (native backward through autograd) against central finite
 * differences of the float64 references, argument errors, and no leaked buffers.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import type { Tensor } from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';
import { rawGemmErrors } from './helpers/gemm';
import {
  crossEntropyRef,
  finiteDiff,
  geluRef,
  gluRef,
  layerNormChannelsRef,
  layerNormRef,
  linearChannelsRef,
  linearRef,
  transposeRef,
  weightedSum,
} from './helpers/nn_reference';

const { ops } = s4;
const TOL = 1e-4;

interface Input {
  data: Float32Array;
  shape: number[];
  grad?: boolean;
}

const input = (shape: number[], seed: number, grad = true, scale = 1): Input => ({
  data: randomValues(shape.reduce((a, b) => a * b, 1), seed).map((v) => v * scale),
  shape,
  grad,
});

/**
 * Checks op(inputs) against ref (float64) and, for the inputs with grad, the gradient of
 * sum(op(inputs) * W) against central differences of sum(ref(inputs) * W).
 */
function check(inputs: Input[], op: (t: Tensor[]) => Tensor, ref: (x: Float64Array[]) => ArrayLike<number>, tol = TOL): void {
  const ts = inputs.map((i) => s4.tensor(i.data, i.shape, { requiresGrad: !!i.grad }));
  const xs = inputs.map((i) => Float64Array.from(i.data));
  const want = ref(xs);
  s4.tidy(() => {
    const y = op(ts);
    const got = y.dataSync();
    expect(relL2(got, want), 'forward').toBeLessThan(tol);
    const W = randomValues(got.length, 99);
    const Wt = s4.tensor(W, y.shape as number[]);
    ops.sum(ops.mul(y, Wt)).backward();
  });
  inputs.forEach((inp, k) => {
    if (!inp.grad) {
      expect(ts[k].grad).toBeNull();
      return;
    }
    const W = randomValues(want.length, 99);
    const fd = finiteDiff((x) => {
      const args: Float64Array[] = xs.slice();
      args[k] = x as Float64Array;
      return weightedSum(ref(args), W);
    }, xs[k]);
    expect(relL2(ts[k].grad!.dataSync(), fd), `gradient of input ${k}`).toBeLessThan(tol);
  });
  s4.dispose(ts);
}

describe(`nn ops (${device})`, () => {
  it('linear: forward and gradients for several shapes, with and without bias', () => {
    const cases: [number[], number, boolean][] = [[[3, 5, 7], 4, true], [[1, 1], 1, true], [[13, 17], 9, false], [[2, 1, 33], 5, true]];
    for (const [xs, N, bias] of cases) {
      const K = xs[xs.length - 1];
      const M = xs.reduce((a, b) => a * b, 1) / K;
      const inputs = [input(xs, 1), input([N, K], 2), ...(bias ? [input([N], 3)] : [])];
      check(
        inputs,
        ([x, w, b]) => ops.linear(x, w, b),
        ([x, w, b]) => linearRef(x, w, b ?? null, M, K, N),
      );
    }
  });

  it('linear: blocked GEMM across block edges and the raw gemm export (transposes, batches, batch-reduce)', () => {
    const [M, K, N] = [97, 300, 131];
    const x = randomValues(M * K, 5);
    const w = randomValues(N * K, 6);
    const y = s4.tidy(() => ops.linear(s4.tensor(x, [M, K]), s4.tensor(w, [N, K])).dataSync());
    expect(relL2(y, linearRef(x, w, null, M, K, N))).toBeLessThan(TOL);
    for (const [label, err] of rawGemmErrors(device, 5, 7, 9, 3, 7)) expect(err, label).toBeLessThan(TOL);
  });

  it('linearChannels: forward and gradients', () => {
    const cases: [number, number, number, number, boolean][] = [[2, 5, 7, 3, true], [1, 1, 1, 1, true], [3, 4, 9, 6, false]];
    for (const [B, H, L, O, bias] of cases) {
      check(
        [input([B, H, L], 7), input([O, H], 8), ...(bias ? [input([O], 9)] : [])],
        ([x, w, b]) => ops.linearChannels(x, w, b),
        ([x, w, b]) => linearChannelsRef(x, w, b ?? null, B, H, L, O),
      );
    }
  });

  it('layerNorm: forward and gradients (affine and plain, D = 1, 7, 40)', () => {
    for (const [rows, D] of [[5, 7], [3, 40], [4, 1]]) {
      check(
        [input([rows, D], 11, true, 2), input([D], 12), input([D], 13)],
        ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
        ([x, w, b]) => layerNormRef(x, w, b, rows, D, 1e-5),
      );
    }
    check(
      [input([2, 3, 6], 14)],
      ([x]) => ops.layerNorm(x),
      ([x]) => layerNormRef(x, null, null, 6, 6, 1e-5),
    );
  });

  it('layerNormChannels: forward and gradients', () => {
    for (const [B, H, L] of [[2, 6, 7], [1, 9, 1], [3, 1, 4]]) {
      check(
        [input([B, H, L], 15, true, 2), input([H], 16), input([H], 17)],
        ([x, w, b]) => ops.layerNormChannels(x, w, b, 1e-5),
        ([x, w, b]) => layerNormChannelsRef(x, w, b, B, H, L, 1e-5),
      );
    }
  });

  it('gelu (exact and tanh) and glu along several dims: forward and gradients', () => {
    for (const approximate of ['none', 'tanh'] as const) {
      check(
        [input([7, 9], 21, true, 3)],
        ([x]) => ops.gelu(x, { approximate }),
        ([x]) => Array.from(x, (v) => geluRef(v, approximate === 'tanh')),
      );
    }
    const shape = [2, 6, 3];
    for (const dim of [0, 1, -1, 2]) {
      const axis = dim < 0 ? dim + 3 : dim;
      if (shape[axis] % 2) continue;
      const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      check(
        [input(shape, 22, true, 2)],
        ([x]) => ops.glu(x, dim),
        ([x]) => gluRef(x, outer, shape[axis] / 2, inner),
      );
    }
    expect(() => ops.glu(s4.tensor(randomValues(6, 1), [2, 3]), 1)).toThrow(/glu: dimension 1 of 'x' must be even/);
  });

  it('dropout: deterministic mask from (seed, step), rate p, same mask in backward', () => {
    const n = 20000;
    const p = 0.3;
    const xv = randomValues(n, 31).map((v) => v + 2); // never 0, so zeros mark dropped elements
    const x = s4.tensor(xv, [n], { requiresGrad: true });
    const y1 = ops.dropout(x, p, { seed: 5, step: 1 });
    const a = y1.dataSync();
    const b = s4.tidy(() => ops.dropout(x, p, { seed: 5, step: 1 }).dataSync());
    const c = s4.tidy(() => ops.dropout(x, p, { seed: 5, step: 2 }).dataSync());
    expect(Array.from(b)).toEqual(Array.from(a));
    let dropped = 0;
    let differ = 0;
    for (let i = 0; i < n; i++) {
      if (a[i] === 0) dropped++;
      else expect(Math.abs(a[i] - xv[i] / (1 - p))).toBeLessThan(1e-5 * Math.abs(a[i]));
      if ((a[i] === 0) !== (c[i] === 0)) differ++;
    }
    expect(Math.abs(dropped / n - p)).toBeLessThan(0.02);
    expect(differ).toBeGreaterThan(n * 0.2);
    s4.tidy(() => ops.sum(y1).backward());
    const g = x.grad!.dataSync();
    for (let i = 0; i < n; i++) expect(g[i]).toBeCloseTo(a[i] === 0 ? 0 : 1 / (1 - p), 5);
    const id = s4.tidy(() => ops.dropout(x, 0, { seed: 1, step: 0 }).dataSync());
    expect(Array.from(id)).toEqual(Array.from(xv));
    expect(() => ops.dropout(x, 1, { seed: 1, step: 0 })).toThrow(/dropout: argument 'p' must be in \[0, 1\)/);
    expect(() => ops.dropout(x, 0.5, { seed: -1, step: 0 })).toThrow(/dropout: argument 'seed'/);
    s4.dispose(x, y1);
  });

  it('meanPool and lastPool: forward and gradients', () => {
    for (const [B, H, L] of [[2, 3, 7], [1, 1, 1], [3, 2, 64]]) {
      check(
        [input([B, H, L], 41)],
        ([x]) => ops.meanPool(x),
        ([x]) => Array.from({ length: B * H }, (_, r) => x.slice(r * L, r * L + L).reduce((a, v) => a + v, 0) / L),
      );
      check(
        [input([B, H, L], 42)],
        ([x]) => ops.lastPool(x),
        ([x]) => Array.from({ length: B * H }, (_, r) => x[r * L + L - 1]),
      );
    }
  });

  it('crossEntropy and mse: forward and gradients', () => {
    for (const [M, C] of [[5, 7], [1, 1], [9, 3]]) {
      const labels = Float32Array.from({ length: M }, (_, i) => (i * 5 + 2) % C);
      const lab = s4.tensor(labels, [M]);
      check(
        [input([M, C], 51, true, 4)],
        ([z]) => ops.crossEntropy(z, lab),
        ([z]) => [crossEntropyRef(z, labels, M, C)],
      );
      lab.dispose();
    }
    check(
      [input([4, 7], 52), input([4, 7], 53)],
      ([a, b]) => ops.mse(a, b),
      ([a, b]) => [a.reduce((acc, v, i) => acc + (v - b[i]) ** 2, 0) / a.length],
    );
  });

  it('crossEntropy unchecked (check: false): the same loss and gradient; bad labels and +Infinity logits give NaN instead of throwing', () => {
    const [M, C] = [6, 5];
    const labels = Float32Array.from({ length: M }, (_, i) => (i * 3 + 1) % C);
    const lab = s4.tensor(labels, [M]);
    check(
      [input([M, C], 61, true, 4)],
      ([z]) => ops.crossEntropy(z, lab, { check: false }),
      ([z]) => [crossEntropyRef(z, labels, M, C)],
    );
    const z = s4.tensor(randomValues(M * C, 62), [M, C]);
    for (const bad of [C, -1, 1.5, NaN]) {
      const badLab = s4.tensor([...labels.slice(0, 3), bad, ...labels.slice(4)], [M]);
      expect(Number.isNaN(s4.tidy(() => ops.crossEntropy(z, badLab, { check: false }).item())), `label ${bad}`).toBe(true);
      badLab.dispose();
    }
    const zInf = s4.tensor(Float32Array.from(randomValues(M * C, 63), (v, i) => (i === 7 ? Infinity : v)), [M, C]);
    expect(Number.isNaN(s4.tidy(() => ops.crossEntropy(zInf, lab, { check: false }).item()))).toBe(true);
    expect(() => ops.crossEntropy(z, lab, { check: 1 as unknown as boolean })).toThrow(/crossEntropy: option 'check' must be a boolean/);
    s4.dispose(z, zInf, lab);
  });

  it('crossEntropy and embedding reject bad class ids / indices with a RangeError naming them', () => {
    const z = s4.tensor(randomValues(12, 1), [3, 4]);
    for (const bad of [4, -1, 1.5, NaN]) {
      const lab = s4.tensor([0, bad, 1], [3]);
      expect(() => ops.crossEntropy(z, lab)).toThrow(RangeError);
      expect(() => ops.crossEntropy(z, lab)).toThrow(/crossEntropy: argument 'labels' must hold integer class indices in \[0, 4\)/);
      lab.dispose();
    }
    expect(() => ops.crossEntropy(z, s4.tensor([0, 1], [2]))).toThrow(/crossEntropy: argument 'labels' must have shape \[M\] = \[3\]/);
    const table = s4.tensor(randomValues(8, 2), [4, 2]);
    expect(() => ops.embedding(s4.tensor([0, 4], [2]), table)).toThrow(/embedding: argument 'indices' must hold integer row indices in \[0, 4\) \(got 4 at position 1\)/);
    s4.dispose(z, table);
  });

  it('embedding: forward and gradient to the table (repeated indices accumulate)', () => {
    const V = 6;
    const D = 5;
    const idx = Float32Array.from([3, 0, 3, 5, 1, 3, 0]);
    const ids = s4.tensor(idx, [7]);
    check(
      [input([V, D], 61)],
      ([t]) => ops.embedding(ids, t),
      ([t]) => Array.from(idx).flatMap((v) => Array.from(t.slice(v * D, v * D + D))),
    );
    const two = s4.tidy(() => ops.embedding(s4.tensor([1, 2, 0, 1], [2, 2]), s4.tensor(randomValues(V * D, 2), [V, D])).shape);
    expect(two).toEqual([2, 2, D]);
    ids.dispose();
  });

  it('transpose12, flip, exp: forward and gradients', () => {
    for (const [B, M, N] of [[2, 3, 5], [1, 1, 1], [2, 33, 40]]) {
      check(
        [input([B, M, N], 71)],
        ([x]) => ops.transpose12(x),
        ([x]) => transposeRef(x, B, M, N),
      );
    }
    for (const shape of [[7], [2, 3, 5], [4, 1]]) {
      const L = shape[shape.length - 1];
      check(
        [input(shape, 72)],
        ([x]) => ops.flip(x),
        ([x]) => Array.from(x, (_, i) => x[i - (i % L) + (L - 1 - (i % L))]),
      );
    }
    check(
      [input([3, 7], 73, true, 2)],
      ([x]) => ops.exp(x),
      ([x]) => Array.from(x, Math.exp),
    );
  });

  it('complexFromParts, realPart, imagPart: values and split gradients (PyTorch convention)', () => {
    const n = 7;
    const re = randomValues(n, 81);
    const im = randomValues(n, 82);
    const w1 = randomValues(n, 83);
    const w2 = randomValues(n, 84);
    const r = s4.tensor(re, [n], { requiresGrad: true });
    const i = s4.tensor(im, [n], { requiresGrad: true });
    s4.tidy(() => {
      const z = ops.complexFromParts(r, i);
      expect(z.dtype).toBe('complex64');
      expect(Array.from(z.dataSync())).toEqual(Array.from(re).flatMap((v, k) => [v, im[k]]));
      const loss = ops.add(ops.sum(ops.mul(ops.realPart(z), s4.tensor(w1, [n]))), ops.sum(ops.mul(ops.imagPart(z), s4.tensor(w2, [n]))));
      loss.backward();
    });
    expect(relL2(r.grad!.dataSync(), w1)).toBeLessThan(1e-7);
    expect(relL2(i.grad!.dataSync(), w2)).toBeLessThan(1e-7);
    // Gradient of Re(z) reaching a complex leaf: dL/dRe + i 0.
    const z = s4.complex(re, im, [n], { requiresGrad: true });
    s4.tidy(() => ops.sum(ops.mul(ops.realPart(z), s4.tensor(w1, [n]))).backward());
    expect(Array.from(z.grad!.dataSync())).toEqual(Array.from(w1).flatMap((v) => [v, 0]));
    s4.tidy(() => ops.sum(ops.mul(ops.imagPart(z), s4.tensor(w2, [n]))).backward());
    expect(relL2(z.grad!.dataSync(), Array.from(w1).flatMap((v, k) => [v, w2[k]]))).toBeLessThan(1e-7);
    expect(() => ops.realPart(r)).toThrow(/realPart: argument 'z' must be complex64/);
    s4.dispose(r, i, z);
  });

  it('adamwStep: matches a float64 AdamW over several steps, in place', () => {
    const n = 37;
    const p0 = randomValues(n, 91);
    const opts = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    const p = s4.tensor(p0, [n]);
    const m = s4.zeros([n]);
    const v = s4.zeros([n]);
    const P = Float64Array.from(p0);
    const Mm = new Float64Array(n);
    const Vv = new Float64Array(n);
    for (let step = 1; step <= 4; step++) {
      const gv = randomValues(n, 100 + step);
      const g = s4.tensor(gv, [n]);
      ops.adamwStep(p, g, m, v, { ...opts, step });
      g.dispose();
      for (let k = 0; k < n; k++) {
        P[k] *= 1 - opts.lr * opts.weightDecay;
        Mm[k] = opts.beta1 * Mm[k] + (1 - opts.beta1) * gv[k];
        Vv[k] = opts.beta2 * Vv[k] + (1 - opts.beta2) * gv[k] ** 2;
        const mh = Mm[k] / (1 - opts.beta1 ** step);
        const vh = Vv[k] / (1 - opts.beta2 ** step);
        P[k] -= (opts.lr * mh) / (Math.sqrt(vh) + opts.eps);
      }
    }
    expect(relL2(p.dataSync(), P)).toBeLessThan(1e-6);
    expect(relL2(m.dataSync(), Mm)).toBeLessThan(1e-5);
    expect(relL2(v.dataSync(), Vv)).toBeLessThan(1e-5);
    expect(() => ops.adamwStep(p, s4.zeros([n + 1]), m, v, { ...opts, step: 1 })).toThrow(/adamwStep: argument 'grad' must have 37 elements/);
    expect(() => ops.adamwStep(p, m, m, v, { ...opts, beta1: 1, step: 1 })).toThrow(/adamwStep: argument 'beta1' must be in \[0, 1\)/);
    expect(() => ops.adamwStep(p, m, m, v, { ...opts, step: 0 })).toThrow(/adamwStep: argument 'step'/);
    s4.dispose(p, m, v);
  });

  it('adamwStep: a complex64 parameter is updated as its interleaved floats, in place', () => {
    const n = 19;
    const opts = { lr: 0.02, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05 };
    const re = randomValues(n, 31);
    const im = randomValues(n, 32);
    const z = s4.complex(re, im, [n]);
    const flat = s4.tensor(Array.from(re).flatMap((r, k) => [r, im[k]]), [2 * n]);
    const [mz, vz, mf, vf] = [0, 1, 2, 3].map(() => s4.zeros([2 * n]));
    for (let step = 1; step <= 3; step++) {
      const gre = randomValues(n, 40 + step);
      const gim = randomValues(n, 50 + step);
      const gz = s4.complex(gre, gim, [n]);
      const gf = s4.tensor(Array.from(gre).flatMap((r, k) => [r, gim[k]]), [2 * n]);
      ops.adamwStep(z, gz, mz, vz, { ...opts, step });
      ops.adamwStep(flat, gf, mf, vf, { ...opts, step });
      s4.dispose(gz, gf);
    }
    expect(Array.from(z.dataSync())).toEqual(Array.from(flat.dataSync()));
    expect(Array.from(mz.dataSync())).toEqual(Array.from(mf.dataSync()));
    expect(z.dtype).toBe('complex64');
    expect(() => ops.adamwStep(z, flat, mz, vz, { ...opts, step: 4 })).toThrow(/adamwStep: argument 'grad' must be complex64/);
    expect(() => ops.adamwStep(z, s4.complex(re, im, [n]), s4.zeros([n]), vz, { ...opts, step: 4 })).toThrow(
      /adamwStep: argument 'm' must have 38 elements, one per float of 'param'/,
    );
    s4.dispose(z, flat, mz, vz, mf, vf);
  });

  it('validates shapes, dtypes and options with errors naming the argument', () => {
    const x = s4.tensor(randomValues(12, 1), [3, 4]);
    expect(() => ops.linear(x, s4.tensor(randomValues(10, 2), [2, 5]))).toThrow(/linear: argument 'w' must have shape \[N, K\] with K = 4/);
    expect(() => ops.linear(x, s4.tensor(randomValues(8, 2), [2, 4]), s4.tensor([1, 2, 3], [3]))).toThrow(/linear: argument 'bias' must have shape \[N\] = \[2\]/);
    expect(() => ops.linearChannels(x, x)).toThrow(/linearChannels: argument 'x' must have rank 3/);
    expect(() => ops.layerNorm(x, null, null, 0)).toThrow(/layerNorm: argument 'eps' must be in \(0, 1\]/);
    expect(() => ops.layerNorm(x, s4.tensor([1, 2, 3], [3]))).toThrow(/layerNorm: argument 'w' must have shape \[D\] = \[4\]/);
    expect(() => ops.gelu(x, { approximate: 'fast' as 'tanh' })).toThrow(/gelu: option 'approximate' must be 'none' or 'tanh'/);
    expect(() => ops.mse(x, s4.tensor([1, 2], [2]))).toThrow(/mse: argument 'b' must have the shape of 'a'/);
    expect(() => ops.meanPool(x)).toThrow(/meanPool: argument 'x' must have rank 3/);
    expect(() => ops.exp(s4.complex([1], [2]))).toThrow(/exp: argument 'x' must be float32/);
    expect(() => ops.complexFromParts(x, s4.tensor([1], [1]))).toThrow(/complexFromParts: argument 'im' must have the shape of 're'/);
    expect(() => ops.transpose12(s4.zeros([2, 0, 3]))).toThrow(/transpose12: argument 'x' must have rank >= 1 and no zero-sized dimension/);
    expect(() => ops.linear('x' as unknown as Tensor, x)).toThrow(TypeError);
    x.dispose();
  });

  it('accumulates gradients over two backward passes; frees saved tensors; noGrad records nothing', () => {
    const x = s4.tensor(randomValues(24, 3), [2, 3, 4], { requiresGrad: true });
    const w = s4.tensor(randomValues(4, 4), [4], { requiresGrad: true });
    const run = () =>
      s4.tidy(() => {
        const y = ops.layerNorm(ops.gelu(x), w, null);
        ops.mse(ops.meanPool(ops.flip(y)), s4.zeros([2, 3])).backward();
      });
    run();
    const g1 = x.grad!.dataSync().slice();
    const gw1 = w.grad!.dataSync().slice();
    run();
    expect(relL2(x.grad!.dataSync(), g1.map((v) => 2 * v))).toBeLessThan(1e-6);
    expect(relL2(w.grad!.dataSync(), gw1.map((v) => 2 * v))).toBeLessThan(1e-6);
    s4.zeroGrad([x, w]);

    const before = s4.memory()[device].tensors;
    expect(before).toBeGreaterThanOrEqual(2);
    run();
    s4.zeroGrad([x, w]);
    expect(s4.memory()[device].tensors).toBe(before);

    // Outside any tidy: the backward itself frees what the forward saved.
    const y = ops.layerNorm(x, w, null);
    const l = ops.sum(y);
    l.backward();
    s4.dispose(y, l);
    s4.zeroGrad([x, w]);
    expect(s4.memory()[device].tensors).toBe(before);

    s4.noGrad(() => {
      const inside = s4.memory()[device].tensors;
      const y = ops.layerNorm(x, w, null);
      const labels = s4.tensor([0, 1, 2, 3, 0, 1], [6]);
      const flat = y.reshape([6, 4]);
      const l = ops.crossEntropy(flat, labels);
      expect(y.requiresGrad).toBe(false);
      expect(l.requiresGrad).toBe(false);
      s4.dispose(y, flat, l, labels);
      // The saved statistics and probabilities were freed at once.
      expect(s4.memory()[device].tensors).toBe(inside);
    });
    s4.dispose(x, w);
  });

  it('reports the GEMM in use', () => {
    const info = ops.gemmInfo('cpu');
    expect(info.gemm).toBe('builtin');
    expect(['avx2', 'generic']).toContain(info.kernel);
  });
});
