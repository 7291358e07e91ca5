/**
 * S4Layer options on the current backend (CPU in `npm test`), against float64 references:
 * the official bidirectional convention (checked against the official construction
 * k = pad(k0, (0, L)) + pad(flip(k1), (L, 0)) with a 2L-point circular convolution, and the
 * 'lag0' alternative), channels and nSsm (forward, gradients of every parameter against
 * central differences, the stepper), inputs longer than lMax ('grow' doubles lMax and
 * updates C~; 'truncate' zero-extends the lMax kernel), the official S4D inits, the dt
 * learning-rate group, and tied dropout in the layer.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';
import { expectGradientsMatch64, layerOfShape, params64 } from './helpers/layer_checks';
import { erf, s4Layer64, type LayerShape } from './helpers/nn_reference';

const { S4Layer } = s4.nn;

function makeLayer(s: LayerShape, seed: number, extra: Partial<s4.nn.S4LayerOptions> = {}): s4.nn.S4Layer {
  return layerOfShape(s, seed, device, extra);
}

/** forward(u) of a layer, [B, H, L] flat. */
function forward(layer: s4.nn.S4Layer, uv: Float32Array, B: number, L: number): Float32Array {
  return s4.tidy(() => layer.forward(s4.tensor(uv, [B, layer.H, L], { device })).dataSync());
}

/** Steps a layer token by token over u [B, H, L]; returns [B, H, L]. */
function stepAll(layer: s4.nn.S4Layer, uv: Float32Array, B: number, L: number): Float32Array {
  const H = layer.H;
  const st = layer.stepper({ batch: B });
  const got = new Float32Array(B * H * L);
  for (let t = 0; t < L; t++) {
    const ut = new Float32Array(B * H);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) ut[b * H + h] = uv[(b * H + h) * L + t];
    const yt = s4.tidy(() => st.step(s4.tensor(ut, [B, H], { device })).dataSync());
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) got[(b * H + h) * L + t] = yt[b * H + h];
  }
  st.dispose();
  return got;
}

/** Every parameter's gradient of sum(forward(u) * W) against float64 central differences. */
function checkGradients(layer: s4.nn.S4Layer, s: LayerShape, B: number, L: number, seed: number): void {
  const n = B * s.H * L;
  const uv = randomValues(n, seed);
  const wv = randomValues(n, seed + 1);
  layer.zeroGrad();
  s4.tidy(() => {
    const y = layer.forward(s4.tensor(uv, [B, s.H, L], { device }));
    s4.ops.sum(s4.ops.mul(y, s4.tensor(wv, y.shape, { device }))).backward();
  });
  expectGradientsMatch64(layer, s, uv, wv, B, L);
}

