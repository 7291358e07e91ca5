/**
 * batchNorm on CUDA against the CPU backend: outputs, running statistics, the batch counter
 * and every gradient, in training and eval mode, on the shapes of test/batch_norm.test.ts
 * (L = 1 with B > 1, B = 1 with L > 1, L % 4 == 0 and not: the float4 and scalar maps; H
 * across 32 / 256 / 1024) and on large ones (B L over a million: many splits per channel;
 * H 1024: many channels of one split); a large mean against the float64 reference; the raw
 * op in place (out = x); repeated runs give the same bits (fixed-order reductions); a
 * batch-norm SequenceModel moved to CUDA (Module.to moves the buffers) trains and steps as
 * on the CPU. Run by
 * `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { ops as native } from '../../lib/native/binding';
import { BN_SHAPES, bnInputs, type BnShape } from '../helpers/batch_norm_cases';
import { batchNormBackwardRef, batchNormRef } from '../helpers/batch_norm_ref';
import { randomValues, relL2 } from '../helpers/device';

const { ops } = s4;
const TOL = 1e-4;

type Shape = BnShape;

const SHAPES: Shape[] = [...BN_SHAPES, [3, 64, 33]];

const LARGE: Shape[] = [
  [2, 4, 600000],
  [32, 1024, 64],
  [262144, 2, 4],
  [1, 2, 1 << 21],
];

type Values = ReturnType<typeof bnInputs> & { dy: Float32Array };

function values(shape: Shape, seed: number, offset = 0, spread = 1): Values {
  const [B, H, L] = shape;
  return { ...bnInputs(shape, seed, offset, spread), dy: randomValues(B * H * L, seed + 5) };
}

/** batchNorm on one device, backpropagating sum(y * dy): y, dx, dw, db, running mean, running var, counter. */
function run(device: 'cpu' | 'cuda', shape: Shape, v: Values, training: boolean, momentum = 0.1): Float32Array[] {
  const [, H] = shape;
  const rg = { device, requiresGrad: true };
  const x = s4.tensor(v.x, shape, rg);
  const w = s4.tensor(v.w, [H], rg);
  const b = s4.tensor(v.b, [H], rg);
  const rm = s4.tensor(v.rm, [H], { device });
  const rv = s4.tensor(v.rv, [H], { device });
  const nbt = s4.tensor([5], [], { device });
  const y = s4.tidy(() => {
    const out = ops.batchNorm(x, w, b, { training, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, momentum });
    ops.sum(ops.mul(out, s4.tensor(v.dy, shape, { device }))).backward();
    return out.dataSync();
  });
  const res = [y, x.grad!.dataSync(), w.grad!.dataSync(), b.grad!.dataSync(), rm.dataSync(), rv.dataSync(), nbt.dataSync()];
  s4.dispose(x, w, b, rm, rv, nbt);
  return res;
}

const NAMES = ['out', 'dx', 'dw', 'db', 'running mean', 'running var', 'counter'];

