/**
 * Data-parallel training through NCCL on one GPU, one rank: the Trainer with a DataParallel
 * whose gradients go through NCCL takes the same steps as the plain Trainer (losses and
 * parameters), and 'auto' picks NCCL for a CUDA model when it loads. The several-GPU runs
 * are bench/dist_scaling.js and test/gpu/nccl_two_ranks.gpu.test.ts (two GPUs).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { relL2 } from '../helpers/device';
import { ncclMissing, useNcclFromEnvOrPython } from '../helpers/nccl_path';

useNcclFromEnvOrPython();

const task = s4.train.createTask('sine', { trainSize: 40, testSize: 16, length: 32 });
const build = () => s4.train.buildModel(task, { nLayers: 2, dModel: 16, dState: 8, dropout: 0.1, seed: 4, device: 'cuda' }).model;

async function train(dp: boolean): Promise<{ losses: number[]; params: Float32Array[]; backend?: string }> {
  const model = build();
  const group = dp ? await s4.distributed.ProcessGroup.connect({ rank: 0, worldSize: 1, masterPort: 0 }) : null;
  const distributed = group ? await s4.distributed.DataParallel.create(model, group) : undefined;
  const trainer = new s4.Trainer({ model, task, batchSize: 8, epochs: 2, seed: 1, distributed });
  const losses: number[] = [];
  trainer.on('step', (e) => losses.push(e.loss));
  await trainer.fit();
  const params = model.parameters().map((p) => p.dataSync());
  const backend = distributed?.backend;
  distributed?.close();
  await group?.close();
  model.dispose();
  return { losses, params, backend };
}

describe('DataParallel through NCCL (one GPU)', () => {
  it("one rank through NCCL takes the plain run's steps", async () => {
    const info = s4.distributed.ncclInfo();
    if (!info.loaded) throw ncclMissing(info.reason);
    const plain = await train(false);
    const dp = await train(true);
    expect(dp.backend).toBe('nccl');
    expect(dp.losses.length).toBe(plain.losses.length);
    dp.losses.forEach((l, i) => expect(Math.abs(l - plain.losses[i]), `step ${i + 1}`).toBeLessThan(1e-5 * Math.max(1, plain.losses[i])));
    dp.params.forEach((p, i) => expect(relL2(p, plain.params[i]), `parameter ${i}`).toBeLessThan(1e-5));
  });
});
