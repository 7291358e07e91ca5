/**
 * Tied dropout (ops.dropout with tie: true; native dropoutTied): one mask value per row of
 * [rows, L], shared along L, equal to the untied mask of the row index. Checked against a
 * reference built from the untied op, for the rate, the 1 / (1 - p) scale, the gradient (the
 * same mask), NaN propagation and argument errors; on the GPU suite also CUDA against CPU.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops as native } from '../lib/native/binding';
import { device, onGpu, randomValues, relL2 } from './helpers/device';

/** The untied mask of `rows` elements (0 or 1 / (1 - p)) from the plain dropout op. */
function rowMask(rows: number, p: number, seed: number, step: number): Float32Array {
  return s4.tidy(() => s4.ops.dropout(s4.ones([rows], { device }), p, { seed, step }).dataSync());
}

/** x [.., L] times the mask of its row. */
function reference(x: Float32Array, mask: Float32Array, L: number): Float64Array {
  return Float64Array.from(x, (v, i) => v * mask[Math.floor(i / L)]);
}

describe(`tied dropout (${device})`, () => {
  for (const [B, H, L] of [[1, 1, 1], [2, 3, 7], [3, 5, 784], [4, 300, 33]] as const) {
    it(`equals the row mask applied along L, forward and backward ([${B}, ${H}, ${L}])`, () => {
      const p = 0.3;
      const x = randomValues(B * H * L, B + H + L);
      const g = randomValues(B * H * L, 7 * L);
      const mask = rowMask(B * H, p, 11, 4);
      const xt = s4.tensor(x, [B, H, L], { device, requiresGrad: true });
      const y = s4.tidy(() => {
        const out = s4.ops.dropout(xt, p, { seed: 11, step: 4, tie: true });
        out.backward(s4.tensor(g, [B, H, L], { device }));
        return out.dataSync();
      });
      expect(relL2(y, reference(x, mask, L))).toBeLessThan(1e-6);
      expect(relL2(xt.grad!.dataSync(), reference(g, mask, L))).toBeLessThan(1e-6);
      xt.dispose();
    });
  }

  it('drops whole rows at rate p with scale 1 / (1 - p), a new mask per step, identity at p = 0', () => {
    const [rows, L, p] = [4000, 5, 0.25];
    const ones = s4.ones([rows, L], { device });
    const y = s4.tidy(() => s4.ops.dropout(ones, p, { seed: 3, step: 0, tie: true }).dataSync());
    let dropped = 0;
    for (let r = 0; r < rows; r++) {
      const row = y.subarray(r * L, (r + 1) * L);
      expect(row.every((v) => v === row[0]), `row ${r} is not constant`).toBe(true);
      if (row[0] === 0) dropped++;
      else expect(row[0]).toBeCloseTo(1 / (1 - p), 6);
    }
    expect(Math.abs(dropped / rows - p)).toBeLessThan(0.03);
    const other = s4.tidy(() => s4.ops.dropout(ones, p, { seed: 3, step: 1, tie: true }).dataSync());
    expect(relL2(other, y)).toBeGreaterThan(0.1);
    const same = s4.tidy(() => s4.ops.dropout(ones, 0, { seed: 3, step: 0, tie: true }).dataSync());
    expect(Array.from(same).every((v) => v === 1)).toBe(true);
    ones.dispose();
  });

  it('propagates NaN and writes into out', () => {
    const x = s4.tensor([1, Number.NaN, 2, 3], [2, 2], { device });
    const out = s4.zeros([2, 2], { device });
    const r = s4.ops.dropout(x, 0, { seed: 0, step: 0, tie: true, out });
    expect(r).toBe(out);
    expect(Number.isNaN(out.dataSync()[1])).toBe(true);
    s4.dispose(x, out);
  });

  it('names the argument that is wrong', () => {
    const x = s4.ones([2, 3], { device });
    expect(() => s4.ops.dropout(x, 0.1, { seed: 0, step: 0, tie: 1 as unknown as boolean })).toThrow(/dropout: option 'tie' must be a boolean/);
    const out = s4.zeros([2, 4], { device });
    expect(() => native.dropoutTied({ x: x.handle, out: out.handle, rows: 2, L: 3, p: 0.1, seed: 0, step: 0, offset: 0 })).toThrow(
      /dropoutTied: argument 'out' must hold \[rows, L\] = \[2, 3\]/,
    );
    expect(() => native.dropoutTied({ x: x.handle, out: x.handle, rows: 2, L: 3, p: 1, seed: 0, step: 0, offset: 0 })).toThrow(
      /dropoutTied: argument 'p' must be in \[0, 1\)/,
    );
    s4.dispose(x, out);
  });

  it.runIf(onGpu)('CUDA equals the CPU backend', () => {
    const [rows, L] = [1031, 97];
    const x = randomValues(rows * L, 5);
    const run = (dev: s4.DeviceName) =>
      s4.tidy(() => s4.ops.dropout(s4.tensor(x, [rows, L], { device: dev }), 0.4, { seed: 9, step: 2, tie: true }).dataSync());
    expect(relL2(run('cuda'), run('cpu'))).toBe(0);
  });
});
