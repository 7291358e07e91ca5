/** The raw native residualNorm forward, shared by the CPU test and its CUDA counterpart. */
import * as s4 from '../../lib/index';
import { ops as native } from '../../lib/native/binding';

/** The native forward (no w, b, zBias or dropout; eps 1e-3, normalizing) of z [B, 2H, L] and x [B, H, L] on `device`: out, mean and rstd. */
export function residualNormRaw(zv: Float32Array, xv: Float32Array, B: number, H: number, L: number, device: s4.DeviceName): Float32Array[] {
  return s4.tidy(() => {
    const z = s4.tensor(zv, [B, 2 * H, L], { device });
    const x = s4.tensor(xv, [B, H, L], { device });
    const o = s4.zeros([B, H, L], { device });
    const m = s4.zeros([B, L], { device });
    const r = s4.zeros([B, L], { device });
    native.residualNormForward({ z: z.handle, x: x.handle, out: o.handle, mean: m.handle, rstd: r.handle, B, H, L, p: 0, seed: 0, step: 0, offset: 0, eps: 1e-3, normalize: true });
    return [o.dataSync(), m.dataSync(), r.dataSync()];
  });
}
