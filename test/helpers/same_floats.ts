/**
 * Bit-for-bit equality of float arrays (NaN payloads and -0 included), failing with the
 * first index that differs and both values.
 */
import { expect } from 'vitest';

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

export function expectSameFloats(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  const g = bits(got);
  const w = bits(want);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) expect(`${what}[${i}] = ${got[i]}`).toBe(`${what}[${i}] = ${want[i]}`);
}
