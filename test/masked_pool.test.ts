/**
 * The padding-aware ops (lengthMask, maskedMeanPool, maskedLastPool) on the current backend:
 * forward against float64 references, native gradients against central differences, the
 * clamping of lengths outside [0, L], argument errors.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import type { Tensor } from '../lib/index';
import { device, randomValues, relL2 } from './helpers/device';
import { lengthMaskRef, maskedLastPoolRef, maskedMeanPoolRef, someLengths } from './helpers/masked_ref';
import { finiteDiff, weightedSum } from './helpers/nn_reference';

const { ops } = s4;
const TOL = 1e-4;

type MaskedOp = (x: Tensor, lengths: Tensor) => Tensor;
type MaskedRef = (x: ArrayLike<number>, lengths: ArrayLike<number>, B: number, H: number, L: number) => Float64Array;

const CASES: { name: string; op: MaskedOp; ref: MaskedRef }[] = [
  { name: 'lengthMask', op: (x, n) => ops.lengthMask(x, n), ref: lengthMaskRef },
  { name: 'maskedMeanPool', op: (x, n) => ops.maskedMeanPool(x, n), ref: maskedMeanPoolRef },
  { name: 'maskedLastPool', op: (x, n) => ops.maskedLastPool(x, n), ref: maskedLastPoolRef },
];

describe(`padding-aware pooling ops (${device})`, () => {
  for (const { name, op, ref } of CASES) {
    it(`${name}: forward and gradient for L = 1, 7, 784`, () => {
      for (const [B, H, L] of [[1, 1, 1], [3, 2, 7], [2, 2, 784]]) {
        const lengths = someLengths(B, L, B + H);
        const xv = randomValues(B * H * L, 11 + L);
        const x = s4.tensor(xv, [B, H, L], { requiresGrad: true });
        const n = s4.tensor(Float32Array.from(lengths), [B]);
        const want = ref(xv, lengths, B, H, L);
        const W = randomValues(want.length, 5);
        s4.tidy(() => {
          const y = op(x, n);
          expect(relL2(y.dataSync(), want), `${name} [${B}, ${H}, ${L}] forward`).toBeLessThan(TOL);
          ops.sum(ops.mul(y, s4.tensor(W, y.shape as number[]))).backward();
        });
        // Finite differences on the small cases; the map is linear, so the large case checks
        // the adjoint (the same differences, one coordinate at a time, would take long).
        const fd = L < 100 ? finiteDiff((v) => weightedSum(ref(v, lengths, B, H, L), W), Float64Array.from(xv)) : adjoint(ref, lengths, W, B, H, L);
        expect(relL2(x.grad!.dataSync(), fd), `${name} [${B}, ${H}, ${L}] gradient`).toBeLessThan(TOL);
        expect(n.grad).toBeNull();
        s4.dispose(x, n);
      }
    });
  }

  it('lengths equal to L give the unmasked results; lengthMask works in place', () => {
    const [B, H, L] = [2, 3, 9];
    const xv = randomValues(B * H * L, 3);
    const x = s4.tensor(xv, [B, H, L]);
    const full = s4.tensor(new Float32Array(B).fill(L), [B]);
    s4.tidy(() => {
      expect(Array.from(ops.maskedMeanPool(x, full).dataSync())).toEqual(Array.from(ops.meanPool(x).dataSync()));
      expect(Array.from(ops.maskedLastPool(x, full).dataSync())).toEqual(Array.from(ops.lastPool(x).dataSync()));
      const n = s4.tensor(Float32Array.from([4, 9]), [B]);
      ops.lengthMask(x, n, { out: x });
      expect(relL2(x.dataSync(), lengthMaskRef(xv, [4, 9], B, H, L))).toBeLessThan(1e-7);
    });
    s4.dispose(x, full);
  });

  it('reads lengths outside [0, L] clamped, NaN as 0, never outside x', () => {
    const [B, H, L] = [4, 2, 5];
    const xv = randomValues(B * H * L, 8);
    const x = s4.tensor(xv, [B, H, L]);
    const n = s4.tensor(Float32Array.from([-3, 1e9, NaN, 2.7]), [B]);
    const clamped = [0, 5, 0, 2];
    s4.tidy(() => {
      expect(relL2(ops.lengthMask(x, n).dataSync(), lengthMaskRef(xv, clamped, B, H, L))).toBeLessThan(1e-7);
      const mean = ops.maskedMeanPool(x, n).dataSync();
      const last = ops.maskedLastPool(x, n).dataSync();
      for (let h = 0; h < H; h++) {
        expect(mean[h]).toBe(0); // an empty sequence pools to 0
        expect(last[2 * H + h]).toBe(0);
        expect(last[3 * H + h]).toBeCloseTo(xv[(3 * H + h) * L + 1], 6);
      }
    });
    s4.dispose(x, n);
  });

  it('argument errors name the argument', () => {
    const x = s4.zeros([2, 3, 4]);
    const n = s4.zeros([3]);
    expect(() => ops.maskedMeanPool(x, n)).toThrow(/maskedMeanPool: argument 'lengths' must have shape \[B\] = \[2\]/);
    expect(() => ops.lengthMask(s4.zeros([2, 3]), n)).toThrow(/lengthMask: argument 'x' must have rank 3/);
    expect(() => ops.maskedLastPool(x, null as unknown as Tensor)).toThrow(/maskedLastPool: argument 'lengths'/);
    s4.dispose(x, n);
  });
});

/** The gradient of sum(ref(x) * W) for a map linear in x: ref's adjoint applied to W. */
function adjoint(ref: MaskedRef, lengths: number[], W: Float32Array, B: number, H: number, L: number): Float64Array {
  const g = new Float64Array(B * H * L);
  const e = new Float64Array(B * H * L);
  // Each output depends on the positions of its own row only: probe a row's L positions.
  for (let r = 0; r < B * H; r++) {
    for (let l = 0; l < L; l++) {
      const i = r * L + l;
      e[i] = 1;
      const y = ref(e, lengths, B, H, L);
      e[i] = 0;
      let s = 0;
      const per = y.length / (B * H);
      for (let k = r * per; k < (r + 1) * per; k++) s += y[k] * W[k];
      g[i] = s;
    }
  }
  return g;
}
