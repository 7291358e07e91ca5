/** The device the suite runs on: S4_BACKEND (cpu in `npm test`, cuda in `npm run test:gpu`). */
import * as s4 from '../../lib/index';

export const device: s4.DeviceName = s4.backend();
export const onGpu = device === 'cuda';

/** ||a - b|| / ||b||; NaN or Inf anywhere gives Infinity, so NaN never passes. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relL2: lengths differ (${a.length} vs ${b.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  if (!Number.isFinite(num) || !Number.isFinite(den)) return Infinity;
  if (den === 0) return Math.sqrt(num);
  return Math.sqrt(num / den);
}

/** Deterministic uniform [-1, 1) values (mulberry32). */
export function randomValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
