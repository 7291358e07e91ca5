/** The device the suite runs on: S4_BACKEND (cpu in `npm test`, cuda in `npm run test:gpu`). */
import * as s4 from '../../lib/index';

export const device: s4.DeviceName = s4.backend();
export const onGpu = device === 'cuda';

/**
 * Relative L2 tolerance of a kernel's float32 result against its float64 definition: CUDA
 * computes in float32 throughout (cuFFT too); the CPU backend keeps its intermediates in double.
 */
export const TOL_VS_FLOAT64 = onGpu ? 1e-4 : 1e-5;

// The benchmarks' random generator and error measure, so that tests and benchmarks check alike.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const common = require('../../bench/node/common') as {
  rng(seed: number): () => number;
  relL2(got: ArrayLike<number>, want: ArrayLike<number>): number;
};

/**
 * ||a - b|| / ||b|| (||a - b|| where b is all zeros); NaN or Inf anywhere gives Infinity, so
 * NaN never passes; arrays of different lengths throw.
 */
export const relL2: (a: ArrayLike<number>, b: ArrayLike<number>) => number = common.relL2;

/** Deterministic uniform [-1, 1) values (mulberry32). */
export function randomValues(n: number, seed: number): Float32Array {
  const next = common.rng(seed);
  return Float32Array.from({ length: n }, () => next() * 2 - 1);
}
