import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';

const { AdamW, CosineWarmupSchedule, cosineWarmupFactor, clipGradNorm, gradNorm } = s4.optim;

function setGrad(p: s4.Tensor, values: Float32Array): void {
  p.grad?.dispose();
  const g = p.dtype === 'complex64' ? s4.Tensor.fromFloats(values, p.shape, 'complex64', p.device) : s4.tensor(values, p.shape, { device: p.device });
  p.grad = s4.keep(g);
}

/** Float64 AdamW (PyTorch's algorithm) on the floats of one parameter. */
class RefAdamW {
  m: Float64Array;
  v: Float64Array;
  t = 0;
  constructor(public p: Float64Array) {
    this.m = new Float64Array(p.length);
    this.v = new Float64Array(p.length);
  }
  step(g: ArrayLike<number>, lr: number, wd: number, b1: number, b2: number, eps: number): void {
    this.t++;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    for (let i = 0; i < this.p.length; i++) {
      this.p[i] *= 1 - lr * wd;
      this.m[i] = b1 * this.m[i] + (1 - b1) * g[i];
      this.v[i] = b2 * this.v[i] + (1 - b2) * g[i] * g[i];
      this.p[i] -= (lr * (this.m[i] / bc1)) / (Math.sqrt(this.v[i] / bc2) + eps);
    }
  }
}

