import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { diagStepper, stepper, type Stepper } from '../lib/nn/stepper';
import { diagTensors, dplrTensors, randomDiag, randomDplr, roundDiag, roundDplr } from './helpers/conv_ref';
import { device, randomValues, relL2 } from './helpers/device';

const [B, H, N2, T, L] = [2, 3, 8, 23, 23];

/** Column t of u [B, H, T] as [B, H]. */
function column(u: Float32Array, t: number, T: number): Float32Array {
  const out = new Float32Array(B * H);
  for (let r = 0; r < B * H; r++) out[r] = u[r * T + t];
  return out;
}

/** Columns [t0, t1) of u [B, H, T] as [B, H, t1 - t0]. */
function slice(u: Float32Array, t0: number, t1: number, T: number): Float32Array {
  const w = t1 - t0;
  const out = new Float32Array(B * H * w);
  for (let r = 0; r < B * H; r++) for (let t = 0; t < w; t++) out[r * w + t] = u[r * T + t0 + t];
  return out;
}

/** Feeds u [B, H, T] through the stepper in the given chunks (1: step(), else stepMany()). */
function feed(st: Stepper, u: Float32Array, chunks: number[]): Float32Array {
  const y = new Float32Array(B * H * T);
  let t0 = 0;
  for (const c of chunks) {
    s4.tidy(() => {
      if (c === 1) {
        const yt = st.step(s4.tensor(column(u, t0, T), [B, H]));
        expect(yt.shape).toEqual([B, H]);
        const v = yt.dataSync();
        for (let r = 0; r < B * H; r++) y[r * T + t0] = v[r];
      } else {
        const yc = st.stepMany(s4.tensor(slice(u, t0, t0 + c, T), [B, H, c]));
        expect(yc.shape).toEqual([B, H, c]);
        const v = yc.dataSync();
        for (let r = 0; r < B * H; r++) for (let t = 0; t < c; t++) y[r * T + t0 + t] = v[r * c + t];
      }
    });
    t0 += c;
  }
  expect(t0).toBe(T);
  return y;
}

const CHUNKS = [1, 1, 5, 1, 7, 1, 7];

describe('DPLR stepper', () => {
  it('is exported as s4.ssm.stepper / s4.ssm.diagStepper', () => {
    expect(s4.ssm.stepper).toBe(stepper);
    expect(s4.ssm.diagStepper).toBe(diagStepper);
  });


  const p = randomDplr(H, N2, 21);
  const d = randomValues(H, 22);
  const u = randomValues(B * H * T, 23);
  const whole = s4.tidy(() => s4.ops.dplrScan(dplrTensors(p, d, device), s4.tensor(u, [B, H, T]), L).dataSync());

  it('feeding in chunks equals feeding the whole sequence', () => {
    const params = dplrTensors(p, d, device);
    const st = stepper(params, { batch: B, L });
    expect([st.batch, st.H, st.N2, st.device]).toEqual([B, H, N2, device]);
    expect(relL2(feed(st, u, CHUNKS), whole)).toBeLessThan(1e-5);
    st.reset();
    expect(relL2(feed(st, u, [T]), whole)).toBeLessThan(1e-5);
    st.dispose();
    s4.dispose(params);
  });

  it('one token at a time equals the whole sequence', () => {
    const st = s4.tidy(() => stepper(dplrTensors(p, d, device), { batch: B, L }));
    expect(relL2(feed(st, u, Array(T).fill(1)), whole)).toBeLessThan(1e-5);
    st.dispose();
  });

  it('keeps its state, returns copies of it, and reset() starts over', () => {
    const st = s4.tidy(() => stepper(dplrTensors(p, d, device), { batch: B, L }));
    const s0 = st.state;
    expect([s0.shape, s0.dtype, s0.device]).toEqual([[B, H, N2], 'complex64', device]);
    expect(s0.dataSync().every((v) => v === 0)).toBe(true);
    const first = feed(st, u, [10, 13]);
    const s1 = st.state;
    expect(s1.dataSync().some((v) => v !== 0)).toBe(true);
    s1.dispose(); // a copy: the stepper goes on
    st.reset();
    expect(st.state.dataSync().every((v) => v === 0)).toBe(true);
    expect(relL2(feed(st, u, [T]), first)).toBeLessThan(1e-6);
    s4.dispose(s0);
    st.dispose();
  });

  it('writes into a given output tensor without allocating', () => {
    const st = s4.tidy(() => stepper(dplrTensors(p, d, device), { batch: B, L }));
    const out = s4.zeros([B, H], { device });
    const outMany = s4.zeros([B, H, T - 1], { device });
    const y = new Float32Array(B * H * T);
    s4.tidy(() => {
      expect(st.step(s4.tensor(column(u, 0, T), [B, H], { device }), out)).toBe(out);
      const v = out.dataSync();
      for (let r = 0; r < B * H; r++) y[r * T] = v[r];
      expect(st.stepMany(s4.tensor(slice(u, 1, T, T), [B, H, T - 1], { device }), outMany)).toBe(outMany);
      const w = outMany.dataSync();
      for (let r = 0; r < B * H; r++) for (let t = 1; t < T; t++) y[r * T + t] = w[r * (T - 1) + t - 1];
      expect(() => st.step(s4.zeros([B, H], { device }), s4.zeros([B, H + 1], { device }))).toThrow(/stepper.step: argument 'out' must have shape \[2, 3\]/);
      const same = s4.zeros([B, H], { device });
      expect(() => st.step(same, same)).toThrow(/'out' must not be the input 'u'/);
    });
    expect(relL2(y, whole)).toBeLessThan(1e-5);
    s4.dispose(out, outMany);
    st.dispose();
  });

  it('takes float64 parameter sets with d in the options', () => {
    const st = stepper(roundDplr(p), { batch: B, L, d, device });
    expect(relL2(feed(st, u, [4, 19]), whole)).toBeLessThan(1e-5);
    st.dispose();
  });

  it('opts.d overrides params.d', () => {
    const st = s4.tidy(() => stepper(dplrTensors(p, [0, 0, 0], device), { batch: B, L, d: s4.tensor(d, [H], { device }) }));
    expect(relL2(feed(st, u, [T]), whole)).toBeLessThan(1e-5);
    st.dispose();
  });
});

