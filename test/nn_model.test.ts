import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';
import { expectDirectionalGradients, expectStepperMatchesPrefixes } from './helpers/model_checks';
import { modelInput, randomTokens } from './helpers/model_input';

const { SequenceModel, Dropout } = s4.nn;
type Opts = s4.nn.SequenceModelOptions;

/** Resets every dropout counter so that repeated forwards draw the same masks. */
function resetDropout(m: s4.nn.Module): void {
  for (const [, x] of m.namedModules()) if (x instanceof Dropout) x.step = 0;
}

describe('SequenceModel', () => {
  it('names its parameters and gives the pooled shapes', () => {
    const base: Opts = { dInput: 3, dModel: 4, nLayers: 2, dState: 4, dOutput: 5, lMax: 8, dropout: 0, device };
    const m = new SequenceModel(base);
    const names = m.namedParameters().map(([n]) => n);
    expect(names.slice(0, 2)).toEqual(['encoder.weight', 'encoder.bias']);
    expect(names).toContain('layers.1.s4.cTilde');
    expect(names).toContain('layers.0.s4.output.weight');
    expect(names).toContain('layers.1.norm.bias');
    expect(names.slice(-2)).toEqual(['decoder.weight', 'decoder.bias']);
    const x = s4.tensor(randomValues(2 * 3 * 8, 1), [2, 3, 8], { device });
    expect(s4.tidy(() => m.forward(x).shape)).toEqual([2, 5]);
    for (const pool of ['last', 'none'] as const) {
      const mp = new SequenceModel({ ...base, pool });
      expect(s4.tidy(() => mp.forward(x).shape)).toEqual(pool === 'none' ? [2, 5, 8] : [2, 5]);
      mp.dispose();
    }
    const emb = new SequenceModel({ ...base, dInput: undefined, embedding: 11, pool: 'none' });
    expect(s4.tidy(() => emb.forward(s4.tensor(randomTokens(16, 11, 2), [2, 8], { device })).shape)).toEqual([2, 5, 8]);
    expect(() => s4.tidy(() => m.forward(s4.tensor(new Float32Array(16), [2, 2, 4], { device })))).toThrow(/dInput = 3/);
    expect(() => new SequenceModel({ ...base, pool: 'max' as never })).toThrow(/'pool'/);
    expect(() => new SequenceModel({ ...base, dInput: undefined })).toThrow(/'dInput'/);
    x.dispose();
    m.dispose();
    emb.dispose();
  });

  // Whole-model gradient check: central differences of the float32 model along a random
  // direction v per parameter tensor, the loss summed in float64 from the model's output.
  // The step eps is chosen per tensor so that it moves the loss by about 1e-3 of its value
  // (within [1e-3, 3e-2]): the float32 rounding of the loss then costs at most a few
  // ulp(|loss|) / eps, which is added to a 1e-2 relative tolerance; the truncation error
  // (eps^2 times the third derivative, over 6) stays far below it. A wrong term in any
  // backward gives errors of the order of the gradient itself.
  const gradCases: [string, Opts, number, 'ce' | 'mse' | 'dot'][] = [
    ['dplr post-norm, mean pool, cross-entropy', { dInput: 2, dModel: 3, nLayers: 2, dState: 4, dOutput: 3, lMax: 8, pool: 'mean' }, 8, 'ce'],
    ['diag pre-norm, last pool, mse, L = 7', { dInput: 3, dModel: 4, nLayers: 2, dState: 4, dOutput: 2, kernel: 'diag', prenorm: true, pool: 'last' }, 7, 'mse'],
    ['dplr bidirectional, tokens, no pool, dropout 0.2', { embedding: 6, dModel: 4, nLayers: 1, dState: 4, dOutput: 2, lMax: 6, pool: 'none', bidirectional: true, dropout: 0.2 }, 6, 'dot'],
    [
      'dplr bidirectional, channels 2, nSsm 1, tied dropout 0.3',
      { dInput: 2, dModel: 4, nLayers: 2, dState: 4, dOutput: 3, lMax: 8, pool: 'mean', channels: 2, nSsm: 1, bidirectional: true, tieDropout: true, dropout: 0.3 },
      8,
      'ce',
    ],
    [
      'diag pre-norm, channels 3, tied dropout 0.2, L = 7 > lMax = 4 (grows)',
      { dInput: 2, dModel: 3, nLayers: 2, dState: 4, dOutput: 2, kernel: 'diag', lMax: 4, prenorm: true, channels: 3, tieDropout: true, dropout: 0.2, pool: 'last' },
      7,
      'mse',
    ],
  ];
  for (const [name, o, L, lossKind] of gradCases) {
    it(`gradients of a whole model match central differences (${name})`, () => {
      const m = new SequenceModel({ dropout: 0, ...o, seed: 4, device });
      const B = 2;
      const inp = modelInput(o, B, L, 7);
      const x = s4.tensor(inp.values, inp.shape, { device });
      const outShape = o.pool === 'none' ? [B, o.dOutput, L] : [B, o.dOutput];
      const outSize = outShape.reduce((a, b) => a * b, 1);
      const labelValues = randomTokens(B, o.dOutput, 8);
      const targetValues = randomValues(outSize, 9);
      const labels = s4.tensor(labelValues, [B], { device });
      const target = s4.tensor(targetValues, outShape, { device });
      const lossOf = (y: s4.Tensor): s4.Tensor => {
        if (lossKind === 'ce') return s4.ops.crossEntropy(y, labels);
        if (lossKind === 'mse') return s4.ops.mse(y, target);
        return s4.ops.sum(s4.ops.mul(y, target));
      };
      const loss64 = (y: Float32Array): number => {
        if (lossKind === 'ce') {
          let acc = 0;
          const C = o.dOutput;
          for (let b = 0; b < B; b++) {
            const row = Array.from(y.subarray(b * C, (b + 1) * C));
            const mx = Math.max(...row);
            const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
            acc += lse - row[labelValues[b]];
          }
          return acc / B;
        }
        if (lossKind === 'mse') return y.reduce((s, v, i) => s + (v - targetValues[i]) ** 2, 0) / y.length;
        return y.reduce((s, v, i) => s + v * targetValues[i], 0);
      };
      resetDropout(m);
      s4.tidy(() => lossOf(m.forward(x)).backward());
      const value = (): number => {
        resetDropout(m);
        return loss64(s4.noGrad(() => s4.tidy(() => m.forward(x).dataSync())));
      };
      expectDirectionalGradients(m, value, 3e-2);
      s4.dispose(x, labels, target);
      m.dispose();
    });
  }

  const stepCases: [string, Opts, number][] = [
    ['dplr post-norm, no pool, L = lMax', { dInput: 2, dModel: 3, nLayers: 2, dState: 4, dOutput: 2, lMax: 10, pool: 'none' }, 10],
    ['diag pre-norm, last pool', { dInput: 2, dModel: 3, nLayers: 2, dState: 6, dOutput: 2, kernel: 'diag', prenorm: true, pool: 'last' }, 6],
    ['dplr, mean pool, L < lMax', { dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 3, lMax: 9, pool: 'mean' }, 5],
    ['dplr, tokens, no pool', { embedding: 7, dModel: 3, nLayers: 2, dState: 4, dOutput: 7, lMax: 8, pool: 'none', prenorm: true }, 8],
    ['dplr, channels 2, nSsm 1, no pool', { dInput: 2, dModel: 4, nLayers: 2, dState: 4, dOutput: 2, lMax: 8, pool: 'none', channels: 2, nSsm: 1 }, 8],
    ['diag pre-norm, channels 3, init diag, mean pool', { dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 2, kernel: 'diag', init: 'diag', nSsm: 2, channels: 3, prenorm: true, pool: 'mean' }, 6],
  ];
  for (const [name, o, L] of stepCases) {
    it(`the model stepper equals the convolutional forward on every prefix (${name})`, () => {
      const m = new SequenceModel({ ...o, seed: 12, device });
      m.eval();
      const B = 2;
      const inp = modelInput(o, B, L, 13);
      const st = expectStepperMatchesPrefixes(m, o, inp, B, L, device);
      st.reset();
      expect(st.position).toBe(0);
      st.dispose();
      m.dispose();
    });
  }

  it('trains: AdamW with SSM groups, warm-up cosine schedule and clipping reduce the loss', () => {
    const o: Opts = { dInput: 2, dModel: 8, nLayers: 2, dState: 8, dOutput: 1, lMax: 16, pool: 'mean', prenorm: true, dropout: 0, seed: 3, device };
    const m = new SequenceModel(o);
    const B = 8;
    // Target: the mean of the first input channel over time, a task the model can fit.
    const xv = randomValues(B * 2 * 16, 5);
    const tv = Float32Array.from({ length: B }, (_, b) => {
      let s = 0;
      for (let l = 0; l < 16; l++) s += xv[b * 32 + l];
      return (3 * s) / 16;
    });
    const x = s4.tensor(xv, [B, 2, 16], { device });
    const target = s4.tensor(tv, [B, 1], { device });
    const groups = m.parameterGroups({ lr: 0.01, weightDecay: 0 });
    expect(groups[1].names!.every((n) => /logNegRe|imLambda|\.p$|\.b$|logDt/.test(n))).toBe(true);
    const opt = new s4.optim.AdamW(groups);
    const sched = new s4.optim.CosineWarmupSchedule(opt, { warmupSteps: 5, totalSteps: 60 });
    const logDt0 = m.layers[0].param('logDt').dataSync().slice();
    const lossAt = (): number => s4.noGrad(() => s4.tidy(() => s4.ops.mse(m.forward(x), target).item()));
    const start = lossAt();
    for (let i = 0; i < 60; i++) {
      opt.zeroGrad();
      s4.tidy(() => s4.ops.mse(m.forward(x), target).backward());
      const norm = s4.optim.clipGradNorm(m.parameters(), 1);
      expect(Number.isFinite(norm)).toBe(true);
      opt.step();
      sched.step();
    }
    const end = lossAt();
    expect(end).toBeLessThan(0.2 * start);
    // The SSM group moved, but at its own small learning rate.
    const dLogDt = relL2(m.layers[0].param('logDt').dataSync(), logDt0);
    expect(dLogDt).toBeGreaterThan(0);
    expect(dLogDt).toBeLessThan(0.05);
    opt.dispose();
    s4.dispose(x, target);
    m.dispose();
  });

  it('a state dict moves a model into another with the same configuration', () => {
    const o: Opts = { dInput: 2, dModel: 3, nLayers: 1, dState: 4, dOutput: 2, lMax: 5, dropout: 0, device };
    const a = new SequenceModel({ ...o, seed: 1 });
    const b = new SequenceModel({ ...o, seed: 2 });
    const x = s4.tensor(randomValues(2 * 2 * 5, 3), [2, 2, 5], { device });
    const ya = s4.tidy(() => a.forward(x).dataSync());
    expect(relL2(s4.tidy(() => b.forward(x).dataSync()), ya)).toBeGreaterThan(1e-3);
    const sd = a.stateDict();
    b.loadStateDict(sd);
    expect(relL2(s4.tidy(() => b.forward(x).dataSync()), ya)).toBe(0);
    s4.dispose(Object.values(sd), x);
    a.dispose();
    b.dispose();
  });
});
