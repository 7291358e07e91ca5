import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { ops } from '../lib/native/binding';
import { convBackward64, conv64, loadGoldenDplr } from './helpers/conv_ref';
import { device, randomValues, relL2, TOL_VS_FLOAT64 as TOL } from './helpers/device';

const SHAPES: [number, number, number][] = [[1, 1, 1], [2, 3, 7], [3, 2, 64], [2, 2, 100], [1, 3, 333], [2, 1, 784]];

function inputs(B: number, H: number, L: number, seed: number) {
  return { u: randomValues(B * H * L, seed), k: randomValues(H * L, seed + 1), d: randomValues(H, seed + 2) };
}

describe('fftConv forward', () => {
  for (const [B, H, L] of SHAPES) {
    for (const withD of [false, true]) {
      it(`equals the direct causal convolution for [${B}, ${H}, ${L}]${withD ? ' with d' : ''}`, () => {
        const { u, k, d } = inputs(B, H, L, B * 1000 + L);
        const y = s4.tidy(() =>
          s4.ops.fftConv(s4.tensor(u, [B, H, L]), s4.tensor(k, [H, L]), withD ? s4.tensor(d, [H]) : undefined).dataSync(),
        );
        expect(relL2(y, conv64(u, k, withD ? d : null, B, H, L))).toBeLessThan(TOL);
      });
    }
  }

  it('gives zeros for a zero kernel and d*u for a zero kernel with d', () => {
    const [B, H, L] = [2, 2, 9];
    const u = randomValues(B * H * L, 5);
    const d = [0.5, -2];
    const y = s4.tidy(() => s4.ops.fftConv(s4.tensor(u, [B, H, L]), s4.zeros([H, L]), s4.tensor(d, [H])).dataSync());
    const want = Float64Array.from(u, (v, i) => v * d[Math.floor(i / L) % H]);
    expect(relL2(y, want)).toBeLessThan(1e-6);
  });

  it('reproduces the official S4 output y = K * u + D u of the golden file', () => {
    const g = loadGoldenDplr();
    const { H } = g.params;
    const B = g.u.length / (H * g.L);
    const y = s4.tidy(() =>
      s4.ops.fftConv(s4.tensor(g.u, [B, H, g.L]), s4.tensor(g.K, [H, g.L]), s4.tensor(g.D, [H])).dataSync(),
    );
    expect(relL2(y, g.y)).toBeLessThan(1e-5);
  });

  it('accepts an empty batch', () => {
    const y = s4.tidy(() => {
      const out = s4.ops.fftConv(s4.zeros([0, 2, 5]), s4.ones([2, 5]));
      return { shape: [...out.shape], n: out.dataSync().length };
    });
    expect(y).toEqual({ shape: [0, 2, 5], n: 0 });
  });
});

describe('fftConv backward', () => {
  it('the float64 adjoint matches central finite differences of the float64 definition', () => {
    const [B, H, L] = [2, 2, 6];
    const { u, k, d } = inputs(B, H, L, 71);
    const w = randomValues(B * H * L, 74);
    const loss = (uu: ArrayLike<number>, kk: ArrayLike<number>, dd: ArrayLike<number>) =>
      conv64(uu, kk, dd, B, H, L).reduce((acc, v, i) => acc + v * w[i], 0);
    const ref = convBackward64(w, u, k, d, B, H, L);
    const eps = 1e-5;
    const fd = (arr: Float32Array, which: 0 | 1 | 2) =>
      Float64Array.from(arr, (_, i) => {
        const p = Float64Array.from(arr), m = Float64Array.from(arr);
        p[i] += eps;
        m[i] -= eps;
        const args = (x: Float64Array) => (which === 0 ? loss(x, k, d) : which === 1 ? loss(u, x, d) : loss(u, k, x));
        return (args(p) - args(m)) / (2 * eps);
      });
    expect(relL2(ref.du, fd(u, 0))).toBeLessThan(1e-8);
    expect(relL2(ref.dk, fd(k, 1))).toBeLessThan(1e-8);
    expect(relL2(ref.dd, fd(d, 2))).toBeLessThan(1e-8);
  });

  for (const [B, H, L] of SHAPES) {
    it(`autograd gives du, dk, dd of sum(y * W) for [${B}, ${H}, ${L}]`, () => {
      const { u, k, d } = inputs(B, H, L, 300 + L);
      const w = randomValues(B * H * L, 400 + L);
      const ref = convBackward64(w, u, k, d, B, H, L);
      const ut = s4.tensor(u, [B, H, L], { requiresGrad: true });
      const kt = s4.tensor(k, [H, L], { requiresGrad: true });
      const dt = s4.tensor(d, [H], { requiresGrad: true });
      s4.tidy(() => s4.ops.sum(s4.ops.mul(s4.ops.fftConv(ut, kt, dt), s4.tensor(w, [B, H, L]))).backward());
      expect(relL2(ut.grad!.dataSync(), ref.du)).toBeLessThan(TOL);
      expect(relL2(kt.grad!.dataSync(), ref.dk)).toBeLessThan(TOL);
      expect(relL2(dt.grad!.dataSync(), ref.dd)).toBeLessThan(TOL);
      s4.dispose(ut, kt, dt);
    });
  }

  it('computes only the gradients that are asked for', () => {
    const [B, H, L] = [2, 3, 11];
    const { u, k } = inputs(B, H, L, 90);
    const w = randomValues(B * H * L, 91);
    const ref = convBackward64(w, u, k, null, B, H, L);
    const ut = s4.tensor(u, [B, H, L]);
    const kt = s4.tensor(k, [H, L], { requiresGrad: true });
    s4.tidy(() => s4.ops.sum(s4.ops.mul(s4.ops.fftConv(ut, kt), s4.tensor(w, [B, H, L]))).backward());
    expect(ut.grad).toBeNull();
    expect(relL2(kt.grad!.dataSync(), ref.dk)).toBeLessThan(TOL);
    const ut2 = s4.tensor(u, [B, H, L], { requiresGrad: true });
    const kt2 = s4.tensor(k, [H, L]);
    s4.tidy(() => s4.ops.sum(s4.ops.mul(s4.ops.fftConv(ut2, kt2), s4.tensor(w, [B, H, L]))).backward());
    expect(kt2.grad).toBeNull();
    expect(relL2(ut2.grad!.dataSync(), ref.du)).toBeLessThan(TOL);
    s4.dispose(ut, kt, ut2, kt2);
  });

  it('records nothing under noGrad', () => {
    const kt = s4.tensor(randomValues(6, 1), [2, 3], { requiresGrad: true });
    const y = s4.noGrad(() => s4.ops.fftConv(s4.tensor(randomValues(6, 2), [1, 2, 3]), kt));
    expect(y.requiresGrad).toBe(false);
    s4.dispose(kt, y);
  });
});

