/**
 * Child process of the RSS test: small synchronous training steps (no await between them)
 * in tidy scopes; prints RSS after a collection at steps 1,000 and 5,000 as JSON. Run with
 * node --expose-gc: gc() frees the JS wrappers, but only the event loop would run the
 * finalizers of native handles, so what a step leaves to them still shows.
 */
import * as s4 from '../../lib/index';

const steps = Number(process.argv[2] ?? 5000);
const layers = [new s4.nn.Linear(8, 16, { seed: 1 }), new s4.nn.Linear(16, 16, { seed: 2 }), new s4.nn.Linear(16, 8, { seed: 3 })];
const params = layers.flatMap((l) => l.parameters());
const opt = new s4.optim.AdamW(params, { lr: 1e-3, weightDecay: 0 });
const x = s4.tensor(Float32Array.from({ length: 4 * 8 }, (_, i) => Math.sin(i)), [4, 8]);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('rss_child: run node with --expose-gc');
const rss: Record<number, number> = {};
for (let step = 1; step <= steps; step++) {
  s4.tidy(() => {
    let h = x;
    for (const l of layers) h = s4.ops.gelu(l.forward(h));
    s4.ops.mse(h, x).backward();
    opt.step();
    opt.zeroGrad();
  });
  if (step === 1000 || step === steps) {
    gc();
    rss[step] = process.memoryUsage().rss;
  }
}
console.log(JSON.stringify({ rss, tensors: s4.memory().cpu.tensors }));
