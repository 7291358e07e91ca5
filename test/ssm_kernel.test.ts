/**
 * dplrKernel / diagKernel (S4 and S4D convolution kernels) on the suite's device: forward
 * against the naive float64 definitions (dense powers of Ab; the Vandermonde sum), the
 * official S4 golden kernel and gradients, gradients against float64 finite differences,
 * autograd wiring, and argument validation (wrapper and raw addon).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops } from '../lib/native/binding';
import { SsmParamFlag } from '../lib/ops/ssm_kernel';
import { dplrKernelDense } from '../lib/ssm/step_setup';
import { diagKernel64, loadGoldenDplr, randomDiag, randomDplr, roundDiag, roundDplr } from './helpers/conv_ref';
import { device, randomValues, relL2, TOL_VS_FLOAT64 as TOL } from './helpers/device';
import { expectThrows } from './helpers/throws';
import { DIAG_COMPLEX, DPLR_COMPLEX, loadGoldenGrads, lossGrads64, randomParams, runKernel, type Mode } from './helpers/ssm_kernel_ref';

// [H, N2, L]: N = 2 N2 in {4, 16, 64, 256}; odd lengths and 1.
const SHAPES: [number, number, number][] = [
  [2, 2, 1], [2, 2, 2], [3, 2, 7], [2, 8, 1], [2, 8, 64],
  [2, 8, 784], [2, 32, 7], [1, 32, 1024], [1, 128, 7], [1, 128, 64],
];

/** Autograd gradients of sum(K * W) on the device and their float64 finite differences. */
function gradsAndFiniteDifferences(mode: Mode, H: number, N2: number, L: number, seed: number, wSeed: number) {
  const p = randomParams(mode, H, N2, seed);
  const W = randomValues(H * L, wSeed);
  return { grads: runKernel(mode, p, L, device, W).grads, ref: lossGrads64(mode, p, L, W) };
}

describe('dplrKernel forward', () => {
  for (const [H, N2, L] of SHAPES) {
    it(`equals C Ab^l Bb (dense float64) for H=${H}, N=${2 * N2}, L=${L}`, () => {
      const p = roundDplr(randomDplr(H, N2, 100 * N2 + L));
      const { K } = runKernel('dplr', p, L, device);
      expect(K.length).toBe(H * L);
      expect(relL2(K, dplrKernelDense(p, L))).toBeLessThan(TOL);
    });
  }

  it('reproduces the official S4 kernel of the golden file (legs init, N = 16, L = 64)', () => {
    const g = loadGoldenDplr();
    const { K } = runKernel('dplr', g.params, g.L, device);
    expect(relL2(K, g.K)).toBeLessThan(1e-4);
  });

  it('is linear in cTilde and in b', () => {
    const p = roundDplr(randomDplr(2, 4, 7));
    const K1 = runKernel('dplr', p, 9, device).K;
    const scaled = { ...p, cTilde: { re: p.cTilde.re.map((v) => 2 * v), im: p.cTilde.im.map((v) => 2 * v) } };
    const K2 = runKernel('dplr', scaled, 9, device).K;
    expect(relL2(K2, Float64Array.from(K1, (v) => 2 * v))).toBeLessThan(1e-6);
  });
});

describe('diagKernel forward', () => {
  for (const [H, N2, L] of SHAPES) {
    it(`equals 2 Re sum_n C Bb Ab^l (float64) for H=${H}, N=${2 * N2}, L=${L}`, () => {
      const p = roundDiag(randomDiag(H, N2, 200 * N2 + L));
      const { K } = runKernel('diag', p, L, device);
      expect(relL2(K, diagKernel64(p, L))).toBeLessThan(TOL);
    });
  }
});

