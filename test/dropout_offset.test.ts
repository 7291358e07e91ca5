/**
 * Dropout of a slice of a batch (batchOffset): the examples [start, start + n) of a batch,
 * run alone with batchOffset = start, get exactly their slice of the whole batch's mask. A
 * data-parallel rank relies on it to match the single-process step bit for bit. Checked for
 * the plain and the tied mask, residualNorm's fused dropout, the Dropout module, and the
 * gradients (the backward draws the same shifted mask).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues } from './helpers/device';
import { expectThrows } from './helpers/throws';

/** Rows [start, start + n) of a row-major [B, ...] array whose rows hold `per` values. */
function rows(a: Float32Array, start: number, n: number, per: number): Float32Array {
  return a.slice(start * per, (start + n) * per);
}

/** The splits of a batch of B into consecutive parts, as ranks take them. */
const SPLITS: [number, number[]][] = [
  [5, [2, 3]],
  [7, [3, 2, 2]],
  [4, [1, 1, 1, 1]],
];

describe(`dropout with a batch offset (${device})`, () => {
  for (const tie of [false, true]) {
    it(`each part of a batch gets its slice of the whole batch's mask (tie ${tie})`, () => {
      for (const [B, parts] of SPLITS) {
        const [H, L] = [3, 7];
        const per = H * L;
        const x = randomValues(B * per, B + 31);
        const g = randomValues(B * per, B + 57);
        const whole = s4.tidy(() => {
          const xt = s4.tensor(x, [B, H, L], { device, requiresGrad: true });
          const y = s4.ops.dropout(xt, 0.4, { seed: 9, step: 3, tie });
          y.backward(s4.tensor(g, [B, H, L], { device }));
          const r = { y: y.dataSync(), dx: xt.grad!.dataSync() };
          xt.dispose();
          return r;
        });
        let start = 0;
        for (const n of parts) {
          const part = s4.tidy(() => {
            const xt = s4.tensor(rows(x, start, n, per), [n, H, L], { device, requiresGrad: true });
            const y = s4.ops.dropout(xt, 0.4, { seed: 9, step: 3, tie, batchOffset: start });
            y.backward(s4.tensor(rows(g, start, n, per), [n, H, L], { device }));
            const r = { y: y.dataSync(), dx: xt.grad!.dataSync() };
            xt.dispose();
            return r;
          });
          expect(part.y).toEqual(rows(whole.y, start, n, per));
          expect(part.dx).toEqual(rows(whole.dx, start, n, per));
          start += n;
        }
      }
    });
  }

  it('an offset draws another mask than offset 0 (the offset is not ignored)', () => {
    const x = s4.ones([2, 4, 64], { device });
    const a = s4.ops.dropout(x, 0.5, { seed: 1, step: 0 }).dataSync();
    const b = s4.ops.dropout(x, 0.5, { seed: 1, step: 0, batchOffset: 1 }).dataSync();
    expect(b.subarray(0, 4 * 64)).toEqual(a.subarray(4 * 64));
    expect(b).not.toEqual(a);
    x.dispose();
  });

  it("residualNorm's fused dropout: parts equal the whole batch's rows, forward and gradients", () => {
    const [B, H, L] = [5, 4, 9];
    const z = randomValues(B * 2 * H * L, 3);
    const x = randomValues(B * H * L, 4);
    const g = randomValues(B * H * L, 5);
    const w = randomValues(H, 6);
    for (const normalize of [true, false]) {
      const run = (start: number, n: number) =>
        s4.tidy(() => {
          const zt = s4.tensor(rows(z, start, n, 2 * H * L), [n, 2 * H, L], { device, requiresGrad: true });
          const xt = s4.tensor(rows(x, start, n, H * L), [n, H, L], { device, requiresGrad: true });
          const wt = s4.tensor(w, [H], { device });
          const y = s4.ops.residualNorm(zt, xt, normalize ? wt : null, null, { normalize, p: 0.3, seed: 2, step: 7, batchOffset: start });
          y.backward(s4.tensor(rows(g, start, n, H * L), [n, H, L], { device }));
          const r = { y: y.dataSync(), dz: zt.grad!.dataSync(), dx: xt.grad!.dataSync() };
          zt.dispose();
          xt.dispose();
          return r;
        });
      const whole = run(0, B);
      for (const [start, n] of [[0, 2], [2, 3], [4, 1]]) {
        const part = run(start, n);
        expect(part.y).toEqual(rows(whole.y, start, n, H * L));
        expect(part.dz).toEqual(rows(whole.dz, start, n, 2 * H * L));
        expect(part.dx).toEqual(rows(whole.dx, start, n, H * L));
      }
    }
  });

  it('the Dropout module passes its batchOffset on', () => {
    const d = new s4.nn.Dropout(0.5, { seed: 4 });
    const x = s4.ones([3, 2, 16], { device });
    const whole = d.forward(x).dataSync();
    d.step = 0;
    d.batchOffset = 1;
    const part = s4.tidy(() => d.forward(s4.ones([2, 2, 16], { device })).dataSync());
    expect(part).toEqual(whole.subarray(2 * 16));
    x.dispose();
  });

  it('rejects a bad batchOffset', () => {
    const x = s4.ones([2, 3], { device });
    expectThrows(() => s4.ops.dropout(x, 0.5, { seed: 1, step: 0, batchOffset: -1 }), RangeError, /batchOffset/);
    expectThrows(() => s4.ops.dropout(x, 0.5, { seed: 1, step: 0, batchOffset: 1.5 }), RangeError, /batchOffset/);
    x.dispose();
  });
});
