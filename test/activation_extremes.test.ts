/**
 * GELU (both forms) and GLU at the ends of the float range and on special values, against
 * their float64 definitions: the CPU evaluates them with its own vectorized exp and erfc
 * (native/cpu/vec_math.h), so saturation, signed zeros, infinities and NaN are checked here
 * element by element, with a relative bound where the value is not tiny.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device } from './helpers/device';

const on = { device };
const specials = [0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 3, -3, 9.5, -9.5, 20, -20, 87, -87, 88.7, -88.7, 89, -89, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];

function erf64(x: number): number {
  // Abramowitz-Stegun 7.1.28 is too coarse; use the series / continued fraction via erfc.
  return 1 - erfc64(x);
}
function erfc64(x: number): number {
  if (x < 0) return 2 - erfc64(-x);
  if (x < 3) {
    // Taylor series of erf, alternating, converges fast for |x| < 3.
    let sum = 0, term = x, n = 0;
    while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 3) {
      sum += term / (2 * n + 1);
      n++;
      term *= (-x * x) / n;
      if (n > 200) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction (Lentz) for erfc at larger x.
  let f = x, C = x, D = 0;
  for (let i = 1; i < 200; i++) {
    const a = i / 2;
    D = x + a * D;
    D = 1 / D;
    C = x + a / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (f * Math.sqrt(Math.PI));
}

function close(got: number, want: number, what: string): void {
  if (Number.isNaN(want)) return void expect(got, what).toBeNaN();
  if (!Number.isFinite(want)) return void expect(got, what).toBe(want);
  expect(Number.isFinite(got), what).toBe(true);
  const tol = 2e-6 * Math.abs(want) + 1e-30;
  expect(Math.abs(got - want), `${what}: got ${got}, want ${want}`).toBeLessThanOrEqual(tol);
}

describe('activations at the ends of the range', () => {
  it('GELU (erf) and its gradient', () => {
    const x = s4.tensor(specials, [specials.length], { ...on, requiresGrad: true });
    const y = s4.ops.gelu(x);
    y.backward(s4.ones([specials.length], on));
    const got = y.dataSync(), grad = x.grad!.dataSync();
    specials.forEach((v, i) => {
      const want = Math.abs(v) === Infinity ? (v > 0 ? Infinity : -0) : 0.5 * v * erfc64(-v / Math.SQRT2);
      if (v === -Infinity) expect(Number.isNaN(got[i]) || got[i] === 0, `gelu(-inf) = ${got[i]}`).toBe(true);
      else close(got[i], Math.fround(want), `gelu(${v})`);
      if (Number.isFinite(v) && Math.abs(v) < 1e20) {
        const g = 0.5 * erfc64(-v / Math.SQRT2) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
        close(grad[i], Math.fround(g), `gelu'(${v})`);
      }
    });
    expect(Number.isNaN(got[specials.length - 1])).toBe(true);
    void erf64;
    s4.dispose(x, y);
  });

  it('GLU and its gradients', () => {
    const n = specials.length;
    const a = specials.map((_, i) => ((i % 5) - 2) * 0.75);
    const data = [...a, ...specials];
    const x = s4.tensor(data, [1, 2 * n, 1], { ...on, requiresGrad: true });
    const y = s4.ops.glu(x, 1);
    y.backward(s4.ones([1, n, 1], on));
    const got = y.dataSync(), grad = x.grad!.dataSync();
    specials.forEach((g, i) => {
      const s = 1 / (1 + Math.exp(-g));
      close(got[i], Math.fround(a[i] * s), `glu(${a[i]}, ${g})`);
      close(grad[i], Math.fround(s), `dglu/da at ${g}`);
      if (Number.isFinite(g)) close(grad[n + i], Math.fround(a[i] * s * (1 - s)), `dglu/dg at ${g}`);
    });
    s4.dispose(x, y);
  });
});