describe('dplrKernel backward', () => {
  it('matches the golden gradients of sum(K * W) of the official S4', () => {
    const g = loadGoldenDplr();
    const gold = loadGoldenGrads();
    const { grads } = runKernel('dplr', g.params, g.L, device, gold.W);
    for (const name of [...DPLR_COMPLEX, 'dt']) expect(relL2(grads[name], gold.grads[name]), name).toBeLessThan(1e-4);
  });

  for (const [H, N2, L] of [[2, 3, 1], [2, 3, 2], [2, 3, 7], [1, 4, 16], [2, 2, 33]] as const) {
    it(`matches float64 finite differences of the dense definition (H=${H}, N=${2 * N2}, L=${L})`, () => {
      const { grads, ref } = gradsAndFiniteDifferences('dplr', H, N2, L, 31 * L + N2, 5 + L);
      for (const name of DPLR_COMPLEX) expect(relL2(grads[name], ref[name]), name).toBeLessThan(TOL);
      if (L === 1) {
        // K[0] = -C~ A^-1 B does not depend on dt: the gradient is exactly zero, and the
        // finite difference is rounding noise.
        expect(Math.max(...grads.dt.map(Math.abs))).toBeLessThan(1e-6);
        expect(Math.max(...ref.dt.map(Math.abs))).toBeLessThan(1e-6);
      } else {
        expect(relL2(grads.dt, ref.dt), 'dt').toBeLessThan(TOL);
      }
    });
  }

  it('fills .grad only for the parameters that require it, and accumulates over two passes', () => {
    const p = roundDplr(randomDplr(2, 4, 3));
    const W = randomValues(2 * 12, 8);
    const full = runKernel('dplr', p, 12, device, W).grads;
    const t = {
      lambda: s4.complex(p.lambda.re, p.lambda.im, [2, 4], { device }),
      p: s4.complex(p.p.re, p.p.im, [2, 4], { device }),
      b: s4.complex(p.b.re, p.b.im, [2, 4], { device, requiresGrad: true }),
      cTilde: s4.complex(p.cTilde.re, p.cTilde.im, [2, 4], { device }),
      dt: s4.tensor(p.dt, [2], { device, requiresGrad: true }),
    };
    for (let pass = 0; pass < 2; pass++) {
      s4.tidy(() => s4.ops.sum(s4.ops.mul(s4.ops.dplrKernel(t, 12), s4.tensor(W, [2, 12], { device }))).backward());
    }
    expect(t.lambda.grad).toBeNull();
    expect(t.cTilde.grad).toBeNull();
    expect(t.b.grad!.dtype).toBe('complex64');
    expect([...t.b.grad!.shape]).toEqual([2, 4]);
    expect(relL2(t.b.grad!.dataSync(), Float64Array.from(full.b, (v) => 2 * v))).toBeLessThan(1e-6);
    expect(relL2(t.dt.grad!.dataSync(), Float64Array.from(full.dt, (v) => 2 * v))).toBeLessThan(1e-6);
    s4.dispose(t);
  });
});

describe('diagKernel backward', () => {
  for (const [H, N2, L] of [[2, 3, 1], [2, 3, 7], [1, 4, 64], [2, 2, 101]] as const) {
    it(`matches float64 finite differences of the Vandermonde definition (H=${H}, N=${2 * N2}, L=${L})`, () => {
      const { grads, ref } = gradsAndFiniteDifferences('diag', H, N2, L, 17 * L + N2, 9 + L);
      for (const name of [...DIAG_COMPLEX, 'dt']) expect(relL2(grads[name], ref[name]), name).toBeLessThan(TOL);
    });
  }
});