describe('S4Layer: official bidirectional convention', () => {
  /**
   * The official FFTConv's mixing, literally: k = pad(k0, (0, L)) + pad(flip(k1), (L, 0)),
   * y = irfft(rfft(u, 2L) rfft(k, 2L))[:L] + D u, as a 2L-point circular convolution in
   * float64, from the layer's own kernels.
   */
  function officialMix(k0: Float32Array, k1: Float32Array, d: Float32Array, uv: Float32Array, B: number, H: number, L: number): Float64Array {
    const n = 2 * L;
    const y = new Float64Array(B * H * L);
    for (let h = 0; h < H; h++) {
      const k = new Float64Array(n);
      for (let l = 0; l < L; l++) k[l] += k0[h * L + l];
      for (let l = 0; l < L; l++) k[L + l] += k1[h * L + (L - 1 - l)];
      for (let b = 0; b < B; b++) {
        const row = (b * H + h) * L;
        for (let t = 0; t < L; t++) {
          let acc = d[h] * uv[row + t];
          for (let s = 0; s < n; s++) {
            const m = (((t - s) % n) + n) % n;
            if (m < L) acc += k[s] * uv[row + m];
          }
          y[row + t] = acc;
        }
      }
    }
    return y;
  }

  for (const [kind, L] of [
    ['dplr', 1],
    ['dplr', 7],
    ['diag', 7],
    ['diag', 784],
  ] as const) {
    it(`mix() equals the official construction (${kind}, L = ${L}); 'lag0' adds the lag-0 backward tap`, () => {
      const H = 2;
      const layer = new S4Layer({ dModel: H, dState: 4, kernel: kind, lMax: L, bidirectional: true, seed: 4, device });
      const lag0 = new S4Layer({ dModel: H, dState: 4, kernel: kind, lMax: L, bidirectional: true, bidirectionalConvention: 'lag0', seed: 4, device });
      lag0.loadStateDict(Object.fromEntries(layer.namedParameters()));
      const B = 2;
      const uv = randomValues(B * H * L, 8);
      const { k, kb, mixed, mixed0 } = s4.tidy(() => {
        const ks = layer.kernels(L);
        // mix() is GELU(conv + D u): compared with GELU of the reference.
        const u = s4.tensor(uv, [B, H, L], { device });
        return { k: ks.k.dataSync(), kb: ks.kBwd!.dataSync(), mixed: layer.mix(u).dataSync(), mixed0: lag0.mix(u).dataSync() };
      });
      const d = layer.param('d').dataSync();
      const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
      const want = officialMix(k, kb, d, uv, B, H, L).map(gelu);
      expect(relL2(mixed, want)).toBeLessThan(1e-4);
      // lag0: the official sum plus kb[0] u[t] and every backward tap moved one lag closer.
      const want0 = new Float64Array(B * H * L);
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++)
          for (let t = 0; t < L; t++) {
            const row = (b * H + h) * L;
            let acc = d[h] * uv[row + t];
            for (let j = 0; j <= t; j++) acc += k[h * L + j] * uv[row + t - j];
            for (let j = 0; t + j < L; j++) acc += kb[h * L + j] * uv[row + t + j];
            want0[row + t] = gelu(acc);
          }
      expect(relL2(mixed0, want0)).toBeLessThan(1e-4);
      if (L > 1) expect(relL2(mixed0, mixed)).toBeGreaterThan(1e-3);
      layer.dispose();
      lag0.dispose();
    });
  }

  it('gradients of every parameter match float64 central differences (lag0, diag, L = 6)', () => {
    const s: LayerShape = { kind: 'diag', H: 2, N2: 2, lMax: 6, bidirectional: true, convention: 'lag0' };
    const layer = makeLayer(s, 12);
    checkGradients(layer, s, 2, 6, 50);
    layer.dispose();
  });

  it('rejects an unknown convention', () => {
    expect(() => new S4Layer({ dModel: 2, dState: 4, lMax: 4, bidirectional: true, bidirectionalConvention: 'x' as never })).toThrow(
      /'bidirectionalConvention' must be 'official' or 'lag0'/,
    );
  });
});

