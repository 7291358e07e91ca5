#!/usr/bin/env node
'use strict';
/**
 * The products of an S4 block's output linear (linearChannels, x [B, H, L] -> [B, 2H, L]) on
 * each CUDA GEMM engine: cuBLAS FP32 (the default), our 3xTF32 tensor-core kernel and cuBLAS
 * on plain TF32 (s4.setGemmBackend). Per shape and product (forward y_b = W x_b; dx_b = W^T
 * dy_b; dW = sum_b dy_b x_b^T, a batch-reduce): ms, TFLOP/s, and the ratio to the FP32
 * floor (the time at the GPU's FP32 peak, --fp32-peak TFLOP/s, 67 for an H100/H200 SXM);
 * then the relative L2 error of each engine against float64 on sampled outputs of the
 * smallest shape. Needs the built package (npm run build:ts, or S4_BENCH_PKG) and a GPU.
 *
 *   node bench/gemm_3xtf32.js [--fp32-peak 67] [--quick]
 *
 * --quick: one small shape (a smoke run of the script itself).
 */
const path = require('node:path');
const { loadS4, timeIt, rng, randn } = require('./node/common');

const H = 256;
const SHAPES = [
  [16, H, 1024],
  [16, H, 4096],
  [16, H, 16384],
];
const QUICK = [[2, 64, 256]];
const ENGINES = ['cublas', '3xtf32', 'tf32'];
const TIMING = { warmup: 2, reps: 10, minReps: 3, minRepMs: 20, maxInner: 50, maxCaseS: 1 };
// Sampled outputs per product for the error against float64.
const SAMPLES = 256;

/** The raw native ops of the package loadS4 loads (the products without the autograd layer). */
function nativeOps() {
  const entry = process.env.S4_BENCH_PKG || path.resolve(__dirname, '..', 'dist', 'index.js');
  return require(path.join(path.dirname(require.resolve(entry)), 'native', 'binding.js')).ops;
}

function main() {
  const args = process.argv.slice(2);
  const peak = args.includes('--fp32-peak') ? Number(args[args.indexOf('--fp32-peak') + 1]) : 67;
  if (!(peak > 0)) throw new Error(`--fp32-peak must be a positive number of TFLOP/s (got ${args[args.indexOf('--fp32-peak') + 1]})`);
  const shapes = args.includes('--quick') ? QUICK : SHAPES;
  const s4 = loadS4();
  const ops = nativeOps();
  s4.setBackend('cuda');
  const initial = s4.ops.gemmInfo('cuda').mode;
  const info = s4.info();
  console.log(`GEMM engines on ${info.gpu ? info.gpu.name : 'cuda'}; FP32 floor at ${peak} TFLOP/s`);
  console.log('shape              product   engine    ms        TFLOP/s   x floor');
  const errors = [];
  try {
    for (const [B, h, L] of shapes) {
      const o = 2 * h;
      const r = rng(7);
      const xv = randn(r, B * h * L);
      const wv = randn(r, o * h, 1 / Math.sqrt(h));
      const dyv = randn(r, B * o * L);
      const on = { device: 'cuda' };
      const x = s4.tensor(xv, [B, h, L], on);
      const w = s4.tensor(wv, [o, h], on);
      const dy = s4.tensor(dyv, [B, o, L], on);
      const y = s4.zeros([B, o, L], on);
      const dx = s4.zeros([B, h, L], on);
      const dw = s4.zeros([o, h], on);
      const sizes = { B, H: h, L, O: o };
      const products = {
        forward: () => ops.linearChannelsForward({ x: x.handle, weight: w.handle, bias: null, out: y.handle, ...sizes }),
        dx: () => ops.linearChannelsBackward({ gradOut: dy.handle, x: x.handle, weight: w.handle, gradX: dx.handle, gradWeight: null, gradBias: null, ...sizes }),
        dw: () => ops.linearChannelsBackward({ gradOut: dy.handle, x: x.handle, weight: w.handle, gradX: null, gradWeight: dw.handle, gradBias: null, ...sizes }),
      };
      const flops = 2 * B * o * h * L;
      const label = `B=${B} H=${h} L=${L}`.padEnd(19);
      for (const [name, fn] of Object.entries(products)) {
        for (const engine of ENGINES) {
          s4.setGemmBackend(engine);
          const t = timeIt(s4, fn, TIMING).ms.median;
          const tflops = flops / (t * 1e-3) / 1e12;
          const floorMs = (flops / (peak * 1e12)) * 1e3;
          const note = engineNote(s4, engine);
          console.log(`${label}${name.padEnd(10)}${engine.padEnd(10)}${t.toFixed(3).padEnd(10)}${tflops.toFixed(1).padEnd(10)}${(t / floorMs).toFixed(2)}${note}`);
        }
      }
      if (L === shapes[0][2] && B === shapes[0][0]) {
        for (const engine of ENGINES) {
          s4.setGemmBackend(engine);
          for (const fn of Object.values(products)) fn();
          errors.push([engine, sampledErrors(xv, wv, dyv, y.dataSync(), dx.dataSync(), dw.dataSync(), B, h, L, o)]);
        }
      }
      s4.dispose(x, w, dy, y, dx, dw);
    }
  } finally {
    s4.setGemmBackend(initial);
  }
  console.log(`relative L2 error against float64 (${SAMPLES} sampled outputs per product, shape ${shapes[0].join(' x ')}):`);
  for (const [engine, e] of errors) {
    console.log(`  ${engine.padEnd(8)} forward ${e.forward.toExponential(2)}  dx ${e.dx.toExponential(2)}  dw ${e.dw.toExponential(2)}`);
  }
}

/** '' when the engine asked for is the one that runs, else what runs instead and why. */
function engineNote(s4, engine) {
  const g = s4.ops.gemmInfo('cuda');
  const runs = engine === 'tf32' ? (g.tf32 ? 'tf32' : g.gemm) : g.gemm;
  return runs === engine ? '' : `  (runs ${runs}: ${g.reason})`;
}

/** ||got - want|| / ||want|| over SAMPLES entries of y, dx and dW, each recomputed in float64. */
function sampledErrors(xv, wv, dyv, y, dx, dw, B, h, L, o) {
  const r = rng(99);
  const pick = (n) => Math.min(n - 1, Math.floor(r() * n));
  const err = (pairs) => {
    let num = 0;
    let den = 0;
    for (const [got, want] of pairs) {
      num += (got - want) ** 2;
      den += want * want;
    }
    return Math.sqrt(num / den);
  };
  const fwd = [];
  const dxs = [];
  const dws = [];
  for (let s = 0; s < SAMPLES; s++) {
    const b = pick(B);
    const l = pick(L);
    const oi = pick(o);
    const hi = pick(h);
    let sy = 0;
    for (let k = 0; k < h; k++) sy += wv[oi * h + k] * xv[(b * h + k) * L + l];
    fwd.push([y[(b * o + oi) * L + l], sy]);
    let sx = 0;
    for (let k = 0; k < o; k++) sx += wv[k * h + hi] * dyv[(b * o + k) * L + l];
    dxs.push([dx[(b * h + hi) * L + l], sx]);
    if (s < SAMPLES / 8) {
      let sw = 0;
      for (let bb = 0; bb < B; bb++) for (let ll = 0; ll < L; ll++) sw += dyv[(bb * o + oi) * L + ll] * xv[(bb * h + hi) * L + ll];
      dws.push([dw[oi * h + hi], sw]);
    }
  }
  return { forward: err(fwd), dx: err(dxs), dw: err(dws) };
}

main();
