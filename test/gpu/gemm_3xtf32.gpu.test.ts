/**
 * The 3xTF32 GEMM (native/cuda/gemm_3xtf32.cu, s4.setGemmBackend('3xtf32')) against float64:
 * every transpose combination, sizes off the 128 x 128 x 32 tiles (1, 7, 33, 130, 784),
 * strided batches, batch-reduce (with and without the split reduction), alpha/beta, packed
 * leading dimensions that allow or forbid 16-byte copies, NaN propagation; its error must
 * stay within a bound cuBLAS FP32 meets, far below 1e-4, which plain TF32 misses. Then an S4
 * block's forward and backward with 3xtf32 against cuBLAS FP32.
 * Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { ops as native } from '../../lib/native/binding';
import { randomValues, relL2 } from '../helpers/device';
import { outputAndGrads } from '../helpers/model_checks';
import { gemmRef } from '../helpers/nn_reference';

const initial = s4.ops.gemmInfo('cuda').mode ?? 'cublas';

interface Case {
  m: number;
  n: number;
  k: number;
  batch: number;
}

/** C = alpha op(A) op(B) + beta C0 through the raw gemm op on CUDA with the given engine. */
function runGemm(
  engine: s4.GemmBackend, A: Float32Array, B: Float32Array, C0: Float32Array,
  ta: boolean, tb: boolean, c: Case, reduce: boolean, alpha: number, beta: number,
): Float32Array {
  s4.setGemmBackend(engine);
  return s4.tidy(() => {
    const on = { device: 'cuda' as const };
    const out = s4.tensor(C0, [C0.length], on);
    const a = s4.tensor(A, [A.length], on).handle;
    const b = s4.tensor(B, [B.length], on).handle;
    native.gemm({ A: a, B: b, C: out.handle, transA: ta, transB: tb, M: c.m, N: c.n, K: c.k, alpha, beta, batch: c.batch, cBatch: reduce ? 1 : c.batch });
    return out.dataSync();
  });
}

/**
 * A relative L2 error that FP32 products meet, far below 1e-4 and the ~4e-4 of plain TF32:
 * the rounding of a K-term sum in FP32 grows about as sqrt(K) units of 2^-24 (4 sqrt(K)
 * leaves room); 3xTF32 adds about 2^-22 per product (the dropped small * small term) and
 * the rounding of its short MMA chains (64 values of K before each FP32 add), a few 1e-7
 * whatever K is, which 2e-6 covers.
 */
function fp32Bound(kTotal: number): number {
  return 2 ** -24 * 4 * Math.sqrt(kTotal) + 2e-6;
}