describe('S4Layer: channels and nSsm', () => {
  const shapes: [string, LayerShape, number][] = [
    ['dplr, channels 2', { kind: 'dplr', H: 2, N2: 2, lMax: 7, bidirectional: false, channels: 2 }, 7],
    ['diag, channels 3, nSsm 1', { kind: 'diag', H: 2, N2: 2, lMax: 7, bidirectional: false, channels: 3, nSsm: 1 }, 7],
    ['dplr, nSsm 2 of H 4, L = 5 < lMax', { kind: 'dplr', H: 4, N2: 2, lMax: 8, bidirectional: false, nSsm: 2 }, 5],
    ['dplr bidirectional, channels 2, nSsm 1, L = 1', { kind: 'dplr', H: 2, N2: 2, lMax: 1, bidirectional: true, channels: 2, nSsm: 1 }, 1],
    ['diag bidirectional, channels 2', { kind: 'diag', H: 3, N2: 2, lMax: 6, bidirectional: true, channels: 2 }, 6],
  ];

  it('parameter shapes: [S, N2] for A, B, P; [C, H, N2] for C; [C, H] for D; the output takes C H', () => {
    const layer = makeLayer({ kind: 'dplr', H: 4, N2: 3, lMax: 8, bidirectional: true, channels: 2, nSsm: 2 }, 1);
    const shapes = Object.fromEntries(layer.namedParameters().map(([n, t]) => [n, t.shape]));
    expect(shapes).toEqual({
      logNegRe: [2, 3],
      imLambda: [2, 3],
      p: [2, 3],
      b: [2, 3],
      cTilde: [2, 4, 3],
      cTildeBwd: [2, 4, 3],
      logDt: [4],
      d: [2, 4],
      'output.weight': [8, 8],
      'output.bias': [8],
    });
    layer.dispose();
    const plain = makeLayer({ kind: 'diag', H: 4, N2: 3, lMax: 8, bidirectional: false }, 1);
    expect(plain.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['logNegRe', [4, 3]],
      ['imLambda', [4, 3]],
      ['b', [4, 3]],
      ['c', [4, 3]],
      ['logDt', [4]],
      ['d', [4]],
      ['output.weight', [8, 4]],
      ['output.bias', [8]],
    ]);
    plain.dispose();
  });

  for (const [name, s, L] of shapes) {
    it(`forward matches the float64 layer (${name})`, () => {
      const layer = makeLayer(s, 3);
      const uv = randomValues(2 * s.H * L, 21);
      expect(relL2(forward(layer, uv, 2, L), s4Layer64(params64(layer), s, uv, 2, L))).toBeLessThan(1e-4);
      layer.dispose();
    });
  }

  for (const [name, s, L] of [shapes[0], shapes[1], shapes[2], shapes[4]]) {
    it(`gradients of every parameter match float64 central differences (${name})`, () => {
      const layer = makeLayer(s, 5);
      checkGradients(layer, s, 2, L, 31);
      layer.dispose();
    });
  }

  for (const [name, s, L] of [shapes[0], shapes[1], shapes[2]]) {
    it(`the stepper equals forward token by token (${name})`, () => {
      const layer = makeLayer(s, 9);
      layer.eval();
      const uv = randomValues(2 * s.H * L, 41);
      expect(relL2(stepAll(layer, uv, 2, L), forward(layer, uv, 2, L))).toBeLessThan(1e-4);
      layer.dispose();
    });
  }

  it('rejects channels and nSsm out of range, naming them', () => {
    expect(() => new S4Layer({ dModel: 6, dState: 4, lMax: 4, nSsm: 4 })).toThrow(/'nSsm' must divide dModel = 6/);
    expect(() => new S4Layer({ dModel: 6, dState: 4, lMax: 4, nSsm: 0 })).toThrow(/'nSsm'/);
    expect(() => new S4Layer({ dModel: 6, dState: 4, lMax: 4, channels: 0 })).toThrow(/'channels'/);
    expect(() => new S4Layer({ dModel: 6, dState: 4, lMax: 4, channels: 1.5 })).toThrow(/'channels'/);
    expect(() => new S4Layer({ dModel: 6, dState: 4, kernel: 'diag', init: 'diag', nSsm: 3 })).toThrow(/nSsm must be even/);
  });
});

