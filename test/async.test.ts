/**
 * Async calls (lib/tensor/async.ts, native/binding/cpu_stream.h): forwardAsync, stepAsync
 * and data() give the values of their synchronous twins, keep the event loop turning,
 * cancel with an AbortError, keep issue order with synchronous work, and leak nothing.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { randomValues, relL2 } from './helpers/device';

// The CPU backend's async calls (recorded ops run on the addon's threads); the GPU suite
// runs this file too, and test/gpu/async.gpu.test.ts covers CUDA.
s4.setBackend('cpu');

function model(opts: Partial<s4.nn.SequenceModelOptions> & { dModel: number; lMax: number }): s4.nn.SequenceModel {
  const m = new s4.nn.SequenceModel({ dInput: 3, nLayers: 2, dState: 8, dOutput: 5, dropout: 0, seed: 7, ...opts });
  m.eval();
  return m;
}

const tensors = (): number => s4.memory().cpu.tensors;

/** Counts turns of the event loop until `p` settles. */
async function turnsWhile<T>(p: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = (): void => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { value: await p, turns };
  } finally {
    done = true;
  }
}

describe('async calls', () => {
  it('model.forwardAsync equals forward (features and tokens, L = 1, 7, 784)', async () => {
    for (const [L, pool, embedding] of [[1, 'mean', undefined], [7, 'none', undefined], [784, 'last', undefined], [7, 'none', 11]] as const) {
      const m = model({ dModel: 8, lMax: L, pool, embedding });
      const x = embedding
        ? s4.tensor(Float32Array.from({ length: 2 * L }, (_, i) => (i * 5) % embedding), [2, L])
        : s4.tensor(randomValues(2 * 3 * L, L), [2, 3, L]);
      const start = tensors();
      const want = s4.tidy(() => s4.noGrad(() => m.forward(x)));
      const got = await m.forwardAsync(x);
      expect(got.shape).toEqual(want.shape);
      expect(relL2(await got.data(), want.dataSync())).toBe(0);
      s4.dispose(got, want);
      expect(tensors()).toBe(start);
      m.dispose();
      x.dispose();
    }
  });

  it('layer.forwardAsync equals forward; no gradient is recorded', async () => {
    const layer = new s4.nn.S4Layer({ dModel: 6, dState: 8, lMax: 33, dropout: 0, seed: 3 });
    layer.eval();
    const u = s4.tensor(randomValues(2 * 6 * 33, 9), [2, 6, 33]);
    const want = s4.tidy(() => s4.noGrad(() => layer.forward(u)));
    const got = await layer.forwardAsync(u);
    expect(got.requiresGrad).toBe(false);
    expect(relL2(got.dataSync(), want.dataSync())).toBe(0);
    s4.dispose(got, want, u);
    layer.dispose();
  });

  it('stepAsync equals step, token by token, for a model and a layer stepper', async () => {
    const m = model({ dModel: 8, lMax: 16, pool: 'none', embedding: 9 });
    const a = m.stepper({ batch: 3 });
    const b = m.stepper({ batch: 3 });
    for (let t = 0; t < 7; t++) {
      const tok = s4.tensor([t % 9, (2 * t) % 9, (3 * t + 1) % 9], [3]);
      const want = a.step(tok);
      const got = await b.stepAsync(tok);
      expect(relL2(got.dataSync(), want.dataSync())).toBe(0);
      s4.dispose(tok, want, got);
    }
    expect(b.position).toBe(7);
    a.dispose();
    b.dispose();
    m.dispose();
    const layer = new s4.nn.S4Layer({ dModel: 4, dState: 8, lMax: 16, dropout: 0, seed: 2 });
    const la = layer.stepper({ batch: 2 });
    const lb = layer.stepper({ batch: 2 });
    // Issued back to back without awaiting: the steps run in issue order.
    const us = [0, 1, 2].map((t) => s4.tensor(randomValues(8, 40 + t), [2, 4]));
    const pending = us.map((u) => lb.stepAsync(u));
    for (const [t, u] of us.entries()) {
      const want = la.step(u);
      expect(relL2((await pending[t]).dataSync(), want.dataSync())).toBe(0);
      want.dispose();
    }
    for (const p of pending) (await p).dispose();
    s4.dispose(us);
    la.dispose();
    lb.dispose();
    layer.dispose();
  });

  it('the event loop keeps turning during a long CPU forwardAsync, not during forward', async () => {
    const L = 2048;
    const m = model({ dModel: 32, lMax: L, pool: 'mean', nLayers: 3 });
    const x = s4.tensor(randomValues(4 * 3 * L, 1), [4, 3, L]);
    const sync = await turnsWhile(Promise.resolve(s4.tidy(() => s4.noGrad(() => m.forward(x)))));
    expect(sync.turns).toBe(0);
    const async = await turnsWhile(m.forwardAsync(x));
    expect(async.turns).toBeGreaterThan(2);
    expect(relL2(async.value.dataSync(), sync.value.dataSync())).toBe(0);
    s4.dispose(sync.value, async.value, x);
    m.dispose();
  });

  it('cancellation rejects with an AbortError and frees what the call made', async () => {
    const L = 1024;
    const m = model({ dModel: 32, lMax: L, pool: 'mean', nLayers: 3 });
    const x = s4.tensor(randomValues(2 * 3 * L, 2), [2, 3, L]);
    const start = tensors();
    const pre = new AbortController();
    pre.abort();
    await expect(m.forwardAsync(x, { signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const ac = new AbortController();
    const p = m.forwardAsync(x, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    const custom = new AbortController();
    const q = m.forwardAsync(x, { signal: custom.signal });
    custom.abort(new Error('client went away'));
    await expect(q).rejects.toThrow('client went away');
    expect(tensors()).toBe(start);
    await expect(m.forwardAsync(x, { signal: 'soon' as never })).rejects.toThrow(/option 'signal' must be an AbortSignal/);
    // The stream still works after cancelled jobs.
    const y = await m.forwardAsync(x);
    const want = s4.tidy(() => s4.noGrad(() => m.forward(x)));
    expect(relL2(y.dataSync(), want.dataSync())).toBe(0);
    s4.dispose(x, y, want);
    m.dispose();
  });

  it('errors of the recorded ops reject the Promise with the op error; reads inside a call throw', async () => {
    const logits = s4.tensor(randomValues(6, 3), [2, 3]);
    const bad = s4.tensor([0, 7], [2]);
    const start = tensors();
    await expect(s4.runAsync(() => s4.ops.crossEntropy(logits, bad))).rejects.toThrow(RangeError);
    await expect(s4.runAsync(() => s4.ops.crossEntropy(logits, bad))).rejects.toThrow(/argument 'labels' must hold integer class indices/);
    await expect(s4.runAsync(() => s4.ops.sum(logits).item())).rejects.toThrow(/inside an async call/);
    await expect(s4.runAsync(() => s4.ops.sum(logits).dataSync())).rejects.toThrow(/inside an async call/);
    expect(tensors()).toBe(start);
    // A synchronous op after an async call that is still running waits for it.
    const p = s4.runAsync(() => s4.ops.scale(logits, 2));
    const z = s4.ops.scale(logits, 1);
    const y = await p;
    expect(Array.from(y.dataSync())).toEqual(Array.from(logits.dataSync(), (v) => 2 * v));
    s4.dispose(logits, bad, y, z);
  });

  it('data() copies off the JS thread: right values, in issue order, after dispose', async () => {
    const n = 1 << 16;
    const v = randomValues(n, 5);
    const t = s4.tensor(v, [n]);
    const doubled = s4.runAsync(() => s4.ops.scale(t, 2));
    const y = await doubled;
    const read = y.data();
    y.dispose(); // the copy holds the buffer
    const got = await read;
    expect(got.length).toBe(n);
    expect(relL2(got, Array.from(v, (a) => 2 * a))).toBe(0);
    const many = await Promise.all(Array.from({ length: 8 }, () => t.data()));
    for (const m of many) expect(relL2(m, v)).toBe(0);
    expect(await s4.tensor([], [0]).data()).toEqual(new Float32Array(0));
    t.dispose();
  });
});
