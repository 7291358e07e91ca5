/**
 * residualNorm on CUDA against the CPU backend (forward and every gradient) on the shapes of
 * test/residual_norm.test.ts: L = 1, 7, 784 (the column kernels below 32 positions, the tile
 * kernels above), H across 32 / 256 / 1024 (warp or block per column; r in registers up to
 * H = 256), normalize on and off, p = 0 and 0.3 (the same mask on both backends); with
 * zBias (forward and its gradient, also when it alone needs one); more than 65535 batch rows. Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import type { Tensor } from '../../lib/index';
import { randomValues, relL2 } from '../helpers/device';
import { residualNormRaw } from '../helpers/residual_norm_raw';
import { residualNormRef } from '../helpers/residual_norm_ref';

const { ops } = s4;
const TOL = 1e-4;

const SHAPES: [number, number, number][] = [
  [2, 31, 1],
  [3, 32, 7],
  [2, 33, 784],
  [1, 255, 7],
  [4, 256, 1],
  [1, 257, 784],
  [2, 1023, 1],
  [1, 1024, 7],
  [1, 1025, 784],
  [3, 64, 33],
  [2, 16, 40],
];

interface Options {
  normalize: boolean;
  p: number;
  /** With a zBias [2H] (its gradient comes last); 'alone': only zBias needs a gradient. */
  zBias?: boolean | 'alone';
}

/**
 * residualNorm on one device, backpropagating sum(y * W): the output and the gradients of
 * z, x, w, b (none when zBias is 'alone'), then of zBias when there is one.
 */
function run(device: 'cpu' | 'cuda', [B, H, L]: [number, number, number], o: Options, seed: number): Float32Array[] {
  const rg = { device, requiresGrad: o.zBias !== 'alone' };
  const z = s4.tensor(randomValues(B * 2 * H * L, seed).map((v) => 2 * v), [B, 2 * H, L], rg);
  const x = s4.tensor(randomValues(B * H * L, seed + 1), [B, H, L], rg);
  const w = s4.tensor(randomValues(H, seed + 2).map((v) => 1 + 0.5 * v), [H], rg);
  const b = s4.tensor(randomValues(H, seed + 3), [H], rg);
  const zBias = o.zBias ? s4.tensor(randomValues(2 * H, seed + 4).map((v) => 1.5 * v), [2 * H], { device, requiresGrad: true }) : null;
  const y = s4.tidy(() => {
    const out = ops.residualNorm(z, x, w, b, { eps: 1e-5, normalize: o.normalize, p: o.p, seed: 5, step: seed, zBias });
    ops.sum(ops.mul(out, s4.tensor(randomValues(out.size, 9), [B, H, L], { device }))).backward();
    return out.dataSync();
  });
  const grads = (o.zBias === 'alone' ? [zBias!] : [z, x, w, b, ...(zBias ? [zBias] : [])]).map((v) => v.grad!.dataSync());
  s4.dispose(z, x, w, b, ...(zBias ? [zBias] : []));
  return [y, ...grads];
}

