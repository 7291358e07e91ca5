/**
 * ops.tile and ops.pad on CUDA against the CPU backend: forward and gradient, bit for bit
 * (copies, and sums of copies in double in the same order), float32 and complex64, L = 1,
 * 7, 784 and a large case. Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { randomValues, relL2 } from '../helpers/device';

const { ops } = s4;
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function parity(shape: number[], f: (x: s4.Tensor) => s4.Tensor, dtype: 'float32' | 'complex64', seed: number, label: string): void {
  const per = dtype === 'complex64' ? 2 : 1;
  const xv = randomValues(sizeOf(shape) * per, seed);
  const run = (device: 'cpu' | 'cuda') => {
    const x = s4.Tensor.fromFloats(xv, shape, dtype, device);
    x.requiresGrad = true;
    const y = s4.tidy(() => {
      const out = f(x);
      const real = out.dtype === 'complex64' ? ops.realPart(out) : out;
      const W = s4.tensor(randomValues(real.size, seed + 1), real.shape as number[], { device });
      ops.sum(ops.mul(real, W)).backward();
      return out.dataSync();
    });
    const g = x.grad!.dataSync();
    x.dispose();
    return { y, g };
  };
  const cpu = run('cpu');
  const gpu = run('cuda');
  expect(relL2(gpu.y, cpu.y), `${label}: forward`).toBe(0);
  expect(relL2(gpu.g, cpu.g), `${label}: gradient`).toBe(0);
}

describe('tile and pad on CUDA vs CPU', () => {
  it('tile: every axis, float32 and complex64, L = 1, 7, 784, a large case', () => {
    for (const shape of [[1], [7], [3, 784], [2, 5, 7], [64, 4096]]) {
      for (let axis = 0; axis < shape.length; axis++) {
        parity(shape, (x) => ops.tile(x, 3, axis), 'float32', axis + 1, `tile [${shape}] axis ${axis}`);
        parity(shape, (x) => ops.tile(x, 2, axis), 'complex64', axis + 5, `tile complex [${shape}] axis ${axis}`);
      }
    }
  });

  it('pad: L = 1, 7, 784, 5000', () => {
    for (const L of [1, 7, 784, 5000]) {
      parity([3, 4, L], (x) => ops.pad(x, 1, 0), 'float32', L, `pad L ${L}`);
      parity([2, L], (x) => ops.pad(x, 3, 70), 'float32', L + 1, `pad L ${L} both sides`);
    }
  });
});
