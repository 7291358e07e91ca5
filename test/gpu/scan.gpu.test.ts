/**
 * The recurrent scan on CUDA: conv mode vs recurrent mode for L up to 16384, CUDA vs the
 * CPU backend for every state size the kernel specializes (N2 1..256, groups of 1..32
 * lanes, 1..8 states per lane), batches that leave partial blocks, the stepper keeping its
 * state on the device, and the CUDA-only limits.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { ops } from '../../lib/native/binding';
import { diagStepper, stepper } from '../../lib/nn/stepper';
import { dplrKernelDense, dplrStepCoefficients } from '../../lib/ssm/step_setup';
import { diagKernel64, diagTensors, dplrTensors, fftConvOn, loadGoldenDplr, randomDiag, randomDplr, roundDiag, roundDplr } from '../helpers/conv_ref';
import { randomValues, relL2 } from '../helpers/device';

type KernelOp = (params: { lambda: s4.Tensor; p: s4.Tensor; b: s4.Tensor; cTilde: s4.Tensor; dt: s4.Tensor }, L: number) => s4.Tensor;
const dplrKernelOp = (s4.ops as Record<string, unknown>).dplrKernel as KernelOp | undefined;

describe('conv mode equals recurrent mode on CUDA', () => {
  for (const L of [1, 7, 784, 4096, 16384]) {
    it(`DPLR, L = ${L}`, () => {
      const [B, H, N2] = [2, 3, 32];
      const p = randomDplr(H, N2, 50 + L);
      const d = randomValues(H, 51 + L);
      const u = randomValues(B * H * L, 52 + L);
      const yScan = s4.tidy(() =>
        s4.ops.dplrScan(dplrTensors(p, d, 'cuda'), s4.tensor(u, [B, H, L], { device: 'cuda' }), L).dataSync(),
      );
      const kernels: [string, ArrayLike<number>][] = [['dense float64', dplrKernelDense(roundDplr(p), L)]];
      if (dplrKernelOp) kernels.push(['ops.dplrKernel', s4.tidy(() => dplrKernelOp(dplrTensors(p, null, 'cuda'), L).dataSync())]);
      for (const [name, K] of kernels) expect(relL2(yScan, fftConvOn('cuda', u, K, d, B, H, L)), name).toBeLessThan(1e-4);
    });

    it(`S4D, L = ${L}`, () => {
      const [B, H, N2] = [2, 3, 32];
      const q = randomDiag(H, N2, 60 + L);
      const d = randomValues(H, 61 + L);
      const u = randomValues(B * H * L, 62 + L);
      const K = diagKernel64(roundDiag(q), L);
      const yScan = s4.tidy(() => s4.ops.diagScan(diagTensors(q, d, 'cuda'), s4.tensor(u, [B, H, L], { device: 'cuda' })).dataSync());
      expect(relL2(yScan, fftConvOn('cuda', u, K, d, B, H, L))).toBeLessThan(1e-4);
    });
  }

  it('reproduces the golden y by stepping on CUDA', () => {
    const g = loadGoldenDplr();
    const { H } = g.params;
    const B = g.u.length / (H * g.L);
    const y = s4.tidy(() => s4.ops.dplrScan(dplrTensors(g.params, g.D, 'cuda'), s4.tensor(g.u, [B, H, g.L], { device: 'cuda' }), g.L).dataSync());
    expect(relL2(y, g.y)).toBeLessThan(1e-4);
  });
});

/** Runs the raw scan with a state buffer on `dev`; returns y and the final state. */
function rawScan(dev: 'cpu' | 'cuda', coef: Float32Array, state0: Float32Array, u: Float32Array, B: number, H: number, N2: number, T: number) {
  return s4.tidy(() => {
    const c = s4.tensor(coef, [H, coef.length / H], { device: dev });
    const st = s4.complex(
      state0.filter((_, i) => i % 2 === 0),
      state0.filter((_, i) => i % 2 === 1),
      [B, H, N2],
      { device: dev },
    );
    const y = s4.zeros([B, H, T], { device: dev });
    ops.ssmScan({ coef: c.handle, state: st.handle, u: s4.tensor(u, [B, H, T], { device: dev }).handle, y: y.handle, B, H, N2, T, gelu: false });
    return { y: y.dataSync(), state: st.dataSync() };
  });
}

