'use strict';
/**
 * One S4 block (issue 6): s4.nn.S4Layer = dplr kernel + fftConv + D skip + GELU + output
 * linear H -> 2H + GLU (the official S4Block defaults, dropout 0), forward (no grad) and
 * forward+backward (grads of every parameter and of the input), with peak GPU memory; and the
 * bidirectional block (official convention) for spec.block.bidirectionalCases.
 */
const { timeIt, peakMemory, runCase, notAvailable, rng, randn } = require('./common');

function s4Layer(s4, opts) {
  if (!s4.nn || typeof s4.nn.S4Layer !== 'function') throw notAvailable('s4.nn.S4Layer');
  return new s4.nn.S4Layer(opts);
}

function run(s4, spec, out) {
  const { N, cases } = spec.block;
  const T = spec.timing;
  const all = [...cases.map((c) => ({ ...c, bidirectional: false })), ...(spec.block.bidirectionalCases || []).map((c) => ({ ...c, bidirectional: true }))];
  for (const shape of all) {
    const { B, H, L, bidirectional } = shape;
    const label = `B=${B} H=${H} L=${L}${bidirectional ? ' bidirectional' : ''}`;
    const make = (grad) => {
      const layer = s4Layer(s4, { dModel: H, dState: N, lMax: L, kernel: 'dplr', init: 'legs', dropout: 0, seed: 1, bidirectional });
      const u = s4.tensor(randn(rng(4), B * H * L), [B, H, L], { requiresGrad: grad });
      return { layer, u };
    };
    runCase(out, { suite: 'block', case: label, mode: 'fwd', shape: { ...shape, N } }, () => {
      const { layer, u } = make(false);
      try {
        const fwd = () => s4.noGrad(() => s4.tidy(() => void layer.forward(u)));
        const t = timeIt(s4, fwd, T);
        return { ...t, ...(peakMemory(s4, fwd) || {}), note: 'forward under noGrad' };
      } finally {
        layer.dispose();
        u.dispose();
      }
    });
    runCase(out, { suite: 'block', case: label, mode: 'fwd+bwd', shape: { ...shape, N } }, () => {
      const { layer, u } = make(true);
      const G = s4.tensor(randn(rng(8), B * H * L), [B, H, L]);
      const leaves = [...layer.parameters(), u];
      try {
        const step = () => {
          s4.tidy(() => layer.forward(u).backward(G));
          s4.zeroGrad(leaves);
        };
        const t = timeIt(s4, step, T);
        return { ...t, ...(peakMemory(s4, step) || {}), note: 'grads of all parameters and of u; backward seeded with a random dy' };
      } finally {
        layer.dispose();
        u.dispose();
        G.dispose();
      }
    });
  }
}

module.exports = { run };
