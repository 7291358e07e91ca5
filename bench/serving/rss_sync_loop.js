'use strict';
/**
 * RSS of a synchronous training loop (no await between steps), every 500 steps, to find
 * what makes it grow while s4.memory() stays flat. Needs the built package (npm run build:ts).
 *
 *   node bench/serving/rss_sync_loop.js [--steps 5000] [--yield] [--gc] [--shape B,H,L] [--every 500]
 *
 * --yield awaits setImmediate after each step (lets finalizers run); --gc calls gc() every
 * report (run node with --expose-gc); --shape sizes the model input (default 4,16,64: the
 * small steps of the probe; 8,128,1024 is its large case). Prints one JSON line per report.
 */
const { loadS4 } = require('../node/common');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : process.argv[i + 1];
}
const flag = (name) => process.argv.includes(`--${name}`);

async function main() {
  const s4 = loadS4();
  s4.setBackend(process.env.S4_BACKEND || 'cpu');
  const steps = Number(arg('steps', '5000'));
  const every = Number(arg('every', '500'));
  const [B, H, L] = arg('shape', '4,16,64').split(',').map(Number);
  const yieldEach = flag('yield');
  const doGc = flag('gc') && typeof global.gc === 'function';
  const model = new s4.nn.SequenceModel({ dInput: H, dModel: H, nLayers: 2, dState: 16, dOutput: H, lMax: L, dropout: 0.1, pool: 'none', seed: 1 });
  const opt = new s4.optim.AdamW(model.parameterGroups({ lr: 1e-3, weightDecay: 0, ssmLr: 1e-3 }));
  const x = s4.tensor(Float32Array.from({ length: B * H * L }, (_, i) => Math.sin(i)), [B, H, L]);
  const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
  const report = (step) => {
    if (doGc) global.gc();
    const m = s4.memory();
    console.log(JSON.stringify({ step, rssMiB: mib(process.memoryUsage().rss), externalMiB: mib(process.memoryUsage().external), heapMiB: mib(process.memoryUsage().heapUsed), cpuBuffers: m.cpu.buffers, cpuMiB: mib(m.cpu.bytes), cudaBuffers: m.cuda.buffers, cudaReservedMiB: mib(m.cuda.reservedBytes ?? 0) }));
  };
  let first = 0;
  for (let step = 1; step <= steps; step++) {
    s4.tidy(() => {
      const y = model.forward(x);
      const loss = s4.ops.mse(y, x);
      loss.backward();
      opt.step();
      opt.zeroGrad();
    });
    if (step === 1000) first = process.memoryUsage().rss;
    if (step % every === 0) report(step);
    if (yieldEach) await new Promise((r) => setImmediate(r));
  }
  if (first) console.log(JSON.stringify({ growthAfter1000: (process.memoryUsage().rss - first) / first }));
  model.dispose();
  opt.dispose();
  x.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
