/**
 * Streaming generation (lib/nn/generate.ts): greedy tokens equal argmax of the
 * convolutional forward over the growing sequence, sampled tokens equal the synchronous
 * stepper with the same draws, sequences do not depend on their batch, continuous models
 * feed their outputs back, and cancelling or leaving the loop early frees everything.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { randomValues, relL2 } from './helpers/device';

const V = 11;

function tokenModel(): s4.nn.SequenceModel {
  const m = new s4.nn.SequenceModel({ embedding: V, dModel: 16, nLayers: 2, dState: 8, dOutput: V, lMax: 64, dropout: 0, pool: 'none', seed: 3 });
  m.eval();
  return m;
}

async function collect(it: AsyncIterable<s4.nn.GenerationStep>): Promise<s4.nn.GenerationStep[]> {
  const out: s4.nn.GenerationStep[] = [];
  for await (const s of it) out.push(s);
  return out;
}

const tensors = (): number => s4.memory().cpu.tensors;

describe('model.generate', () => {
  it('greedy tokens equal argmax of forward over the growing sequences (batch of 2, odd prompt)', async () => {
    const m = tokenModel();
    const prompt = [[1, 4, 2, 9, 0, 3, 7], [5, 5, 1, 0, 10, 2, 6]];
    const start = tensors();
    const steps = await collect(m.generate(prompt, { maxTokens: 6, temperature: 0 }));
    expect(tensors()).toBe(start);
    expect(steps.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const seqs = prompt.map((r) => [...r]);
    for (let i = 0; i < 6; i++) {
      const L = seqs[0].length;
      const logits = s4.tidy(() => s4.noGrad(() => m.forward(s4.tensor(seqs.flat(), [2, L]))).dataSync());
      for (let b = 0; b < 2; b++) {
        let best = 0;
        for (let c = 1; c < V; c++) if (logits[(b * V + c) * L + L - 1] > logits[(b * V + best) * L + L - 1]) best = c;
        expect(steps[i].tokens![b]).toBe(best);
        seqs[b].push(best);
      }
    }
    // topK 1 is greedy whatever the temperature.
    const top1 = await collect(m.generate(prompt, { maxTokens: 6, temperature: 2, topK: 1, seed: 4 }));
    expect(top1.map((s) => s.tokens)).toEqual(steps.map((s) => s.tokens));
    m.dispose();
  });

  it('sampled tokens equal the synchronous stepper with the same draws; rows do not depend on their batch', async () => {
    const m = tokenModel();
    const prompt = [[3], [8]];
    const opts = { maxTokens: 9, temperature: 0.8, topK: 4 };
    const got = await collect(m.generate(prompt, { ...opts, seed: 10 }));
    const st = m.stepper({ batch: 2 });
    const rngs = [new s4.nn.Rng(10), new s4.nn.Rng(11)];
    let input = [3, 8];
    for (let i = 0; i < 9; i++) {
      const scores = s4.tidy(() => st.step(s4.tensor(input, [2])).dataSync());
      input = rngs.map((rng, b) => s4.nn.sampleIndex(scores, b * V, V, 0.8, rng, 4));
      expect(got[i].tokens).toEqual(input);
    }
    st.dispose();
    const alone = await collect(m.generate([[8]], { ...opts, seed: [11] }));
    expect(alone.map((s) => s.tokens![0])).toEqual(got.map((s) => s.tokens![1]));
    m.dispose();
  });

  it('a continuous model yields its output vectors and feeds them back', async () => {
    const m = new s4.nn.SequenceModel({ dInput: 3, dModel: 8, nLayers: 1, dState: 8, dOutput: 3, lMax: 32, dropout: 0, pool: 'none', seed: 2 });
    m.eval();
    const P = 5;
    const pv = randomValues(2 * 3 * P, 6);
    const prompt = s4.tensor(pv, [2, 3, P]);
    const got = await collect(m.generate(prompt, { maxTokens: 4 }));
    const st = m.stepper({ batch: 2 });
    let y: Float32Array<ArrayBufferLike> = new Float32Array(6);
    for (let t = 0; t < P; t++) {
      const col = Float32Array.from({ length: 6 }, (_, i) => pv[i * P + t]);
      y = s4.tidy(() => st.step(s4.tensor(col, [2, 3])).dataSync());
    }
    for (let i = 0; i < 4; i++) {
      expect(relL2([...got[i].values![0], ...got[i].values![1]], y)).toBe(0);
      const next = y;
      y = s4.tidy(() => st.step(s4.tensor(next, [2, 3])).dataSync());
    }
    st.dispose();
    prompt.dispose();
    m.dispose();
  });

  it('cancelling between tokens rejects with an AbortError; leaving the loop early frees the stepper', async () => {
    const m = tokenModel();
    const start = tensors();
    const ac = new AbortController();
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const s of m.generate([[1, 2]], { maxTokens: 50, signal: ac.signal, seed: 1 })) {
          seen.push(s.index);
          if (s.index === 2) ac.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([0, 1, 2]);
    expect(tensors()).toBe(start);
    for await (const s of m.generate([[1, 2]], { maxTokens: 50, seed: 1 })) if (s.index === 3) break;
    expect(tensors()).toBe(start);
    m.dispose();
  });

  it('rejects bad prompts and options with errors that name them', async () => {
    const m = tokenModel();
    const first = (p: unknown, o: object) => m.generate(p as number[][], { maxTokens: 2, ...o }).next();
    await expect(first([[1, 11]], {})).rejects.toThrow(/argument 'prompt'\[0\]\[1\] must be a token id in \[0, 11\)/);
    await expect(first([[1, 2], [3]], {})).rejects.toThrow(/rows must have one length/);
    await expect(first([], {})).rejects.toThrow(/at least one sequence/);
    await expect(first('hi', {})).rejects.toThrow(TypeError);
    await expect(first([[1]], { maxTokens: 0 })).rejects.toThrow(/maxTokens/);
    await expect(first([[1]], { temperature: -1 })).rejects.toThrow(/temperature/);
    await expect(first([[1], [2]], { seed: [1] })).rejects.toThrow(/one number per sequence \(2\)/);
    const pooled = new s4.nn.SequenceModel({ embedding: V, dModel: 8, nLayers: 1, dState: 8, dOutput: 3, lMax: 16, pool: 'mean' });
    await expect(pooled.generate([[1]], { maxTokens: 1 }).next()).rejects.toThrow(/pool 'none'/);
    expect(s4.memory()[s4.backend()].tensors).toBeGreaterThan(0);
    pooled.dispose();
    m.dispose();
  });
});
