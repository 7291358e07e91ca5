/**
 * The multi-tensor AdamW step (core.adamwMulti, ops.adamwStepMulti, AdamW.step) against one
 * adamwStep per tensor: the same floats, bit for bit, over several steps with mixed groups,
 * complex parameters, sizes around the 4-float vector width and skipped parameters; how many
 * native calls an optimizer step makes; and the export's argument errors.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as s4 from '../lib/index';
import { core, recordOps, type NativeBuffer } from '../lib/native/binding';
import { device, randomValues } from './helpers/device';
import { expectSameFloats } from './helpers/same_floats';
import { thrownBy } from './helpers/throws';

const { AdamW } = s4.optim;
const { ops } = s4;

function param(floats: number, complex: boolean, seed: number): s4.Tensor {
  const t = complex
    ? s4.Tensor.fromFloats(randomValues(floats, seed), [floats / 2], 'complex64', device)
    : s4.tensor(randomValues(floats, seed), [floats], { device });
  t.requiresGrad = true;
  return s4.keep(t);
}

function gradLike(p: s4.Tensor, seed: number, scale: number): s4.Tensor {
  const g = randomValues(p.floats, seed).map((x) => x * scale);
  return s4.keep(p.dtype === 'complex64' ? s4.Tensor.fromFloats(g, p.shape, 'complex64', p.device) : s4.tensor(g, p.shape, { device: p.device }));
}

/** Per-parameter state of the reference: one ops.adamwStep per parameter, as AdamW.step did. */
interface RefState {
  p: s4.Tensor;
  m: s4.Tensor;
  v: s4.Tensor;
  step: number;
}

