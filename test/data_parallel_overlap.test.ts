/**
 * DataParallel's gradient buckets started during the backward pass (option overlap, the
 * default): 2 and 3 ranks (separate models and trainers in this process, TCP group) with
 * small buckets equal one process on the same global batch, and equal the same run without
 * overlap bit for bit; buckets really start before allReduceGradients with overlap and only
 * after it without. Parameters without a gradient (unused in the loss, or a rank with no
 * backward at all) count as zeros without deadlock; gradients read asynchronously (as CUDA
 * gradients are) give the same sums; two backward passes in one step are refused with
 * overlap and accumulate without it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { GradientBuckets } from '../lib/distributed/grad_buckets';
import { TcpTransport } from '../lib/distributed/tcp_transport';
import { Module } from '../lib/nn/module';
import type { Tensor } from '../lib/tensor/tensor';
import { device, randomValues, relL2 } from './helpers/device';
import { groups } from './helpers/dist';

const { DataParallel } = s4.distributed;
let open: s4.distributed.ProcessGroup[] = [];
afterEach(async () => {
  await Promise.all(open.map((g) => g.close()));
  open = [];
});

// 33 examples in batches of 16: uneven parts, and a last batch of 1 that leaves ranks without examples.
const task = s4.train.createTask('sine', { trainSize: 33, testSize: 16, length: 12 });
const build = (seed: number) => s4.train.buildModel(task, { nLayers: 2, dModel: 8, dState: 8, dropout: 0.2, seed, device }).model as s4.nn.SequenceModel;
// About 200 floats a bucket: the model's parameters fill many buckets.
const SMALL_BUCKETS_MB = 800 / 2 ** 20;

interface Run {
  losses: number[];
  params: Float32Array[];
  /** Per step, how many buckets started before allReduceGradients was called. */
  earlyStarts: number[];
  buckets: number;
}

async function single(): Promise<Run> {
  const model = build(1);
  const trainer = new s4.Trainer({ model, task, batchSize: 16, epochs: 2, seed: 3 });
  const losses: number[] = [];
  trainer.on('step', (e) => losses.push(e.loss));
  await trainer.fit();
  const params = model.parameters().map((p) => p.dataSync());
  model.dispose();
  return { losses, params, earlyStarts: [], buckets: 0 };
}

async function parallel(worldSize: number, overlap: boolean): Promise<Run[]> {
  const gs = await groups(worldSize);
  open = gs;
  return Promise.all(
    gs.map(async (g) => {
      const model = build(1 + 100 * g.rank);
      const dp = await DataParallel.create(model, g, { backend: 'tcp', bucketMb: SMALL_BUCKETS_MB, overlap });
      expect(dp.overlap).toBe(overlap);
      // Count the buckets started before each allReduceGradients (that is, during the backward pass).
      const earlyStarts: number[] = [];
      let starts = 0;
      let total = 0;
      const transport = dp.transport;
      const startSum = transport.startSum.bind(transport);
      transport.startSum = (tensors: readonly Tensor[]) => {
        starts++;
        total++;
        return startSum(tensors);
      };
      const allReduce = dp.allReduceGradients.bind(dp);
      dp.allReduceGradients = () => {
        earlyStarts.push(starts);
        const done = allReduce();
        starts = 0;
        return done;
      };
      const trainer = new s4.Trainer({ model, task, batchSize: 16, epochs: 2, seed: 3, distributed: dp });
      const losses: number[] = [];
      trainer.on('step', (e) => losses.push(e.loss));
      await trainer.fit();
      const params = model.parameters().map((p) => p.dataSync());
      dp.close();
      model.dispose();
      return { losses, params, earlyStarts, buckets: total / earlyStarts.length };
    }),
  );
}

/** A module with three parameters of 5, 7 and 3 values; forward uses those `use` names. */
class Three extends Module {
  constructor(seed: number) {
    super();
    this.registerParameter('a', s4.tensor(randomValues(5, seed), [5], { device }));
    this.registerParameter('b', s4.tensor(randomValues(7, seed + 1), [7], { device }));
    this.registerParameter('c', s4.tensor(randomValues(3, seed + 2), [3], { device }));
  }

  /** sum(w * p) over the used parameters p, with weights w = rank + 1. */
  loss(use: string[], w: number): Tensor {
    return use.map((n) => s4.ops.scale(s4.ops.sum(s4.ops.mul(this.param(n), this.param(n))), w)).reduce((x, y) => s4.ops.add(x, y));
  }
}

