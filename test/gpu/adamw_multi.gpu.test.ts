/**
 * The CUDA multi-tensor AdamW step (native/cuda/adamw_multi.cu) against one adamwUpdate per
 * tensor on CUDA (bit for bit: the same element function and constants) and on the CPU
 * (within 1e-6: nvcc contracts the element math into fused multiply-adds, the CPU build
 * does not, so the two backends differ in the last bits, as the one-tensor op does), over
 * more tensors than one launch holds (56), sizes from 1 float to more than one launch's
 * blocks per tensor cover (4 Mi floats), complex parameters, and a captured graph.
 * Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as s4 from '../../lib/index';
import { core } from '../../lib/native/binding';
import { randomValues, relL2 } from '../helpers/device';
import { expectSameFloats } from '../helpers/same_floats';

const { ops } = s4;

const f64 = (a: number[]): Float64Array => Float64Array.from(a);

// 130 tensors (three launches): small ones around the 4-float width, one of 1_000_003
// floats, one of 5_000_001 (past 1024 blocks of 4096 floats), complex ones.
const SIZES: { floats: number; complex: boolean }[] = Array.from({ length: 130 }, (_, k) => {
  if (k === 60) return { floats: 1_000_003, complex: false };
  if (k === 100) return { floats: 5_000_001, complex: false };
  if (k % 7 === 3) return { floats: 2 * (1 + (k % 50)), complex: true };
  return { floats: [1, 3, 4, 5, 1000, 4099, 128 * 128][k % 7], complex: false };
});
const SHARED = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const hyper = (k: number, step: number) => ({ lr: 1e-3 * (1 + (k % 5)), weightDecay: k % 3 === 0 ? 0 : 0.01 * (k % 4), step: step + (k % 4) * 10 });

interface Run {
  p: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
}

/** Three steps on `device`, through one adamwStepMulti per step or one adamwStep per tensor. */
function run(device: 'cpu' | 'cuda', multi: boolean): Run {
  const p = SIZES.map((s, k) => {
    const data = randomValues(s.floats, 1000 + k);
    return s.complex ? s4.Tensor.fromFloats(data, [s.floats / 2], 'complex64', device) : s4.tensor(data, [s.floats], { device });
  });
  const m = SIZES.map((s) => s4.zeros([s.floats], { device }));
  const v = SIZES.map((s) => s4.zeros([s.floats], { device }));
  for (let step = 1; step <= 3; step++) {
    const g = p.map((t, k) => {
      const data = randomValues(t.floats, 5000 + 131 * step + k);
      return t.dtype === 'complex64' ? s4.Tensor.fromFloats(data, t.shape, 'complex64', device) : s4.tensor(data, t.shape, { device });
    });
    if (multi) ops.adamwStepMulti(p.map((t, k) => ({ param: t, grad: g[k], m: m[k], v: v[k], ...hyper(k, step) })), SHARED);
    else p.forEach((t, k) => ops.adamwStep(t, g[k], m[k], v[k], { ...SHARED, ...hyper(k, step) }));
    s4.dispose(...g);
  }
  const out = { p: p.map((t) => t.dataSync()), m: m.map((t) => t.dataSync()), v: v.map((t) => t.dataSync()) };
  s4.dispose(...p, ...m, ...v);
  return out;
}

