/**
 * SequenceModel with norm 'batch' and 'none' (norm 'layer' is test/nn_model.test.ts): the
 * names of parameters and buffers (torch's BatchNorm1d names); training forwards update the
 * running statistics and eval forwards use them, block by block equal to the ops composed by
 * hand; whole-model gradients against central differences (training mode: the batch
 * statistics depend on the input); the stepper equals forward() in eval mode on every
 * prefix (pre- and post-norm); state dicts and checkpoints carry the running statistics.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointState } from '../lib/train/checkpoint';
import { modelFromCheckpoint } from '../lib/train/build';
import { device, randomValues, relL2 } from './helpers/device';
import { expectDirectionalGradients, expectStepperMatchesPrefixes } from './helpers/model_checks';
import { modelInput } from './helpers/model_input';

const { SequenceModel, BatchNorm } = s4.nn;
type Opts = s4.nn.SequenceModelOptions;

/** Runs a few training-mode forwards so the running statistics move away from (0, 1). */
function warmUp(m: s4.nn.SequenceModel, o: Opts, L: number, calls = 3): void {
  for (let k = 0; k < calls; k++) {
    const inp = modelInput(o, 4, L, 50 + k);
    // Features shifted and scaled so the statistics differ from the initial (0, 1); tokens as drawn.
    const values = o.embedding ? inp.values : inp.values.map((v) => 2 * v + 0.5);
    s4.noGrad(() => s4.tidy(() => m.forward(s4.tensor(values, inp.shape, { device }))));
  }
}

