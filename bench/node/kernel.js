'use strict';
/** dplrKernel forward and forward+backward (issue 3), with a golden-data check first. */
const { timeIt, runCase, notAvailable, rng, randn, relL2 } = require('./common');
const { dplrParams64, dplrTensors, goldenDplr } = require('./params');

function requireOp(s4, name) {
  if (!s4.ops || typeof s4.ops[name] !== 'function') throw notAvailable(`s4.ops.${name}`);
  return s4.ops[name];
}

function run(s4, spec, out) {
  const { H, N, Ls } = spec.kernel;
  const T = spec.timing;

  runCase(out, { suite: 'kernel', case: 'golden H=2 N=16 L=64', mode: 'check' }, () => {
    const dplrKernel = requireOp(s4, 'dplrKernel');
    const g = goldenDplr();
    const err = s4.tidy(() => relL2(dplrKernel(dplrTensors(s4, g.p64, false), g.L).dataSync(), g.K));
    if (!(err <= 1e-4)) throw new Error(`dplrKernel differs from the official S4 golden kernel: relative L2 ${err}`);
    return { check: { name: 'relL2 vs official S4 K', value: err, limit: 1e-4 } };
  });

  for (const L of Ls) {
    const shape = { H, N, L };
    const label = `H=${H} N=${N} L=${L}`;
    let init = '';
    const make = (grad) => {
      const made = dplrParams64(s4, { H, N, L, seed: 7 });
      init = made.init;
      return dplrTensors(s4, made.p64, grad);
    };
    runCase(out, { suite: 'kernel', case: label, mode: 'fwd', shape }, () => {
      const dplrKernel = requireOp(s4, 'dplrKernel');
      const params = make(false);
      try {
        const t = s4.noGrad(() => timeIt(s4, () => s4.tidy(() => void dplrKernel(params, L)), T));
        return { ...t, note: `init ${init}` };
      } finally {
        s4.dispose(params);
      }
    });
    runCase(out, { suite: 'kernel', case: label, mode: 'fwd+bwd', shape }, () => {
      const dplrKernel = requireOp(s4, 'dplrKernel');
      const params = make(true);
      const W = s4.tensor(randn(rng(3), H * L, 1 / Math.sqrt(L)), [H, L]);
      const leaves = Object.values(params);
      try {
        const step = () => {
          s4.tidy(() => dplrKernel(params, L).backward(W));
          s4.zeroGrad(leaves);
        };
        return { ...timeIt(s4, step, T), note: `init ${init}; backward seeded with a random dK` };
      } finally {
        s4.dispose(params, W);
      }
    });
  }
}

module.exports = { run, requireOp };
