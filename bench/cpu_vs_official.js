#!/usr/bin/env node
'use strict';
/**
 * The CPU backend against the official S4 on PyTorch CPU, side by side on this machine:
 * S4 block forward and forward+backward at (4,64,1024), (8,128,1024), (2,64,4096) with
 * N = 64 and (16,32,784) with N = 32, and a training step of the small Fashion-MNIST model
 * (B 16, L 784, 2 layers, H 32, N 32, AdamW). Both sides use the same number of threads
 * (default 2; --threads n), median of several calls, wall-clock milliseconds.
 *
 *   S4REF=<folder with the official models/s4> node bench/cpu_vs_official.js [--threads 2]
 *
 * Needs `npm run build:ts` (it loads dist/) and python3 with torch (and einops, scipy).
 */
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const argv = process.argv.slice(2);
const threads = argv.includes('--threads') ? Number(argv[argv.indexOf('--threads') + 1]) : 2;
process.env.S4_CPU_THREADS = String(threads);
process.env.S4_BACKEND = 'cpu';
const s4 = require(path.join(__dirname, '..', 'dist', 'index.js'));
const { rng, randn } = require('./node/common');

function medianMs(fn, reps = 7, warm = 2) {
  for (let i = 0; i < warm; i++) fn();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const a = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  return t.sort((x, y) => x - y)[t.length >> 1];
}

function blockCase(B, H, L, N) {
  const layer = new s4.nn.S4Layer({ dModel: H, dState: N, lMax: L, kernel: 'dplr', init: 'legs', dropout: 0, seed: 1 });
  const u = s4.tensor(randn(rng(4), B * H * L), [B, H, L], { requiresGrad: true });
  const g = s4.tensor(randn(rng(8), B * H * L), [B, H, L]);
  const leaves = [...layer.parameters(), u];
  const fwd = medianMs(() => s4.tidy(() => s4.noGrad(() => void layer.forward(u))));
  const fb = medianMs(() => {
    s4.tidy(() => layer.forward(u).backward(g));
    s4.zeroGrad(leaves);
  }, 5);
  layer.dispose();
  s4.dispose(u, g);
  return { fwd, fwdBwd: fb };
}

function trainStepCase() {
  const B = 16, L = 784;
  const model = new s4.nn.SequenceModel({ dInput: 1, dModel: 32, nLayers: 2, dState: 32, dOutput: 10, lMax: L, dropout: 0.1, pool: 'mean', seed: 1 });
  const opt = new s4.optim.AdamW(model.parameterGroups({ lr: 0.01, weightDecay: 0.01 }), { lr: 0.01 });
  const x = s4.tensor(randn(rng(3), B * L), [B, 1, L]);
  const labels = s4.tensor(Float32Array.from({ length: B }, (_, i) => i % 10), [B]);
  model.train();
  const ms = medianMs(() => {
    s4.tidy(() => s4.ops.crossEntropy(model.forward(x), labels).backward());
    opt.step();
    opt.zeroGrad();
  }, 5);
  model.dispose();
  s4.dispose(x, labels);
  return ms;
}

const shapes = [[4, 64, 1024, 64], [8, 128, 1024, 64], [2, 64, 4096, 64], [16, 32, 784, 32]];
const ours = { blocks: {}, trainStep: 0 };
for (const [B, H, L, N] of shapes) ours.blocks[`${B},${H},${L}`] = blockCase(B, H, L, N);
ours.trainStep = trainStepCase();

let official = null;
if (process.env.S4REF) {
  const r = spawnSync('python3', [path.join(__dirname, 'official_cpu.py'), String(threads)], { encoding: 'utf8', env: process.env });
  if (r.status === 0) official = JSON.parse(r.stdout.trim().split('\n').pop());
  else console.error(`official S4 run failed: ${r.stderr.slice(-800)}`);
} else {
  console.error('S4REF is not set: the official column is left out');
}

const f = (v) => (v === undefined ? '-' : v.toFixed(v < 10 ? 2 : 1));
const ratio = (o, w) => (o === undefined ? '-' : `${(o / w).toFixed(2)}x`);
console.log(`CPU, ${threads} threads, ${s4.info().gemm ? '' : ''}FFT ${require(path.join(__dirname, '..', 'dist', 'native', 'binding.js')).core.nnInfo('cpu').fft}${official ? `; PyTorch ${official.torch}` : ''}`);
console.log('| case | ours (ms) | official S4 (ms) | ours faster by |');
console.log('|---|---|---|---|');
for (const [B, H, L, N] of shapes) {
  const k = `${B},${H},${L}`;
  const o = official && official.blocks[k];
  console.log(`| block fwd (${k}), N ${N} | ${f(ours.blocks[k].fwd)} | ${f(o && o.fwd)} | ${ratio(o && o.fwd, ours.blocks[k].fwd)} |`);
  console.log(`| block fwd+bwd (${k}), N ${N} | ${f(ours.blocks[k].fwdBwd)} | ${f(o && o.fwdBwd)} | ${ratio(o && o.fwdBwd, ours.blocks[k].fwdBwd)} |`);
}
console.log(`| training step (B 16, L 784, 2 x 32, N 32) | ${f(ours.trainStep)} | ${f(official && official.trainStep)} | ${ratio(official && official.trainStep, ours.trainStep)} |`);
