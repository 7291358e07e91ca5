/** The raw gemm export against its float64 reference, on any device. */
import * as s4 from '../../lib/index';
import { ops as native } from '../../lib/native/binding';
import { randomValues, relL2 } from './device';
import { gemmRef } from './nn_reference';

/**
 * C = 0.5 op(A) op(B) + 2 C0 of random [m, k] x [k, n] batches on `device`, for every
 * combination of transA, transB and batch-reduce: the relative L2 error of each against
 * gemmRef, with a label naming the combination. A, B and C0 come from seeds seed .. seed + 2.
 */
export function rawGemmErrors(device: s4.DeviceName, m: number, n: number, k: number, batch: number, seed: number): [string, number][] {
  const errors: [string, number][] = [];
  for (const ta of [false, true])
    for (const tb of [false, true])
      for (const reduce of [false, true]) {
        const A = randomValues(batch * m * k, seed);
        const B = randomValues(batch * k * n, seed + 1);
        const C0 = randomValues((reduce ? 1 : batch) * m * n, seed + 2);
        const got = s4.tidy(() => {
          const on = { device };
          const c = s4.tensor(C0, [C0.length], on);
          const a = s4.tensor(A, [A.length], on).handle;
          const b = s4.tensor(B, [B.length], on).handle;
          native.gemm({ A: a, B: b, C: c.handle, transA: ta, transB: tb, M: m, N: n, K: k, alpha: 0.5, beta: 2, batch, cBatch: reduce ? 1 : batch });
          return c.dataSync();
        });
        errors.push([`gemm ta=${ta} tb=${tb} reduce=${reduce}`, relL2(got, gemmRef(A, B, C0, ta, tb, m, n, k, 0.5, 2, batch, reduce))]);
      }
  return errors;
}