/** The raw scan on CUDA gives the CPU's y and final state. */
function expectCudaScanMatchesCpu(coef: Float32Array, state0: Float32Array, u: Float32Array, B: number, H: number, N2: number, T: number): void {
  const g = rawScan('cuda', coef, state0, u, B, H, N2, T);
  const c = rawScan('cpu', coef, state0, u, B, H, N2, T);
  expect(relL2(g.y, c.y), 'y').toBeLessThan(1e-4);
  expect(relL2(g.state, c.state), 'state').toBeLessThan(1e-4);
}

/**
 * Random stable step coefficients (layout of native/common/scan_layout.h: arrays a, w, g, bb,
 * ca of N2 complex, then cg, cu): |a| in [0.6, 0.95], a rank-one part small against
 * 1 - |a|. Used for state sizes whose dense float64 set-up would be slow in a test.
 */
function randomCoef(H: number, N2: number, seed: number): Float32Array {
  const stride = 10 * N2 + 2;
  const r = randomValues(H * stride, seed);
  const out = new Float32Array(H * stride);
  const scaleOf = [0, 0.2 / N2, 0.2, 1, 1]; // a (set below), w, g, bb, ca
  for (let h = 0; h < H; h++) {
    const row = h * stride;
    for (let n = 0; n < N2; n++) {
      const mag = 0.775 + 0.175 * r[row + 2 * n], th = Math.PI * r[row + 2 * n + 1];
      out[row + 2 * n] = mag * Math.cos(th);
      out[row + 2 * n + 1] = mag * Math.sin(th);
    }
    for (let j = 2 * N2; j < 10 * N2 + 2; j++) out[row + j] = r[row + j] * (j < 10 * N2 ? scaleOf[Math.floor(j / (2 * N2))] : 1);
  }
  return out;
}

describe('CUDA scan vs CPU scan', () => {
  // Every specialization: N2 <= 1, 2, 4, 8, 16, 32 (one state per lane), 64, 128, 256
  // (2, 4, 8 per lane), with partial groups; B*H leaves a partial 64-thread block; T around
  // the 32-token u chunk.
  for (const N2 of [1, 2, 3, 4, 5, 8, 13, 16, 31, 32, 33, 64, 100, 128, 200, 256]) {
    for (const T of [1, 31, 33, 100]) {
      it(`N2 = ${N2}, T = ${T}`, () => {
        const [B, H] = [3, 7];
        const coef = N2 <= 32 ? dplrStepCoefficients(randomDplr(H, N2, N2 * 7 + T), 64, randomValues(H, N2)) : randomCoef(H, N2, N2 * 7 + T);
        const state0 = Float32Array.from(randomValues(2 * B * H * N2, T + N2), (v) => 0.3 * v);
        expectCudaScanMatchesCpu(coef, state0, randomValues(B * H * T, N2 + 1000 * T), B, H, N2, T);
      });
    }
  }

  it('a large batch: B = 64, H = 256, N2 = 32, T = 200', () => {
    const [B, H, N2, T] = [64, 256, 32, 200];
    const coef = dplrStepCoefficients(randomDplr(H, N2, 3), 1024, randomValues(H, 4));
    expectCudaScanMatchesCpu(coef, new Float32Array(2 * B * H * N2), randomValues(B * H * T, 5), B, H, N2, T);
  });

  it('refuses N2 > 256 on CUDA (the CPU backend has no limit)', () => {
    const [B, H, N2, T] = [1, 1, 257, 3];
    const coef = randomCoef(H, N2, 1);
    const u = randomValues(T, 2);
    expect(() => rawScan('cuda', coef, new Float32Array(2 * N2), u, B, H, N2, T)).toThrow(/ssmScan: state size N2 must be in \[1, 256\] on CUDA \(got 257\)/);
    expect(rawScan('cpu', coef, new Float32Array(2 * N2), u, B, H, N2, T).y.every(Number.isFinite)).toBe(true);
  });
});

