'use strict';
/**
 * Soak: 20,000 training steps of a small SequenceModel (synchronous steps in tidy scopes,
 * as the Trainer runs them, without yielding), logging RSS, s4.memory() and the CUDA pool
 * every 1,000 steps, then a verdict on RSS and GPU memory growth after the first 1,000.
 * Not part of CI. Needs the built package (npm run build:ts).
 *
 *   S4_BACKEND=cuda node bench/serving/soak.js [--steps 20000] [--every 1000] [--shape 16,64,256]
 */
const { loadS4 } = require('../node/common');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : process.argv[i + 1];
}

function main() {
  const s4 = loadS4();
  s4.setBackend(process.env.S4_BACKEND || s4.backend());
  const device = s4.backend();
  const steps = Number(arg('steps', '20000'));
  const every = Number(arg('every', '1000'));
  const [B, H, L] = arg('shape', '16,64,256').split(',').map(Number);
  const model = new s4.nn.SequenceModel({ dInput: H, dModel: H, nLayers: 4, dState: 64, dOutput: 10, lMax: L, dropout: 0.1, pool: 'mean', seed: 1, device });
  const opt = new s4.optim.AdamW(model.parameterGroups({ lr: 1e-3, weightDecay: 0.01, ssmLr: 1e-3 }));
  const x = s4.tensor(Float32Array.from({ length: B * H * L }, (_, i) => Math.sin(i * 0.37)), [B, H, L], { device });
  const labels = s4.tensor(Float32Array.from({ length: B }, (_, i) => i % 10), [B], { device });
  const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
  const rows = [];
  const t0 = Date.now();
  for (let step = 1; step <= steps; step++) {
    s4.tidy(() => {
      const loss = s4.ops.crossEntropy(model.forward(x), labels);
      loss.backward();
      opt.step();
      opt.zeroGrad();
    });
    if (step % every === 0) {
      s4.synchronize();
      const m = s4.memory();
      const row = { step, seconds: (Date.now() - t0) / 1000, rssMiB: mib(process.memoryUsage().rss), heapMiB: mib(process.memoryUsage().heapUsed), cpuTensors: m.cpu.tensors, cpuMiB: mib(m.cpu.bytes), cudaTensors: m.cuda.tensors, cudaMiB: mib(m.cuda.bytes), cudaPoolMiB: mib(m.cuda.reservedBytes) };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  const base = rows.find((r) => r.step >= 1000) ?? rows[0];
  const last = rows[rows.length - 1];
  if (base && last) {
    console.log(JSON.stringify({
      device,
      rssGrowthAfterFirst1000: (last.rssMiB - base.rssMiB) / base.rssMiB,
      cudaPoolGrowthMiB: last.cudaPoolMiB - base.cudaPoolMiB,
      tensorsFlat: rows.every((r) => r.cpuTensors === base.cpuTensors && r.cudaTensors === base.cudaTensors),
    }));
  }
  model.dispose();
  opt.dispose();
  s4.dispose(x, labels);
}

main();
