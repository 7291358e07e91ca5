import { beforeAll, describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops } from '../lib/native/binding';
import { cTildeToC, diagStepCoefficients, dplrKernelDense, dplrStepCoefficients, scanReference } from '../lib/ssm/step_setup';
import type { DplrParams64 } from '../lib/ssm/types';
import {
  conv64,
  diagKernel64,
  diagTensors,
  dplrTensors,
  fftConvOn,
  loadGoldenDplr,
  randomDiag,
  randomDplr,
  roundDiag,
  roundDplr,
} from './helpers/conv_ref';
import { randomValues, relL2 } from './helpers/device';

type KernelOp = (params: { lambda: s4.Tensor; p: s4.Tensor; b: s4.Tensor; cTilde: s4.Tensor; dt: s4.Tensor }, L: number) => s4.Tensor;
/** The native kernel op when its family is built in; the float64 dense kernel otherwise. */
const dplrKernelOp = (s4.ops as Record<string, unknown>).dplrKernel as KernelOp | undefined;

/** The skip d [H] and the input u [B, H, L] of a scan-versus-convolution case. */
function scanInputs(B: number, H: number, L: number, seed: number) {
  return { d: randomValues(H, seed), u: randomValues(B * H * L, seed + 1) };
}

function convModeKernels(p: DplrParams64, L: number): { name: string; K: ArrayLike<number> }[] {
  const out: { name: string; K: ArrayLike<number> }[] = [{ name: 'dense float64', K: dplrKernelDense(roundDplr(p), L) }];
  if (dplrKernelOp) {
    out.push({ name: 'ops.dplrKernel', K: s4.tidy(() => dplrKernelOp(dplrTensors(p, null, s4.backend()), L).dataSync()) });
  }
  return out;
}

describe('step set-up (float64) against the official S4', () => {
  let g: ReturnType<typeof loadGoldenDplr>;
  beforeAll(() => {
    g = loadGoldenDplr();
  });

  it('recovers C from C~ and rebuilds the kernel K = C Ab^l Bb', () => {
    const C = cTildeToC(g.params, g.L);
    expect(relL2(C.re, g.c.re)).toBeLessThan(1e-9);
    expect(relL2(C.im, g.c.im)).toBeLessThan(1e-9);
    expect(relL2(dplrKernelDense(g.params, g.L), g.K)).toBeLessThan(1e-9);
  });

  it('the Woodbury step coefficients reproduce y in float64', () => {
    const { H, N2 } = g.params;
    const B = g.u.length / (H * g.L);
    const coef = dplrStepCoefficients(g.params, g.L, g.D);
    // Coefficients are float32: the agreement is at float32 rounding of the coefficients.
    expect(relL2(scanReference(coef, g.u, B, H, N2, g.L), g.y)).toBeLessThan(1e-5);
  });

  it('dplrScan reproduces the golden y (recurrent mode = official conv mode)', () => {
    const { H } = g.params;
    const B = g.u.length / (H * g.L);
    const y = s4.tidy(() => s4.ops.dplrScan(dplrTensors(g.params, g.D, s4.backend()), s4.tensor(g.u, [B, H, g.L]), g.L).dataSync());
    expect(relL2(y, g.y)).toBeLessThan(1e-4);
  });
});

describe('dplrScan (recurrent mode) equals fftConv with the DPLR kernel (conv mode)', () => {
  for (const [L, B, H, N2] of [[1, 2, 3, 8], [7, 2, 3, 8], [784, 2, 2, 16]]) {
    it(`L = ${L}, B = ${B}, H = ${H}, N2 = ${N2}`, () => {
      const p = randomDplr(H, N2, 17 + L);
      const { d, u } = scanInputs(B, H, L, 5 + L);
      const yScan = s4.tidy(() => s4.ops.dplrScan(dplrTensors(p, d, s4.backend()), s4.tensor(u, [B, H, L]), L).dataSync());
      for (const { name, K } of convModeKernels(p, L)) expect(relL2(yScan, fftConvOn(s4.backend(), u, K, d, B, H, L)), name).toBeLessThan(1e-4);
      // and both against the float64 definition
      const y64 = conv64(u, dplrKernelDense(roundDplr(p), L), Float32Array.from(d), B, H, L);
      expect(relL2(yScan, y64)).toBeLessThan(1e-4);
    });
  }

  it('steps past the kernel length: T != L is allowed (C fixed by L)', () => {
    const p = randomDplr(2, 4, 3);
    const u = randomValues(2 * 20, 4);
    const coef = dplrStepCoefficients(roundDplr(p), 8, null);
    const y = s4.tidy(() => s4.ops.dplrScan(dplrTensors(p, null, s4.backend()), s4.tensor(u, [1, 2, 20]), 8).dataSync());
    expect(relL2(y, scanReference(coef, u, 1, 2, 4, 20))).toBeLessThan(1e-5);
  });
});

describe('native scan against its float64 reference', () => {
  for (const [B, H, N2, T] of [[1, 1, 1, 1], [3, 2, 3, 13], [2, 3, 8, 40], [2, 2, 33, 29], [1, 2, 64, 17]]) {
    it(`B = ${B}, H = ${H}, N2 = ${N2}, T = ${T}`, () => {
      const p = randomDplr(H, N2, 100 + N2);
      const coef = dplrStepCoefficients(p, 64, randomValues(H, 3));
      const u = randomValues(B * H * T, 7 + T);
      const y = s4.tidy(() => {
        const out = s4.zeros([B, H, T]);
        const c = s4.tensor(coef, [H, coef.length / H]);
        ops.ssmScan({ coef: c.handle, state: null, u: s4.tensor(u, [B, H, T]).handle, y: out.handle, B, H, N2, T, gelu: false });
        return out.dataSync();
      });
      expect(relL2(y, scanReference(coef, u, B, H, N2, T))).toBeLessThan(1e-5);
    });
  }
});

