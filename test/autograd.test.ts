import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { randomValues, relL2 } from './helpers/device';

describe('autograd', () => {
  it('computes gradients of sum(a*b + a) and accumulates across calls', () => {
    const av = randomValues(37, 3);
    const bv = randomValues(37, 4);
    const a = s4.tensor(av, [37], { requiresGrad: true });
    const b = s4.tensor(bv, [37], { requiresGrad: true });
    s4.tidy(() => s4.ops.sum(s4.ops.add(s4.ops.mul(a, b), a)).backward());
    const ga = a.grad!.dataSync();
    const gb = b.grad!.dataSync();
    expect(relL2(ga, Array.from(bv, (v) => v + 1))).toBeLessThan(1e-6);
    expect(relL2(gb, av)).toBeLessThan(1e-6);
    s4.tidy(() => s4.ops.sum(s4.ops.scale(a, 2)).backward());
    expect(relL2(a.grad!.dataSync(), Array.from(bv, (v) => v + 3))).toBeLessThan(1e-6);
    s4.zeroGrad([a, b]);
    expect(a.grad).toBeNull();
    s4.dispose(a, b);
  });

  it('handles a tensor used twice (diamond) and mean', () => {
    const x = s4.tensor([1, 2, 3, 4], [4], { requiresGrad: true });
    s4.tidy(() => {
      const y = s4.ops.mul(x, x); // x^2
      const z = s4.ops.sub(y, x); // x^2 - x
      s4.ops.mean(z).backward();
    });
    expect(Array.from(x.grad!.dataSync())).toEqual([1, 3, 5, 7].map((v) => v / 4));
    x.dispose();
  });

  it('noGrad records nothing; backward needs a scalar or a gradient', () => {
    const x = s4.tensor([1, 2], [2], { requiresGrad: true });
    const y = s4.noGrad(() => s4.ops.scale(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(() => y.backward()).toThrow(/does not require grad/);
    const z = s4.ops.scale(x, 2);
    expect(() => z.backward()).toThrow(/non-scalar/);
    const g = s4.tensor([1, 1], [2]);
    z.backward(g);
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 2]);
    s4.dispose(x, y, z, g);
  });

  it('checks mul and sum gradients against finite differences in float64', () => {
    // f(a) = sum(a * a * w): df/da = 2 a w.
    const n = 129;
    const av = randomValues(n, 11);
    const wv = randomValues(n, 12);
    const a = s4.tensor(av, [n], { requiresGrad: true });
    const w = s4.tensor(wv, [n]);
    s4.tidy(() => s4.ops.sum(s4.ops.mul(s4.ops.mul(a, a), w)).backward());
    const f = (x: Float64Array) => x.reduce((acc, v, i) => acc + v * v * wv[i], 0);
    const fd = new Float64Array(n);
    const h = 1e-6;
    for (let i = 0; i < n; i++) {
      const p = Float64Array.from(av);
      const m = Float64Array.from(av);
      p[i] += h;
      m[i] -= h;
      fd[i] = (f(p) - f(m)) / (2 * h);
    }
    expect(relL2(a.grad!.dataSync(), fd)).toBeLessThan(1e-5);
    s4.dispose(a, w);
  });
});
