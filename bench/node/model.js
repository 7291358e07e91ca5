'use strict';
/**
 * The Fashion-MNIST model (issue 6): s4.nn.SequenceModel (encoder 1 -> H, nLayers S4
 * blocks with residual and post-norm, mean pooling, decoder H -> 10, dropout as configured),
 * one training step (forward, cross-entropy, backward, AdamW with the official parameter
 * groups) and generation throughput of its recurrent view (model.stepper).
 */
const { timeIt, peakMemory, runCase, notAvailable, rng, randn, nowMs, summarize } = require('./common');

function makeModel(s4, m, seed) {
  if (!s4.nn || typeof s4.nn.SequenceModel !== 'function') throw notAvailable('s4.nn.SequenceModel');
  return new s4.nn.SequenceModel({
    dInput: m.dInput,
    dModel: m.H,
    nLayers: m.nLayers,
    dState: m.N,
    dOutput: m.dOutput,
    prenorm: false,
    dropout: m.dropout,
    pool: 'mean',
    kernel: 'dplr',
    init: 'legs',
    lMax: m.L,
    seed,
  });
}

function run(s4, spec, out) {
  const m = spec.model;
  const T = { ...spec.timing, reps: m.reps, minReps: Math.min(spec.timing.minReps, m.reps) };
  const label = `B=${m.B} L=${m.L} layers=${m.nLayers} H=${m.H} N=${m.N}`;

  runCase(out, { suite: 'model', case: label, mode: 'train step', shape: { B: m.B, L: m.L, H: m.H, N: m.N } }, () => {
    if (!s4.optim || typeof s4.optim.AdamW !== 'function') throw notAvailable('s4.optim.AdamW');
    if (!s4.ops || typeof s4.ops.crossEntropy !== 'function') throw notAvailable('s4.ops.crossEntropy');
    const model = makeModel(s4, m, 1);
    const rand = rng(21);
    const x = s4.tensor(randn(rand, m.B * m.dInput * m.L), [m.B, m.dInput, m.L]);
    const labels = s4.tensor(Float32Array.from({ length: m.B }, () => Math.floor(rand() * m.dOutput)), [m.B]);
    const opt = new s4.optim.AdamW(model.parameterGroups({ lr: m.lr, weightDecay: m.weightDecay }), { lr: m.lr });
    try {
      model.train();
      const step = () => {
        s4.tidy(() => s4.ops.crossEntropy(model.forward(x), labels, { check: false }).backward());
        opt.step();
        opt.zeroGrad();
      };
      const t = timeIt(s4, step, T, 1);
      return { ...t, ...(peakMemory(s4, step) || {}), note: `forward + cross-entropy + backward + AdamW (groups), dropout ${m.dropout}` };
    } finally {
      model.dispose();
      s4.dispose(x, labels);
    }
  });

  // Generation: step(x) returns a new tensor per token; step(x, out) writes a preallocated
  // one (the allocation-free path: per token only native calls on the stepper's buffers).
  // What the trainer does each step (lib/train/trainer.ts): upload a fresh batch, forward,
  // the loss with labels checked on the host (crossEntropy's check: false reads nothing
  // back), backward queued, then the loss read, AdamW, zeroGrad; steps run back to back as
  // in an epoch, after a warm-up long enough for clocks and pools to settle. The labels of
  // both cases are valid class indices made here, so the device-side check is not needed.
  // The case above waits for the GPU after every step and reuses one input tensor; both are
  // reported so that a gap between an isolated step and an epoch's pace shows up here.
  runCase(out, { suite: 'model', case: label, mode: 'train step (epoch pace)', shape: { B: m.B, L: m.L, H: m.H, N: m.N } }, () => {
    if (!s4.optim || typeof s4.optim.AdamW !== 'function') throw notAvailable('s4.optim.AdamW');
    const model = makeModel(s4, m, 1);
    const rand = rng(22);
    const batches = Array.from({ length: 4 }, () => Float32Array.from({ length: m.B * m.dInput * m.L }, () => rand()));
    const labels = s4.tensor(Float32Array.from({ length: m.B }, () => Math.floor(rand() * m.dOutput)), [m.B]);
    const opt = new s4.optim.AdamW(model.parameterGroups({ lr: m.lr, weightDecay: m.weightDecay }), { lr: m.lr });
    let i = 0;
    try {
      model.train();
      const step = () => {
        s4.tidy(() => {
          const x = s4.tensor(batches[i++ % batches.length], [m.B, m.dInput, m.L]);
          const loss = s4.ops.crossEntropy(model.forward(x), labels, { check: false });
          loss.backward();
          if (!Number.isFinite(loss.item())) throw new Error('train step: the loss is not finite');
        });
        opt.step();
        opt.zeroGrad();
      };
      const steps = spec.quick ? 3 : 50;
      const warmUntil = nowMs() + (spec.quick ? 0 : 2000);
      let warm = 0;
      while (warm < 3 || nowMs() < warmUntil) { step(); warm++; }
      s4.synchronize();
      const samples = [];
      for (let r = 0; r < Math.max(1, Math.min(T.reps, 5)); r++) {
        const a = nowMs();
        for (let k = 0; k < steps; k++) step();
        s4.synchronize();
        samples.push((nowMs() - a) / steps);
      }
      return { ms: summarize(samples), inner: steps, timer: `hrtime around ${steps} consecutive steps (warm-up ${warm} steps)`, note: 'fresh batch upload + forward + backward + loss read + AdamW, back to back (as an epoch of s4 train)' };
    } finally {
      model.dispose();
      opt.dispose?.();
      labels.dispose();
    }
  });

  for (const B of m.genBatches) {
    for (const intoOut of [false, true]) {
      const mode = intoOut ? 'generate (out)' : 'generate';
      runCase(out, { suite: 'model', case: `${label} batch=${B}`, mode, shape: { B, H: m.H, N: m.N } }, () => {
        const model = makeModel(s4, m, 1);
        model.eval();
        const st = model.stepper({ batch: B });
        const xt = s4.tensor(randn(rng(5), B * m.dInput), [B, m.dInput]);
        const yt = s4.zeros([B, m.dOutput]);
        try {
          const call = intoOut ? () => void st.step(xt, yt) : () => s4.tidy(() => void st.step(xt));
          const t = timeIt(s4, call, T, m.genSteps);
          const how = intoOut ? 'step(x, out)' : 'step(x)';
          return { ...t, tokensPerSec: (B * 1e3) / t.ms.median, note: `model.stepper().${how}, one token per call, ${m.genSteps} calls per repetition` };
        } finally {
          st.dispose();
          model.dispose();
          s4.dispose(xt, yt);
        }
      });
    }
  }
}

module.exports = { run };