describe('kernel argument validation', () => {
  const H = 2, N2 = 3;
  const c = (seed: number, shape = [H, N2]) => s4.complex(randomValues(shape[0] * shape[1], seed), randomValues(shape[0] * shape[1], seed + 1), shape, { device });
  const stableLambda = (re = -0.5) => s4.complex(Array(H * N2).fill(re), randomValues(H * N2, 3), [H, N2], { device });
  const good = () => ({ lambda: stableLambda(), p: c(1), b: c(2), cTilde: c(3), dt: s4.tensor([0.01, 0.1], [H], { device }) });
  const goodDiag = () => ({ lambda: stableLambda(), b: c(2), c: c(3), dt: s4.tensor([0.01, 0.1], [H], { device }) });

  const cases: [string, () => unknown, RegExp, ErrorConstructor][] = [
    ['params not an object', () => s4.ops.dplrKernel(null as never, 8), /'params'/, TypeError],
    ['lambda float32', () => s4.ops.dplrKernel({ ...good(), lambda: s4.zeros([H, N2], { device }) }, 8), /'lambda' must be complex64/, TypeError],
    ['p of another shape', () => s4.ops.dplrKernel({ ...good(), p: c(1, [H, N2 + 1]) }, 8), /'p' must have shape \[H, N2\] = \[2, 3\]/, RangeError],
    ['cTilde missing', () => s4.ops.dplrKernel({ ...good(), cTilde: undefined as never }, 8), /'cTilde' must be a Tensor/, TypeError],
    ['dt of another length', () => s4.ops.dplrKernel({ ...good(), dt: s4.tensor([0.1, 0.1, 0.1], [3], { device }) }, 8), /'dt' must have shape \[H\] = \[2\]/, RangeError],
    ['dt = 0', () => s4.ops.dplrKernel({ ...good(), dt: s4.tensor([0.1, 0], [H], { device }) }, 8), /'dt' must be positive and finite/, RangeError],
    ['dt < 0', () => s4.ops.diagKernel({ ...goodDiag(), dt: s4.tensor([-0.1, 0.1], [H], { device }) }, 8), /'dt' must be positive and finite/, RangeError],
    ['dt NaN', () => s4.ops.dplrKernel({ ...good(), dt: s4.tensor([NaN, 0.1], [H], { device }) }, 8), /'dt' must be positive and finite/, RangeError],
    ['Re lambda > 0', () => s4.ops.dplrKernel({ ...good(), lambda: stableLambda(0.25) }, 8), /'lambda' must have Re\(lambda\) <= 0/, RangeError],
    ['Re lambda > 0 (diag)', () => s4.ops.diagKernel({ ...goodDiag(), lambda: stableLambda(0.25) }, 8), /'lambda' must have Re\(lambda\) <= 0/, RangeError],
    ['lambda NaN', () => s4.ops.dplrKernel({ ...good(), lambda: stableLambda(NaN) }, 8), /'lambda' must be finite/, RangeError],
    ['p Infinity', () => s4.ops.dplrKernel({ ...good(), p: s4.complex(Array(6).fill(Infinity), Array(6).fill(0), [H, N2], { device }) }, 8), /'p' must be finite/, RangeError],
    ['c NaN (diag)', () => s4.ops.diagKernel({ ...goodDiag(), c: s4.complex(Array(6).fill(0), Array(6).fill(NaN), [H, N2], { device }) }, 8), /'c' must be finite/, RangeError],
    ['L = 0', () => s4.ops.dplrKernel(good(), 0), /'L' must be an integer in \[1,/, RangeError],
    ['L = 2.5', () => s4.ops.diagKernel(goodDiag(), 2.5), /'L' must be an integer/, RangeError],
    ['L NaN', () => s4.ops.dplrKernel(good(), NaN), /'L' must be a finite number/, TypeError],
    ['L a string', () => s4.ops.dplrKernel(good(), '8' as never), /'L' must be a finite number/, TypeError],
  ];
  for (const [what, call, msg, cls] of cases) {
    it(`throws a ${cls.name} naming the argument: ${what}`, () => expectThrows(call, cls, msg));
  }

  it('Re lambda = 0 is accepted (the boundary of stability)', () => {
    const K = s4.tidy(() => s4.ops.diagKernel({ ...goodDiag(), lambda: s4.complex(Array(6).fill(0), [1, 2, 3, 4, 5, 6], [H, N2], { device }) }, 5).dataSync());
    expect(K.every(Number.isFinite)).toBe(true);
  });

  it('the raw addon checks buffer sizes and names the argument', () => {
    s4.tidy(() => {
      const g = good();
      const out = s4.zeros([H, 8], { device });
      const dplr = { lambda: g.lambda.handle, p: g.p.handle, b: g.b.handle, cTilde: g.cTilde.handle, dt: g.dt.handle, out: out.handle };
      expect(() => ops.dplrKernel({ ...dplr, H, N2, L: 9 })).toThrow(/'out'/);
      expect(() => ops.dplrKernel({ ...dplr, H, N2: N2 + 1, L: 8 })).toThrow(/'lambda'/);
      expect(() => ops.diagKernel({ lambda: g.lambda.handle, b: g.b.handle, c: g.dt.handle, dt: g.dt.handle, out: out.handle, H, N2, L: 8 })).toThrow(/'c'/);
      expect(() => ops.dplrKernel({ ...dplr, H, N2, L: 0 })).toThrow(RangeError);
    });
  });

  it('ssmParamCheck reports each kind of bad value as its own flag', () => {
    s4.tidy(() => {
      const g = good();
      const check = (lambda: s4.Tensor, x1: s4.Tensor, dt: s4.Tensor) => ops.ssmParamCheck({ lambda: lambda.handle, x1: x1.handle, x2: g.b.handle, x3: null, dt: dt.handle, H, N2 });
      expect(check(g.lambda, g.p, g.dt)).toBe(0);
      expect(check(stableLambda(1), g.p, g.dt)).toBe(SsmParamFlag.lambdaUnstable);
      expect(check(stableLambda(NaN), g.p, g.dt)).toBe(SsmParamFlag.lambdaNonFinite);
      const badP = s4.complex([0, 0, 0, 0, 0, 0], [0, 0, 0, 0, Infinity, 0], [H, N2], { device });
      expect(check(g.lambda, badP, g.dt)).toBe(SsmParamFlag.x1NonFinite);
      expect(check(g.lambda, g.p, s4.tensor([0.1, -1], [H], { device }))).toBe(SsmParamFlag.dtInvalid);
    });
  });
});
