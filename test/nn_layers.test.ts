import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';
import { layerNormChannelsRef, linearChannelsRef, s4Layer64, type LayerShape } from './helpers/nn_reference';
import { loadGolden } from './helpers/golden';
import { expectGradientsMatch64, params64 } from './helpers/layer_checks';

const { Module, Linear, LayerNorm, Dropout, S4Layer } = s4.nn;

class Toy extends Module {
  a = this.registerModule('a', new Linear(3, 4, { seed: 1, device }));
  inner = this.registerModule('inner', new Module());
  drop = this.registerModule('drop', new Dropout(0.5));
  constructor() {
    super();
    this.registerParameter('scale', s4.tensor([2], [1], { device }), { group: 'ssm' });
  }
}

describe('Module', () => {
  it('names parameters with dotted paths, tags groups and switches modes recursively', () => {
    const m = new Toy();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['scale', 'a.weight', 'a.bias']);
    expect(m.parameters().every((t) => t.requiresGrad)).toBe(true);
    expect(m.parameterCount()).toBe(1 + 12 + 4);
    expect(m.namedModules().map(([n]) => n)).toEqual(['', 'a', 'inner', 'drop']);
    const groups = m.parameterGroups({ lr: 0.01, weightDecay: 0.1 });
    expect(groups.map((g) => [g.names, g.lr, g.weightDecay])).toEqual([
      [['a.weight', 'a.bias'], 0.01, 0.1],
      [['scale'], 0.001, 0],
    ]);
    expect(m.parameterGroups({ lr: 0.0005 })[1].lr).toBe(0.0005);
    m.eval();
    expect(m.namedModules().every(([, x]) => !x.training)).toBe(true);
    m.train();
    expect(m.drop.training).toBe(true);
    expect(() => m.param('nope')).toThrow(/no parameter named 'nope'/);
    m.dispose();
    expect(() => m.a.weight).toThrow(/disposed/);
  });

  it('round-trips a state dict and refuses mismatched entries before writing anything', () => {
    const m = new Toy();
    const n = new Toy();
    n.loadStateDict({ 'a.weight': { shape: [4, 3], data: randomValues(12, 9) } }, { strict: false });
    const sd = n.stateDict();
    m.loadStateDict(sd);
    for (const [name, t] of m.namedParameters()) expect(relL2(t.dataSync(), sd[name].dataSync())).toBe(0);
    const before = m.a.weight.dataSync();
    expect(() => m.loadStateDict({ ...sd, extra: sd.scale })).toThrow(/unexpected key 'extra'/);
    const { scale: _s, ...missing } = sd;
    expect(() => m.loadStateDict(missing)).toThrow(/missing key 'scale'/);
    expect(() => m.loadStateDict({ ...sd, 'a.weight': sd['a.bias'] })).toThrow(/'a.weight' must have shape \[4, 3\]/);
    expect(() => m.loadStateDict({ ...sd, 'a.bias': { shape: [4], data: [1, 2, NaN, 4] } })).toThrow(/non-finite/);
    expect(relL2(m.a.weight.dataSync(), before)).toBe(0);
    s4.dispose(Object.values(sd));
    m.dispose();
    n.dispose();
  });
});