describe('S4Layer: inputs longer than lMax', () => {
  for (const kind of ['dplr', 'diag'] as const) {
    it(`'grow' doubles lMax until L fits, and the kernel continues the same SSM (${kind})`, () => {
      const s: LayerShape = { kind, H: 2, N2: 3, lMax: 5, bidirectional: kind === 'dplr' };
      const layer = makeLayer(s, 7);
      const before = s4.tidy(() => {
        const { k, kBwd } = layer.kernels(5);
        return { k: k.dataSync(), kb: kBwd?.dataSync() };
      });
      const L = 17;
      const uv = randomValues(2 * s.H * L, 3);
      const y = forward(layer, uv, 2, L);
      expect(layer.lMax).toBe(20);
      const grown: LayerShape = { ...s, lMax: 20 };
      expect(relL2(y, s4Layer64(params64(layer), grown, uv, 2, L))).toBeLessThan(1e-4);
      // The first 5 taps of the new kernel are the old kernel: the same SSM, a longer C~.
      const after = s4.tidy(() => {
        const { k, kBwd } = layer.kernels(L);
        return { k: k.dataSync(), kb: kBwd?.dataSync() };
      });
      const head = (k: Float32Array) => Float32Array.from({ length: 2 * 5 }, (_, i) => k[Math.floor(i / 5) * L + (i % 5)]);
      expect(relL2(head(after.k), before.k)).toBeLessThan(1e-4);
      if (before.kb) expect(relL2(head(after.kb!), before.kb)).toBeLessThan(1e-4);
      // A shorter input later keeps the grown length.
      forward(layer, randomValues(2 * s.H * 3, 4), 2, 3);
      expect(layer.lMax).toBe(20);
      layer.dispose();
    });
  }

  it("'grow' (dplr): the dense kernel of the doubled C~ equals the kernel from C, and the stepper equals forward", () => {
    const s: LayerShape = { kind: 'dplr', H: 2, N2: 3, lMax: 4, bidirectional: false, channels: 2, nSsm: 1 };
    const layer = makeLayer(s, 11);
    layer.eval();
    const L = 13;
    const uv = randomValues(2 * s.H * L, 5);
    const y = forward(layer, uv, 2, L);
    expect(layer.lMax).toBe(16);
    expect(relL2(stepAll(layer, uv, 2, L), y)).toBeLessThan(1e-4);
    layer.dispose();
  });

  it("'truncate' keeps lMax taps and zeros beyond (the official FFTConv with l_max set)", () => {
    for (const s of [
      { kind: 'dplr', H: 2, N2: 2, lMax: 4, bidirectional: true, truncate: true },
      { kind: 'diag', H: 2, N2: 2, lMax: 3, bidirectional: false, truncate: true, channels: 2 },
    ] as LayerShape[]) {
      const layer = makeLayer(s, 2);
      const L = 9;
      const uv = randomValues(2 * s.H * L, 6);
      const y = forward(layer, uv, 2, L);
      expect(layer.lMax).toBe(s.lMax);
      expect(relL2(y, s4Layer64(params64(layer), s, uv, 2, L))).toBeLessThan(1e-4);
      const k = s4.tidy(() => layer.kernels(L).k.dataSync());
      for (let r = 0; r < k.length / L; r++) for (let l = s.lMax; l < L; l++) expect(k[r * L + l]).toBe(0);
      layer.dispose();
    }
  });

  it("'truncate': gradients of every parameter match central differences (dplr bidirectional)", () => {
    const s: LayerShape = { kind: 'dplr', H: 2, N2: 2, lMax: 4, bidirectional: true, truncate: true };
    const layer = makeLayer(s, 3);
    checkGradients(layer, s, 1, 6, 70);
    layer.dispose();
  });

  it("'grow': gradients of every parameter of a grown layer match central differences (dplr, channels 2, nSsm 1, lMax 4 -> 8)", () => {
    const s: LayerShape = { kind: 'dplr', H: 2, N2: 2, lMax: 4, bidirectional: true, channels: 2, nSsm: 1 };
    const layer = makeLayer(s, 13);
    forward(layer, randomValues(2 * 7, 1), 1, 7);
    expect(layer.lMax).toBe(8);
    checkGradients(layer, { ...s, lMax: 8 }, 1, 7, 80);
    layer.dispose();
  });

  it('setLMax declares the length of loaded parameters', () => {
    const a = makeLayer({ kind: 'dplr', H: 2, N2: 2, lMax: 4, bidirectional: false }, 1);
    forward(a, randomValues(2 * 2 * 8, 1), 2, 8);
    const b = makeLayer({ kind: 'dplr', H: 2, N2: 2, lMax: 4, bidirectional: false }, 9);
    b.loadStateDict(Object.fromEntries(a.namedParameters()));
    b.setLMax(a.lMax!);
    const uv = randomValues(2 * 2 * 8, 2);
    expect(relL2(forward(b, uv, 2, 8), forward(a, uv, 2, 8))).toBe(0);
    expect(() => b.setLMax(0)).toThrow(/'L'/);
    a.dispose();
    b.dispose();
  });
});