describe('steppers on CUDA', () => {
  it('chunked stepping equals the whole sequence and the CPU stepper', () => {
    const [B, H, N2, T, L] = [4, 5, 32, 150, 150];
    const p = randomDplr(H, N2, 77);
    const d = randomValues(H, 78);
    const u = randomValues(B * H * T, 79);
    const whole = s4.tidy(() => s4.ops.dplrScan(dplrTensors(p, d, 'cuda'), s4.tensor(u, [B, H, T], { device: 'cuda' }), L).dataSync());
    const results: Float32Array[] = [];
    for (const dev of ['cuda', 'cpu'] as const) {
      using st = s4.tidy(() => stepper(dplrTensors(p, d, dev), { batch: B, L }));
      expect(st.device).toBe(dev);
      const y = new Float32Array(B * H * T);
      let t0 = 0;
      for (const c of [1, 1, 40, 1, 64, 43]) {
        s4.tidy(() => {
          const chunk = new Float32Array(B * H * c);
          for (let r = 0; r < B * H; r++) for (let t = 0; t < c; t++) chunk[r * c + t] = u[r * T + t0 + t];
          const out = c === 1 ? st.step(s4.tensor(chunk, [B, H], { device: dev })) : st.stepMany(s4.tensor(chunk, [B, H, c], { device: dev }));
          const v = out.dataSync();
          for (let r = 0; r < B * H; r++) for (let t = 0; t < c; t++) y[r * T + t0 + t] = v[r * c + t];
        });
        t0 += c;
      }
      expect(t0).toBe(T);
      results.push(y);
    }
    expect(relL2(results[0], whole)).toBeLessThan(1e-5);
    expect(relL2(results[0], results[1])).toBeLessThan(1e-4);
  });

  it('the S4D stepper on CUDA equals diagScan', () => {
    const [B, H, N2, T] = [2, 3, 64, 70];
    const q = randomDiag(H, N2, 5);
    const u = randomValues(B * H * T, 6);
    const whole = s4.tidy(() => s4.ops.diagScan(diagTensors(q, null, 'cuda'), s4.tensor(u, [B, H, T], { device: 'cuda' })).dataSync());
    using st = diagStepper(roundDiag(q), { batch: B, device: 'cuda' });
    const first = s4.tidy(() => {
      const a = new Float32Array(B * H * 30), b = new Float32Array(B * H * 40);
      for (let r = 0; r < B * H; r++) {
        for (let t = 0; t < 30; t++) a[r * 30 + t] = u[r * T + t];
        for (let t = 0; t < 40; t++) b[r * 40 + t] = u[r * T + 30 + t];
      }
      return [st.stepMany(s4.tensor(a, [B, H, 30], { device: 'cuda' })).dataSync(), st.stepMany(s4.tensor(b, [B, H, 40], { device: 'cuda' })).dataSync()];
    });
    const y = new Float32Array(B * H * T);
    for (let r = 0; r < B * H; r++) {
      for (let t = 0; t < 30; t++) y[r * T + t] = first[0][r * 30 + t];
      for (let t = 0; t < 40; t++) y[r * T + 30 + t] = first[1][r * 40 + t];
    }
    expect(relL2(y, whole)).toBeLessThan(1e-5);
  });

  it('refuses inputs on another device than the stepper', () => {
    using st = s4.tidy(() => stepper(dplrTensors(randomDplr(2, 4, 1), null, 'cuda'), { batch: 1, L: 8 }));
    s4.tidy(() => {
      expect(() => st.step(s4.zeros([1, 2], { device: 'cpu' }))).toThrow(/stepper.step: argument 'u' is on cpu but the operation runs on cuda/);
    });
  });

  it('dplrScan refuses parameters and input on different devices', () => {
    s4.tidy(() => {
      const params = dplrTensors(randomDplr(2, 4, 1), null, 'cuda');
      expect(() => s4.ops.dplrScan(params, s4.zeros([1, 2, 5], { device: 'cpu' }), 5)).toThrow(/dplrScan: argument 'u' is on cpu/);
      expect(() => s4.ops.dplrScan({ ...params, dt: s4.ones([2], { device: 'cpu' }) }, s4.zeros([1, 2, 5], { device: 'cuda' }), 5)).toThrow(
        /dplrScan: argument 'dt' is on cpu but 'lambda' is on cuda/,
      );
    });
  });
});