describe('AdamW', () => {
  it('matches a float64 reference over several steps, with groups, complex parameters and skipped parameters', () => {
    const a = s4.tensor(randomValues(37, 1), [37], { device, requiresGrad: true });
    const c = s4.Tensor.fromFloats(randomValues(10, 2), [5], 'complex64', device);
    c.requiresGrad = true;
    const w = s4.tensor(randomValues(12, 3), [3, 4], { device, requiresGrad: true });
    const opt = new AdamW(
      [
        { params: [a, c], lr: 0.05, weightDecay: 0.1 },
        { params: [w], lr: 0.01, weightDecay: 0 },
      ],
      { betas: [0.8, 0.95], eps: 1e-6 },
    );
    const refs = new Map([a, c, w].map((p) => [p, new RefAdamW(Float64Array.from(p.dataSync()))]));
    const groupOf = new Map<s4.Tensor, [number, number]>([
      [a, [0.05, 0.1]],
      [c, [0.05, 0.1]],
      [w, [0.01, 0]],
    ]);
    for (let step = 0; step < 6; step++) {
      for (const p of [a, c, w]) {
        // w gets no gradient on step 2: skipped, and its step count must not advance.
        if (p === w && step === 2) {
          p.grad?.dispose();
          p.grad = null;
          continue;
        }
        const g = randomValues(p.floats, 100 + step * 7 + p.floats);
        for (let i = 0; i < g.length; i++) g[i] *= 1 + step; // growing gradients exercise v
        setGrad(p, g);
        const [lr, wd] = groupOf.get(p)!;
        refs.get(p)!.step(g, lr, wd, 0.8, 0.95, 1e-6);
      }
      opt.step();
    }
    for (const p of [a, c, w]) {
      const ref = refs.get(p)!;
      expect(relL2(p.dataSync(), ref.p)).toBeLessThan(1e-5);
      const st = opt.stateOf(p)!;
      expect(st.step).toBe(ref.t);
      expect(relL2(st.m.dataSync(), ref.m)).toBeLessThan(1e-5);
      expect(relL2(st.v.dataSync(), ref.v)).toBeLessThan(1e-5);
    }
    expect(opt.stateOf(w)!.step).toBe(5);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    opt.dispose();
    s4.dispose(a, c, w);
  });

  it('takes a plain list of tensors with the default options', () => {
    const p = s4.tensor([1, -2, 3], [3], { device, requiresGrad: true });
    const opt = new AdamW([p], { lr: 0.1 });
    expect(opt.paramGroups).toHaveLength(1);
    expect(opt.paramGroups[0].weightDecay).toBe(0.01);
    setGrad(p, Float32Array.from([1, 1, -1]));
    opt.step();
    // First step: m/bc1 = g, v/bc2 = g^2 -> p = p (1 - lr wd) - lr sign(g) (up to eps).
    const want = [1 * 0.999 - 0.1, -2 * 0.999 - 0.1, 3 * 0.999 + 0.1];
    expect(relL2(p.dataSync(), want)).toBeLessThan(1e-6);
    opt.dispose();
    p.dispose();
  });

  it('resumes from a state dict exactly as an uninterrupted run', () => {
    const a0 = randomValues(9, 11);
    const c0 = randomValues(8, 12);
    const make = () => {
      const a = s4.tensor(a0, [9], { device, requiresGrad: true });
      const c = s4.Tensor.fromFloats(c0, [4], 'complex64', device);
      c.requiresGrad = true;
      return [a, c];
    };
    const grads = (step: number, p: s4.Tensor) => randomValues(p.floats, 50 + 3 * step + p.floats);
    const groups = (a: s4.Tensor, c: s4.Tensor) => [
      { params: [a], lr: 0.03, weightDecay: 0.1 },
      { params: [c], lr: 0.002, weightDecay: 0 },
    ];
    const run = (opt: s4.optim.AdamW, ps: s4.Tensor[], from: number, to: number) => {
      for (let step = from; step < to; step++) {
        // c gets no gradient on step 1, so the two parameters' step counts differ.
        for (const p of ps) if (!(p.dtype === 'complex64' && step === 1)) setGrad(p, grads(step, p));
        opt.step();
        opt.zeroGrad();
      }
    };
    const [a1, c1] = make();
    const full = new AdamW(groups(a1, c1));
    run(full, [a1, c1], 0, 5);
    const [a2, c2] = make();
    const first = new AdamW(groups(a2, c2));
    run(first, [a2, c2], 0, 3);
    const saved = first.stateDict();
    expect(saved.params[0][0]!.step).toBe(3);
    expect(saved.params[1][0]!.step).toBe(2);
    first.dispose();
    const second = new AdamW(groups(a2, c2), { lr: 0.5 });
    second.loadStateDict(JSON.parse(JSON.stringify({ ...saved, params: saved.params.map((g) => g.map((e) => e && { ...e, m: Array.from(e.m), v: Array.from(e.v) })) })));
    run(second, [a2, c2], 3, 5);
    expect(relL2(a2.dataSync(), a1.dataSync())).toBe(0);
    expect(relL2(c2.dataSync(), c1.dataSync())).toBe(0);
    const bad = second.stateDict();
    bad.params[0][0]!.m = new Float32Array(3);
    expect(() => second.loadStateDict(bad)).toThrow(/\.m must hold 9 values/);
    expect(() => second.loadStateDict({ groups: [], params: [] })).toThrow(/2/);
    s4.dispose(a1, c1, a2, c2);
    full.dispose();
    second.dispose();
  });

  it('rejects bad options, naming them', () => {
    const p = s4.tensor([1], [1], { device, requiresGrad: true });
    expect(() => new AdamW([p], { lr: -1 })).toThrow(/'lr'/);
    expect(() => new AdamW([p], { betas: [0.9, 1] })).toThrow(/betas/);
    expect(() => new AdamW([p], { eps: NaN })).toThrow(/'eps'/);
    expect(() => new AdamW([p, p])).toThrow(/more than one place/);
    expect(() => new AdamW(5 as never)).toThrow(TypeError);
    expect(() => new AdamW([{ params: [p], lr: Infinity }])).toThrow(/lr/);
    p.dispose();
  });
});

