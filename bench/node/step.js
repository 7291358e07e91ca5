'use strict';
/**
 * Recurrent stepping throughput (issue 6's generation view of one layer), H channels,
 * state N: tokens/s counted as batch x steps / s (the official figures count the same).
 * step(): one token per call; stepMany(): T tokens per call.
 */
const { timeIt, runCase, notAvailable, rng, randn } = require('./common');
const { dplrParams64 } = require('./params');

function stepperOf(s4) {
  if (!s4.ssm || typeof s4.ssm.stepper !== 'function') throw notAvailable('s4.ssm.stepper');
  return s4.ssm.stepper;
}

function run(s4, spec, out) {
  const { H, N, L, batches, stepsPerRep, manyT, reps } = spec.step;
  const T = { ...spec.timing, reps, minReps: Math.min(spec.timing.minReps, reps) };
  for (const B of batches) {
    const shape = { B, H, N };
    const label = `B=${B} H=${H} N=${N}`;
    runCase(out, { suite: 'step', case: label, mode: 'step', shape }, () => {
      const stepper = stepperOf(s4);
      const { p64, init } = dplrParams64(s4, { H, N, L, seed: 3 });
      const st = stepper(p64, { batch: B, L });
      const u = s4.tensor(randn(rng(1), B * H), [B, H]);
      try {
        const t = timeIt(s4, () => s4.tidy(() => void st.step(u)), T, stepsPerRep);
        return { ...t, tokensPerSec: (B * 1e3) / t.ms.median, stepsPerCall: 1, note: `init ${init}; ${stepsPerRep} calls per repetition` };
      } finally {
        st.dispose();
        u.dispose();
      }
    });
    runCase(out, { suite: 'step', case: label, mode: `stepMany(T=${manyT})`, shape }, () => {
      const stepper = stepperOf(s4);
      const { p64, init } = dplrParams64(s4, { H, N, L, seed: 3 });
      const st = stepper(p64, { batch: B, L });
      const u = s4.tensor(randn(rng(2), B * H * manyT), [B, H, manyT]);
      try {
        const t = timeIt(s4, () => s4.tidy(() => void st.stepMany(u)), T, 1);
        return { ...t, tokensPerSec: (B * manyT * 1e3) / t.ms.median, stepsPerCall: manyT, note: `init ${init}` };
      } finally {
        st.dispose();
        u.dispose();
      }
    });
  }
}

module.exports = { run };