describe('Linear and LayerNorm', () => {
  it('Linear: PyTorch init bounds, seeded, forward and forwardChannels match float64', () => {
    const lin = new Linear(5, 3, { seed: 7, device });
    const w = lin.weight.dataSync();
    const b = lin.bias!.dataSync();
    const bound = 1 / Math.sqrt(5);
    expect([...w, ...b].every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(relL2(new Linear(5, 3, { seed: 7, device }).weight.dataSync(), w)).toBe(0);
    expect(relL2(new Linear(5, 3, { seed: 8, device }).weight.dataSync(), w)).toBeGreaterThan(0.1);
    const [B, L] = [2, 7];
    const xv = randomValues(B * 5 * L, 3);
    const y = s4.tidy(() => lin.forwardChannels(s4.tensor(xv, [B, 5, L], { device })).dataSync());
    expect(relL2(y, linearChannelsRef(xv, w, b, B, 5, L, 3))).toBeLessThan(1e-5);
    // Feature-last: rows of x [M, 5].
    const rows = randomValues(4 * 5, 4);
    const y2 = s4.tidy(() => lin.forward(s4.tensor(rows, [4, 5], { device })).dataSync());
    expect(relL2(y2, linearChannelsRef(rows, w, b, 4, 5, 1, 3))).toBeLessThan(1e-5);
    expect(() => new Linear(0, 3)).toThrow(/'inFeatures'/);
    lin.dispose();
  });

  it('LayerNorm over channels matches float64', () => {
    const ln = new LayerNorm(6, { device });
    ln.loadStateDict({ weight: { shape: [6], data: randomValues(6, 1) }, bias: { shape: [6], data: randomValues(6, 2) } });
    const [B, L] = [3, 5];
    const xv = randomValues(B * 6 * L, 5);
    const y = s4.tidy(() => ln.forwardChannels(s4.tensor(xv, [B, 6, L], { device })).dataSync());
    const p = params64(ln);
    expect(relL2(y, layerNormChannelsRef(xv, p.weight, p.bias, B, 6, L, 1e-5))).toBeLessThan(1e-5);
    ln.dispose();
  });
});

describe('Dropout', () => {
  it('is the identity in eval mode; in training its masks are reproducible per (seed, step)', () => {
    const x = s4.tensor(new Float32Array(4000).fill(1), [4000], { device });
    const d = new Dropout(0.25, { seed: 11 });
    d.eval();
    expect(d.forward(x)).toBe(x);
    d.train();
    const m1 = d.forward(x).dataSync();
    const m2 = d.forward(x).dataSync();
    expect(d.step).toBe(2);
    const kept = m1.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(Math.abs(kept.length / 4000 - 0.75)).toBeLessThan(0.05);
    expect(relL2(m1, m2)).toBeGreaterThan(0.1);
    const again = new Dropout(0.25, { seed: 11 });
    expect(relL2(again.forward(x).dataSync(), m1)).toBe(0);
    expect(() => new Dropout(1)).toThrow(/'p'/);
    x.dispose();
  });
});

// ---- S4Layer ----

interface Case {
  name: string;
  shape: LayerShape;
  L: number;
}

const cases: Case[] = [
  { name: 'dplr, L = lMax', shape: { kind: 'dplr', H: 3, N2: 4, lMax: 16, bidirectional: false }, L: 16 },
  { name: 'dplr, L = 7 < lMax (truncated kernel)', shape: { kind: 'dplr', H: 2, N2: 4, lMax: 16, bidirectional: false }, L: 7 },
  { name: 'diag, L = 7', shape: { kind: 'diag', H: 3, N2: 4, lMax: 7, bidirectional: false }, L: 7 },
  { name: 'dplr bidirectional', shape: { kind: 'dplr', H: 2, N2: 4, lMax: 9, bidirectional: true }, L: 9 },
  { name: 'diag bidirectional, L = 1', shape: { kind: 'diag', H: 2, N2: 2, lMax: 1, bidirectional: true }, L: 1 },
];

function makeLayer(s: LayerShape, seed: number, init: s4.nn.S4Init = 'legs'): s4.nn.S4Layer {
  return new S4Layer({ dModel: s.H, dState: 2 * s.N2, kernel: s.kind, init, lMax: s.lMax, bidirectional: s.bidirectional, seed, device });
}

describe('S4Layer', () => {
  for (const c of cases) {
    it(`forward matches the float64 layer (${c.name})`, () => {
      const layer = makeLayer(c.shape, 3);
      const B = 2;
      const uv = randomValues(B * c.shape.H * c.L, 21);
      const y = s4.tidy(() => layer.forward(s4.tensor(uv, [B, c.shape.H, c.L], { device })).dataSync());
      expect(relL2(y, s4Layer64(params64(layer), c.shape, uv, B, c.L))).toBeLessThan(1e-4);
      layer.dispose();
    });
  }

  for (const c of [cases[1], cases[2], cases[3]]) {
    it(`gradients of every parameter match float64 central differences (${c.name})`, () => {
      const layer = makeLayer(c.shape, 5);
      const B = 2;
      const n = B * c.shape.H * c.L;
      const uv = randomValues(n, 31);
      const wv = randomValues(n, 32);
      s4.tidy(() => {
        const y = layer.forward(s4.tensor(uv, [B, c.shape.H, c.L], { device }));
        s4.ops.sum(s4.ops.mul(y, s4.tensor(wv, y.shape, { device }))).backward();
      });
      expectGradientsMatch64(layer, c.shape, uv, wv, B, c.L);
      layer.dispose();
    });
  }

  for (const [kind, init, L] of [
    ['dplr', 'legs', 12],
    ['dplr', 'fout', 5],
    ['diag', 'legs', 12],
    ['diag', 'lin', 7],
    ['diag', 'legt', 7],
  ] as const) {
    it(`stepper reproduces forward token by token (${kind}, ${init}, L = ${L}, lMax = 12)`, () => {
      const s: LayerShape = { kind, H: 3, N2: 4, lMax: 12, bidirectional: false };
      const layer = makeLayer(s, 9, init);
      layer.eval();
      const B = 2;
      const uv = randomValues(B * s.H * L, 41);
      const y = s4.tidy(() => layer.forward(s4.tensor(uv, [B, s.H, L], { device })).dataSync());
      const st = layer.stepper({ batch: B });
      const got = new Float32Array(B * s.H * L);
      for (let t = 0; t < L; t++) {
        const ut = new Float32Array(B * s.H);
        for (let b = 0; b < B; b++) for (let h = 0; h < s.H; h++) ut[b * s.H + h] = uv[(b * s.H + h) * L + t];
        const yt = s4.tidy(() => st.step(s4.tensor(ut, [B, s.H], { device })).dataSync());
        for (let b = 0; b < B; b++) for (let h = 0; h < s.H; h++) got[(b * s.H + h) * L + t] = yt[b * s.H + h];
      }
      expect(relL2(got, y)).toBeLessThan(1e-4);
      st.reset();
      const first = s4.tidy(() => st.step(s4.tensor(uv.filter((_, i) => i % L === 0), [B, s.H], { device })).dataSync());
      expect(relL2(first, y.filter((_, i) => i % L === 0))).toBeLessThan(1e-4);
      st.dispose();
      layer.dispose();
    });
  }

  it('reproduces the official S4 kernel and gradients from the golden parameters (chain rule through logNegRe, imLambda, logDt)', () => {
    const g = loadGolden().dplr;
    const flat = (a: unknown): number[] => (a as unknown[]).flat(3) as number[];
    const inter = (c: { re: unknown; im: unknown }): number[] => flat(c.re).flatMap((r, i) => [r, flat(c.im)[i]]);
    const { H, N_half: N2, L } = g as { H: number; N_half: number; L: number };
    const shape = [H, N2];
    const layer = new S4Layer({ dModel: H, dState: 2 * N2, lMax: L, device });
    const lre = flat(g.lambda.re);
    const dt = flat(g.dt);
    layer.loadStateDict(
      {
        logNegRe: { shape, data: lre.map((v) => Math.log(-v)) },
        imLambda: { shape, data: flat(g.lambda.im) },
        p: { shape, dtype: 'complex64', data: inter(g.p) },
        b: { shape, dtype: 'complex64', data: inter(g.b) },
        cTilde: { shape, dtype: 'complex64', data: inter(g.c_tilde) },
        logDt: { shape: [H], data: dt.map(Math.log) },
        d: { shape: [H], data: flat(g.D) },
      },
      { strict: false },
    );
    const k = s4.tidy(() => {
      const { k: kt } = layer.kernels(L);
      s4.ops.sum(s4.ops.mul(kt, s4.tensor(flat(g.grad.W), [H, L], { device }))).backward();
      return kt.dataSync();
    });
    expect(relL2(k, flat(g.K))).toBeLessThan(1e-4);
    const gr = g.grad;
    const grad = (n: string): Float32Array => layer.param(n).grad!.dataSync();
    // d/d logNegRe = dL/dRe(lambda) * Re(lambda); d/d logDt = dL/d dt * dt.
    expect(relL2(grad('logNegRe'), flat(gr.lambda.re).map((v, i) => v * lre[i]))).toBeLessThan(1e-4);
    expect(relL2(grad('imLambda'), flat(gr.lambda.im))).toBeLessThan(1e-4);
    expect(relL2(grad('p'), inter(gr.p))).toBeLessThan(1e-4);
    expect(relL2(grad('b'), inter(gr.b))).toBeLessThan(1e-4);
    expect(relL2(grad('cTilde'), inter(gr.c_tilde))).toBeLessThan(1e-4);
    expect(relL2(grad('logDt'), flat(gr.dt).map((v, i) => v * dt[i]))).toBeLessThan(1e-4);
    layer.dispose();
  });

  it('tags A, B and dt as SSM parameters; C, D and the output linear are ordinary', () => {
    const dplr = makeLayer({ kind: 'dplr', H: 2, N2: 2, lMax: 8, bidirectional: true }, 1);
    const g = dplr.parameterGroups({ lr: 0.01 });
    expect(g[0].names).toEqual(['cTilde', 'cTildeBwd', 'd', 'output.weight', 'output.bias']);
    expect(g[1].names).toEqual(['logNegRe', 'imLambda', 'p', 'b', 'logDt']);
    const diag = makeLayer({ kind: 'diag', H: 2, N2: 2, lMax: 8, bidirectional: false }, 1);
    expect(diag.parameterGroups({ lr: 0.01 })[1].names).toEqual(['logNegRe', 'imLambda', 'b', 'logDt']);
    // dt within [dtMin, dtMax], Re lambda < 0.
    const p = params64(dplr);
    expect(p.logDt.every((v) => v >= Math.log(0.001) - 1e-6 && v <= Math.log(0.1) + 1e-6)).toBe(true);
    dplr.dispose();
    diag.dispose();
  });

  it('rejects bad options and inputs, naming them', () => {
    expect(() => new S4Layer({ dModel: 2, dState: 3, lMax: 4 })).toThrow(/'dState' must be even/);
    expect(() => new S4Layer({ dModel: 2, dState: 4 })).toThrow(/'lMax'/);
    expect(() => new S4Layer({ dModel: 2, dState: 4, lMax: 4, kernel: 'x' as never })).toThrow(/'kernel'/);
    expect(() => new S4Layer({ dModel: 2, dState: 4, lMax: 4, init: 'x' as never })).toThrow(/'init'/);
    expect(() => new S4Layer({ dModel: 0, lMax: 4 })).toThrow(/'dModel'/);
    const layer = new S4Layer({ dModel: 2, dState: 4, lMax: 4, device });
    expect(() => new S4Layer({ dModel: 2, dState: 4, lMax: 4, longInputs: 'x' as never })).toThrow(/'longInputs' must be 'grow' or 'truncate'/);
    expect(() => s4.tidy(() => layer.forward(s4.tensor(new Float32Array(12), [1, 3, 4], { device })))).toThrow(/H = 2/);
    const st = layer.stepper({ batch: 1 });
    expect(() => s4.tidy(() => st.step(s4.tensor([1, 2, 3], [1, 3], { device })))).toThrow(/'u'/);
    st.dispose();
    const bi = new S4Layer({ dModel: 2, dState: 4, lMax: 4, bidirectional: true, device });
    expect(() => bi.stepper({ batch: 1 })).toThrow(/bidirectional/);
    layer.dispose();
    bi.dispose();
  });
});