describe('cosine schedule with warm-up', () => {
  it('warms up linearly, then follows the half cosine down to minFactor', () => {
    const o = { warmupSteps: 4, totalSteps: 14, minFactor: 0.1 };
    expect([0, 1, 2, 3].map((s) => cosineWarmupFactor(s, o))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(cosineWarmupFactor(4, o)).toBeCloseTo(1, 12);
    // q = (s - 4) / 9: the midpoint of the decay at q = 1/2 is not a step; check the formula.
    for (let s = 4; s < 14; s++) {
      const q = (s - 4) / 9;
      expect(cosineWarmupFactor(s, o)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * q)), 12);
    }
    expect(cosineWarmupFactor(13, o)).toBeCloseTo(0.1, 12);
    expect(cosineWarmupFactor(100, o)).toBeCloseTo(0.1, 12);
    for (let s = 4; s < 20; s++) expect(cosineWarmupFactor(s + 1, o)).toBeLessThanOrEqual(cosineWarmupFactor(s, o));
    expect(cosineWarmupFactor(0, { totalSteps: 5 })).toBe(1);
  });

  it('drives the group learning rates of an optimizer', () => {
    const p = s4.tensor([1], [1], { device, requiresGrad: true });
    const q = s4.tensor([1], [1], { device, requiresGrad: true });
    const opt = new AdamW([{ params: [p], lr: 0.1 }, { params: [q], lr: 0.001 }]);
    const o = { warmupSteps: 2, totalSteps: 6 };
    const sched = new CosineWarmupSchedule(opt, o);
    for (let s = 0; s < 6; s++) {
      expect(sched.stepCount).toBe(s);
      const f = cosineWarmupFactor(s, o);
      expect(sched.lrs[0]).toBeCloseTo(0.1 * f, 12);
      expect(sched.lrs[1]).toBeCloseTo(0.001 * f, 12);
      sched.step();
    }
    const resumed = new CosineWarmupSchedule(opt, { ...o, startStep: 3 });
    expect(resumed.stepCount).toBe(3);
    expect(resumed.lrs[0]).toBeCloseTo(0.1 * cosineWarmupFactor(3, o), 12);
    expect(() => new CosineWarmupSchedule(opt, { totalSteps: 3, warmupSteps: 4 })).toThrow(/warmupSteps/);
    expect(() => cosineWarmupFactor(-1, o)).toThrow(/'step'/);
    opt.dispose();
    s4.dispose(p, q);
  });
});

describe('gradient clipping', () => {
  const norm64 = (arrays: Float32Array[]): number => Math.sqrt(arrays.reduce((acc, a) => acc + a.reduce((s, v) => s + v * v, 0), 0));

  it('computes the global norm over float and complex gradients and scales them when it exceeds maxNorm', () => {
    const a = s4.tensor(new Float32Array(11), [11], { device, requiresGrad: true });
    const c = s4.Tensor.fromFloats(new Float32Array(6), [3], 'complex64', device);
    const none = s4.tensor([0], [1], { device, requiresGrad: true });
    const ga = randomValues(11, 5);
    const gc = randomValues(6, 6);
    setGrad(a, ga);
    setGrad(c, gc);
    const n = norm64([ga, gc]);
    expect(gradNorm([a, c, none])).toBeCloseTo(n, 5);
    // Below the threshold: unchanged.
    expect(clipGradNorm([a, c, none], n * 2)).toBeCloseTo(n, 5);
    expect(relL2(a.grad!.dataSync(), ga)).toBe(0);
    // Above: scaled by maxNorm / (norm + 1e-6).
    const max = n / 3;
    const got = clipGradNorm([a, c], max);
    expect(got).toBeCloseTo(n, 5);
    const f = max / (n + 1e-6);
    expect(relL2(a.grad!.dataSync(), Array.from(ga, (v) => v * f))).toBeLessThan(1e-6);
    expect(relL2(c.grad!.dataSync(), Array.from(gc, (v) => v * f))).toBeLessThan(1e-6);
    expect(gradNorm([a, c])).toBeCloseTo(max, 5);
    s4.dispose(a, c, none);
  });

  it('leaves the gradients alone and reports a non-finite norm', () => {
    const a = s4.tensor([0, 0], [2], { device, requiresGrad: true });
    setGrad(a, Float32Array.from([NaN, 1]));
    expect(Number.isNaN(clipGradNorm([a], 1))).toBe(true);
    expect(a.grad!.dataSync()[1]).toBe(1);
    expect(() => clipGradNorm([a], -1)).toThrow(/maxNorm/);
    a.dispose();
  });
});
