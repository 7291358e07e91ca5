#!/usr/bin/env node
'use strict';
/**
 * fftConv on CUDA for long rows: the two-pass shared-memory kernels (switch 'fused', the
 * default) against the cuFFT pipeline (switch 'cufft'), in one process, with the byte floor
 * of each shape. Forward, and forward + backward (grads of u, k and d); before timing, each
 * shape checks that the two paths agree (relative L2 of y and of du).
 *
 *   npm run build:ts && node bench/fftconv_long.js [--out FILE.json] [--bw BYTES_PER_S]
 *
 * The floor is the bytes an op must move at least (float32): forward reads u and k and
 * writes y; backward reads dy, u and k and writes du and dk; divided by --bw (default
 * 3.35e12, an H100 SXM's HBM3).
 */
const fs = require('node:fs');
const path = require('node:path');
const { loadS4, timeIt, rng, randn, relL2 } = require('./node/common');

const SHAPES = [
  { B: 4, H: 256, L: 16384 },
  { B: 2, H: 256, L: 32768 },
  { B: 1, H: 256, L: 65536 },
];
const TIMING = { warmup: 2, reps: 7, minReps: 3, maxInner: 20, minRepMs: 20, maxCaseS: 2 };

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function main() {
  const s4 = loadS4();
  // the switch is a core export of the addon (lib/native/binding.ts)
  const { core } = require(path.join(path.dirname(require.resolve(process.env.S4_BENCH_PKG || path.resolve(__dirname, '..', 'dist', 'index.js'))), 'native', 'binding.js'));
  if (s4.backend() !== 'cuda') throw new Error('fftconv_long needs the cuda backend');
  const bw = Number(arg('--bw', '3.35e12'));
  const outFile = arg('--out', null);
  const setPath = (p) => core.setFftConvPath(p);
  const results = [];
  console.log(`device: ${core.cudaInfo().name}; floor at ${(bw / 1e12).toFixed(2)} TB/s`);
  try {
    for (const { B, H, L } of SHAPES) {
      const rand = rng(5);
      const u = s4.tensor(randn(rand, B * H * L), [B, H, L], { requiresGrad: true });
      const k = s4.tensor(randn(rand, H * L, 1 / Math.sqrt(L)), [H, L], { requiresGrad: true });
      const d = s4.tensor(randn(rand, H), [H], { requiresGrad: true });
      const G = s4.tensor(randn(rng(9), B * H * L), [B, H, L]);
      const leaves = [u, k, d];
      const fwd = () => s4.noGrad(() => s4.tidy(() => void s4.ops.fftConv(u, k, d)));
      const step = () => {
        s4.tidy(() => s4.ops.fftConv(u, k, d).backward(G));
        s4.zeroGrad(leaves);
      };
      const outputs = () => {
        const y = s4.noGrad(() => s4.tidy(() => s4.ops.fftConv(u, k, d).dataSync()));
        s4.tidy(() => s4.ops.fftConv(u, k, d).backward(G));
        const du = u.grad.dataSync();
        s4.zeroGrad(leaves);
        return { y, du };
      };
      setPath('cufft');
      const ref = outputs();
      setPath('fused');
      const got = outputs();
      const check = { y: relL2(got.y, ref.y), du: relL2(got.du, ref.du) };
      const fwdBytes = 4 * (2 * B * H * L + H * L);
      const bwdBytes = 4 * (4 * B * H * L + 2 * H * L);
      const floor = { fwd: (fwdBytes / bw) * 1e3, 'fwd+bwd': ((fwdBytes + bwdBytes) / bw) * 1e3 };
      for (const mode of ['fwd', 'fwd+bwd']) {
        const row = { B, H, L, mode, floorMs: floor[mode], check };
        for (const p of ['cufft', 'fused']) {
          setPath(p);
          row[p] = timeIt(s4, mode === 'fwd' ? fwd : step, TIMING).ms.median;
        }
        setPath('fused');
        results.push(row);
        console.log(
          `(${B}, ${H}, ${L}) ${mode.padEnd(7)}: cufft ${row.cufft.toFixed(3)} ms, fused ${row.fused.toFixed(3)} ms ` +
            `(${(row.cufft / row.fused).toFixed(2)}x), floor ${row.floorMs.toFixed(3)} ms; ` +
            `fused vs cufft relL2 y ${check.y.toExponential(2)}, du ${check.du.toExponential(2)}`,
        );
      }
      s4.dispose(u, k, d, G);
      s4.emptyCache();
    }
  } finally {
    setPath('fused');
  }
  if (outFile) fs.writeFileSync(outFile, JSON.stringify({ device: core.cudaInfo().name, bw, results }, null, 1));
}

main();