describe('S4Layer: official S4D inits and the dt learning rate', () => {
  const N = 8, N2 = 4;
  const lambdaOf = (layer: s4.nn.S4Layer) => ({
    re: Array.from(layer.param('logNegRe').dataSync(), (v) => -Math.exp(v)),
    im: Array.from(layer.param('imLambda').dataSync()),
    b: Array.from(layer.param('b').dataSync()),
  });
  const close = (a: number[], b: number[]) => expect(relL2(Float32Array.from(a), Float64Array.from(b))).toBeLessThan(1e-6);

  it("'diag-lin', 'diag-inv', 'diag-legs' and 'diag' as the official dplr() with P = 0 (test/data fixture: the official values)", () => {
    const make = (init: s4.nn.S4Init, nSsm = 2) => new S4Layer({ dModel: 2, dState: N, kernel: 'diag', init, nSsm, seed: 1, device });
    const lin = lambdaOf(make('diag-lin'));
    close(lin.re, new Array(2 * N2).fill(-0.5));
    // Im Lambda_0 = 0 sits at -1e-4: the official registration clamps -Im Lambda to >= 1e-4.
    const linIm = [0, 1, 2, 3].map((n) => (n === 0 ? -1e-4 : -Math.PI * n));
    close(lin.im, [...linIm, ...linIm]);
    close(lin.b, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    const inv = lambdaOf(make('diag-inv'));
    const invIm = [0, 1, 2, 3].map((n) => -(N / Math.PI) * (N / (2 * n + 1) - 1));
    close(inv.im, [...invIm, ...invIm]);
    close(inv.b, lin.b);
    // 'diag-legs' is the S4D-LegS init, the same as 'legs' with the diagonal kernel.
    const legs = lambdaOf(make('legs'));
    const dlegs = lambdaOf(make('diag-legs'));
    expect(dlegs).toEqual(legs);
    close(dlegs.re, new Array(2 * N2).fill(-0.5));
    // 'diag': the first half of the copies diag-inv, the second diag-lin.
    const both = lambdaOf(make('diag'));
    close(both.im, [...invIm, ...linIm]);
    expect(() => new S4Layer({ dModel: 2, dState: N, lMax: 4, init: 'diag-lin' })).toThrow(/'init' must be 'legs' or 'fout' for kernel 'dplr'/);
  });

  it("dt learning rate: logDt forms its own group with dtLr, else joins the SSM group", () => {
    const layer = new S4Layer({ dModel: 2, dState: 4, lMax: 4, device });
    const two = layer.parameterGroups({ lr: 0.01, ssmLr: 0.002 });
    expect(two.map((g) => g.names)).toEqual([
      ['cTilde', 'd', 'output.weight', 'output.bias'],
      ['logNegRe', 'imLambda', 'p', 'b', 'logDt'],
    ]);
    const three = layer.parameterGroups({ lr: 0.01, ssmLr: 0.002, dtLr: 0.0005, weightDecay: 0.1 });
    expect(three.map((g) => [g.names, g.lr, g.weightDecay])).toEqual([
      [['cTilde', 'd', 'output.weight', 'output.bias'], 0.01, 0.1],
      [['logNegRe', 'imLambda', 'p', 'b'], 0.002, 0],
      [['logDt'], 0.0005, 0],
    ]);
    expect(() => layer.parameterGroups({ lr: 0.01, dtLr: -1 })).toThrow(/'dtLr' must be a finite number >= 0/);
    layer.dispose();
  });
});

describe('S4Layer: tied dropout', () => {
  it('one mask value per batch element and output channel, shared over L; the gradient uses the same mask', () => {
    const H = 3, L = 50, B = 4;
    const layer = new S4Layer({ dModel: H, dState: 4, kernel: 'diag', channels: 2, dropout: 0.5, tieDropout: true, seed: 2, device });
    const eval0 = new S4Layer({ dModel: H, dState: 4, kernel: 'diag', channels: 2, seed: 2, device });
    eval0.loadStateDict(Object.fromEntries(layer.namedParameters()));
    const uv = randomValues(B * H * L, 1);
    const u = s4.tensor(uv, [B, H, L], { device, requiresGrad: true });
    const plain = s4.tidy(() => eval0.mix(u).dataSync());
    const dropped = s4.tidy(() => {
      const y = layer.mix(u);
      s4.ops.sum(y).backward();
      return y.dataSync();
    });
    let zeroRows = 0;
    for (let r = 0; r < B * 2 * H; r++) {
      const row = dropped.subarray(r * L, (r + 1) * L);
      const ref = plain.subarray(r * L, (r + 1) * L);
      if (row.every((v) => v === 0)) zeroRows++;
      else expect(relL2(row, ref.map((v) => 2 * v))).toBeLessThan(1e-6);
    }
    expect(zeroRows).toBeGreaterThan(0);
    expect(zeroRows).toBeLessThan(B * 2 * H);
    expect(u.grad).not.toBeNull();
    expect(layer.activationDropout.tie).toBe(true);
    expect(() => new S4Layer({ dModel: 2, dState: 4, kernel: 'diag', tieDropout: 1 as never })).toThrow(/'tieDropout' must be a boolean/);
    u.dispose();
    layer.dispose();
    eval0.dispose();
  });
});

describe('SequenceModel: tied residual dropout', () => {
  it('the block tail drops whole (batch, channel) rows of the branch, with the mask of ops.dropout(tie)', async () => {
    const { residualBlock } = await import('../lib/nn/block');
    const B = 3, H = 4, L = 9, p = 0.5;
    const xv = randomValues(B * H * L, 1);
    const yv = randomValues(B * H * L, 2);
    const W = s4.tensor(randomValues(2 * H * H, 3), [2 * H, H], { device });
    const bias = s4.tensor(randomValues(2 * H, 4), [2 * H], { device });
    const norm = { kind: 'layer' as const, weight: s4.tensor(new Float32Array(H).fill(1), [H], { device }), bias: s4.tensor(new Float32Array(H), [H], { device }), eps: 1e-5 };
    const draw = () => ({ p, seed: 5, step: 2, tie: true });
    const got = s4.tidy(() => {
      const x = s4.tensor(xv, [B, H, L], { device });
      return residualBlock(x, { prenorm: true, norm, output: { weight: W, bias }, dropout: { draw } }, () => s4.tensor(yv, [B, H, L], { device })).dataSync();
    });
    const { branch, mask } = s4.tidy(() => {
      const z = s4.ops.glu(s4.ops.linearChannels(s4.tensor(yv, [B, H, L], { device }), W, bias), 1);
      const ones = s4.tensor(new Float32Array(B * H * L).fill(1), [B, H, L], { device });
      return { branch: z.dataSync(), mask: s4.ops.dropout(ones, p, { seed: 5, step: 2, tie: true }).dataSync() };
    });
    let dropped = 0;
    for (let r = 0; r < B * H; r++) {
      const m = mask[r * L];
      for (let l = 0; l < L; l++) expect(mask[r * L + l]).toBe(m);
      if (m === 0) dropped++;
    }
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(B * H);
    const want = Float64Array.from(xv, (v, i) => v + mask[i] * branch[i]);
    expect(relL2(got, want)).toBeLessThan(1e-6);
    s4.dispose(W, bias, norm.weight, norm.bias);
  });

  it('tieDropout reaches every dropout of the model', () => {
    const m = new s4.nn.SequenceModel({ dInput: 1, dModel: 2, nLayers: 2, dState: 4, dOutput: 1, lMax: 4, dropout: 0.1, tieDropout: true, device });
    const drops = m.namedModules().filter(([, x]) => x instanceof s4.nn.Dropout);
    expect(drops.length).toBe(4);
    expect(drops.every(([, x]) => (x as s4.nn.Dropout).tie)).toBe(true);
    m.dispose();
  });
});
