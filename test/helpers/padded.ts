/**
 * Padded batches against per-example runs: a SequenceModel on a batch of sequences of
 * different lengths, padded to the longest with junk, must give each sequence the output it
 * gets alone (no padding). Shared by test/variable_length.test.ts and its GPU twin.
 */
import * as s4 from '../../lib/index';
import { randomValues, relL2 } from './device';
import { randomTokens } from './model_input';

type Opts = s4.nn.SequenceModelOptions;

export interface PaddedCase {
  name: string;
  opts: Opts;
  lengths: number[];
}

/** Cases covering features and tokens, every pooling, pre/post-norm, dplr and diag, bidirectional. */
export const PADDED_CASES: PaddedCase[] = [
  { name: 'dplr post-norm, mean pool', opts: { dInput: 2, dModel: 8, nLayers: 2, dState: 8, dOutput: 3, lMax: 64, pool: 'mean' }, lengths: [1, 7, 33, 64] },
  { name: 'diag pre-norm, last pool', opts: { dInput: 3, dModel: 8, nLayers: 2, dState: 8, dOutput: 2, kernel: 'diag', prenorm: true, pool: 'last' }, lengths: [5, 1, 20] },
  { name: 'tokens, dplr bidirectional, mean pool', opts: { embedding: 10, dModel: 8, nLayers: 2, dState: 8, dOutput: 4, lMax: 40, pool: 'mean', bidirectional: true }, lengths: [40, 3, 17] },
  { name: 'tokens, no pool (valid positions)', opts: { embedding: 10, dModel: 8, nLayers: 1, dState: 8, dOutput: 5, lMax: 30, pool: 'none' }, lengths: [30, 9] },
];

/** Example b's values (its own length), and the batch padded with junk to the longest. */
function inputs(o: Opts, lengths: number[], seed: number): { alone: { values: Float32Array; shape: number[] }[]; padded: { values: Float32Array; shape: number[] } } {
  const L = Math.max(...lengths);
  const B = lengths.length;
  const C = o.embedding ? 1 : o.dInput!;
  const padded = o.embedding ? randomTokens(B * L, o.embedding, seed + 99) : randomValues(B * C * L, seed + 99).map((v) => 5 * v);
  const alone = lengths.map((n, b) => {
    const v = o.embedding ? randomTokens(n, o.embedding, seed + b) : randomValues(C * n, seed + b);
    for (let c = 0; c < C; c++) for (let l = 0; l < n; l++) padded[(b * C + c) * L + l] = v[c * n + l];
    return { values: v, shape: o.embedding ? [1, n] : [1, C, n] };
  });
  return { alone, padded: { values: padded, shape: o.embedding ? [B, L] : [B, C, L] } };
}

/**
 * The largest relative L2 error, over the examples, between the padded batch's output and the
 * example's output alone (for pool 'none': over its valid positions).
 */
export function paddedVersusAlone(c: PaddedCase, device: s4.DeviceName): number {
  const m = new s4.nn.SequenceModel({ dropout: 0, ...c.opts, seed: 3, device });
  m.eval();
  try {
    const { alone, padded } = inputs(c.opts, c.lengths, 17);
    const L = Math.max(...c.lengths);
    const D = c.opts.dOutput;
    const batch = s4.tidy(() => m.forward(s4.tensor(padded.values, padded.shape, { device }), { lengths: c.lengths }).dataSync());
    let worst = 0;
    c.lengths.forEach((n, b) => {
      const own = s4.tidy(() => m.forward(s4.tensor(alone[b].values, alone[b].shape, { device })).dataSync());
      const got = c.opts.pool === 'none'
        ? Float32Array.from({ length: D * n }, (_, i) => batch[(b * D + Math.floor(i / n)) * L + (i % n)])
        : batch.subarray(b * D, (b + 1) * D);
      worst = Math.max(worst, relL2(got, own));
    });
    return worst;
  } finally {
    m.dispose();
  }
}
