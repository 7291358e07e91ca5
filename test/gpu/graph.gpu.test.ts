/**
 * CUDA graph capture: captured ops do not run until the graph is launched, each launch runs
 * them again, an op that allocates is refused without leaving the stream capturing, and a
 * model stepper's captured tokens equal its replayed ones and the convolutional forward.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { core, ops } from '../../lib/native/binding';
import { randomTokens } from '../helpers/model_input';
import { randomValues, relL2 } from '../helpers/device';
import { thrownBy } from '../helpers/throws';

const cuda = { device: 'cuda' as const };

describe('captureGraph on CUDA', () => {
  it('records launches without running them; each launch runs them', () => {
    const a = s4.tensor([1, 2, 3], [3], cuda);
    const acc = s4.zeros([3], cuda);
    const g = core.captureGraph(() => {
      ops.axpby({ out: acc.handle, a: acc.handle, alpha: 1, b: a.handle, beta: 2, n: 3 });
    });
    expect(Array.from(acc.dataSync())).toEqual([0, 0, 0]);
    core.launchGraph(g);
    core.launchGraph(g);
    expect(Array.from(acc.dataSync())).toEqual([4, 8, 12]);
    s4.dispose(a, acc);
  });

  it('refuses an op that allocates, and the stream works afterwards', () => {
    const logits = s4.tensor(randomValues(12, 1), [3, 4], cuda);
    const labels = s4.tensor([0, 1, 3], [3], cuda);
    const e = thrownBy(() => core.captureGraph(() => void s4.ops.crossEntropy(logits, labels)));
    expect(e).toBeInstanceOf(RangeError);
    expect((e as Error).message).toMatch(/during a graph capture/);
    const loss = s4.tidy(() => s4.ops.crossEntropy(logits, labels).item());
    expect(Number.isFinite(loss)).toBe(true);
    s4.dispose(logits, labels);
  });

  it('an error thrown inside fn ends the capture and is rethrown', () => {
    const e = thrownBy(() =>
      core.captureGraph(() => {
        throw new Error('boom');
      }),
    );
    expect((e as Error).message).toBe('boom');
    const t = s4.tidy(() => s4.ops.add(s4.tensor([1], [1], cuda), s4.tensor([2], [1], cuda)).dataSync());
    expect(Array.from(t)).toEqual([3]);
  });
});

describe('model stepper as one CUDA graph', () => {
  const cases: [string, s4.nn.SequenceModelOptions, number][] = [
    ['post-norm, mean pool', { dInput: 3, dModel: 40, nLayers: 3, dState: 16, dOutput: 5, lMax: 64, pool: 'mean' }, 2],
    ['pre-norm, tokens, no pool', { embedding: 50, dModel: 33, nLayers: 2, dState: 8, dOutput: 50, lMax: 64, prenorm: true, pool: 'none' }, 3],
    ['diag, batch 1, last pool', { dInput: 1, dModel: 128, nLayers: 4, dState: 64, dOutput: 10, kernel: 'diag', pool: 'last' }, 1],
  ];
  for (const [name, o, B] of cases) {
    it(`captured tokens equal replayed tokens (${name})`, () => {
      const m = new s4.nn.SequenceModel({ ...o, seed: 3, device: 'cuda' }).eval();
      const graphed = m.stepper({ batch: B });
      const plain = m.stepper({ batch: B, cudaGraph: false });
      const width = o.embedding ? 0 : o.dInput!;
      const T = 24;
      let worst = 0;
      for (let t = 0; t < T; t++) {
        const x = o.embedding
          ? s4.tensor(randomTokens(B, o.embedding, 10 + t), [B], cuda)
          : s4.tensor(randomValues(B * width, 10 + t), [B, width], cuda);
        const a = s4.tidy(() => graphed.step(x).dataSync());
        const b = s4.tidy(() => plain.step(x).dataSync());
        worst = Math.max(worst, relL2(a, b));
        x.dispose();
      }
      expect(graphed.captured).toBe(true);
      expect(plain.captured).toBe(false);
      // The same kernels on the same buffers: equal to float32 rounding of nothing.
      expect(worst).toBeLessThan(1e-6);
      graphed.reset();
      expect(graphed.position).toBe(0);
      graphed.dispose();
      plain.dispose();
      m.dispose();
    });
  }
});
