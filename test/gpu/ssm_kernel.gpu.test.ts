/**
 * dplrKernel / diagKernel on CUDA against the CPU backend (double inside) and the float64
 * definitions, forward and backward: N in {4, 16, 64, 256}, L in {1, 2, 7, 64, 784, 1024,
 * 16384} (node counts that cross the 256-node tiles and the state chunks of 128), the
 * golden S4 kernel and gradients, determinism, validation on device buffers, and the
 * benchmark shape H=256, N=64, L=4096 (its timing lives in bench/, never in a test).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { ops } from '../../lib/native/binding';
import { dplrKernelDense } from '../../lib/ssm/step_setup';
import type { DiagParams64, DplrParams64 } from '../../lib/ssm/types';
import { diagKernel64, loadGoldenDplr, randomDplr, roundDplr } from '../helpers/conv_ref';
import { randomValues, relL2 } from '../helpers/device';
import { expectThrows } from '../helpers/throws';
import { DIAG_COMPLEX, DPLR_COMPLEX, dplrLossGrads64, loadGoldenGrads, randomParams, runKernel, type Mode } from '../helpers/ssm_kernel_ref';

const TOL = 1e-4;
const N2S = [2, 8, 32, 128];
const LS = [1, 2, 7, 64, 784, 1024, 16384];

const names = (mode: Mode) => [...(mode === 'dplr' ? DPLR_COMPLEX : DIAG_COMPLEX), 'dt'];

for (const mode of ['dplr', 'diag'] as const) {
  describe(`${mode}Kernel CUDA vs CPU and float64`, () => {
    for (const N2 of N2S) {
      for (const L of LS) {
        it(`N=${2 * N2}, L=${L}: K and the gradients of sum(K * W)`, () => {
          const H = N2 >= 128 && L >= 16384 ? 2 : 3;
          const p = randomParams(mode, H, N2, 1000 * N2 + L);
          const W = randomValues(H * L, 77 + L);
          const gpu = runKernel(mode, p, L, 'cuda', W);
          const cpu = runKernel(mode, p, L, 'cpu', W);
          expect(relL2(gpu.K, cpu.K), 'K vs cpu').toBeLessThan(TOL);
          for (const name of names(mode)) {
            if (name === 'dt' && mode === 'dplr' && L === 1) {
              // K[0] does not depend on dt for L = 1: both gradients are rounding-level zeros.
              expect(Math.max(...gpu.grads.dt.map(Math.abs))).toBeLessThan(1e-5);
              continue;
            }
            expect(relL2(gpu.grads[name], cpu.grads[name]), `grad ${name} vs cpu`).toBeLessThan(TOL);
          }
          // The float64 definitions, where the dense DPLR reference is affordable in JS.
          const N = 2 * N2;
          if (mode === 'diag') expect(relL2(gpu.K, diagKernel64(p as DiagParams64, L)), 'K vs float64').toBeLessThan(TOL);
          else if (N * N * L * H <= 4e8 && (N2 < 128 || L <= 1024)) {
            expect(relL2(gpu.K, dplrKernelDense(p as DplrParams64, L)), 'K vs dense float64').toBeLessThan(TOL);
          }
        });
      }
    }
  });
}

describe('dplrKernel CUDA: golden data, finite differences, determinism', () => {
  it('reproduces the official S4 kernel and the gradients of sum(K * W)', () => {
    const g = loadGoldenDplr();
    const gold = loadGoldenGrads();
    const { K, grads } = runKernel('dplr', g.params, g.L, 'cuda', gold.W);
    expect(relL2(K, g.K)).toBeLessThan(TOL);
    for (const name of names('dplr')) expect(relL2(grads[name], gold.grads[name]), name).toBeLessThan(TOL);
  });

  it('gradients match float64 finite differences of the dense definition', () => {
    const [H, N2, L] = [2, 3, 21];
    const p = roundDplr(randomDplr(H, N2, 5));
    const W = randomValues(H * L, 6);
    const { grads } = runKernel('dplr', p, L, 'cuda', W);
    const ref = dplrLossGrads64(p, L, W);
    for (const name of names('dplr')) expect(relL2(grads[name], ref[name]), name).toBeLessThan(TOL);
  });

  for (const mode of ['dplr', 'diag'] as const) {
    it(`${mode}: repeated backward passes give bit-identical gradients (no float atomics)`, () => {
      const p = randomParams(mode, 4, 32, 9);
      const W = randomValues(4 * 3000, 10);
      const a = runKernel(mode, p, 3000, 'cuda', W);
      const b = runKernel(mode, p, 3000, 'cuda', W);
      const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      expect(bytes(b.K).equals(bytes(a.K))).toBe(true);
      for (const name of names(mode)) expect(bytes(b.grads[name]).equals(bytes(a.grads[name])), name).toBe(true);
    });
  }
});

describe('kernel validation on CUDA buffers', () => {
  const H = 2, N2 = 3;
  const c = (seed: number, device: s4.DeviceName = 'cuda') => s4.complex(randomValues(H * N2, seed), randomValues(H * N2, seed + 1), [H, N2], { device });
  const lambda = (re: number) => s4.complex(Array(H * N2).fill(re), randomValues(H * N2, 3), [H, N2], { device: 'cuda' });
  const good = () => ({ lambda: lambda(-0.5), p: c(1), b: c(2), cTilde: c(3), dt: s4.tensor([0.01, 0.1], [H], { device: 'cuda' }) });

  it('rejects dt <= 0, Re lambda > 0 and non-finite values found on the device', () => {
    expectThrows(() => s4.ops.dplrKernel({ ...good(), dt: s4.tensor([0.1, 0], [H], { device: 'cuda' }) }, 16), RangeError, /'dt' must be positive/);
    expectThrows(() => s4.ops.dplrKernel({ ...good(), lambda: lambda(0.1) }, 16), RangeError, /'lambda' must have Re\(lambda\) <= 0/);
    expectThrows(() => s4.ops.diagKernel({ lambda: lambda(-1), b: c(2), c: c(3), dt: s4.tensor([NaN, 0.1], [H], { device: 'cuda' }) }, 16), RangeError, /'dt'/);
    const badB = s4.complex(Array(6).fill(0), [0, 0, NaN, 0, 0, 0], [H, N2], { device: 'cuda' });
    expectThrows(() => s4.ops.dplrKernel({ ...good(), b: badB }, 16), RangeError, /'b' must be finite/);
  });

  it('rejects parameters on different devices, naming them', () => {
    expectThrows(() => s4.ops.dplrKernel({ ...good(), p: c(1, 'cpu') }, 16), Error, /'p' is on cpu but 'lambda' is on cuda/);
  });

  it('the raw addon refuses a buffer of another device', () => {
    s4.tidy(() => {
      const g = good();
      const out = s4.zeros([H, 16], { device: 'cpu' });
      expect(() =>
        ops.dplrKernel({ lambda: g.lambda.handle, p: g.p.handle, b: g.b.handle, cTilde: g.cTilde.handle, dt: g.dt.handle, out: out.handle, H, N2, L: 16 }),
      ).toThrow(/'out'/);
    });
  });
});

describe('benchmark shape H=256, N=64, L=4096', () => {
  const [H, N2, L] = [256, 32, 4096];

  it('CUDA equals the CPU backend (K and all gradients)', () => {
    const p = randomParams('dplr', H, N2, 4096);
    const W = randomValues(H * L, 4097);
    const gpu = runKernel('dplr', p, L, 'cuda', W);
    const cpu = runKernel('dplr', p, L, 'cpu', W);
    expect(relL2(gpu.K, cpu.K)).toBeLessThan(TOL);
    for (const name of names('dplr')) expect(relL2(gpu.grads[name], cpu.grads[name]), name).toBeLessThan(TOL);
  });
});
