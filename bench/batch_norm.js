#!/usr/bin/env node
'use strict';
/**
 * batchNorm timings, ours and PyTorch's nn.BatchNorm1d side by side: training forward
 * (statistics, running update, normalize) and forward + backward, on [B, H, L] shapes up to
 * B L in the millions, with the memory traffic each implies at least (forward 12 bytes an
 * element: x read twice, y written; forward + backward 32) as GB/s. First a check against
 * the CPU backend. Needs the built package (npm run build:ts, or S4_BENCH_PKG) and, for the
 * PyTorch column, python3 with torch (bench/torch_batch_norm.py; --no-torch skips it).
 *
 *   node bench/batch_norm.js [--backend cuda|cpu] [--no-torch] [--quick]
 *
 * --quick: one small shape (a smoke run of the script itself).
 */
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { loadS4, timeIt, rng, randn, relL2 } = require('./node/common');

const SHAPES = [
  [16, 256, 1024],
  [16, 256, 4096],
  [64, 128, 1024],
  [4, 1024, 16384],
  [256, 64, 4096],
  [8, 512, 4096],
];
const QUICK = [[4, 32, 1000]];
const TIMING = { warmup: 3, reps: 15, minReps: 5, minRepMs: 20, maxInner: 200, maxCaseS: 3 };

function main() {
  const args = process.argv.slice(2);
  const backend = args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'cuda';
  const shapes = args.includes('--quick') ? QUICK : SHAPES;
  const s4 = loadS4();
  s4.setBackend(backend);
  check(s4);
  const torch = args.includes('--no-torch') ? null : torchTimes(backend, shapes);
  console.log(`batchNorm on ${backend}: ms (GB/s at the minimum traffic)${torch ? ', PyTorch nn.BatchNorm1d alongside' : ''}`);
  for (const [B, H, L] of shapes) {
    const n = B * H * L;
    const rand = rng(B + H + L);
    const x = s4.tensor(randn(rand, n), [B, H, L], { requiresGrad: true });
    const w = s4.tensor(new Float32Array(H).fill(1), [H], { requiresGrad: true });
    const b = s4.tensor(new Float32Array(H), [H], { requiresGrad: true });
    const rm = s4.zeros([H]);
    const rv = s4.tensor(new Float32Array(H).fill(1), [H]);
    const g = s4.tensor(randn(rand, n), [B, H, L]);
    const opts = { training: true, runningMean: rm, runningVar: rv };
    const fwd = s4.noGrad(() => timeIt(s4, () => s4.tidy(() => void s4.ops.batchNorm(x, w, b, opts)), TIMING)).ms.median;
    const both = timeIt(s4, () => {
      s4.tidy(() => s4.ops.batchNorm(x, w, b, opts).backward(g));
      s4.zeroGrad([x, w, b]);
    }, TIMING).ms.median;
    const gbs = (bytes, ms) => ((bytes * n) / ms / 1e6).toFixed(0);
    const key = `${B}x${H}x${L}`;
    const t = torch && torch[key];
    console.log(
      `  [${B}, ${H}, ${L}]  fwd ${fwd.toPrecision(3)} ms (${gbs(12, fwd)} GB/s)  fwd+bwd ${both.toPrecision(3)} ms (${gbs(32, both)} GB/s)` +
        (t ? `   torch: fwd ${t.fwd.toPrecision(3)} ms, fwd+bwd ${t.both.toPrecision(3)} ms` : ''),
    );
    s4.dispose(x, w, b, rm, rv, g);
  }
}

/** The device result against the CPU backend on one shape (outputs and gradients). */
function check(s4) {
  const [B, H, L] = [8, 96, 3001];
  const rand = rng(3);
  const xv = randn(rand, B * H * L, 3).map((v) => v + 100);
  const gv = randn(rand, B * H * L);
  const run = (device) => {
    const x = s4.tensor(xv, [B, H, L], { device, requiresGrad: true });
    const rm = s4.zeros([H], { device });
    const rv = s4.zeros([H], { device });
    const y = s4.tidy(() => {
      const out = s4.ops.batchNorm(x, null, null, { training: true, runningMean: rm, runningVar: rv });
      out.backward(s4.tensor(gv, [B, H, L], { device }));
      return out.dataSync();
    });
    const r = [y, x.grad.dataSync(), rm.dataSync(), rv.dataSync()];
    s4.dispose(x, rm, rv);
    return r;
  };
  const dev = s4.backend();
  const a = run(dev);
  const c = run('cpu');
  const errs = a.map((v, i) => relL2(v, c[i]));
  if (!errs.every((e) => e < 1e-4)) throw new Error(`batchNorm on ${dev} differs from the CPU backend: relative L2 ${errs.join(', ')}`);
  console.log(`check vs CPU (out, dx, running mean, running var): ${errs.map((e) => e.toExponential(1)).join(', ')}`);
}

/** PyTorch's times by shape key, or null when python3/torch are not there. */
function torchTimes(backend, shapes) {
  const r = spawnSync('python3', [path.join(__dirname, 'torch_batch_norm.py'), backend, JSON.stringify(shapes)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) {
    console.log(`(PyTorch column skipped: ${(r.stderr || r.error || '').toString().trim().split('\n').pop()})`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

main();
