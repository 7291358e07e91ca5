/**
 * nn.BatchNorm and the Module buffers it uses: torch's initial state and names, the training
 * flag choosing batch or running statistics, buffers in stateDict / loadStateDict (strict),
 * outside the parameters and their gradients, freed by dispose(); option errors.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { batchNormRef } from './helpers/batch_norm_ref';
import { device, randomValues, relL2 } from './helpers/device';

const { BatchNorm } = s4.nn;

describe('nn.BatchNorm', () => {
  it('starts as torch.nn.BatchNorm1d: weight 1, bias 0, running mean 0, running var 1, counter 0', () => {
    const bn = new BatchNorm(5, { device });
    expect(bn.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['weight', [5]],
      ['bias', [5]],
    ]);
    expect(bn.namedBuffers().map(([n, t]) => [n, t.shape])).toEqual([
      ['running_mean', [5]],
      ['running_var', [5]],
      ['num_batches_tracked', []],
    ]);
    expect(Array.from(bn.weight.dataSync())).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(bn.bias.dataSync())).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(bn.runningMean.dataSync())).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(bn.runningVar.dataSync())).toEqual([1, 1, 1, 1, 1]);
    expect(bn.numBatchesTracked.item()).toBe(0);
    expect([bn.eps, bn.momentum]).toEqual([1e-5, 0.1]);
    expect(bn.parameterCount()).toBe(10);
    bn.dispose();
  });

  it('training mode: batch statistics and a running update (with gradients); eval mode: the running statistics', () => {
    const [B, H, L] = [3, 4, 6];
    const bn = new BatchNorm(H, { momentum: 0.25, eps: 1e-3, device });
    const xv = randomValues(B * H * L, 1).map((v) => 3 * v + 2);
    const x = s4.tensor(xv, [B, H, L], { device, requiresGrad: true });
    const y = s4.tidy(() => {
      const out = bn.forward(x);
      s4.ops.sum(s4.ops.mul(out, out)).backward();
      return out.dataSync();
    });
    const ref = batchNormRef(xv, null, null, B, H, L, { training: true, eps: 1e-3, momentum: 0.25, runningMean: new Float64Array(H), runningVar: new Float64Array(H).fill(1) });
    expect(relL2(y, ref.out)).toBeLessThan(1e-4);
    expect(relL2(bn.runningMean.dataSync(), ref.runningMean!)).toBeLessThan(1e-4);
    expect(relL2(bn.runningVar.dataSync(), ref.runningVar!)).toBeLessThan(1e-4);
    expect(bn.numBatchesTracked.item()).toBe(1);
    expect(bn.weight.grad).not.toBeNull();
    expect(bn.runningMean.grad).toBeNull();
    bn.eval();
    const ye = s4.tidy(() => bn.forwardChannels(x).dataSync());
    const refEval = batchNormRef(xv, null, null, B, H, L, { training: false, eps: 1e-3, runningMean: ref.runningMean, runningVar: ref.runningVar });
    expect(relL2(ye, refEval.out)).toBeLessThan(1e-4);
    expect(bn.numBatchesTracked.item()).toBe(1);
    x.dispose();
    bn.dispose();
  });

  it('state dicts hold the buffers; strict loading wants them; dispose frees them', () => {
    const a = new BatchNorm(3, { device });
    const b = new BatchNorm(3, { device });
    s4.noGrad(() => s4.tidy(() => a.forward(s4.tensor(randomValues(2 * 3 * 4, 2), [2, 3, 4], { device }))));
    const sd = a.stateDict();
    expect(Object.keys(sd)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    b.loadStateDict(sd);
    expect(Array.from(b.runningVar.dataSync())).toEqual(Array.from(a.runningVar.dataSync()));
    expect(b.numBatchesTracked.item()).toBe(1);
    const { running_var: rv, ...partial } = sd;
    expect(() => b.loadStateDict(partial)).toThrow(/loadStateDict: missing key 'running_var'/);
    b.loadStateDict(partial, { strict: false });
    expect(() => b.loadStateDict({ ...sd, running_std: rv })).toThrow(/unexpected key 'running_std' \(the module has no such parameter or buffer\)/);
    expect(() => b.loadStateDict({ num_batches_tracked: { shape: [1], data: [2] } }, { strict: false })).toThrow(/entry 'num_batches_tracked' must have shape \[\]/);
    s4.dispose(...Object.values(sd));
    const before = s4.memory()[device].tensors;
    const c = new BatchNorm(7, { device });
    expect(s4.memory()[device].tensors).toBe(before + 5);
    c.dispose();
    expect(s4.memory()[device].tensors).toBe(before);
    expect(() => c.runningMean).toThrow(/BatchNorm: the module has been disposed/);
    a.dispose();
    b.dispose();
  });

  it('explains bad options and inputs', () => {
    expect(() => new BatchNorm(0)).toThrow(/BatchNorm: argument 'features' must be an integer in \[1, /);
    expect(() => new BatchNorm(3, { eps: 0 })).toThrow(/BatchNorm: option 'eps' must be in \(0, 1\]/);
    expect(() => new BatchNorm(3, { momentum: 2 })).toThrow(/BatchNorm: argument 'momentum' must be in \[0, 1\]/);
    const bn = new BatchNorm(3, { device });
    expect(() => bn.buffer('nope')).toThrow(/BatchNorm: no buffer named 'nope'/);
    expect(() => s4.tidy(() => bn.forward(s4.zeros([2, 4, 5], { device })))).toThrow(/batchNorm: argument 'w' must have shape \[H\] = \[4\]/);
    expect(() => s4.tidy(() => bn.forward(s4.zeros([1, 3, 1], { device })))).toThrow(/training mode needs more than one value per channel/);
    bn.eval();
    expect(s4.tidy(() => bn.forward(s4.tensor([1, 2, 3], [1, 3, 1], { device })).dataSync()).length).toBe(3);
    bn.dispose();
  });
});