describe('adamwMulti', () => {
  afterEach(() => vi.restoreAllMocks());

  it('AdamW.step equals one adamwStep per parameter, bit for bit, with groups, complex parameters and skipped parameters', () => {
    // Float counts around the 4-float vector width, a chunk boundary (4099 > 4096) and complex ones.
    const shapes: [number, boolean][] = [[1, false], [3, false], [4, false], [5, false], [1000, false], [4099, false], [2, true], [14, true], [4100, true]];
    const params = shapes.map(([n, c], i) => param(n, c, 10 + i));
    const twins = params.map((p) => s4.keep(s4.Tensor.fromFloats(p.dataSync(), p.shape, p.dtype, p.device)));
    const groupOf = (i: number) => (i % 3 === 0 ? 0 : i % 3 === 1 ? 1 : 2);
    const hyper = [
      { lr: 0.05, weightDecay: 0.1 },
      { lr: 0.003, weightDecay: 0 },
      { lr: 0.01, weightDecay: 0.02 },
    ];
    const opt = new AdamW(
      hyper.map((h, gi) => ({ params: params.filter((_, i) => groupOf(i) === gi), ...h })),
      { betas: [0.8, 0.95], eps: 1e-6 },
    );
    const refs: RefState[] = twins.map((p) => ({ p, m: s4.keep(s4.zeros([p.floats], { device })), v: s4.keep(s4.zeros([p.floats], { device })), step: 0 }));
    for (let step = 0; step < 5; step++) {
      params.forEach((p, i) => {
        p.grad?.dispose();
        p.grad = null;
        // Parameter i has no gradient on step i % 5 (skipped: no update, its count stays).
        if (i % 5 === step) return;
        p.grad = gradLike(p, 100 + 17 * step + i, 1 + step);
        const r = refs[i];
        r.step++;
        ops.adamwStep(r.p, p.grad, r.m, r.v, { ...hyper[groupOf(i)], beta1: 0.8, beta2: 0.95, eps: 1e-6, step: r.step });
      });
      opt.step();
    }
    params.forEach((p, i) => {
      const st = opt.stateOf(p)!;
      expect(st.step, `parameter ${i}`).toBe(refs[i].step);
      expectSameFloats(p.dataSync(), refs[i].p.dataSync(), `param ${i}`);
      expectSameFloats(st.m.dataSync(), refs[i].m.dataSync(), `m ${i}`);
      expectSameFloats(st.v.dataSync(), refs[i].v.dataSync(), `v ${i}`);
    });
    opt.zeroGrad();
    opt.dispose();
    s4.dispose(...params, ...twins, ...refs.flatMap((r) => [r.m, r.v]));
  });

  it('AdamW.step refused by its checks updates nothing and leaves the step counts', () => {
    const a = param(6, false, 1);
    const b = param(8, true, 2);
    const opt = new AdamW([a, b], { lr: 0.1 });
    a.grad = gradLike(a, 3, 1);
    b.grad = gradLike(b, 4, 1);
    opt.step();
    const before = [a.dataSync(), b.dataSync()];
    a.grad.dispose();
    a.grad = gradLike(a, 5, 1);
    b.grad.dispose();
    b.grad = s4.keep(s4.tensor(randomValues(8, 6), [8], { device })); // float32, not complex64
    expect(() => opt.step()).toThrow(/^adamwStepMulti: argument 'tensors\[1\]\.grad' must be complex64 \(got float32\)$/);
    expectSameFloats(a.dataSync(), before[0], 'a');
    expectSameFloats(b.dataSync(), before[1], 'b');
    expect([opt.stateOf(a)!.step, opt.stateOf(b)!.step]).toEqual([1, 1]);
    opt.zeroGrad();
    opt.dispose();
    s4.dispose(a, b);
  });

  it('adamwStepMulti: each tensor with its own lr, weight decay and step count equals adamwStep on it alone', () => {
    // 41_503 floats: the CPU twin's chunks of 16384 floats end inside the tensors of 20000
    // and 16384 floats, and the first chunk holds six tensors.
    const sizes = [1, 3, 4, 5, 1000, 4099, 20000, 16384, 7];
    const steps = [1, 2, 7, 100, 12345, 2 ** 40, 3, 4, 5];
    const make = (seed: number) => sizes.map((n, k) => s4.keep(s4.tensor(randomValues(n, seed + k), [n], { device })));
    const ps = [make(1), make(1)];
    const gs = make(20);
    const ms = [make(40).map((t) => s4.keep(ops.mul(t, t))), make(40).map((t) => s4.keep(ops.mul(t, t)))];
    const vs = [make(60).map((t) => s4.keep(ops.mul(t, t))), make(60).map((t) => s4.keep(ops.mul(t, t)))];
    const shared = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    sizes.forEach((_, k) => ops.adamwStep(ps[0][k], gs[k], ms[0][k], vs[0][k], { ...shared, lr: 1e-3 * (k + 1), weightDecay: 0.01 * k, step: steps[k] }));
    ops.adamwStepMulti(
      sizes.map((_, k) => ({ param: ps[1][k], grad: gs[k], m: ms[1][k], v: vs[1][k], lr: 1e-3 * (k + 1), weightDecay: 0.01 * k, step: steps[k] })),
      shared,
    );
    sizes.forEach((n, k) => {
      expectSameFloats(ps[1][k].dataSync(), ps[0][k].dataSync(), `param of ${n}`);
      expectSameFloats(ms[1][k].dataSync(), ms[0][k].dataSync(), `m of ${n}`);
      expectSameFloats(vs[1][k].dataSync(), vs[0][k].dataSync(), `v of ${n}`);
    });
    ops.adamwStepMulti([], shared); // nothing to do
    s4.dispose(...ps.flat(), ...gs, ...ms.flat(), ...vs.flat());
  });

  it('runs inside an async call as one recorded CPU task, with the same floats', async () => {
    const n = 4099;
    const p = [0, 1].map(() => s4.keep(s4.tensor(randomValues(n, 5), [n], { device })));
    const g = s4.keep(s4.tensor(randomValues(n, 6), [n], { device }));
    const m = [0, 1].map(() => s4.keep(s4.zeros([n], { device })));
    const v = [0, 1].map(() => s4.keep(s4.zeros([n], { device })));
    const shared = { beta1: 0.9, beta2: 0.99, eps: 1e-8 };
    ops.adamwStep(p[0], g, m[0], v[0], { ...shared, lr: 0.1, weightDecay: 0.5, step: 3 });
    await s4.runAsync(() => ops.adamwStepMulti([{ param: p[1], grad: g, m: m[1], v: v[1], lr: 0.1, weightDecay: 0.5, step: 3 }], shared));
    expectSameFloats(p[1].dataSync(), p[0].dataSync(), 'param');
    expectSameFloats(v[1].dataSync(), v[0].dataSync(), 'v');
    s4.dispose(...p, g, ...m, ...v);
  });

  it("one optimizer step of the Fashion-MNIST model (4 layers, H 128, N 64) is one native call", () => {
    const model = new s4.nn.SequenceModel({
      dInput: 1, dModel: 128, nLayers: 4, dState: 64, dOutput: 10, prenorm: false, dropout: 0.1,
      pool: 'mean', kernel: 'dplr', init: 'legs', lMax: 784, seed: 1, device,
    });
    const opt = new AdamW(model.parameterGroups({ lr: 0.01, weightDecay: 0.01 }), { lr: 0.01 });
    const params = model.parameters();
    params.forEach((p, i) => (p.grad = gradLike(p, 300 + i, 0.1)));
    const multi = vi.spyOn(core, 'adamwMulti');
    // The first step allocates the moments (two zero fills per parameter), as before.
    const first = recordOps(() => opt.step());
    expect(first.filter((c) => c.name !== 'fill')).toEqual([]);
    expect(multi).toHaveBeenCalledTimes(1);
    const later = recordOps(() => opt.step());
    expect(later).toEqual([]);
    expect(multi).toHaveBeenCalledTimes(2);
    // One call for every parameter: one adamwUpdate each before.
    expect(params.length).toBe(48);
    expect(multi.mock.calls[1][0]).toHaveLength(params.length);
    opt.zeroGrad();
    opt.dispose();
    model.dispose();
  });

  describe('argument errors', () => {
    const bufs = (sizes: number[], seed: number) => sizes.map((n, k) => s4.keep(s4.tensor(randomValues(n, seed + k), [n], { device })));
    // Arrays of numbers become the export's Float64Arrays; anything else is passed as is.
    const f64 = (x: unknown): unknown => (Array.isArray(x) && x.every((e) => typeof e === 'number') ? Float64Array.from(x) : x);
    const call = (b: { p: NativeBuffer[]; g: NativeBuffer[]; m: NativeBuffer[]; v: NativeBuffer[] }, over: Partial<{ lr: unknown; wd: unknown; step: unknown; b1: unknown; b2: unknown; eps: unknown }> = {}) =>
      (core.adamwMulti as (...a: unknown[]) => void)(
        b.p, b.g, b.m, b.v,
        f64(over.lr ?? b.p.map(() => 0.01)), f64(over.wd ?? b.p.map(() => 0.1)), f64(over.step ?? b.p.map(() => 1)),
        over.b1 ?? 0.9, over.b2 ?? 0.999, over.eps ?? 1e-8,
      );

    it('names the argument, its index and what was expected; a rejected call changes nothing', () => {
      const sizes = [1024, 5, 1024, 1024];
      const [p, g, m, v] = [1, 2, 3, 4].map((s) => bufs(sizes, 10 * s));
      const h = (ts: s4.Tensor[]) => ts.map((t) => t.handle);
      const good = { p: h(p), g: h(g), m: h(m), v: h(v) };
      const before = p.map((t) => t.dataSync());
      const short = s4.keep(s4.zeros([512], { device }));
      const grads3 = [...good.g.slice(0, 3), short.handle];
      const cases: [() => unknown, ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, RegExp][] = [
        [() => call({ ...good, g: grads3 }), RangeError, /^adamwMulti: argument 'grads\[3\]' must hold 1024 floats like 'params\[3\]' \(got 512\)$/],
        [() => call({ ...good, v: good.v.slice(0, 3) }), RangeError, /^adamwMulti: argument 'vs' must have 4 entries like 'params' \(got 3\)$/],
        [() => call(good, { lr: [0.01, 0.01] }), RangeError, /argument 'lr' must have 4 entries/],
        [() => call({ ...good, m: [...good.m.slice(0, 2), good.p[2], good.m[3]] }), RangeError, /argument 'ms\[2\]' must not be the same buffer as 'params\[2\]'/],
        [() => call({ ...good, p: [good.p[0], good.p[1], good.p[2], good.p[0]] }), RangeError, /argument 'params\[3\]' must not be the same buffer as 'params\[0\]'/],
        [() => call({ ...good, g: [good.g[0], good.g[1], good.g[2], good.v[0]] }), RangeError, /argument 'grads\[3\]' must not be the same buffer as 'vs\[0\]'/],
        [() => call({ ...good, m: [...good.m.slice(0, 3), 'x' as unknown as NativeBuffer] }), TypeError, /argument 'ms\[3\]' must be a native buffer/],
        [() => call({ ...good, p: {} as unknown as NativeBuffer[] }, { lr: [], wd: [], step: [] }), TypeError, /argument 'params' must be an array of native buffers/],
        [() => call(good, { lr: [0.01, 0.01, 0.01, -1] }), RangeError, /argument 'lr\[3\]' must be in \[0, inf\] \(got -1\)/],
        [() => call(good, { wd: [0.1, '0.1', 0.1, 0.1] }), TypeError, /^adamwMulti: argument 'weightDecay' must be a Float64Array with one number per tensor$/],
        [() => call(good, { step: new Float32Array(4).fill(1) }), TypeError, /argument 'step' must be a Float64Array/],
        [() => call(good, { step: [1, 1, 0, 1] }), RangeError, /argument 'step\[2\]' must be an integer in \[1, 9007199254740992\] \(got 0\)/],
        [() => call(good, { step: [1, 1.5, 1, 1] }), RangeError, /argument 'step\[1\]' must be an integer/],
        [() => call(good, { b1: 1 }), RangeError, /argument 'beta1' must be in \[0, 1\) \(got 1\)/],
        [() => call(good, { b2: -0.1 }), RangeError, /argument 'beta2' must be in \[0, 1\)/],
        [() => call(good, { eps: 0 }), RangeError, /argument 'eps' must be in \(0, inf\] \(got 0\)/],
        [() => (core.adamwMulti as (...a: unknown[]) => void)(good.p, good.g), TypeError, /^adamwMulti: expected 10 arguments, got 2$/],
      ];
      for (const [fn, cls, re] of cases) {
        const e = thrownBy(fn);
        expect(e, String(re)).toBeInstanceOf(cls);
        expect((e as Error).message).toMatch(re);
      }
      // Non-finite numbers: RangeError with code S4_NON_FINITE, as the op checker.
      for (const over of [{ lr: [0.01, NaN, 0.01, 0.01] }, { wd: [0.1, 0.1, 0.1, Infinity] }, { eps: Infinity }, { b1: NaN }]) {
        const e = thrownBy(() => call(good, over)) as Error & { code?: string };
        expect(e).toBeInstanceOf(RangeError);
        expect(e.code).toBe('S4_NON_FINITE');
        expect(e.message).toMatch(/^adamwMulti: argument '\w+(\[\d\])?' must be finite/);
      }
      // Disposed buffers.
      const gone = s4.tensor(randomValues(1024, 9), [1024], { device });
      const goneHandle = gone.handle;
      gone.dispose();
      expect(() => call({ ...good, v: [...good.v.slice(0, 3), goneHandle] })).toThrow(/^adamwMulti: argument 'vs\[3\]' has been disposed$/);
      // Every rejection came before any update.
      p.forEach((t, k) => expectSameFloats(t.dataSync(), before[k], `params[${k}]`));
      // The checked wrapper names the tensor's fields.
      expect(() => ops.adamwStepMulti([{ param: p[0], grad: g[0], m: m[0], v: v[0], lr: 0.1, weightDecay: 0, step: 1 }, { param: p[1], grad: g[0], m: m[1], v: v[1], lr: 0.1, weightDecay: 0, step: 1 }], { beta1: 0.9, beta2: 0.99, eps: 1e-8 })).toThrow(
        /^adamwStepMulti: argument 'tensors\[1\]\.grad' must have 5 elements like 'tensors\[1\]\.param' \(got 1024\)$/,
      );
      expect(() => ops.adamwStepMulti([{ param: p[0], grad: g[0], m: m[0], v: v[0], lr: 0.1, weightDecay: 0, step: 0 }], { beta1: 0.9, beta2: 0.99, eps: 1e-8 })).toThrow(/adamwStepMulti: argument 'tensors\[0\]\.step'/);
      expect(() => ops.adamwStepMulti([], { beta1: 1, beta2: 0.99, eps: 1e-8 })).toThrow(/adamwStepMulti: argument 'beta1' must be in \[0, 1\)/);
      s4.dispose(...p, ...g, ...m, ...v, short);
    });
  });
});