describe('diagScan (S4D, ZOH) equals fftConv with the Vandermonde kernel', () => {
  for (const [L, B, H, N2] of [[1, 1, 2, 4], [7, 2, 3, 5], [784, 2, 2, 32]]) {
    it(`L = ${L}, B = ${B}, H = ${H}, N2 = ${N2}`, () => {
      const p = randomDiag(H, N2, 40 + L);
      const { d, u } = scanInputs(B, H, L, 6 + L);
      const K = diagKernel64(roundDiag(p), L);
      const yScan = s4.tidy(() => s4.ops.diagScan(diagTensors(p, d, s4.backend()), s4.tensor(u, [B, H, L])).dataSync());
      expect(relL2(yScan, fftConvOn(s4.backend(), u, K, d, B, H, L))).toBeLessThan(1e-4);
      expect(relL2(yScan, conv64(u, K, Float32Array.from(d), B, H, L))).toBeLessThan(1e-4);
    });
  }

  it('diagStepCoefficients has no rank-one part', () => {
    const p = randomDiag(2, 3, 1);
    const coef = diagStepCoefficients(p, null);
    const stride = 10 * 3 + 2;
    for (let h = 0; h < 2; h++) {
      // the w and g arrays (floats [2 N2, 6 N2) of the row) are zero
      for (let j = 2 * 3; j < 6 * 3; j++) expect(coef[h * stride + j]).toBe(0);
      expect(coef[h * stride + 30]).toBe(0);
    }
  });
});

describe('scan argument errors', () => {
  const p = randomDplr(2, 4, 1);
  const u = () => s4.tensor(randomValues(2 * 2 * 5, 2), [2, 2, 5]);

  it('dplrScan names the bad parameter', () => {
    s4.tidy(() => {
      const good = dplrTensors(p, null, s4.backend());
      expect(() => s4.ops.dplrScan({ ...good, cTilde: undefined } as never, u(), 5)).toThrow(/dplrScan: argument 'cTilde' must be a Tensor/);
      expect(() => s4.ops.dplrScan({ ...good, p: s4.complex([1], [0], [1, 1]) }, u(), 5)).toThrow(/'p' must have shape \[H, N2\] = \[2, 4\]/);
      expect(() => s4.ops.dplrScan({ ...good, dt: s4.zeros([3]) }, u(), 5)).toThrow(/'dt' must have shape \[H\] = \[2\]/);
      expect(() => s4.ops.dplrScan({ ...good, lambda: s4.zeros([2, 4]) }, u(), 5)).toThrow(/'lambda' must be complex64/);
      expect(() => s4.ops.dplrScan({ ...good, d: s4.zeros([5]) }, u(), 5)).toThrow(/'d' must have shape \[H\]/);
      expect(() => s4.ops.dplrScan(good, u(), 0)).toThrow(/'L' must be an integer/);
      expect(() => s4.ops.dplrScan(good, u(), 2.5)).toThrow(RangeError);
      expect(() => s4.ops.dplrScan(good, s4.zeros([2, 3, 5]), 5)).toThrow(/'u' must have shape \[B, H, T\] with H = 2/);
      expect(() => s4.ops.dplrScan(good, s4.zeros([2, 5]), 5)).toThrow(/'u' must have rank 3/);
      expect(() => s4.ops.dplrScan(null as never, u(), 5)).toThrow(TypeError);
    });
  });

  it('rejects non-finite or non-positive parameters', () => {
    s4.tidy(() => {
      const good = dplrTensors(p, null, s4.backend());
      expect(() => s4.ops.dplrScan({ ...good, dt: s4.tensor([0.01, -1], [2]) }, u(), 5)).toThrow(/'dt' must be positive/);
      const bad = { ...p.lambda, re: Float64Array.from(p.lambda.re) };
      bad.re[3] = NaN;
      expect(() => s4.ops.dplrScan({ ...good, lambda: s4.complex(bad.re, bad.im, [2, 4]) }, u(), 5)).toThrow(/'lambda.re' has a non-finite value/);
    });
  });

  it('diagScan names the bad parameter', () => {
    const q = randomDiag(2, 4, 1);
    s4.tidy(() => {
      const good = diagTensors(q, null, s4.backend());
      expect(() => s4.ops.diagScan({ ...good, c: s4.complex([1], [0], [1, 1]) }, u())).toThrow(/diagScan: argument 'c' must have shape/);
      expect(() => s4.ops.diagScan(good, s4.zeros([2, 4, 5]))).toThrow(/'u' must have shape \[B, H, T\] with H = 2/);
    });
  });

  it('the raw addon checks coefficient, state and sequence sizes', () => {
    s4.tidy(() => {
      const y = s4.zeros([2, 2, 5]);
      const coef = s4.zeros([2, 42]);
      const sizes = { B: 2, H: 2, N2: 4, T: 5, gelu: false };
      expect(() => ops.ssmScan({ coef: s4.zeros([2, 41]).handle, u: u().handle, y: y.handle, ...sizes })).toThrow(/ssmScan.*'coef'/);
      expect(() => ops.ssmScan({ coef: coef.handle, state: s4.zeros([2, 2, 4]).handle, u: u().handle, y: y.handle, ...sizes })).toThrow(/ssmScan.*'state'/);
      expect(() => ops.ssmScan({ coef: coef.handle, u: u().handle, y: s4.zeros([2, 2, 4]).handle, ...sizes })).toThrow(/ssmScan.*'y'/);
      expect(() => ops.ssmScan({ coef: coef.handle, u: u().handle, y: y.handle, ...sizes, N2: 0 })).toThrow(/ssmScan.*'N2'/);
    });
  });
});
