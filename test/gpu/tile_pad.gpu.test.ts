/**
 * ops.tile and ops.pad on CUDA against the CPU backend: forward and gradient, bit for bit
 * (copies, and sums of copies in double in the same order), float32 and complex64, L = 1,
 * 7, 784 and a large case. Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { describe, it } from 'vitest';
import * as s4 from '../../lib/index';
import { expectCpuGpuEqual } from '../helpers/cpu_gpu_parity';

const { ops } = s4;

describe('tile and pad on CUDA vs CPU', () => {
  it('tile: every axis, float32 and complex64, L = 1, 7, 784, a large case', () => {
    for (const shape of [[1], [7], [3, 784], [2, 5, 7], [64, 4096]]) {
      for (let axis = 0; axis < shape.length; axis++) {
        expectCpuGpuEqual(shape, (x) => ops.tile(x, 3, axis), 'float32', axis + 1, `tile [${shape}] axis ${axis}`);
        expectCpuGpuEqual(shape, (x) => ops.tile(x, 2, axis), 'complex64', axis + 5, `tile complex [${shape}] axis ${axis}`);
      }
    }
  });

  it('pad: L = 1, 7, 784, 5000', () => {
    for (const L of [1, 7, 784, 5000]) {
      expectCpuGpuEqual([3, 4, L], (x) => ops.pad(x, 1, 0), 'float32', L, `pad L ${L}`);
      expectCpuGpuEqual([2, L], (x) => ops.pad(x, 3, 70), 'float32', L + 1, `pad L ${L} both sides`);
    }
  });
});
