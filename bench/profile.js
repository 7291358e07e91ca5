'use strict';
/**
 * Where the time of a block or a training step goes, by native entry point.
 *
 *   node bench/profile.js [--case block1k|block4k|block16k|model|step1] [--iters N] [--warmup N] [--passes wall,host,sync]
 *
 * Three passes over the same work:
 *   wall:  iterations back to back, one synchronize at the end (what a user sees);
 *   host:  the same, with the time spent inside each native call summed by name (the
 *          JS thread's cost of issuing the work; the rest of the host time is TypeScript);
 *   sync:  a synchronize after every native call, so each call's time includes its GPU
 *          work (launch latency included): the GPU time by entry point.
 * If wall ~ host total, the step is bound by the host; if wall ~ sync GPU total, by the GPU.
 */
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const which = opt('case', 'all');
const iters = Number(opt('iters', 20));
const warmup = Number(opt('warmup', 3));
// 'wall' alone: the iterations with nothing wrapped (for running under ncu).
const passes = opt('passes', 'wall,host,sync').split(',');

const dist = process.env.S4_BENCH_PKG ? path.dirname(process.env.S4_BENCH_PKG) : path.resolve(__dirname, '..', 'dist');
const s4 = require(path.join(dist, 'index.js'));
const { rng, randn, nowMs } = require('./node/common');
// The raw module object: the typed ops call through its properties, so wrapping them here
// times every op as it is called (lib/native/binding.js; addon.js in builds before it).
const addon = (() => {
  try {
    return require(path.join(dist, 'native', 'binding.js')).core;
  } catch {
    return require(path.join(dist, 'native', 'addon.js')).addon;
  }
})();

const stats = new Map();
let mode = 'off';
const skip = new Set(['synchronize', 'synchronizeAsync', 'memory', 'cudaInfo', 'buildInfo']);
for (const name of Object.keys(addon)) {
  const f = addon[name];
  if (typeof f !== 'function' || skip.has(name) || /^[A-Z]/.test(name)) continue;
  addon[name] = function wrapped(...a) {
    if (mode === 'off') return f.apply(this, a);
    const t0 = nowMs();
    const r = f.apply(this, a);
    if (mode === 'sync') addon.synchronize();
    const dt = nowMs() - t0;
    const s = stats.get(name) || { calls: 0, ms: 0 };
    s.calls++;
    s.ms += dt;
    stats.set(name, s);
    return r;
  };
}

function blockCase(B, H, L) {
  const layer = new s4.nn.S4Layer({ dModel: H, dState: 64, lMax: L, kernel: 'dplr', init: 'legs', dropout: 0, seed: 1 });
  const u = s4.tensor(randn(rng(4), B * H * L), [B, H, L], { requiresGrad: true });
  const G = s4.tensor(randn(rng(8), B * H * L), [B, H, L]);
  const leaves = [...layer.parameters(), u];
  return {
    name: `block fwd+bwd B=${B} H=${H} L=${L}`,
    step() {
      s4.tidy(() => layer.forward(u).backward(G));
      s4.zeroGrad(leaves);
    },
    dispose() {
      layer.dispose();
      s4.dispose(u, G);
    },
  };
}

function modelCase() {
  const B = 64, L = 784;
  const model = new s4.nn.SequenceModel({
    dInput: 1, dModel: 128, nLayers: 4, dState: 64, dOutput: 10, prenorm: false, dropout: 0.1,
    pool: 'mean', kernel: 'dplr', init: 'legs', lMax: L, seed: 1,
  });
  const r = rng(21);
  const x = s4.tensor(randn(r, B * L), [B, 1, L]);
  const labels = s4.tensor(Float32Array.from({ length: B }, () => Math.floor(r() * 10)), [B]);
  const opt = new s4.optim.AdamW(model.parameterGroups({ lr: 0.01, weightDecay: 0.01 }), { lr: 0.01 });
  model.train();
  return {
    name: 'model train step B=64 L=784 layers=4 H=128 N=64',
    step() {
      s4.tidy(() => s4.ops.crossEntropy(model.forward(x), labels, { check: false }).backward());
      opt.step();
      opt.zeroGrad();
    },
    dispose() {
      model.dispose();
      s4.dispose(x, labels);
    },
  };
}