describe('adamwMulti on CUDA', () => {
  afterEach(() => vi.restoreAllMocks());

  it('equals one CUDA adamwUpdate per tensor bit for bit, and the CPU within 1e-6', () => {
    const multi = run('cuda', true);
    const single = run('cuda', false);
    const cpu = run('cpu', false);
    SIZES.forEach((s, k) => {
      for (const key of ['p', 'm', 'v'] as const) {
        expectSameFloats(multi[key][k], single[key][k], `${key} of tensor ${k} (${s.floats} floats)`);
        expect(relL2(multi[key][k], cpu[key][k]), `${key} of tensor ${k} vs the CPU`).toBeLessThan(1e-6);
      }
    });
  });

  it('the Fashion-MNIST model: AdamW on CUDA makes one adamwMulti call a step and matches the CPU optimizer', () => {
    const make = (device: 'cpu' | 'cuda') =>
      new s4.nn.SequenceModel({
        dInput: 1, dModel: 128, nLayers: 4, dState: 64, dOutput: 10, prenorm: false, dropout: 0.1,
        pool: 'mean', kernel: 'dplr', init: 'legs', lMax: 784, seed: 1, device,
      });
    const models = [make('cpu'), make('cuda')];
    const opts = models.map((m) => new s4.optim.AdamW(m.parameterGroups({ lr: 0.01, weightDecay: 0.01 }), { lr: 0.01 }));
    const multi = vi.spyOn(core, 'adamwMulti');
    for (let step = 0; step < 2; step++) {
      for (const model of models) {
        model.parameters().forEach((p, i) => {
          p.grad?.dispose();
          const data = randomValues(p.floats, 700 + 50 * step + i);
          p.grad = s4.keep(p.dtype === 'complex64' ? s4.Tensor.fromFloats(data, p.shape, 'complex64', p.device) : s4.tensor(data, p.shape, { device: p.device }));
        });
      }
      opts.forEach((o) => o.step());
    }
    // Two optimizers (CPU, CUDA) times two steps, each one call over all 48 parameters.
    expect(multi).toHaveBeenCalledTimes(4);
    for (const c of multi.mock.calls) expect(c[0]).toHaveLength(48);
    const [cpuParams, cudaParams] = models.map((m) => m.parameters());
    cudaParams.forEach((p, i) => expect(relL2(p.dataSync(), cpuParams[i].dataSync()), `parameter ${i}`).toBeLessThan(1e-6));
    opts.forEach((o) => {
      o.zeroGrad();
      o.dispose();
    });
    models.forEach((m) => m.dispose());
  });

  it('can be captured in a graph: two launches equal two direct calls bit for bit', () => {
    const n = [1, 4099, 16384];
    const mk = (seed: number) => n.map((k, j) => s4.tensor(randomValues(k, seed + j), [k], { device: 'cuda' }));
    const [pa, pb] = [mk(1), mk(1)];
    const g = mk(10);
    const [ma, mb, va, vb] = [0, 1, 2, 3].map(() => n.map((k) => s4.zeros([k], { device: 'cuda' })));
    const args = (p: s4.Tensor[], m: s4.Tensor[], v: s4.Tensor[]) =>
      [p.map((t) => t.handle), g.map((t) => t.handle), m.map((t) => t.handle), v.map((t) => t.handle), f64([0.01, 0.02, 0.03]), f64([0, 0.1, 0.2]), f64([1, 2, 3]), 0.9, 0.99, 1e-8] as const;
    core.adamwMulti(...args(pa, ma, va));
    core.adamwMulti(...args(pa, ma, va));
    const graph = core.captureGraph(() => core.adamwMulti(...args(pb, mb, vb)));
    core.launchGraph(graph);
    core.launchGraph(graph);
    n.forEach((_, j) => {
      expectSameFloats(pb[j].dataSync(), pa[j].dataSync(), `param ${j}`);
      expectSameFloats(vb[j].dataSync(), va[j].dataSync(), `v ${j}`);
    });
    s4.dispose(...pa, ...pb, ...g, ...ma, ...mb, ...va, ...vb);
  });

  it('refuses buffers on two devices, naming the argument', () => {
    const p = s4.tensor(randomValues(8, 1), [8], { device: 'cuda' });
    const g = s4.tensor(randomValues(8, 2), [8], { device: 'cpu' });
    const m = s4.zeros([8], { device: 'cuda' });
    const v = s4.zeros([8], { device: 'cuda' });
    expect(() => core.adamwMulti([p.handle], [g.handle], [m.handle], [v.handle], f64([0.01]), f64([0]), f64([1]), 0.9, 0.99, 1e-8)).toThrow(
      /^adamwMulti: argument 'grads\[0\]' is on cpu but 'params\[0\]' is on cuda; move all arguments to one device$/,
    );
    s4.dispose(p, g, m, v);
  });
});
