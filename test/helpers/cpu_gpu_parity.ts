/** Bit-for-bit CUDA against CPU checks of copy-like ops (slice, tile, pad). */
import { expect } from 'vitest';
import * as s4 from '../../lib/index';
import { randomValues, relL2 } from './device';

const { ops } = s4;
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Runs f on both devices with the same random x (seed), backpropagating sum(real(f(x)) * W),
 * and expects the CUDA output and gradient to equal the CPU ones exactly; the CUDA output.
 */
export function expectCpuGpuEqual(shape: number[], f: (x: s4.Tensor) => s4.Tensor, dtype: 'float32' | 'complex64', seed: number, label: string): Float32Array {
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
  return gpu.y;
}
