/** Token-by-token runs of the allocation-free step paths (Stepper, S4Layer, SequenceModel). */
import { expect } from 'vitest';
import * as s4 from '../../lib/index';
import { core } from '../../lib/native/binding';

/** Column t of x [R, T] as [R]. */
export function column(x: Float32Array, R: number, T: number, t: number): Float32Array {
  return Float32Array.from({ length: R }, (_, r) => x[r * T + t]);
}

/**
 * Feeds the T columns of x [u.size, T] through step(u, out) one token at a time, checking
 * that each call returns `out` and that the whole loop allocates no tensor; the outputs as
 * [out.size, T].
 */
export function stepColumns(x: Float32Array, T: number, u: s4.Tensor, out: s4.Tensor, step: (u: s4.Tensor, out: s4.Tensor) => s4.Tensor): Float32Array {
  const got = new Float32Array(out.size * T);
  const before = s4.memory()[u.device].tensors;
  for (let t = 0; t < T; t++) {
    core.write(u.handle, column(x, u.size, T, t));
    expect(step(u, out)).toBe(out);
    const v = out.dataSync();
    for (let r = 0; r < out.size; r++) got[r * T + t] = v[r];
  }
  expect(s4.memory()[u.device].tensors, 'no tensor allocated per token').toBe(before);
  return got;
}

/** stepColumns with new input and output buffers of the given shapes on `device`, freed after. */
export function feed(step: (u: s4.Tensor, out: s4.Tensor) => s4.Tensor, x: Float32Array, inShape: number[], outShape: number[], T: number, device: s4.DeviceName): Float32Array {
  const u = s4.zeros(inShape, { device });
  const out = s4.zeros(outShape, { device });
  try {
    return stepColumns(x, T, u, out, step);
  } finally {
    s4.dispose(u, out);
  }
}
