/**
 * A SequenceModel with BatchNorm (and with no norm) through the official names and back:
 * the running statistics travel as BatchNorm1d's buffers, the batch count as int64, and
 * the rebuilt model gives the same eval outputs.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';

describe('interop of batch-norm models', () => {
  it('running statistics and outputs survive toOfficialStateDict -> modelFromOfficial', () => {
    const m = new s4.nn.SequenceModel({ dInput: 2, dModel: 8, nLayers: 2, dState: 8, dOutput: 3, lMax: 16, norm: 'batch', pool: 'mean', dropout: 0, seed: 4, device });
    // Move the running statistics off their initial values.
    m.train();
    for (let i = 0; i < 3; i++) s4.tidy(() => void m.forward(s4.tensor(randomValues(4 * 2 * 16, 10 + i), [4, 2, 16], { device })));
    m.eval();
    const sd = s4.interop.toOfficialStateDict(m);
    expect(sd['norms.1.num_batches_tracked']).toEqual({ shape: [], dtype: 'int64', data: [3] });
    expect(sd['norms.0.running_var'].shape).toEqual([8]);
    const config = s4.interop.officialConfig(m) as Parameters<typeof s4.interop.modelFromOfficial>[1];
    const back = s4.interop.modelFromOfficial(sd, config, { device });
    expect(back.norm).toBe('batch');
    const x = randomValues(3 * 2 * 16, 20);
    const a = s4.tidy(() => m.forward(s4.tensor(x, [3, 2, 16], { device })).dataSync());
    const b = s4.tidy(() => back.forward(s4.tensor(x, [3, 2, 16], { device })).dataSync());
    expect(relL2(b, a)).toBeLessThan(1e-6);
    m.dispose();
    back.dispose();
  });

  it("a model without norms exports no 'norms.*' entries", () => {
    const m = new s4.nn.SequenceModel({ dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 2, lMax: 8, norm: 'none', seed: 1, device });
    const sd = s4.interop.toOfficialStateDict(m);
    expect(Object.keys(sd).some((k) => k.startsWith('norms.'))).toBe(false);
    m.dispose();
  });
});
