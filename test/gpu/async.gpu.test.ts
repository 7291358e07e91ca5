/**
 * Async calls on CUDA: forwardAsync and stepAsync launch as usual and wait for the stream
 * on a worker thread; their values equal the synchronous calls on CUDA and the CPU backend;
 * data() of a CUDA tensor equals dataSync(); cancellation and leaks as on the CPU.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { randomValues, relL2 } from '../helpers/device';

function pair(L: number): { cpu: s4.nn.SequenceModel; cuda: s4.nn.SequenceModel } {
  const opts = { dInput: 3, dModel: 32, nLayers: 2, dState: 16, dOutput: 5, lMax: L, dropout: 0, pool: 'none' as const, seed: 4 };
  const cpu = new s4.nn.SequenceModel({ ...opts, device: 'cpu' });
  const cuda = new s4.nn.SequenceModel({ ...opts, device: 'cuda' });
  cpu.eval();
  cuda.eval();
  return { cpu, cuda };
}

describe('async calls on CUDA', () => {
  it('forwardAsync equals forward on CUDA and the CPU result (L = 1, 7, 784)', async () => {
    for (const L of [1, 7, 784]) {
      const { cpu, cuda } = pair(L);
      const v = randomValues(2 * 3 * L, L);
      const xc = s4.tensor(v, [2, 3, L], { device: 'cpu' });
      const xg = s4.tensor(v, [2, 3, L], { device: 'cuda' });
      const start = s4.memory().cuda.tensors;
      const sync = s4.tidy(() => s4.noGrad(() => cuda.forward(xg)));
      const got = await cuda.forwardAsync(xg);
      const ref = await cpu.forwardAsync(xc);
      const gotValues = await got.data();
      expect(relL2(gotValues, sync.dataSync())).toBe(0);
      expect(relL2(gotValues, ref.dataSync())).toBeLessThan(1e-4);
      s4.dispose(sync, got);
      expect(s4.memory().cuda.tensors).toBe(start);
      s4.dispose(ref, xc, xg);
      cpu.dispose();
      cuda.dispose();
    }
  });

  it('stepAsync on CUDA equals step; a cancelled call rejects with an AbortError', async () => {
    const { cpu, cuda } = pair(16);
    const a = cuda.stepper({ batch: 2 });
    const b = cuda.stepper({ batch: 2 });
    for (let t = 0; t < 5; t++) {
      const u = s4.tensor(randomValues(6, 10 + t), [2, 3], { device: 'cuda' });
      const want = a.step(u);
      const got = await b.stepAsync(u);
      expect(relL2(await got.data(), want.dataSync())).toBe(0);
      s4.dispose(u, want, got);
    }
    const ac = new AbortController();
    ac.abort();
    const x = s4.tensor(randomValues(2 * 3 * 16, 1), [2, 3, 16], { device: 'cuda' });
    await expect(cuda.forwardAsync(x, { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    s4.dispose(x);
    a.dispose();
    b.dispose();
    cpu.dispose();
    cuda.dispose();
  });

  it('generate on CUDA gives the tokens of generate on the CPU (greedy, batch of 3)', async () => {
    const opts = { embedding: 13, dModel: 32, nLayers: 2, dState: 16, dOutput: 13, lMax: 64, dropout: 0, pool: 'none' as const, seed: 6 };
    const cpu = new s4.nn.SequenceModel({ ...opts, device: 'cpu' });
    const cuda = new s4.nn.SequenceModel({ ...opts, device: 'cuda' });
    cpu.eval();
    cuda.eval();
    const prompt = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 0, 1, 2]];
    const run = async (m: s4.nn.SequenceModel): Promise<number[][]> => {
      const out: number[][] = [];
      for await (const s of m.generate(prompt, { maxTokens: 12, temperature: 0 })) out.push(s.tokens!);
      return out;
    };
    const start = s4.memory().cuda.tensors;
    expect(await run(cuda)).toEqual(await run(cpu));
    expect(s4.memory().cuda.tensors).toBe(start);
    cpu.dispose();
    cuda.dispose();
  });
});