describe('SequenceModel norms', () => {
  it('names parameters and buffers: BatchNorm1d\'s for batch, none for none', () => {
    const base: Opts = { dInput: 3, dModel: 4, nLayers: 2, dState: 4, dOutput: 5, lMax: 8, dropout: 0, device };
    const bm = new SequenceModel({ ...base, norm: 'batch' });
    expect(bm.norm).toBe('batch');
    const params = bm.namedParameters().map(([n]) => n);
    expect(params).toContain('layers.1.norm.weight');
    expect(params).toContain('layers.1.norm.bias');
    expect(bm.namedBuffers().map(([n, t]) => [n, t.shape])).toEqual([0, 1].flatMap((i) => [
      [`layers.${i}.norm.running_mean`, [4]],
      [`layers.${i}.norm.running_var`, [4]],
      [`layers.${i}.norm.num_batches_tracked`, []],
    ]));
    expect(bm.norms[0]).toBeInstanceOf(BatchNorm);
    // Buffers take no gradient and are in no optimizer group.
    expect(bm.namedBuffers().every(([, t]) => !t.requiresGrad)).toBe(true);
    const grouped = bm.parameterGroups({ lr: 1e-3 }).flatMap((g) => g.names!);
    expect(grouped.some((n) => n.includes('running'))).toBe(false);
    const sd = bm.stateDict();
    expect(Object.keys(sd)).toContain('layers.0.norm.num_batches_tracked');
    s4.dispose(...Object.values(sd));

    const nm = new SequenceModel({ ...base, norm: 'none' });
    expect(nm.namedParameters().some(([n]) => n.includes('.norm.'))).toBe(false);
    expect(nm.namedBuffers()).toEqual([]);
    expect(nm.norms).toEqual([null, null]);
    expect(new SequenceModel({ ...base, nLayers: 0 }).norm).toBe('layer');
    expect(() => new SequenceModel({ ...base, norm: 'group' as never })).toThrow(/SequenceModel: option 'norm' must be 'layer', 'batch' or 'none' \(got group\)/);
    bm.dispose();
    nm.dispose();
  });

  it('training forwards update the running statistics; eval forwards use them and update nothing', () => {
    const o: Opts = { dInput: 2, dModel: 6, nLayers: 2, dState: 4, dOutput: 3, lMax: 12, dropout: 0, norm: 'batch', seed: 1, device };
    const m = new SequenceModel(o);
    const bn = m.norms[1] as s4.nn.BatchNorm;
    expect(Array.from(bn.runningVar.dataSync())).toEqual(new Array(6).fill(1));
    warmUp(m, o, 12);
    expect(bn.numBatchesTracked.item()).toBe(3);
    const rm = bn.runningMean.dataSync();
    expect(rm.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    m.eval();
    const inp = modelInput(o, 2, 12, 9);
    const x = s4.tensor(inp.values, inp.shape, { device });
    const a = s4.tidy(() => m.forward(x).dataSync());
    const b = s4.tidy(() => m.forward(x).dataSync());
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(bn.numBatchesTracked.item()).toBe(3);
    expect(Array.from(bn.runningMean.dataSync())).toEqual(Array.from(rm));
    x.dispose();
    m.dispose();
  });

  for (const prenorm of [false, true])
    for (const training of [true, false]) {
      it(`a batch-norm block is the ops composed by hand (${prenorm ? 'pre' : 'post'}-norm, ${training ? 'training' : 'eval'})`, () => {
        const o: Opts = { dInput: 3, dModel: 5, nLayers: 1, dState: 4, dOutput: 2, lMax: 9, dropout: 0, norm: 'batch', prenorm, pool: 'none', seed: 2, device };
        const m = new SequenceModel(o);
        warmUp(m, o, 9, 2);
        m.train(training);
        const inp = modelInput(o, 3, 9, 21);
        const [got, want] = s4.noGrad(() =>
          s4.tidy(() => {
            const x = s4.tensor(inp.values, inp.shape, { device });
            const bn = m.norms[0] as s4.nn.BatchNorm;
            // The same block from ops, with copies of the running statistics (the model's
            // own forward updates them in training mode).
            const stats = { runningMean: bn.runningMean.clone(), runningVar: bn.runningVar.clone() };
            const norm = (t: s4.Tensor): s4.Tensor => s4.ops.batchNorm(t, bn.weight, bn.bias, { training, ...stats });
            const layer = m.layers[0];
            const h = (m.encoder as s4.nn.Linear).forwardChannels(x);
            const u = prenorm ? norm(h) : h;
            const z = s4.ops.linearChannels(layer.mix(u), layer.output.weight, layer.output.bias);
            const r = s4.ops.add(h, s4.ops.glu(z, 1));
            const y = m.decoder.forwardChannels(prenorm ? r : norm(r));
            return [m.forward(x).dataSync(), y.dataSync()];
          }),
        );
        expect(relL2(got, want)).toBeLessThan(1e-5);
        m.dispose();
      });
    }

  // Whole-model gradient check as in test/nn_model.test.ts: central differences of the
  // float32 model along a random direction per parameter tensor, the loss summed in float64.
  const gradCases: [string, Opts, number][] = [
    ['batch post-norm, mean pool', { dInput: 2, dModel: 3, nLayers: 2, dState: 4, dOutput: 3, lMax: 8, pool: 'mean', norm: 'batch' }, 8],
    ['batch pre-norm, last pool, diag, L = 7', { dInput: 3, dModel: 4, nLayers: 2, dState: 4, dOutput: 2, kernel: 'diag', prenorm: true, pool: 'last', norm: 'batch' }, 7],
    ['none post-norm, no pool', { dInput: 2, dModel: 3, nLayers: 2, dState: 4, dOutput: 2, lMax: 6, pool: 'none', norm: 'none' }, 6],
    ['none pre-norm, mean pool', { dInput: 2, dModel: 4, nLayers: 1, dState: 4, dOutput: 2, lMax: 5, pool: 'mean', norm: 'none', prenorm: true }, 5],
  ];
  for (const [name, o, L] of gradCases) {
    it(`gradients of a whole model match central differences (${name}, training mode)`, () => {
      const m = new SequenceModel({ dropout: 0, ...o, seed: 4, device });
      const B = 2;
      const inp = modelInput(o, B, L, 7);
      const x = s4.tensor(inp.values, inp.shape, { device });
      const outShape = o.pool === 'none' ? [B, o.dOutput, L] : [B, o.dOutput];
      const targetValues = randomValues(outShape.reduce((a, b) => a * b, 1), 9);
      const target = s4.tensor(targetValues, outShape, { device });
      s4.tidy(() => s4.ops.sum(s4.ops.mul(m.forward(x), target)).backward());
      const value = (): number => s4.noGrad(() => s4.tidy(() => m.forward(x).dataSync())).reduce((s, v, i) => s + v * targetValues[i], 0);
      // At most 1e-2 (not 3e-2): statistics over a batch of 2 x 7 values curve the loss
      // enough that the truncation error of a 3e-2 step reaches the tolerance.
      expectDirectionalGradients(m, value, 1e-2);
      s4.dispose(x, target);
      m.dispose();
    });
  }

  const stepCases: [string, Opts, number][] = [
    ['batch post-norm, no pool', { dInput: 2, dModel: 3, nLayers: 2, dState: 4, dOutput: 2, lMax: 10, pool: 'none', norm: 'batch' }, 10],
    ['batch pre-norm, last pool, diag', { dInput: 2, dModel: 3, nLayers: 2, dState: 6, dOutput: 2, kernel: 'diag', prenorm: true, pool: 'last', norm: 'batch' }, 6],
    ['batch post-norm, mean pool, tokens', { embedding: 7, dModel: 4, nLayers: 2, dState: 4, dOutput: 3, lMax: 8, pool: 'mean', norm: 'batch' }, 7],
    ['none post-norm, no pool', { dInput: 2, dModel: 3, nLayers: 2, dState: 4, dOutput: 2, lMax: 8, pool: 'none', norm: 'none' }, 8],
    ['none pre-norm, mean pool', { dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 3, lMax: 9, pool: 'mean', norm: 'none', prenorm: true }, 5],
  ];
  for (const [name, o, L] of stepCases) {
    it(`the model stepper equals forward() in eval mode on every prefix (${name})`, () => {
      const m = new SequenceModel({ ...o, seed: 12, device });
      warmUp(m, o, L);
      m.eval();
      const B = 2;
      const inp = modelInput(o, B, L, 13);
      expectStepperMatchesPrefixes(m, o, inp, B, L, device).dispose();
      m.dispose();
    });
  }

  it('the stepper snapshots the running statistics: later training forwards do not change it', () => {
    const o: Opts = { dInput: 2, dModel: 3, nLayers: 1, dState: 4, dOutput: 2, lMax: 6, pool: 'none', norm: 'batch', seed: 5, device };
    const m = new SequenceModel(o);
    warmUp(m, o, 6);
    const xt = s4.tensor(randomValues(4, 3), [2, 2], { device });
    const st1 = m.stepper({ batch: 2 });
    const a = s4.tidy(() => st1.step(xt).dataSync());
    warmUp(m, o, 6);
    st1.reset();
    const b = s4.tidy(() => st1.step(xt).dataSync());
    expect(Array.from(b)).toEqual(Array.from(a));
    const st2 = m.stepper({ batch: 2 });
    expect(relL2(s4.tidy(() => st2.step(xt).dataSync()), a)).toBeGreaterThan(1e-6);
    s4.dispose(xt);
    st1.dispose();
    st2.dispose();
    m.dispose();
  });

  it('state dicts and checkpoints carry the running statistics (eval outputs equal after the round trip)', () => {
    const o: Opts = { dInput: 2, dModel: 4, nLayers: 2, dState: 4, dOutput: 3, lMax: 8, dropout: 0, norm: 'batch', seed: 6 };
    const m = new SequenceModel({ ...o, device });
    warmUp(m, o, 8);
    m.eval();
    const inp = modelInput(o, 2, 8, 30);
    const x = s4.tensor(inp.values, inp.shape, { device });
    const want = s4.tidy(() => m.forward(x).dataSync());

    const other = new SequenceModel({ ...o, seed: 99, device });
    other.eval();
    expect(relL2(s4.tidy(() => other.forward(x).dataSync()), want)).toBeGreaterThan(1e-3);
    const sd = m.stateDict();
    other.loadStateDict(sd);
    s4.dispose(...Object.values(sd));
    expect(relL2(s4.tidy(() => other.forward(x).dataSync()), want)).toBeLessThan(1e-6);
    const { 'layers.0.norm.running_mean': _dropped, ...partial } = m.stateDict();
    expect(() => other.loadStateDict(partial)).toThrow(/loadStateDict: missing key 'layers.0.norm.running_mean'/);
    s4.dispose(_dropped, ...Object.values(partial));

    const params: CheckpointState['params'] = {};
    for (const [n, t] of m.namedState()) params[n] = { shape: [...t.shape], dtype: t.dtype, data: t.dataSync() };
    const state: CheckpointState = { step: 1, epoch: 0, batch: 1, seed: 0, params, moments: {}, scheduleStep: 1, dropout: {}, info: { model: o } };
    const back = decodeCheckpoint(encodeCheckpoint(state));
    expect(back.params['layers.1.norm.num_batches_tracked'].shape).toEqual([]);
    expect(Array.from(back.params['layers.1.norm.num_batches_tracked'].data)).toEqual([3]);
    const rebuilt = modelFromCheckpoint(back, device);
    rebuilt.eval();
    expect(rebuilt.norm).toBe('batch');
    expect(relL2(s4.tidy(() => rebuilt.forward(x).dataSync()), want)).toBeLessThan(1e-6);
    s4.dispose(x);
    [m, other, rebuilt].forEach((t) => t.dispose());
  });
});