describe(`DataParallel with the all-reduce overlapping the backward pass (${device})`, () => {
  for (const W of [2, 3]) {
    it(`${W} ranks equal one process, and the run without overlap bit for bit`, async () => {
      const want = await single();
      const on = await parallel(W, true);
      const off = await parallel(W, false);
      for (let r = 0; r < W; r++) {
        expect(on[r].losses.length).toBe(want.losses.length);
        on[r].losses.forEach((l, i) => expect(Math.abs(l - want.losses[i]), `rank ${r}: loss at step ${i + 1}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want.losses[i]))));
        on[r].params.forEach((p, i) => expect(relL2(p, want.params[i]), `rank ${r}: parameter ${i}`).toBeLessThan(1e-4));
        expect(on[r].losses).toEqual(off[r].losses);
        on[r].params.forEach((p, i) => expect(p, `rank ${r}: parameter ${i}`).toEqual(off[r].params[i]));
        on[r].params.forEach((p, i) => expect(p).toEqual(on[0].params[i]));
      }
      // Rank 0 has examples in every step: with overlap every bucket starts during its backward pass.
      const buckets = on[0].buckets;
      expect(buckets).toBeGreaterThan(5);
      expect(on[0].earlyStarts).toEqual(on[0].earlyStarts.map(() => buckets));
      // The last rank has none in the last step of each epoch: its buckets start afterwards.
      expect(on[W - 1].earlyStarts.filter((n) => n === 0).length).toBe(2);
      for (const r of off) expect(r.earlyStarts.every((n) => n === 0)).toBe(true);
    }, 120_000);
  }

  it('parameters without a gradient count as zeros: unused in the loss, or a rank without backward', async () => {
    for (const overlap of [true, false]) {
      const gs = await groups(3);
      open = gs;
      // Rank 0 uses a and c, rank 1 only c, rank 2 runs no backward. One bucket per parameter:
      // c (registered last) comes first, then b, which no rank gives a gradient, then a.
      const got = await Promise.all(
        gs.map(async (g) => {
          const m = new Three(10 + g.rank);
          const dp = await DataParallel.create(m, g, { backend: 'tcp', bucketMb: 16 / 2 ** 20, overlap });
          const use = [['a', 'c'], ['c'], []][g.rank];
          if (use.length > 0) s4.tidy(() => m.loss(use, g.rank + 1).backward());
          await dp.allReduceGradients();
          const grads = m.parameters().map((p) => Array.from(p.grad!.dataSync()));
          dp.close();
          const values = m.parameters().map((p) => Array.from(p.dataSync()));
          m.dispose();
          return { grads, values };
        }),
      );
      // d/dp of w * sum(p * p) is 2 w p; the ranks hold rank 0's values after create().
      const [a, , c] = got[0].values;
      const want = [a.map((v) => 2 * v), new Array<number>(7).fill(0), c.map((v) => 2 * v + 4 * v)];
      for (const r of got) r.grads.forEach((g, i) => expect(relL2(g, want[i]), `overlap ${overlap}: parameter ${i}`).toBeLessThan(1e-6));
      await Promise.all(gs.map((g) => g.close()));
      open = [];
    }
  }, 60_000);

  it('gradients read by asynchronous downloads (the CUDA path) give the same sums', async () => {
    const gs = await groups(2);
    open = gs;
    const sums = await Promise.all(
      gs.map(async (g) => {
        const out: number[][][] = [];
        for (const readLater of [false, true]) {
          const m = new Three(3);
          const b = new GradientBuckets(m.parameters(), 16, new TcpTransport(g, { readLater }), true);
          s4.tidy(() => m.loss(['a', 'b', 'c'], g.rank + 1).backward());
          await b.finish();
          out.push(m.parameters().map((p) => Array.from(p.grad!.dataSync())));
          b.close();
          m.dispose();
        }
        return out;
      }),
    );
    for (const [now, later] of sums) expect(later).toEqual(now);
    expect(sums[1]).toEqual(sums[0]);
    const m = new Three(3);
    const twice = m.parameters().map((p) => Array.from(p.dataSync(), (v) => 2 * v * 3));
    sums[0][0].forEach((g, i) => expect(relL2(g, twice[i])).toBeLessThan(1e-6));
    m.dispose();
  });

  it('two backward passes in one step are refused with overlap and accumulate without it', async () => {
    const [g] = await groups(1);
    open = [g];
    const m = new Three(5);
    const dp = await DataParallel.create(m, g, { backend: 'tcp', bucketMb: 16 / 2 ** 20 });
    // A second one with overlap would start buckets from the same backward passes.
    await expect(DataParallel.create(m, g, { backend: 'tcp' })).rejects.toThrow(/another DataParallel of this model is open with overlap.*close\(\) it first/);
    s4.tidy(() => m.loss(['a'], 1).backward());
    expect(() => s4.tidy(() => m.loss(['a'], 1).backward())).toThrow(/DataParallel: the gradient of parameter .*\[5\] was completed twice before allReduceGradients\(\).*overlap: false/);
    await dp.allReduceGradients();
    m.zeroGrad();
    // The next step works as usual.
    s4.tidy(() => m.loss(['a'], 1).backward());
    await dp.allReduceGradients();
    const a = m.param('a');
    expect(relL2(a.grad!.dataSync(), Array.from(a.dataSync(), (v) => 2 * v))).toBeLessThan(1e-6);
    dp.close();
    m.zeroGrad();
    const off = await DataParallel.create(m, g, { backend: 'tcp', overlap: false });
    s4.tidy(() => m.loss(['a'], 1).backward());
    s4.tidy(() => m.loss(['a'], 1).backward());
    await off.allReduceGradients();
    expect(relL2(a.grad!.dataSync(), Array.from(a.dataSync(), (v) => 4 * v))).toBeLessThan(1e-6);
    off.close();
    await expect(DataParallel.create(m, g, { overlap: 1 as unknown as boolean })).rejects.toThrow(/DataParallel: option 'overlap' must be true or false/);
    m.dispose();
  });
});
