/**
 * The allocation-free token paths of generation: Stepper.step(u, out), S4Layer stepper
 * stepInto(u, out) and SequenceModel stepper step(x, out). Each is checked against a
 * float64 reference or the convolutional forward, for several shapes and odd lengths,
 * and for running without allocating per token.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { S4Layer } from '../lib/nn/s4_layer';
import { SequenceModel, type SequenceModelOptions } from '../lib/nn/sequence_model';
import { core } from '../lib/native/binding';
import { diagStepper } from '../lib/nn/stepper';
import { conv64, diagKernel64, diagTensors, randomDiag, roundDiag } from './helpers/conv_ref';
import { diagStepCoefficients } from '../lib/ssm/step_setup';
import { device, randomValues, relL2 } from './helpers/device';
import { column, feed, stepColumns } from './helpers/step_columns';
import { geluRef, sigmoidRef } from './helpers/nn_reference';
import { ops } from '../lib/native/binding';

describe('Stepper.step(u, out)', () => {
  for (const [B, H, N2, T] of [[1, 1, 1, 1], [1, 5, 3, 7], [3, 4, 8, 20]]) {
    it(`equals the float64 convolution of the S4D kernel (B ${B}, H ${H}, N2 ${N2}, T ${T}) and allocates nothing`, () => {
      const p = randomDiag(H, N2, 10 + T);
      const d = randomValues(H, 11 + T);
      const u = randomValues(B * H * T, 12 + T);
      const want = conv64(u, diagKernel64(roundDiag(p), T), d, B, H, T);
      const st = s4.tidy(() => diagStepper(diagTensors(p, d, device), { batch: B }));
      expect(relL2(feed((a, out) => st.step(a, out), u, [B, H], [B, H], T, device), want)).toBeLessThan(1e-4);
      st.dispose();
    });
  }

  it('rejects a bad `out` or `u` with messages naming them, and a disposed stepper', () => {
    const p = randomDiag(3, 2, 1);
    const st = s4.tidy(() => diagStepper(diagTensors(p, null, device), { batch: 2 }));
    const u = s4.zeros([2, 3], { device });
    const wrong = s4.zeros([2, 4], { device });
    expect(() => st.step(u, u)).toThrow(/'out' must not be the input 'u'/);
    expect(() => st.step(u, wrong)).toThrow(RangeError);
    expect(() => st.step(u, wrong)).toThrow(/argument 'out'/);
    expect(() => st.step(wrong, u)).toThrow(/argument 'u' must have shape \[B, H\] = \[2, 3\]/);
    expect(() => st.step(u, 'y' as unknown as s4.Tensor)).toThrow(TypeError);
    const gone = s4.zeros([2, 3], { device });
    gone.dispose();
    expect(() => st.step(u, gone)).toThrow(/'out' has been disposed/);
    expect(() => st.step(gone, u)).toThrow(/'u' has been disposed/);
    const y = s4.zeros([2, 3], { device });
    st.dispose();
    expect(() => st.step(u, y)).toThrow(/disposed/);
    expect(() => st.stepBuffers(u.handle, y.handle)).toThrow(/disposed/);
    s4.dispose(u, wrong, y);
  });
});

describe('S4Layer stepper stepInto', () => {
  for (const [kernel, B, H, L] of [
    ['dplr', 1, 3, 7],
    ['diag', 2, 5, 9],
  ] as const) {
    it(`equals the convolutional forward column by column (${kernel}, B ${B}, H ${H}, L ${L}) without allocating`, () => {
      const layer = new S4Layer({ dModel: H, dState: 6, kernel, lMax: L, seed: 4, device });
      layer.eval();
      const x = randomValues(B * H * L, 5);
      const full = s4.tidy(() => layer.forward(s4.tensor(x, [B, H, L], { device })).dataSync());
      const st = layer.stepper({ batch: B });
      const ut = s4.zeros([B, H], { device });
      const yt = s4.zeros([B, H], { device });
      const got = stepColumns(x, L, ut, yt, (a, out) => st.stepInto(a, out));
      expect(relL2(got, full)).toBeLessThan(1e-4);
      // step() (a new output per token) matches stepInto after a reset.
      st.reset();
      const first = s4.tidy(() => st.step(s4.tensor(column(x, B * H, L, 0), [B, H], { device })).dataSync());
      expect(relL2(first, column(got, B * H, L, 0))).toBeLessThan(1e-6);
      expect(() => st.stepInto(ut, ut)).toThrow(/'out' must not be the input 'u'/);
      const wrong = s4.zeros([B, H + 1], { device });
      expect(() => st.stepInto(ut, wrong)).toThrow(/argument 'out' must have shape \[B, H\]/);
      s4.dispose(ut, yt, wrong);
      st.dispose();
      layer.dispose();
    });
  }
});

describe('SequenceModel stepper step(x, out)', () => {
  const cases: [string, SequenceModelOptions, number, number][] = [
    ['post-norm, no pool', { dInput: 2, dModel: 4, nLayers: 3, dState: 4, dOutput: 3, lMax: 11, pool: 'none' }, 1, 11],
    ['pre-norm diag, no pool', { dInput: 1, dModel: 5, nLayers: 2, dState: 6, dOutput: 2, kernel: 'diag', prenorm: true, pool: 'none' }, 3, 7],
    ['tokens, no pool', { embedding: 6, dModel: 3, nLayers: 2, dState: 4, dOutput: 6, lMax: 9, pool: 'none' }, 2, 9],
  ];
  for (const [name, o, B, L] of cases) {
    it(`equals the convolutional forward at every position and allocates nothing per token (${name})`, () => {
      const m = new SequenceModel({ ...o, seed: 8, device }).eval();
      const dIn = o.embedding ? 1 : o.dInput!;
      const x = o.embedding
        ? Float32Array.from({ length: B * L }, (_, i) => (i * 5 + 2) % o.embedding!)
        : randomValues(B * dIn * L, 9);
      const full = s4.tidy(() => m.forward(s4.tensor(x, o.embedding ? [B, L] : [B, dIn, L], { device })).dataSync());
      const st = m.stepper({ batch: B });
      const xt = s4.zeros(o.embedding ? [B] : [B, dIn], { device });
      const yt = s4.zeros([B, o.dOutput], { device });
      const got = stepColumns(x, L, xt, yt, (a, out) => st.step(a, out));
      expect(got.length).toBe(full.length);
      expect(st.position).toBe(L);
      expect(relL2(got, full)).toBeLessThan(1e-4);
      // After reset, the allocating path gives the first column again.
      st.reset();
      core.write(xt.handle, column(x, B * dIn, L, 0));
      const again = s4.tidy(() => st.step(xt).dataSync());
      expect(relL2(again, column(got, B * o.dOutput, L, 0))).toBeLessThan(1e-6);
      const wrong = s4.zeros([B, o.dOutput + 1], { device });
      expect(() => st.step(xt, wrong)).toThrow(/argument 'out' must have shape \[B, dOutput\]/);
      s4.dispose(xt, yt, wrong);
      st.dispose();
      expect(() => st.step(xt)).toThrow(/disposed/);
      m.dispose();
    });
  }

  it('mean pooling keeps a running mean over the prefix (out path)', () => {
    const o: SequenceModelOptions = { dInput: 2, dModel: 4, nLayers: 2, dState: 4, dOutput: 3, lMax: 6, pool: 'mean' };
    const [B, L] = [2, 6];
    const m = new SequenceModel({ ...o, seed: 3, device }).eval();
    const x = randomValues(B * 2 * L, 4);
    const st = m.stepper({ batch: B });
    const xt = s4.zeros([B, 2], { device });
    const yt = s4.zeros([B, 3], { device });
    for (const pass of [0, 1]) {
      for (let t = 0; t < L; t++) {
        core.write(xt.handle, column(x, B * 2, L, t));
        const got = st.step(xt, yt).dataSync();
        const P = t + 1;
        const prefix = new Float32Array(B * 2 * P);
        for (let r = 0; r < B * 2; r++) for (let j = 0; j < P; j++) prefix[r * P + j] = x[r * L + j];
        const want = s4.tidy(() => m.forward(s4.tensor(prefix, [B, 2, P], { device })).dataSync());
        expect(relL2(got, want), `pass ${pass}, t ${t}`).toBeLessThan(1e-4);
      }
      st.reset();
    }
    s4.dispose(xt, yt);
    st.dispose();
    m.dispose();
  });
});

/** float64 reference of a block's token tail: [LayerNorm](x + GLU(z + bias)) per row. */
function epilogue64(
  z: Float32Array, bias: Float32Array | null, x: Float32Array, w: Float32Array | null, lb: Float32Array | null,
  B: number, H: number, eps: number, normalize: boolean,
): Float64Array {
  const out = new Float64Array(B * H);
  for (let r = 0; r < B; r++) {
    const v = Array.from({ length: H }, (_, h) => {
      const a = z[r * 2 * H + h] + (bias ? bias[h] : 0);
      const g = z[r * 2 * H + H + h] + (bias ? bias[H + h] : 0);
      return x[r * H + h] + a * sigmoidRef(g);
    });
    const mu = v.reduce((s, t) => s + t, 0) / H;
    const rstd = 1 / Math.sqrt(v.reduce((s, t) => s + (t - mu) ** 2, 0) / H + eps);
    for (let h = 0; h < H; h++) out[r * H + h] = normalize ? (v[h] - mu) * rstd * (w ? w[h] : 1) + (lb ? lb[h] : 0) : v[h];
  }
  return out;
}