describe('diagonal (S4D) stepper', () => {
  const q = randomDiag(H, N2, 31);
  const d = randomValues(H, 32);
  const u = randomValues(B * H * T, 33);
  const whole = s4.tidy(() => s4.ops.diagScan(diagTensors(q, d, device), s4.tensor(u, [B, H, T])).dataSync());

  it('feeding in chunks equals feeding the whole sequence', () => {
    const st = s4.tidy(() => diagStepper(diagTensors(q, d, device), { batch: B }));
    expect(relL2(feed(st, u, CHUNKS), whole)).toBeLessThan(1e-5);
    st.reset();
    expect(relL2(feed(st, u, Array(T).fill(1)), whole)).toBeLessThan(1e-5);
    st.dispose();
  });

  it('takes float64 parameter sets', () => {
    using st = diagStepper(roundDiag(q), { batch: B, d, device });
    expect(relL2(feed(st, u, [T]), whole)).toBeLessThan(1e-5);
  });
});

describe('stepper errors', () => {
  const p = randomDplr(H, N2, 41);
  const make = () => s4.tidy(() => stepper(dplrTensors(p, null, device), { batch: B, L }));

  it('refuses a batch or channel count other than the one it was made for', () => {
    const st = make();
    s4.tidy(() => {
      expect(() => st.step(s4.zeros([B + 1, H]))).toThrow(/stepper.step: argument 'u' must have shape \[B, H\] = \[2, 3\].*batch is fixed/);
      expect(() => st.step(s4.zeros([B, H + 1]))).toThrow(RangeError);
      expect(() => st.stepMany(s4.zeros([1, H, 4]))).toThrow(/stepper.stepMany: argument 'u' must have shape \[B, H, T\] = \[2, 3, \*\]/);
      expect(() => st.step(s4.zeros([B, H, 1]))).toThrow(/'u' must have rank 2/);
      expect(() => st.stepMany(s4.zeros([B, H]))).toThrow(/'u' must have rank 3/);
      expect(() => st.step(s4.complex([0], [0], [1, 1]))).toThrow(/'u' must be float32/);
      expect(() => st.step([1, 2] as never)).toThrow(TypeError);
    });
    st.dispose();
  });

  it('refuses use after dispose, and dispose is idempotent', () => {
    const st = make();
    st.dispose();
    st.dispose();
    expect(st.isDisposed).toBe(true);
    s4.tidy(() => {
      expect(() => st.step(s4.zeros([B, H]))).toThrow(/stepper.step: the stepper has been disposed/);
      expect(() => st.stepMany(s4.zeros([B, H, 2]))).toThrow(/disposed/);
    });
    expect(() => st.state).toThrow(/stepper.state: the stepper has been disposed/);
    expect(() => st.reset()).toThrow(/disposed/);
  });

  it('checks its options and parameters', () => {
    s4.tidy(() => {
      const params = dplrTensors(p, null, device);
      expect(() => stepper(params, { batch: 0, L })).toThrow(/stepper: argument 'batch' must be an integer/);
      expect(() => stepper(params, { batch: 1.5, L })).toThrow(RangeError);
      expect(() => stepper(params, { L } as never)).toThrow(/'batch' must be a finite number/);
      expect(() => stepper(params, { batch: 1 } as never)).toThrow(/'L' must be a finite number/);
      expect(() => stepper(params, null as never)).toThrow(TypeError);
      expect(() => stepper(params, { batch: 1, L, d: [1, 2] })).toThrow(/option 'd' must hold H = 3 values/);
      expect(() => stepper(params, { batch: 1, L, device: 'tpu' as never })).toThrow(/option 'device'/);
      expect(() => stepper({ ...params, b: s4.zeros([H, N2]) }, { batch: 1, L })).toThrow(/stepper: argument 'b' must be complex64/);
      expect(() => stepper({ H: 2 } as never, { batch: 1, L })).toThrow(/'params.N2'/);
      expect(() => diagStepper({ ...roundDiag(randomDiag(2, 2, 1)), dt: Float64Array.of(0.1, 0) }, { batch: 1 })).toThrow(/'dt' must be positive/);
    });
  });

  it('survives the tidy scope it was made in', () => {
    const st = s4.tidy(() => stepper(dplrTensors(p, null, device), { batch: B, L }));
    const y = s4.tidy(() => st.stepMany(s4.tensor(randomValues(B * H * 3, 1), [B, H, 3])).dataSync());
    expect(y.length).toBe(B * H * 3);
    expect(y.every(Number.isFinite)).toBe(true);
    st.dispose();
  });
});