function table(title, totalMs, n) {
  const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const sum = rows.reduce((a, [, s]) => a + s.ms, 0);
  console.log(`  ${title}: ${(totalMs / n).toFixed(3)} ms/iter, of which inside native calls ${(sum / n).toFixed(3)} ms`);
  for (const [name, s] of rows.slice(0, 14)) {
    console.log(`    ${name.padEnd(28)} ${String(s.calls / n).padStart(6)} calls ${(s.ms / n).toFixed(3).padStart(9)} ms  ${((s.ms / s.calls) * 1e3).toFixed(1).padStart(8)} us/call`);
  }
}

function profile(c) {
  console.log(`\n== ${c.name} (${s4.backend()})`);
  for (let i = 0; i < warmup; i++) c.step();
  s4.synchronize();
  mode = 'off';
  let a = nowMs();
  for (let i = 0; i < iters; i++) c.step();
  const issued = nowMs() - a;
  s4.synchronize();
  const wall = nowMs() - a;
  console.log(`  wall: ${(wall / iters).toFixed(3)} ms/iter (host done issuing after ${(issued / iters).toFixed(3)} ms/iter)`);
  for (const m of ['host', 'sync'].filter((p) => passes.includes(p))) {
    stats.clear();
    mode = m;
    s4.synchronize();
    a = nowMs();
    for (let i = 0; i < iters; i++) c.step();
    s4.synchronize();
    const t = nowMs() - a;
    mode = 'off';
    table(m === 'host' ? 'host (no sync)' : 'sync after each native call', t, iters);
  }
  c.dispose();
}

// One token per call at batch 1 (H 256, N 64) next to the smallest possible launch (a fill
// of one float): whether single-token stepping is bound by the launch.
function stepCase() {
  const H = 256;
  const p64 = s4.ssm.initDplr({ H, N: 64, init: 'legs', L: 4096, seed: 3 });
  const st = s4.ssm.stepper(p64, { batch: 1, L: 4096 });
  const u = s4.tensor(randn(rng(1), H), [1, H]);
  const y = s4.zeros([1, H]);
  const one = s4.zeros([1]);
  const calls = 2000;
  const rate = (f) => {
    for (let i = 0; i < 200; i++) f();
    s4.synchronize();
    const a = nowMs();
    for (let i = 0; i < calls; i++) f();
    const issued = nowMs() - a;
    s4.synchronize();
    return { us: ((nowMs() - a) / calls) * 1e3, issuedUs: (issued / calls) * 1e3 };
  };
  return {
    name: 'single-token stepping, batch 1, H 256, N 64',
    run() {
      const fill = rate(() => addon.fill(one.handle, 0, 1)) /* raw positional export */;
      const step = rate(() => st.step(u, y));
      console.log(`  fill of one float: ${fill.us.toFixed(2)} us/call (host issues in ${fill.issuedUs.toFixed(2)} us)`);
      console.log(`  stepper.step(u, out): ${step.us.toFixed(2)} us/call (host issues in ${step.issuedUs.toFixed(2)} us), ${(1e6 / step.us / 1e3).toFixed(0)} k tokens/s`);
      st.dispose();
      s4.dispose(u, y, one);
    },
  };
}

const cases = {
  step1: () => stepCase(),
  block1k: () => blockCase(16, 256, 1024),
  block4k: () => blockCase(16, 256, 4096),
  block16k: () => blockCase(4, 256, 16384),
  model: () => modelCase(),
  small: () => blockCase(2, 16, 64),
};
const names = which === 'all' ? ['block1k', 'block4k', 'block16k', 'model'] : which.split(',');
for (const n of names) {
  const c = cases[n]();
  if (c.run) {
    console.log(`\n== ${c.name} (${s4.backend()})`);
    c.run();
  } else profile(c);
}
