/**
 * The allocation-free token paths on CUDA: Stepper.step(u, out), the S4Layer stepper's
 * stepInto and SequenceModel stepper step(x, out), against the CPU backend (same
 * parameters) and the convolutional forward on the GPU, on the generation shapes (H 128
 * and 256, N 64, batch 1) and odd ones (lengths 1, 7, 784; B*H not a multiple of a block).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { ops } from '../../lib/native/binding';
import { S4Layer } from '../../lib/nn/s4_layer';
import { SequenceModel, type SequenceModelOptions } from '../../lib/nn/sequence_model';
import { stepper } from '../../lib/nn/stepper';
import { dplrStepCoefficients } from '../../lib/ssm/step_setup';
import { dplrTensors, randomDplr } from '../helpers/conv_ref';
import { randomValues, relL2 } from '../helpers/device';
import { feed } from '../helpers/step_columns';

describe('Stepper.step(u, out) on CUDA', () => {
  for (const [B, H, N2, T] of [[1, 256, 32, 7], [3, 7, 5, 784], [1, 1, 1, 1]]) {
    it(`equals the CPU stepper and stepMany on CUDA (B ${B}, H ${H}, N2 ${N2}, T ${T})`, () => {
      const p = randomDplr(H, N2, 30 + T);
      const d = randomValues(H, 31 + T);
      const u = randomValues(B * H * T, 32 + T);
      const run = (device: s4.DeviceName): Float32Array => {
        const st = s4.tidy(() => stepper(dplrTensors(p, d, device), { batch: B, L: T }));
        const y = feed((ut, yt) => st.step(ut, yt), u, [B, H], [B, H], T, device);
        st.dispose();
        return y;
      };
      const gpu = run('cuda');
      const cpu = run('cpu');
      const st = s4.tidy(() => stepper(dplrTensors(p, d, 'cuda'), { batch: B, L: T }));
      const many = s4.tidy(() => st.stepMany(s4.tensor(u, [B, H, T], { device: 'cuda' })).dataSync());
      st.dispose();
      expect(relL2(gpu, cpu)).toBeLessThan(1e-4);
      expect(relL2(gpu, many)).toBeLessThan(1e-5);
    });
  }
});

describe('S4Layer stepper stepInto on CUDA', () => {
  for (const [kernel, B, H, L] of [
    ['dplr', 1, 256, 7],
    ['diag', 3, 45, 784],
  ] as const) {
    it(`equals the GPU forward and the CPU stepper (${kernel}, B ${B}, H ${H}, L ${L})`, () => {
      // One initialization, moved: both backends step the same parameters.
      const make = (): S4Layer => new S4Layer({ dModel: H, dState: 64, kernel, lMax: L, seed: 11, device: 'cpu' }).eval();
      const layer = make().to('cuda');
      const cpuLayer = make();
      const x = randomValues(B * H * L, 12);
      const full = s4.tidy(() => layer.forward(s4.tensor(x, [B, H, L], { device: 'cuda' })).dataSync());
      const run = (l: S4Layer, device: s4.DeviceName): Float32Array => {
        const st = l.stepper({ batch: B });
        const y = feed((ut, yt) => st.stepInto(ut, yt), x, [B, H], [B, H], L, device);
        st.dispose();
        return y;
      };
      const gpu = run(layer, 'cuda');
      expect(relL2(gpu, full)).toBeLessThan(1e-4);
      expect(relL2(gpu, run(cpuLayer, 'cpu'))).toBeLessThan(1e-4);
      layer.dispose();
      cpuLayer.dispose();
    });
  }
});

describe('SequenceModel stepper step(x, out) on CUDA', () => {
  const cases: [string, SequenceModelOptions, number, number][] = [
    ['4 layers H 128 N 64, batch 1, mean pool', { dInput: 1, dModel: 128, nLayers: 4, dState: 64, dOutput: 10, lMax: 7, pool: 'mean' }, 1, 7],
    ['pre-norm, B 3, L 784, no pool', { dInput: 2, dModel: 24, nLayers: 2, dState: 16, dOutput: 3, lMax: 784, prenorm: true, pool: 'none' }, 3, 784],
    ['tokens, L 1', { embedding: 9, dModel: 16, nLayers: 2, dState: 8, dOutput: 9, lMax: 4, pool: 'none' }, 2, 1],
  ];
  for (const [name, o, B, L] of cases) {
    it(`equals the CPU model stepper (${name})`, () => {
      const dIn = o.embedding ? 1 : o.dInput!;
      const x = o.embedding
        ? Float32Array.from({ length: B * L }, (_, i) => (i * 4 + 1) % o.embedding!)
        : randomValues(B * dIn * L, 13);
      const inShape = o.embedding ? [B] : [B, dIn];
      const run = (device: s4.DeviceName): Float32Array => {
        const m = new SequenceModel({ ...o, seed: 14, device: 'cpu' }).eval().to(device);
        const st = m.stepper({ batch: B });
        const y = feed((xt, yt) => st.step(xt, yt), x, inShape, [B, o.dOutput], L, device);
        if (o.pool === 'none' && device === 'cuda') {
          // Also the convolutional forward on the GPU, column by column.
          const full = s4.tidy(() => m.forward(s4.tensor(x, o.embedding ? [B, L] : [B, dIn, L], { device })).dataSync());
          expect(relL2(y, full)).toBeLessThan(1e-4);
        }
        st.dispose();
        m.dispose();
        return y;
      };
      expect(relL2(run('cuda'), run('cpu'))).toBeLessThan(1e-4);
    });
  }
});

describe('native token pipeline pieces on CUDA', () => {
  for (const [B, H, N2, T] of [
    [1, 256, 32, 1],
    [3, 7, 5, 784],
    [2, 45, 64, 7],
  ]) {
    it(`ssmScan with gelu equals the CPU backend (B ${B}, H ${H}, N2 ${N2}, T ${T})`, () => {
      const coef = dplrStepCoefficients(randomDplr(H, N2, 60 + T), T, randomValues(H, 61 + T));
      const u = randomValues(B * H * T, 62 + T);
      const run = (device: s4.DeviceName): Float32Array => {
        const c = s4.tensor(coef, [H, 10 * N2 + 2], { device });
        const ut = s4.tensor(u, [B, H, T], { device });
        const yt = s4.zeros([B, H, T], { device });
        ops.ssmScan({ coef: c.handle, state: null, u: ut.handle, y: yt.handle, B, H, N2, T, gelu: true });
        const y = yt.dataSync();
        s4.dispose(c, ut, yt);
        return y;
      };
      expect(relL2(run('cuda'), run('cpu'))).toBeLessThan(1e-4);
    });
  }

  for (const [B, H] of [
    [1, 1],
    [1, 128],
    [3, 7],
    [2, 300],
    [5, 1031],
  ]) {
    it(`residualNorm on one token (L = 1) equals the CPU backend (B ${B}, H ${H})`, () => {
      const vals = [randomValues(B * 2 * H, 1), randomValues(2 * H, 2), randomValues(B * H, 3), randomValues(H, 4), randomValues(H, 5)];
      for (const normalize of [true, false]) {
        for (const full of [true, false]) {
          const run = (device: s4.DeviceName): Float32Array => {
            const [z, bias, x, w, lb] = vals.map((v) => s4.tensor(v, [v.length], { device }));
            const out = s4.zeros([B * H], { device });
            ops.residualNormForward({
              z: z.handle, zBias: full ? bias.handle : null, x: x.handle, weight: full ? w.handle : null, bias: full ? lb.handle : null,
              out: out.handle, B, H, L: 1, p: 0, seed: 0, step: 0, offset: 0, eps: 1e-5, normalize,
            });
            const y = out.dataSync();
            s4.dispose(z, bias, x, w, lb, out);
            return y;
          };
          const [gpu, cpu] = [run('cuda'), run('cpu')];
          const err = H === 1 && normalize ? Math.max(...gpu.map((g, i) => Math.abs(g - cpu[i]))) : relL2(gpu, cpu);
          expect(err, `normalize ${normalize}, bias/affine ${full}`).toBeLessThan(1e-4);
        }
      }
    });
  }
});
