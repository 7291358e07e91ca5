/**
 * batchNorm on the current backend (CPU in `npm test`): BatchNorm1d over (B, L) per channel
 * of [B, H, L]. Forward in training and eval mode against a float64 reference on shapes with
 * L = 1 (B > 1), B = 1 (L > 1), L = 7 and 784, H across 32 / 256 / 1024; the running
 * statistics after several calls against torch's formula (momentum, unbiased running_var,
 * the batch counter); torch's own outputs, running statistics and gradients
 * (test/data/batch_norm_torch.json, written by test/data/batch_norm_torch.py); inputs with a
 * mean large against their spread; gradients against float64 finite differences and the
 * float64 adjoint; NaN propagation; argument errors; saved statistics freed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import type { Tensor } from '../lib/index';
import { ops as native } from '../lib/native/binding';
import { BN_SHAPES, bnInputs, type BnShape } from './helpers/batch_norm_cases';
import { batchNormBackwardRef, batchNormRef } from './helpers/batch_norm_ref';
import { device, randomValues, relL2 } from './helpers/device';
import { finiteDiff, weightedSum } from './helpers/nn_reference';

const { ops } = s4;
const TOL = 1e-4;

/** Runs batchNorm on fresh tensors; returns the output and the running state after the call. */
function forward(shape: BnShape, v: ReturnType<typeof bnInputs>, o: { training: boolean; momentum?: number; eps?: number; affine?: boolean }) {
  const [B, H, L] = shape;
  return s4.tidy(() => {
    const rm = s4.tensor(v.rm, [H]);
    const rv = s4.tensor(v.rv, [H]);
    const nbt = s4.tensor([3], []);
    const affine = o.affine ?? true;
    const y = ops.batchNorm(s4.tensor(v.x, [B, H, L]), affine ? s4.tensor(v.w, [H]) : null, affine ? s4.tensor(v.b, [H]) : null, {
      training: o.training,
      runningMean: rm,
      runningVar: rv,
      numBatchesTracked: nbt,
      momentum: o.momentum,
      eps: o.eps,
    });
    expect(y.shape).toEqual([B, H, L]);
    return { y: y.dataSync(), rm: rm.dataSync(), rv: rv.dataSync(), nbt: nbt.item() };
  });
}