describe('native token pipeline pieces', () => {
  it('ssmScan with gelu equals GELU of the float64 S4D convolution (T 1 and 13)', () => {
    for (const [B, H, N2, T] of [[2, 3, 4, 13], [1, 5, 2, 1]]) {
      const p = randomDiag(H, N2, 40 + T);
      const d = randomValues(H, 41 + T);
      const u = randomValues(B * H * T, 42 + T);
      const want = Array.from(conv64(u, diagKernel64(roundDiag(p), T), d, B, H, T), (v) => geluRef(v, false));
      const coef = s4.tensor(diagStepCoefficients(p, Float64Array.from(d)), [H, 10 * N2 + 2], { device });
      const ut = s4.tensor(u, [B, H, T], { device });
      const yt = s4.zeros([B, H, T], { device });
      const scan = { coef: coef.handle, state: null, u: ut.handle, y: yt.handle, B, H, N2, T };
      ops.ssmScan({ ...scan, gelu: true });
      expect(relL2(yt.dataSync(), want)).toBeLessThan(1e-4);
      expect(() => ops.ssmScan({ ...scan, gelu: 1 as unknown as boolean })).toThrow(/argument 'gelu' must be a boolean/);
      s4.dispose(coef, ut, yt);
    }
  });

  for (const [B, H] of [[1, 1], [3, 7], [2, 300]]) {
    it(`residualNorm on one token (L = 1) equals the float64 GLU + residual (+ LayerNorm) (B ${B}, H ${H})`, () => {
      const z = randomValues(B * 2 * H, 1 + H);
      const x = randomValues(B * H, 2 + H);
      const bias = randomValues(2 * H, 3 + H);
      const w = randomValues(H, 4 + H);
      const lb = randomValues(H, 5 + H);
      const t = (v: Float32Array, shape: number[]): s4.Tensor => s4.tensor(v, shape, { device });
      const [zt, xt, bt, wt, lt] = [t(z, [B, 2 * H]), t(x, [B, H]), t(bias, [2 * H]), t(w, [H]), t(lb, [H])];
      const out = s4.zeros([B, H], { device });
      // A token is [B, H, 1]: the memory of [B, H]. No statistics (nothing to differentiate).
      const tail = { z: zt.handle, x: xt.handle, out: out.handle, B, H, L: 1, p: 0, seed: 0, step: 0, offset: 0, eps: 1e-5 };
      for (const normalize of [true, false]) {
        for (const full of [true, false]) {
          ops.residualNormForward({ ...tail, zBias: full ? bt.handle : null, weight: full ? wt.handle : null, bias: full ? lt.handle : null, normalize });
          const want = epilogue64(z, full ? bias : null, x, full ? w : null, full ? lb : null, B, H, 1e-5, normalize);
          // H = 1 normalizes to exactly the shift: compare with an absolute floor.
          const got = out.dataSync();
          const err = H === 1 && normalize ? Math.max(...got.map((g, i) => Math.abs(g - want[i]))) : relL2(got, want);
          expect(err, `normalize ${normalize}, bias/affine ${full}`).toBeLessThan(1e-4);
        }
      }
      const epi = { ...tail, normalize: true };
      expect(() => ops.residualNormForward({ ...epi, out: xt.handle })).toThrow(/argument 'out' must not be the same buffer as 'x'/);
      expect(() => ops.residualNormForward({ ...epi, eps: 0 })).toThrow(/argument 'eps' must be in \(0, 1\] \(got 0\)/);
      expect(() => ops.residualNormForward({ ...epi, z: xt.handle })).toThrow(/argument 'z' must hold/);
      expect(() => ops.residualNormForward({ ...epi, zBias: wt.handle })).toThrow(/argument 'zBias' must hold/);
      s4.dispose(zt, xt, bt, wt, lt, out);
    });
  }
});
