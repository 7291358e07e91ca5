/**
 * Variable-length batches on the current backend: a SequenceModel given the true lengths of
 * a padded batch gives each sequence its output alone; without the lengths the padding
 * leaks; gradients through the masked path match the sum of the per-example gradients; bad
 * lengths are refused with the argument named.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';
import { PADDED_CASES, paddedVersusAlone } from './helpers/padded';

describe(`variable-length batches (${device})`, () => {
  for (const c of PADDED_CASES) {
    it(`a padded batch equals each example run alone: ${c.name}`, () => {
      expect(paddedVersusAlone(c, device)).toBeLessThan(1e-4);
    });
  }

  it('without lengths, mean pooling counts the padding (the test above can fail)', () => {
    const c = PADDED_CASES[0];
    const m = new s4.nn.SequenceModel({ ...c.opts, dropout: 0, seed: 3, device });
    const x = s4.tensor(randomValues(2 * 2 * 64, 1), [2, 2, 64], { device });
    const [masked, plain] = s4.tidy(() => [m.forward(x, { lengths: [10, 64] }).dataSync(), m.forward(x).dataSync()]);
    expect(relL2(masked.subarray(0, 3), plain.subarray(0, 3))).toBeGreaterThan(1e-3);
    expect(relL2(masked.subarray(3), plain.subarray(3))).toBeLessThan(1e-6); // full length: unchanged
    s4.dispose(x);
    m.dispose();
  });

  it('the gradient of a padded batch equals the sum of the per-example gradients', () => {
    const o = { dInput: 2, dModel: 6, nLayers: 2, dState: 4, dOutput: 3, lMax: 16, pool: 'mean' as const, dropout: 0, seed: 5, device };
    const lengths = [16, 5, 9];
    const L = 16;
    const m = new s4.nn.SequenceModel(o);
    const values = lengths.map((n, b) => randomValues(2 * n, 30 + b));
    const padded = randomValues(lengths.length * 2 * L, 7);
    lengths.forEach((n, b) => {
      for (let c = 0; c < 2; c++) for (let l = 0; l < n; l++) padded[(b * 2 + c) * L + l] = values[b][c * n + l];
    });
    const W = randomValues(3, 9);
    const lossOf = (y: s4.Tensor, rows: number) => s4.ops.sum(s4.ops.mul(y, s4.tensor(Float32Array.from({ length: rows * 3 }, (_, i) => W[i % 3]), [rows, 3], { device })));
    s4.tidy(() => lossOf(m.forward(s4.tensor(padded, [3, 2, L], { device }), { lengths }), 3).backward());
    const batchGrads = m.parameters().map((p) => Float64Array.from(p.grad!.dataSync()));
    m.zeroGrad();
    const sums = batchGrads.map((g) => new Float64Array(g.length));
    lengths.forEach((n, b) => {
      s4.tidy(() => lossOf(m.forward(s4.tensor(values[b], [1, 2, n], { device })), 1).backward());
      m.parameters().forEach((p, k) => p.grad!.dataSync().forEach((v, i) => (sums[k][i] += v)));
      m.zeroGrad();
    });
    batchGrads.forEach((g, k) => expect(relL2(g, sums[k]), m.namedParameters()[k][0]).toBeLessThan(1e-4));
    m.dispose();
  });

  it('refuses bad lengths with the argument named', () => {
    const m = new s4.nn.SequenceModel({ dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 2, lMax: 8, device });
    const x = s4.tensor(new Float32Array(2 * 8), [2, 1, 8], { device });
    expect(() => m.forward(x, { lengths: [3] })).toThrow(/SequenceModel.forward: option 'lengths' must hold one length per sequence, 2 \(got 1\)/);
    expect(() => m.forward(x, { lengths: [3, 9] })).toThrow(/integers in \[1, 8\].*lengths\[1\] is 9/);
    expect(() => m.forward(x, { lengths: [0, 8] })).toThrow(/lengths\[0\] is 0/);
    expect(() => m.forward(x, { lengths: [2.5, 8] })).toThrow(/lengths\[0\] is 2.5/);
    expect(() => m.forward(x, { lengths: null as never })).toThrow(/option 'lengths' must be an array/);
    s4.dispose(x);
    m.dispose();
  });
});