describe(`batchNorm (${device})`, () => {
  it('training forward and running statistics equal the float64 reference (with and without w, b)', () => {
    BN_SHAPES.forEach((shape, k) => {
      const [B, H, L] = shape;
      const v = bnInputs(shape, 10 * k + 1);
      for (const affine of [true, false]) {
        const got = forward(shape, v, { training: true, affine });
        const want = batchNormRef(v.x, affine ? v.w : null, affine ? v.b : null, B, H, L, { training: true, runningMean: v.rm, runningVar: v.rv });
        const label = `${shape.join('x')} affine=${affine}`;
        expect(relL2(got.y, want.out), `${label}: out`).toBeLessThan(TOL);
        expect(relL2(got.rm, want.runningMean!), `${label}: running mean`).toBeLessThan(TOL);
        expect(relL2(got.rv, want.runningVar!), `${label}: running var`).toBeLessThan(TOL);
        expect(got.nbt).toBe(4);
      }
    });
  });

  it('eval forward uses the running statistics and leaves them (and the batch counter) unchanged', () => {
    BN_SHAPES.forEach((shape, k) => {
      const [B, H, L] = shape;
      const v = bnInputs(shape, 10 * k + 2);
      const got = forward(shape, v, { training: false, eps: 1e-3 });
      const want = batchNormRef(v.x, v.w, v.b, B, H, L, { training: false, eps: 1e-3, runningMean: v.rm, runningVar: v.rv });
      expect(relL2(got.y, want.out), shape.join('x')).toBeLessThan(TOL);
      expect(Array.from(got.rm)).toEqual(Array.from(v.rm));
      expect(Array.from(got.rv)).toEqual(Array.from(v.rv));
      expect(got.nbt).toBe(3);
    });
    // Eval mode needs no second value per channel: one token is a per-channel affine map.
    const v = bnInputs([1, 6, 1], 3);
    const got = forward([1, 6, 1], v, { training: false });
    expect(relL2(got.y, batchNormRef(v.x, v.w, v.b, 1, 6, 1, { training: false, runningMean: v.rm, runningVar: v.rv }).out)).toBeLessThan(TOL);
  });

  it('the running statistics follow torch\'s update over several calls (momentum 0.1, 0.5, 0 and 1)', () => {
    const shape: BnShape = [4, 9, 13];
    const [B, H, L] = shape;
    for (const momentum of [0.1, 0.5, 0, 1]) {
      const v = bnInputs(shape, 20);
      const rm = s4.tensor(v.rm, [H]);
      const rv = s4.tensor(v.rv, [H]);
      const nbt = s4.zeros([]);
      let wantMean: Float64Array = Float64Array.from(v.rm);
      let wantVar: Float64Array = Float64Array.from(v.rv);
      for (let step = 0; step < 5; step++) {
        const x = randomValues(B * H * L, 30 + step).map((t) => 2 * t + step);
        s4.tidy(() => ops.batchNorm(s4.tensor(x, shape), null, null, { training: true, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, momentum }));
        const ref = batchNormRef(x, null, null, B, H, L, { training: true, momentum, runningMean: wantMean, runningVar: wantVar });
        wantMean = ref.runningMean!;
        wantVar = ref.runningVar!;
        expect(relL2(rm.dataSync(), wantMean), `momentum ${momentum} step ${step}: mean`).toBeLessThan(TOL);
        expect(relL2(rv.dataSync(), wantVar), `momentum ${momentum} step ${step}: var`).toBeLessThan(TOL);
        expect(nbt.item()).toBe(step + 1);
      }
      if (momentum === 0) expect(Array.from(rm.dataSync())).toEqual(Array.from(v.rm));
      s4.dispose(rm, rv, nbt);
    }
  });

  it('matches torch.nn.BatchNorm1d: outputs, running statistics, batch counter and gradients (test/data)', () => {
    const file = JSON.parse(readFileSync(join(__dirname, 'data', 'batch_norm_torch.json'), 'utf8')) as {
      cases: {
        B: number;
        H: number;
        L: number;
        momentum: number;
        eps: number;
        init: Record<'weight' | 'bias' | 'running_mean' | 'running_var', number[]>;
        calls: { training: boolean; x: number[]; dy: number[]; y: number[]; dx: number[]; dw: number[]; db: number[]; running_mean: number[]; running_var: number[]; num_batches_tracked: number }[];
      }[];
    };
    expect(file.cases.length).toBeGreaterThan(0);
    for (const c of file.cases) {
      const { B, H, L } = c;
      const w = s4.tensor(c.init.weight, [H], { requiresGrad: true });
      const b = s4.tensor(c.init.bias, [H], { requiresGrad: true });
      const rm = s4.tensor(c.init.running_mean, [H]);
      const rv = s4.tensor(c.init.running_var, [H]);
      const nbt = s4.zeros([]);
      c.calls.forEach((call, k) => {
        const label = `${B}x${H}x${L} call ${k} (training ${call.training})`;
        const x = s4.tensor(call.x, [B, H, L], { requiresGrad: true });
        const y = s4.tidy(() => {
          const out = ops.batchNorm(x, w, b, { training: call.training, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, momentum: c.momentum, eps: c.eps });
          ops.sum(ops.mul(out, s4.tensor(call.dy, [B, H, L]))).backward();
          return out.dataSync();
        });
        expect(relL2(y, call.y), `${label}: y`).toBeLessThan(TOL);
        expect(relL2(x.grad!.dataSync(), call.dx), `${label}: dx`).toBeLessThan(TOL);
        expect(relL2(w.grad!.dataSync(), call.dw), `${label}: dw`).toBeLessThan(TOL);
        expect(relL2(b.grad!.dataSync(), call.db), `${label}: db`).toBeLessThan(TOL);
        expect(relL2(rm.dataSync(), call.running_mean), `${label}: running_mean`).toBeLessThan(TOL);
        expect(relL2(rv.dataSync(), call.running_var), `${label}: running_var`).toBeLessThan(TOL);
        expect(nbt.item(), label).toBe(call.num_batches_tracked);
        s4.zeroGrad([w, b]);
        x.dispose();
      });
      s4.dispose(w, b, rm, rv, nbt);
    }
  });

  it('stays within 1e-4 when the mean is large against the spread (forward, running statistics, gradients)', () => {
    for (const [offset, spread] of [
      [1e4, 1],
      [-3e3, 0.5],
      [1e5, 10],
    ])
      for (const shape of [[4, 5, 300], [1, 3, 2000], [256, 4, 1]] as BnShape[]) {
        const [B, H, L] = shape;
        const v = bnInputs(shape, 40 + L, offset, spread);
        const label = `${shape.join('x')} mean ${offset} spread ${spread}`;
        for (const training of [true, false]) {
          const got = forward(shape, v, { training });
          const want = batchNormRef(v.x, v.w, v.b, B, H, L, { training, runningMean: v.rm, runningVar: v.rv });
          expect(relL2(got.y, want.out), `${label} training=${training}: out`).toBeLessThan(TOL);
          if (training) {
            expect(relL2(got.rm, want.runningMean!), `${label}: running mean`).toBeLessThan(TOL);
            expect(relL2(got.rv, want.runningVar!), `${label}: running var`).toBeLessThan(TOL);
          }
          const dy = randomValues(B * H * L, 7);
          const grads = gradients(shape, v, dy, training);
          const ref = batchNormBackwardRef(dy, v.x, v.w, B, H, L, { training, runningMean: v.rm, runningVar: v.rv });
          expect(relL2(grads.dx, ref.dx), `${label} training=${training}: dx`).toBeLessThan(TOL);
          expect(relL2(grads.dw, ref.dw), `${label} training=${training}: dw`).toBeLessThan(TOL);
          expect(relL2(grads.db, ref.db), `${label} training=${training}: db`).toBeLessThan(TOL);
        }
      }
  });

  it('the float64 adjoint equals float64 finite differences (training and eval)', () => {
    for (const [B, H, L] of [
      [2, 3, 5],
      [1, 4, 7],
      [5, 3, 1],
      [2, 1, 1], // two values a channel: xhat = +-1 whatever x, so dx is zero in training mode
    ] as BnShape[])
      for (const training of [true, false]) {
        const v = bnInputs([B, H, L], 50 + B + H + L);
        const o = { training, runningMean: v.rm, runningVar: v.rv };
        const W = randomValues(B * H * L, 51);
        const f64 = [v.x, v.w, v.b].map((a) => Float64Array.from(a));
        const loss = (k: number) => (t: Float64Array) => {
          const a: ArrayLike<number>[] = f64.slice();
          a[k] = t;
          return weightedSum(batchNormRef(a[0], a[1], a[2], B, H, L, o).out, W);
        };
        const adj = batchNormBackwardRef(W, v.x, v.w, B, H, L, o);
        const label = `${B}x${H}x${L} training=${training}`;
        [adj.dx, adj.dw, adj.db].forEach((g, k) => {
          const fd = finiteDiff(loss(k), f64[k]);
          expect(relL2(g, fd), `${label}: ${['x', 'w', 'b'][k]}`).toBeLessThan(1e-6);
        });
      }
  });

  it('gradients to x, w and b equal float64 finite differences (training and eval)', () => {
    for (const [B, H, L] of [
      [2, 3, 5],
      [1, 4, 7],
      [5, 3, 1],
    ] as BnShape[])
      for (const training of [true, false]) {
        const shape: BnShape = [B, H, L];
        const v = bnInputs(shape, 60 + B + H + L);
        const W = randomValues(B * H * L, 61);
        const got = gradients(shape, v, W, training);
        const o = { training, runningMean: v.rm, runningVar: v.rv };
        const f64 = [v.x, v.w, v.b].map((a) => Float64Array.from(a));
        const loss = (k: number) => (t: Float64Array) => {
          const a: ArrayLike<number>[] = f64.slice();
          a[k] = t;
          return weightedSum(batchNormRef(a[0], a[1], a[2], B, H, L, o).out, W);
        };
        const label = `${B}x${H}x${L} training=${training}`;
        [got.dx, got.dw, got.db].forEach((g, k) => {
          expect(relL2(g, finiteDiff(loss(k), f64[k])), `${label}: ${['x', 'w', 'b'][k]}`).toBeLessThan(TOL);
        });
      }
  });

  it('gradients equal the float64 adjoint on the large shapes (training and eval, with and without w)', () => {
    BN_SHAPES.forEach((shape, k) => {
      const [B, H, L] = shape;
      const v = bnInputs(shape, 70 + k);
      const dy = randomValues(B * H * L, 71 + k);
      for (const training of [true, false])
        for (const affine of [true, false]) {
          const got = gradients(shape, v, dy, training, affine);
          const ref = batchNormBackwardRef(dy, v.x, affine ? v.w : null, B, H, L, { training, runningMean: v.rm, runningVar: v.rv });
          const label = `${shape.join('x')} training=${training} affine=${affine}`;
          expect(relL2(got.dx, ref.dx), `${label}: dx`).toBeLessThan(TOL);
          if (affine) {
            expect(relL2(got.dw, ref.dw), `${label}: dw`).toBeLessThan(TOL);
            expect(relL2(got.db, ref.db), `${label}: db`).toBeLessThan(TOL);
          }
        }
    });
  });

  it('the native backward writes only the gradients asked for', () => {
    const [B, H, L] = [3, 5, 6];
    const v = bnInputs([B, H, L], 80);
    const dyv = randomValues(B * H * L, 81);
    const ref = batchNormBackwardRef(dyv, v.x, v.w, B, H, L, { training: true });
    s4.tidy(() => {
      const x = s4.tensor(v.x, [B, H, L]);
      const w = s4.tensor(v.w, [H]);
      const saved = s4.zeros([3 * H]);
      const out = s4.zeros([B, H, L]);
      native.batchNormForward({ x: x.handle, weight: w.handle, out: out.handle, saved: saved.handle, B, H, L, momentum: 0.1, eps: 1e-5, training: true });
      const dy = s4.tensor(dyv, [B, H, L]);
      const dx = s4.tensor(new Float32Array(B * H * L).fill(7), [B, H, L]);
      const dw = s4.tensor(new Float32Array(H).fill(7), [H]);
      const db = s4.tensor(new Float32Array(H).fill(7), [H]);
      native.batchNormBackward({ gradOut: dy.handle, x: x.handle, weight: w.handle, saved: saved.handle, gradWeight: dw.handle, B, H, L, training: true });
      expect(Array.from(dx.dataSync())).toEqual(new Array(B * H * L).fill(7));
      expect(relL2(dw.dataSync(), ref.dw)).toBeLessThan(TOL);
      expect(Array.from(db.dataSync())).toEqual(new Array(H).fill(7));
      native.batchNormBackward({ gradOut: dy.handle, x: x.handle, weight: w.handle, saved: saved.handle, gradX: dx.handle, B, H, L, training: true });
      expect(relL2(dx.dataSync(), ref.dx)).toBeLessThan(TOL);
      expect(Array.from(db.dataSync())).toEqual(new Array(H).fill(7));
      // The saved mean is the float pair hi + lo, and rstd that of the biased variance.
      const s = saved.dataSync();
      const want = batchNormRef(v.x, null, null, B, H, L, { training: true });
      for (let c = 0; c < H; c++) {
        expect(Math.abs(s[c] + s[H + c] - want.mean[c])).toBeLessThan(1e-7 * (1 + Math.abs(want.mean[c])));
        expect(Math.abs(s[2 * H + c] * Math.sqrt(want.var[c] + 1e-5) - 1)).toBeLessThan(1e-6);
      }
    });
  });

  it('the raw op may write over x (training and eval)', () => {
    const shape: BnShape = [3, 6, 11];
    const [B, H, L] = shape;
    const v = bnInputs(shape, 85);
    for (const training of [true, false]) {
      s4.tidy(() => {
        const x = s4.tensor(v.x, shape);
        const rm = s4.tensor(v.rm, [H]);
        const rv = s4.tensor(v.rv, [H]);
        native.batchNormForward({ x: x.handle, runningMean: rm.handle, runningVar: rv.handle, out: x.handle, B, H, L, momentum: 0.1, eps: 1e-5, training });
        const want = batchNormRef(v.x, null, null, B, H, L, { training, runningMean: v.rm, runningVar: v.rv });
        expect(relL2(x.dataSync(), want.out), `training=${training}`).toBeLessThan(TOL);
        expect(relL2(rv.dataSync(), want.runningVar!)).toBeLessThan(TOL);
      });
    }
  });

  it('a NaN in x gives NaN in its channel in training mode, in its element in eval mode (it never passes)', () => {
    const shape: BnShape = [2, 4, 5];
    const [B, H, L] = shape;
    const v = bnInputs(shape, 90);
    v.x[(1 * H + 2) * L + 3] = NaN;
    const train = forward(shape, v, { training: true });
    for (let bi = 0; bi < B; bi++)
      for (let l = 0; l < L; l++) {
        expect(Number.isNaN(train.y[(bi * H + 2) * L + l])).toBe(true);
        expect(Number.isNaN(train.y[(bi * H + 1) * L + l])).toBe(false);
      }
    expect(Number.isNaN(train.rm[2]) && Number.isNaN(train.rv[2])).toBe(true);
    const ev = forward(shape, v, { training: false });
    expect(ev.y.filter((t) => Number.isNaN(t)).length).toBe(1);
    expect(relL2(ev.y, batchNormRef(v.x, v.w, v.b, B, H, L, { training: false, runningMean: v.rm, runningVar: v.rv }).out)).toBe(Infinity);
  });

  it('writes into opts.out, frees its saved statistics, and names the argument in errors', () => {
    const [B, H, L] = [2, 3, 4];
    const v = bnInputs([B, H, L], 100);
    const x = s4.tensor(v.x, [B, H, L], { requiresGrad: true });
    const w = s4.tensor(v.w, [H], { requiresGrad: true });
    const rm = s4.tensor(v.rm, [H]);
    const rv = s4.tensor(v.rv, [H]);
    const out = s4.zeros([B, H, L]);
    const before = s4.memory()[device].tensors;
    s4.tidy(() => {
      const y = ops.batchNorm(x, w, null, { training: true }, { out });
      expect(y).toBe(out);
      ops.sum(ops.mul(y, y)).backward();
    });
    s4.zeroGrad([x, w]);
    expect(s4.memory()[device].tensors).toBe(before);
    expect(relL2(out.dataSync(), batchNormRef(v.x, v.w, null, B, H, L, { training: true }).out)).toBeLessThan(TOL);
    s4.noGrad(() => {
      ops.batchNorm(x, w, null, { training: false, runningMean: rm, runningVar: rv }).dispose();
      expect(s4.memory()[device].tensors).toBe(before);
    });

    const t = { training: true };
    expect(() => ops.batchNorm(s4.zeros([B, H]), null, null, t)).toThrow(/batchNorm: argument 'x' must have rank 3/);
    expect(() => ops.batchNorm(x, s4.zeros([H + 1]), null, t)).toThrow(/batchNorm: argument 'w' must have shape \[H\] = \[3\]/);
    expect(() => ops.batchNorm(x, null, s4.zeros([1]), t)).toThrow(/batchNorm: argument 'b' must have shape \[H\] = \[3\]/);
    expect(() => ops.batchNorm(x, null, null, undefined as never)).toThrow(/batchNorm: argument 'opts' must be an object/);
    expect(() => ops.batchNorm(x, null, null, {} as never)).toThrow(/batchNorm: option 'training' must be a boolean/);
    expect(() => ops.batchNorm(x, null, null, { training: false })).toThrow(/batchNorm: options 'runningMean' and 'runningVar' are required in eval mode/);
    expect(() => ops.batchNorm(x, null, null, { training: true, runningMean: rm })).toThrow(/must be given together/);
    expect(() => ops.batchNorm(x, null, null, { training: true, runningMean: rm, runningVar: s4.zeros([H + 1]) })).toThrow(/batchNorm: argument 'runningVar' must have shape \[H\] = \[3\]/);
    expect(() => ops.batchNorm(x, null, null, { training: true, runningMean: rm, runningVar: rm })).toThrow(/option 'runningMean' must not be the same tensor as 'runningVar'/);
    expect(() => ops.batchNorm(x, null, rm, { training: true, runningMean: rm, runningVar: rv })).toThrow(/option 'runningMean' must not be the same tensor as 'b'/);
    expect(() => ops.batchNorm(x, null, null, { training: true, numBatchesTracked: s4.zeros([2]) })).toThrow(/batchNorm: argument 'numBatchesTracked' must hold one value/);
    expect(() => ops.batchNorm(x, null, null, { training: true, runningMean: s4.zeros([H], { requiresGrad: true }), runningVar: rv })).toThrow(/'runningMean' is running state and must not require a gradient/);
    expect(() => ops.batchNorm(x, null, null, { training: true, momentum: 1.5 })).toThrow(/batchNorm: argument 'momentum' must be in \[0, 1\]/);
    expect(() => ops.batchNorm(x, null, null, { training: true, eps: 0 })).toThrow(/batchNorm: argument 'eps' must be in \(0, 1\]/);
    expect(() => ops.batchNorm(s4.zeros([1, H, 1]), null, null, t)).toThrow(/batchNorm: training mode needs more than one value per channel \(B \* L >= 2/);
    expect(() => ops.batchNorm(x, null, null, t, { out: x })).toThrow(/batchNorm: option 'out' must not be the input 'x'/);
    // The raw op checks the same on its own.
    const o = s4.zeros([1, H, 1]);
    expect(() => native.batchNormForward({ x: o.handle, out: o.handle, B: 1, H, L: 1, momentum: 0.1, eps: 1e-5, training: true })).toThrow(/batchNormForward: training mode needs more than one value per channel/);
    expect(() => native.batchNormForward({ x: o.handle, out: o.handle, B: 1, H, L: 1, momentum: 0.1, eps: 1e-5, training: false })).toThrow(/batchNormForward: arguments 'runningMean' and 'runningVar' are required/);
    expect(() => native.batchNormForward({ x: x.handle, runningMean: rm.handle, out: out.handle, B, H, L, momentum: 0.1, eps: 1e-5, training: true })).toThrow(/must be given together/);
    s4.dispose(x, w, rm, rv, out, o);
  });
});

/** Gradients of sum(y * dy) for y = batchNorm(x, w, b) in one mode: dx, dw, db. */
function gradients(shape: BnShape, v: ReturnType<typeof bnInputs>, dy: Float32Array, training: boolean, affine = true) {
  const [, H] = shape;
  const x = s4.tensor(v.x, shape, { requiresGrad: true });
  const w = affine ? s4.tensor(v.w, [H], { requiresGrad: true }) : null;
  const b = affine ? s4.tensor(v.b, [H], { requiresGrad: true }) : null;
  const rm = s4.tensor(v.rm, [H]);
  const rv = s4.tensor(v.rv, [H]);
  s4.tidy(() => {
    const y = ops.batchNorm(x, w, b, { training, runningMean: rm, runningVar: rv });
    ops.sum(ops.mul(y, s4.tensor(dy, shape))).backward();
  });
  const grads = { dx: x.grad!.dataSync(), dw: w ? w.grad!.dataSync() : new Float32Array(0), db: b ? b.grad!.dataSync() : new Float32Array(0) };
  s4.dispose(...([x, w, b, rm, rv].filter((t) => t !== null) as Tensor[]));
  return grads;
}
