'use strict';
/**
 * Recurrent stepping throughput (issue 6's generation view of one layer), H channels,
 * state N: tokens/s counted as batch x steps / s (the official figures count the same).
 * step(): one token per call; stepMany(): T tokens per call. Outputs go to preallocated
 * tensors (the steppers' allocation-free path).
 */
const { timeIt, runCase, notAvailable, rng, randn } = require('./common');
const { dplrParams64 } = require('./params');

function run(s4, spec, out) {
  const { H, N, L, batches, stepsPerRep, manyT, reps } = spec.step;
  const T = { ...spec.timing, reps, minReps: Math.min(spec.timing.minReps, reps) };
  let params = null;
  const setup = (B) => {
    if (!s4.ssm || typeof s4.ssm.stepper !== 'function') throw notAvailable('s4.ssm.stepper');
    params = params || dplrParams64(s4, { H, N, L, seed: 3 });
    return s4.ssm.stepper(params.p64, { batch: B, L });
  };
  for (const B of batches) {
    const shape = { B, H, N };
    const label = `B=${B} H=${H} N=${N}`;
    let st = null;
    try {
      runCase(out, { suite: 'step', case: label, mode: 'step', shape }, () => {
        st = setup(B);
        const u = s4.tensor(randn(rng(1), B * H), [B, H]);
        const y = s4.zeros([B, H]);
        try {
          const t = timeIt(s4, () => void st.step(u, y), T, stepsPerRep);
          return { ...t, tokensPerSec: (B * 1e3) / t.ms.median, stepsPerCall: 1, note: `init ${params.init}; ${stepsPerRep} calls per repetition` };
        } finally {
          s4.dispose(u, y);
        }
      });
      runCase(out, { suite: 'step', case: label, mode: `stepMany(T=${manyT})`, shape }, () => {
        st = st || setup(B);
        st.reset();
        const u = s4.tensor(randn(rng(2), B * H * manyT), [B, H, manyT]);
        const y = s4.zeros([B, H, manyT]);
        try {
          const t = timeIt(s4, () => void st.stepMany(u, y), T, 1);
          return { ...t, tokensPerSec: (B * manyT * 1e3) / t.ms.median, stepsPerCall: manyT, note: `init ${params.init}` };
        } finally {
          s4.dispose(u, y);
        }
      });
    } finally {
      if (st) st.dispose();
    }
  }
}

module.exports = { run };