describe('fftConv argument errors', () => {
  const u = () => s4.tensor(randomValues(2 * 3 * 7, 1), [2, 3, 7]);
  const k = () => s4.tensor(randomValues(21, 2), [3, 7]);

  it('names the argument and the expected shape', () => {
    s4.tidy(() => {
      expect(() => s4.ops.fftConv(s4.tensor([1, 2, 3], [3]), k())).toThrow(RangeError);
      expect(() => s4.ops.fftConv(s4.tensor([1, 2, 3], [3]), k())).toThrow(/'u' must have rank 3/);
      expect(() => s4.ops.fftConv(u(), s4.zeros([3, 8]))).toThrow(/'k' must have shape \[H, L\] = \[3, 7\] \(got \[3, 8\]\)/);
      expect(() => s4.ops.fftConv(u(), s4.zeros([2, 7]))).toThrow(RangeError);
      expect(() => s4.ops.fftConv(u(), k(), s4.zeros([4]))).toThrow(/'d' must have shape \[H\] = \[3\]/);
      expect(() => s4.ops.fftConv(s4.zeros([2, 0, 7]), s4.zeros([0, 7]))).toThrow(/'u' must have H >= 1 and L >= 1/);
    });
  });

  it('rejects wrong types, dtypes and disposed tensors', () => {
    s4.tidy(() => {
      expect(() => s4.ops.fftConv([1, 2, 3] as unknown as s4.Tensor, k())).toThrow(TypeError);
      expect(() => s4.ops.fftConv(u(), null as unknown as s4.Tensor)).toThrow(/'k' must be a Tensor/);
      const c = s4.complex(randomValues(21, 3), randomValues(21, 4), [3, 7]);
      expect(() => s4.ops.fftConv(u(), c)).toThrow(/'k' must be float32 \(got complex64\)/);
      const gone = k();
      gone.dispose();
      expect(() => s4.ops.fftConv(u(), gone)).toThrow(/'k' has been disposed/);
    });
  });

  it('the raw addon checks buffer sizes too', () => {
    s4.tidy(() => {
      const y = s4.zeros([2, 3, 7]);
      const sizes = { B: 2, H: 3, L: 7 };
      expect(() => ops.fftConv({ u: u().handle, k: s4.zeros([3, 6]).handle, d: null, y: y.handle, ...sizes })).toThrow(/fftConv.*'k'/);
      expect(() => ops.fftConv({ u: u().handle, k: k().handle, d: s4.zeros([2]).handle, y: y.handle, ...sizes })).toThrow(/fftConv.*'d'/);
      expect(() => ops.fftConv({ u: u().handle, k: k().handle, d: null, y: y.handle, ...sizes, L: 0 })).toThrow(/fftConv.*'L'/);
      expect(() =>
        ops.fftConvBackward({ dy: y.handle, u: u().handle, k: k().handle, du: s4.zeros([5]).handle, ...sizes }),
      ).toThrow(/fftConvBackward.*'du'/);
    });
  });

  it('runs on the device of its inputs', () => {
    const y = s4.tidy(() => s4.ops.fftConv(u(), k()).device);
    expect(y).toBe(device);
  });
});