describe('residualNorm on CUDA vs CPU', () => {
  it('forward and gradients match the CPU backend (normalize on and off, p = 0 and 0.3)', () => {
    SHAPES.forEach((shape, k) => {
      for (const normalize of [true, false])
        for (const p of [0, 0.3]) {
          const cpu = run('cpu', shape, { normalize, p }, 10 * k);
          const gpu = run('cuda', shape, { normalize, p }, 10 * k);
          const label = `${shape.join('x')} normalize=${normalize} p=${p}`;
          ['out', 'dz', 'dx', 'dw', 'db'].forEach((name, i) => {
            if (!normalize && i >= 3) {
              expect(Array.from(gpu[i]), `${label}: ${name}`).toEqual(new Array(shape[1]).fill(0));
              return;
            }
            expect(relL2(gpu[i], cpu[i]), `${label}: ${name}`).toBeLessThan(TOL);
          });
        }
    });
  });

  it('with zBias: forward and gradients (zBias\'s too) match the CPU backend', () => {
    SHAPES.forEach((shape, k) => {
      for (const normalize of [true, false])
        for (const p of [0, 0.3]) {
          const cpu = run('cpu', shape, { normalize, p, zBias: true }, 10 * k + 3);
          const gpu = run('cuda', shape, { normalize, p, zBias: true }, 10 * k + 3);
          const label = `${shape.join('x')} normalize=${normalize} p=${p}`;
          ['out', 'dz', 'dx', 'dw', 'db', 'dzBias'].forEach((name, i) => {
            if (!normalize && (i === 3 || i === 4)) {
              expect(Array.from(gpu[i]), `${label}: ${name}`).toEqual(new Array(shape[1]).fill(0));
              return;
            }
            expect(relL2(gpu[i], cpu[i]), `${label}: ${name}`).toBeLessThan(TOL);
          });
          // zBias alone needing a gradient: the op sums a dz of its own workspace.
          const alone = run('cuda', shape, { normalize, p, zBias: 'alone' }, 10 * k + 3);
          expect(relL2(alone[0], cpu[0]), `${label}: out (zBias alone)`).toBeLessThan(TOL);
          expect(relL2(alone[1], cpu[5]), `${label}: dzBias (zBias alone)`).toBeLessThan(TOL);
        }
    });
  });

  it('forward equals the float64 reference and writes mean and rstd (raw op)', () => {
    for (const [B, H, L] of [[3, 40, 1], [2, 300, 9], [2, 129, 100], [1, 2000, 64]]) {
      const zv = randomValues(B * 2 * H * L, 1);
      const xv = randomValues(B * H * L, 2);
      const ref = residualNormRef(zv, xv, null, null, null, B, H, L, 1e-3, true);
      const [out, mean, rstd] = residualNormRaw(zv, xv, B, H, L, 'cuda');
      const label = `${B}x${H}x${L}`;
      expect(relL2(out, ref.out), `${label}: out`).toBeLessThan(TOL);
      expect(relL2(mean, ref.mean), `${label}: mean`).toBeLessThan(TOL);
      expect(relL2(rstd, ref.rstd), `${label}: rstd`).toBeLessThan(TOL);
    }
  });



  it('the dropout mask equals the CUDA dropout op\'s; NaN propagates; more than 65535 batch rows', () => {
    const [B, H, L] = [2, 48, 300];
    const [fused, composed] = s4.tidy(() => {
      const dev = { device: 'cuda' as const };
      const z = s4.tensor(randomValues(B * 2 * H * L, 7), [B, 2 * H, L], dev);
      const x = s4.tensor(randomValues(B * H * L, 8), [B, H, L], dev);
      const f = ops.residualNorm(z, x, null, null, { normalize: true, p: 0.3, seed: 2, step: 3 });
      const c = ops.layerNormChannels(ops.add(x, ops.dropout(ops.glu(z, 1), 0.3, { seed: 2, step: 3 })));
      return [f.dataSync(), c.dataSync()];
    });
    expect(relL2(fused, composed)).toBeLessThan(TOL);

    const zv = randomValues(2 * 2 * 8 * 40, 9);
    zv[(1 * 16 + 8 + 3) * 40 + 33] = NaN;
    const got = s4.tidy(() =>
      ops.residualNorm(s4.tensor(zv, [2, 16, 40], { device: 'cuda' }), s4.tensor(randomValues(2 * 8 * 40, 10), [2, 8, 40], { device: 'cuda' })).dataSync(),
    );
    for (let h = 0; h < 8; h++) expect(Number.isNaN(got[(1 * 8 + h) * 40 + 33])).toBe(true);
    expect(Number.isNaN(got[0])).toBe(false);

    // 70000 batch rows: the column kernels (L = 1) and the tile kernels (L = 32, looping over
    // the batches beyond the grid's 65535) take them all.
    for (const L of [1, 32]) {
      const [Bn, Hn] = [70000, 4];
      const cpu = run('cpu', [Bn, Hn, L], { normalize: true, p: 0.1, zBias: true }, 77);
      const gpu = run('cuda', [Bn, Hn, L], { normalize: true, p: 0.1, zBias: true }, 77);
      cpu.forEach((c, i) => expect(relL2(gpu[i], c), `B=${Bn} L=${L}: output ${i}`).toBeLessThan(TOL));
    }
  });

  it('accepts an out buffer and gives the same values twice (deterministic)', () => {
    const [B, H, L] = [2, 130, 200];
    const dev = { device: 'cuda' as const };
    const z = s4.tensor(randomValues(B * 2 * H * L, 11), [B, 2 * H, L], dev);
    const x = s4.tensor(randomValues(B * H * L, 12), [B, H, L], dev);
    const out: Tensor = s4.zeros([B, H, L], dev);
    const a = ops.residualNorm(z, x, null, null, { p: 0.2, seed: 1, step: 1 }, { out }).dataSync().slice();
    const b = ops.residualNorm(z, x, null, null, { p: 0.2, seed: 1, step: 1 }, { out }).dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
    s4.dispose(z, x, out);
  });
});
