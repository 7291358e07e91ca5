/**
 * Variable-length batches on CUDA: the padding-aware ops against the CPU backend (forward
 * and gradient, lengths 1, 7, 784 and rows longer than a warp's), and the masked model's
 * padded batch against each example alone. Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import type { Tensor } from '../../lib/index';
import { randomValues, relL2 } from '../helpers/device';
import { someLengths } from '../helpers/masked_ref';
import { PADDED_CASES, paddedVersusAlone } from '../helpers/padded';

const { ops } = s4;

const OPS: [string, (x: Tensor, n: Tensor) => Tensor][] = [
  ['lengthMask', (x, n) => ops.lengthMask(x, n)],
  ['maskedMeanPool', (x, n) => ops.maskedMeanPool(x, n)],
  ['maskedLastPool', (x, n) => ops.maskedLastPool(x, n)],
];

function run(device: 'cpu' | 'cuda', op: (x: Tensor, n: Tensor) => Tensor, xv: Float32Array, lengths: number[], shape: number[]) {
  const x = s4.tensor(xv, shape, { device, requiresGrad: true });
  const n = s4.tensor(Float32Array.from(lengths), [shape[0]], { device });
  const y = s4.tidy(() => {
    const out = op(x, n);
    ops.sum(ops.mul(out, s4.tensor(randomValues(out.size, 4), out.shape as number[], { device }))).backward();
    return out.dataSync();
  });
  const g = x.grad!.dataSync();
  s4.dispose(x, n);
  return { y, g };
}

describe('variable-length batches on CUDA', () => {
  it('lengthMask, maskedMeanPool, maskedLastPool match the CPU (forward and gradient)', () => {
    for (const [name, op] of OPS) {
      for (const [B, H, L] of [[1, 1, 1], [3, 65, 7], [4, 33, 784], [2, 9, 5000]]) {
        const lengths = someLengths(B, L, H);
        const xv = randomValues(B * H * L, L + H);
        const cpu = run('cpu', op, xv, lengths, [B, H, L]);
        const gpu = run('cuda', op, xv, lengths, [B, H, L]);
        expect(relL2(gpu.y, cpu.y), `${name} [${B}, ${H}, ${L}] forward`).toBeLessThan(1e-4);
        expect(relL2(gpu.g, cpu.g), `${name} [${B}, ${H}, ${L}] gradient`).toBeLessThan(1e-4);
      }
    }
  });

  it('lengths outside [0, L] read clamped as on the CPU', () => {
    const [B, H, L] = [4, 3, 40];
    const xv = randomValues(B * H * L, 2);
    const lengths = [-3, 1e9, NaN, 2.7];
    for (const [name, op] of OPS) {
      expect(relL2(run('cuda', op, xv, lengths, [B, H, L]).y, run('cpu', op, xv, lengths, [B, H, L]).y), name).toBeLessThan(1e-6);
    }
  });

  it('a Trainer epoch on variable-length data gives the CPU losses on CUDA', async () => {
    const inputs = Array.from({ length: 96 }, (_, i) => Array.from(randomValues(1 + ((i * 29) % 300), i)));
    const labels = inputs.map((v) => (v[0] > 0 ? 1 : 0));
    const ds = s4.data.fromArrays(inputs, labels);
    const task: s4.train.Task = {
      name: 'jsonl',
      kind: 'classify',
      train: ds,
      test: ds,
      model: { dInput: 1, dOutput: 2, pool: 'mean', lMax: 320 },
      recipe: { ...s4.train.RECIPES.jsonl, nLayers: 2, dModel: 16, dState: 8, bidirectional: true },
      options: {},
    };
    const run = async (device: 'cpu' | 'cuda') => {
      const { model } = s4.train.buildModel(task, { seed: 1, device });
      const t = new s4.Trainer({ model, task, batchSize: 16, epochs: 1, seed: 2 });
      const losses: number[] = [];
      t.on('step', (e) => losses.push(e.loss));
      const res = await t.fit();
      model.dispose();
      t.optimizer.dispose();
      return { losses, test: res.test!.loss };
    };
    const cpu = await run('cpu');
    const gpu = await run('cuda');
    expect(gpu.losses.length).toBe(6);
    gpu.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]), `step ${i + 1}`).toBeLessThan(1e-3 * Math.abs(cpu.losses[i]) + 1e-5));
    expect(Math.abs(gpu.test - cpu.test)).toBeLessThan(1e-3 * Math.abs(cpu.test) + 1e-5);
  });

  for (const c of PADDED_CASES) {
    it(`a padded batch equals each example run alone: ${c.name}`, () => {
      expect(paddedVersusAlone(c, 'cuda')).toBeLessThan(1e-4);
    });
  }
});