describe('3xTF32 GEMM against float64', () => {
  beforeAll(() => {
    s4.setGemmBackend('3xtf32');
    const info = s4.ops.gemmInfo('cuda');
    expect(info.gemm, `3xTF32 not used: ${info.reason}`).toBe('3xtf32');
    expect(info.mode).toBe('3xtf32');
    expect(s4.info().gemm).toMatch(/^3xtf32\b/);
  });
  afterAll(() => s4.setGemmBackend(initial));

  // Each has at least 2^18 multiply-adds per output batch, so 3xtf32 runs the kernel itself
  // (smaller products take the cuBLAS path). The last two split their reduction.
  const cases: Case[] = [
    { m: 130, n: 784, k: 33, batch: 2 },
    { m: 784, n: 33, k: 130, batch: 2 },
    { m: 33, n: 130, k: 784, batch: 3 },
    { m: 784, n: 1, k: 784, batch: 1 },
    { m: 1, n: 784, k: 784, batch: 1 },
    { m: 784, n: 130, k: 7, batch: 1 },
    { m: 7, n: 784, k: 130, batch: 3 },
    { m: 784, n: 784, k: 1, batch: 1 },
    { m: 130, n: 33, k: 784, batch: 8 },
    { m: 130, n: 33, k: 4100, batch: 1 },
  ];
  for (const c of cases) {
    it(`M ${c.m}, N ${c.n}, K ${c.k}, batch ${c.batch}: every transpose, batched and batch-reduced, as accurate as FP32`, () => {
      let seed = 11;
      for (const ta of [false, true])
        for (const tb of [false, true])
          for (const reduce of c.batch > 1 ? [false, true] : [false]) {
            const A = randomValues(c.batch * c.m * c.k, seed++);
            const B = randomValues(c.batch * c.k * c.n, seed++);
            const C0 = randomValues((reduce ? 1 : c.batch) * c.m * c.n, seed++);
            const want = gemmRef(A, B, C0, ta, tb, c.m, c.n, c.k, 0.5, 2, c.batch, reduce);
            // C0 scaled by 2 dominates small products; measure the product part alone too.
            const wantProduct = gemmRef(A, B, null, ta, tb, c.m, c.n, c.k, 0.5, 0, c.batch, reduce);
            const zeros = new Float32Array(C0.length);
            const label = `ta=${ta} tb=${tb} reduce=${reduce}`;
            const got = runGemm('3xtf32', A, B, C0, ta, tb, c, reduce, 0.5, 2);
            const gotProduct = runGemm('3xtf32', A, B, zeros, ta, tb, c, reduce, 0.5, 0);
            const fp32 = runGemm('cublas', A, B, zeros, ta, tb, c, reduce, 0.5, 0);
            const bound = fp32Bound(c.k * (reduce ? c.batch : 1));
            expect(relL2(got, want), `${label}: alpha op(A) op(B) + beta C`).toBeLessThan(bound);
            expect(relL2(gotProduct, wantProduct), `${label}: product`).toBeLessThan(bound);
            expect(relL2(fp32, wantProduct), `${label}: the bound holds for cuBLAS FP32`).toBeLessThan(bound);
          }
    });
  }

  it('a long reduction in one block (K = 16384, two output batches, no split) keeps the FP32 bound', () => {
    // Each block walks all of K on its own MMA accumulators: the kernel's periodic FP32 adds
    // keep the tensor cores' accumulator truncation from growing with K.
    const c = { m: 128, n: 128, k: 16384, batch: 2 };
    const A = randomValues(c.batch * c.m * c.k, 31);
    const B = randomValues(c.batch * c.k * c.n, 32);
    const zeros = new Float32Array(c.batch * c.m * c.n);
    const want = gemmRef(A, B, null, false, false, c.m, c.n, c.k, 1, 0, c.batch, false);
    const bound = fp32Bound(c.k);
    expect(relL2(runGemm('3xtf32', A, B, zeros, false, false, c, false, 1, 0), want)).toBeLessThan(bound);
    expect(relL2(runGemm('cublas', A, B, zeros, false, false, c, false, 1, 0), want), 'the bound holds for cuBLAS FP32').toBeLessThan(bound);
  });

  it('plain TF32 misses the bound that 3xTF32 meets (the test tells them apart)', () => {
    const c = { m: 784, n: 784, k: 128, batch: 1 };
    const A = randomValues(c.m * c.k, 3);
    const B = randomValues(c.k * c.n, 4);
    const zeros = new Float32Array(c.m * c.n);
    const want = gemmRef(A, B, null, false, false, c.m, c.n, c.k, 1, 0, 1, false);
    const bound = fp32Bound(c.k);
    expect(relL2(runGemm('3xtf32', A, B, zeros, false, false, c, false, 1, 0), want)).toBeLessThan(bound);
    const tf32 = relL2(runGemm('tf32', A, B, zeros, false, false, c, false, 1, 0), want);
    expect(tf32).toBeGreaterThan(10 * bound);
    expect(tf32).toBeLessThan(1e-2);
  });

  it('beta = 0 ignores NaN in C; a NaN in A or B makes exactly its row or column NaN', () => {
    // N even: C written two floats at a time; N odd: one at a time.
    for (const n of [130, 131]) {
      const c = { m: 130, n, k: 257, batch: 1 };
      const A = randomValues(c.m * c.k, 21);
      const B = randomValues(c.k * c.n, 22);
      const nanC = new Float32Array(c.m * c.n).fill(NaN);
      const want = gemmRef(A, B, null, false, false, c.m, c.n, c.k, 1.5, 0, 1, false);
      expect(relL2(runGemm('3xtf32', A, B, nanC, false, false, c, false, 1.5, 0), want), `N = ${n}`).toBeLessThan(fp32Bound(c.k));
    }

    const c = { m: 130, n: 131, k: 257, batch: 1 };
    const A = randomValues(c.m * c.k, 21);
    const B = randomValues(c.k * c.n, 22);

    const row = 77, col = 129;
    const An = A.slice();
    An[row * c.k + 200] = NaN;
    const Bn = B.slice();
    Bn[5 * c.n + col] = NaN;
    const got = runGemm('3xtf32', An, Bn, new Float32Array(c.m * c.n), false, false, c, false, 1, 0);
    const ref = gemmRef(A, B, null, false, false, c.m, c.n, c.k, 1, 0, 1, false);
    for (let i = 0; i < c.m; i++)
      for (let j = 0; j < c.n; j++) {
        const v = got[i * c.n + j];
        if (i === row || j === col) expect(Number.isNaN(v), `(${i}, ${j}) is NaN`).toBe(true);
        else expect(Math.abs(v - ref[i * c.n + j]), `(${i}, ${j})`).toBeLessThan(1e-4);
      }
  });
});

describe('S4 block with 3xtf32 against cuBLAS FP32', () => {
  afterAll(() => s4.setGemmBackend(initial));

  it('forward and every gradient agree within 1e-5 (the linear layers run the 3xTF32 kernel)', () => {
    // linearChannels: forward 256 x 1024 x 128 over 4 batches, dx 128 x 1024 x 256, dW
    // [256, 128] reduced over 4 x 1024 (the split reduction); the decoder a 4096 x 4 x 128 product.
    const o: s4.nn.SequenceModelOptions = { dInput: 4, dModel: 128, nLayers: 2, dState: 64, dOutput: 4, lMax: 1024, pool: 'none' };
    const m = new s4.nn.SequenceModel({ ...o, dropout: 0, seed: 7, device: 'cuda' });
    s4.setGemmBackend('cublas');
    const ref = outputAndGrads(m, o, 4, 1024, 'cuda');
    s4.setGemmBackend('3xtf32');
    expect(s4.ops.gemmInfo('cuda').gemm).toBe('3xtf32');
    const got = outputAndGrads(m, o, 4, 1024, 'cuda');
    expect(relL2(got.y, ref.y)).toBeLessThan(1e-5);
    // d logDt [H] sums L N B terms per channel that largely cancel, amplifying rounding
    // differences, and reaches them through dk, which the FFT convolution's backward sums
    // over the batch with float atomics (their order varies between the two runs): the
    // CUDA-vs-CPU test gives it 1e-3 for that reason, and so does this one (an H100 measured
    // 1.27e-4 here).
    for (const n of Object.keys(ref.grads)) expect(relL2(got.grads[n], ref.grads[n]), n).toBeLessThan(n.endsWith('logDt') ? 1e-3 : 1e-5);
    m.dispose();
  });
});