describe('batchNorm on CUDA vs CPU', () => {
  it('forward, running statistics and gradients match the CPU backend (training and eval)', () => {
    SHAPES.forEach((shape, k) => {
      const v = values(shape, 10 * k);
      for (const training of [true, false]) {
        const cpu = run('cpu', shape, v, training);
        const gpu = run('cuda', shape, v, training);
        NAMES.forEach((name, i) => expect(relL2(gpu[i], cpu[i]), `${shape.join('x')} training=${training}: ${name}`).toBeLessThan(TOL));
        expect(gpu[6][0]).toBe(training ? 6 : 5);
      }
    });
  });

  it('large shapes (B L over a million, H 1024) match the CPU backend', () => {
    LARGE.forEach((shape, k) => {
      const v = values(shape, 100 + k);
      for (const training of [true, false]) {
        const cpu = run('cpu', shape, v, training);
        const gpu = run('cuda', shape, v, training);
        NAMES.forEach((name, i) => expect(relL2(gpu[i], cpu[i]), `${shape.join('x')} training=${training}: ${name}`).toBeLessThan(TOL));
      }
    });
  });

  it('a large mean against the spread stays within 1e-4 of the float64 reference', () => {
    for (const [offset, spread] of [
      [1e4, 1],
      [1e5, 10],
    ])
      for (const shape of [[4, 5, 300], [1, 3, 200000], [4096, 4, 1]] as Shape[]) {
        const [B, H, L] = shape;
        const v = values(shape, 40 + L, offset, spread);
        for (const training of [true, false]) {
          const gpu = run('cuda', shape, v, training);
          const o = { training, runningMean: v.rm, runningVar: v.rv };
          const ref = batchNormRef(v.x, v.w, v.b, B, H, L, o);
          const grads = batchNormBackwardRef(v.dy, v.x, v.w, B, H, L, o);
          const label = `${shape.join('x')} mean ${offset} training=${training}`;
          expect(relL2(gpu[0], ref.out), `${label}: out`).toBeLessThan(TOL);
          expect(relL2(gpu[1], grads.dx), `${label}: dx`).toBeLessThan(TOL);
          expect(relL2(gpu[2], grads.dw), `${label}: dw`).toBeLessThan(TOL);
          expect(relL2(gpu[3], grads.db), `${label}: db`).toBeLessThan(TOL);
          if (training) {
            expect(relL2(gpu[4], ref.runningMean!), `${label}: running mean`).toBeLessThan(TOL);
            expect(relL2(gpu[5], ref.runningVar!), `${label}: running var`).toBeLessThan(TOL);
          }
        }
      }
  });

  it('repeated runs give the same bits, and the raw op may write over x', () => {
    const shape: Shape = [8, 48, 4000];
    const v = values(shape, 7);
    const a = run('cuda', shape, v, true);
    const b = run('cuda', shape, v, true);
    a.forEach((t, i) => expect(Array.from(b[i]).every((u, j) => Object.is(u, t[j])), NAMES[i]).toBe(true));
    const [B, H, L] = shape;
    for (const training of [true, false]) {
      s4.tidy(() => {
        const x = s4.tensor(v.x, shape, { device: 'cuda' });
        const rm = s4.tensor(v.rm, [H], { device: 'cuda' });
        const rv = s4.tensor(v.rv, [H], { device: 'cuda' });
        native.batchNormForward({ x: x.handle, runningMean: rm.handle, runningVar: rv.handle, out: x.handle, B, H, L, momentum: 0.1, eps: 1e-5, training });
        const want = batchNormRef(v.x, null, null, B, H, L, { training, runningMean: v.rm, runningVar: v.rv });
        expect(relL2(x.dataSync(), want.out), `in place, training=${training}`).toBeLessThan(TOL);
      });
    }
  });

  it('a batch-norm SequenceModel moved to CUDA: training forward, gradients, running statistics and eval steps match the CPU', () => {
    const o = { dInput: 2, dModel: 16, nLayers: 2, dState: 8, dOutput: 3, lMax: 64, dropout: 0, norm: 'batch' as const, seed: 3 };
    const [B, L] = [4, 64];
    const xv = randomValues(B * 2 * L, 1).map((v) => 2 * v + 0.3);
    const results = (['cpu', 'cuda'] as const).map((device) => {
      const m = new s4.nn.SequenceModel({ ...o, device: 'cpu' });
      m.to(device);
      expect(m.namedBuffers().every(([, t]) => t.device === device)).toBe(true);
      const x = s4.tensor(xv, [B, 2, L], { device });
      const y = s4.tidy(() => {
        const out = m.forward(x);
        ops.sum(ops.mul(out, out)).backward();
        return out.dataSync();
      });
      const grads = m.namedParameters().map(([, t]) => t.grad!.dataSync());
      const buffers = m.namedBuffers().map(([, t]) => t.dataSync());
      m.eval();
      const st = m.stepper({ batch: B });
      const steps = [0, 1, 2].map((t) =>
        s4.tidy(() => st.step(s4.tensor(Float32Array.from({ length: B * 2 }, (_, i) => xv[i * L + t]), [B, 2], { device })).dataSync()),
      );
      st.dispose();
      x.dispose();
      m.dispose();
      return { y, grads, buffers, steps };
    });
    const [cpu, gpu] = results;
    expect(relL2(gpu.y, cpu.y)).toBeLessThan(TOL);
    gpu.grads.forEach((g, i) => expect(relL2(g, cpu.grads[i]), `gradient ${i}`).toBeLessThan(TOL));
    gpu.buffers.forEach((b, i) => expect(relL2(b, cpu.buffers[i]), `buffer ${i}`).toBeLessThan(TOL));
    gpu.steps.forEach((y, t) => expect(relL2(y, cpu.steps[t]), `step ${t}`).toBeLessThan(TOL));
  });
});
