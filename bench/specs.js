'use strict';
/**
 * The benchmark shapes and timing settings: one source for the Node and PyTorch halves
 * (run.js writes this object to <out>/spec.json and both sides read it from there).
 * --quick gives tiny shapes for a smoke test on the CPU backend.
 */

function fullSpec() {
  return {
    quick: false,
    // Median of `reps` timed repetitions after `warmup` calls; each repetition loops the
    // op `inner` times so that it lasts at least minRepMs (small ops are not dominated by
    // the synchronization); a case stops early after maxCaseS once minReps are done.
    timing: { warmup: 3, reps: 15, minReps: 5, minRepMs: 2, maxCaseS: 4, maxInner: 200 },
    kernel: { H: 256, N: 64, Ls: [1024, 4096, 16384] },
    fftconv: {
      cases: [
        { B: 16, H: 256, L: 1024 },
        { B: 16, H: 256, L: 4096 },
        { B: 16, H: 256, L: 16384 },
        { B: 64, H: 256, L: 4096 },
      ],
    },
    step: { H: 256, N: 64, L: 4096, batches: [1, 64], stepsPerRep: 200, manyT: 4096, reps: 7 },
    block: {
      N: 64,
      cases: [
        { B: 16, H: 256, L: 1024 },
        { B: 16, H: 256, L: 4096 },
        { B: 4, H: 256, L: 16384 },
      ],
      // The official bidirectional convention (a second C, backward kernel from lag 1).
      bidirectionalCases: [{ B: 16, H: 256, L: 4096 }],
      compile: true,
      compileTimeoutS: 90,
    },
    model: {
      B: 64, L: 784, dInput: 1, dOutput: 10, nLayers: 4, H: 128, N: 64, lr: 0.01, weightDecay: 0.01,
      dropout: 0.1, genBatches: [1, 64], genSteps: 100, reps: 10, compile: true, compileTimeoutS: 120,
    },
  };
}

function quickSpec() {
  return {
    quick: true,
    timing: { warmup: 1, reps: 3, minReps: 2, minRepMs: 0, maxCaseS: 2, maxInner: 1 },
    kernel: { H: 4, N: 16, Ls: [64, 7] },
    fftconv: { cases: [{ B: 2, H: 4, L: 64 }, { B: 1, H: 3, L: 7 }] },
    step: { H: 4, N: 16, L: 64, batches: [1, 3], stepsPerRep: 10, manyT: 32, reps: 2 },
    block: { N: 16, cases: [{ B: 2, H: 8, L: 64 }, { B: 1, H: 8, L: 7 }], bidirectionalCases: [{ B: 2, H: 8, L: 64 }], compile: false, compileTimeoutS: 30 },
    model: {
      B: 4, L: 32, dInput: 1, dOutput: 10, nLayers: 2, H: 8, N: 16, lr: 0.01, weightDecay: 0.01,
      dropout: 0.1, genBatches: [1, 2], genSteps: 5, reps: 2, compile: false, compileTimeoutS: 30,
    },
  };
}

/** Benchmark suites in run order (the kernels first: they are what the issue asks first). */
const SUITES = ['kernel', 'fftconv', 'step', 'block', 'model'];

function spec(quick) {
  return quick ? quickSpec() : fullSpec();
}

module.exports = { spec, SUITES };
