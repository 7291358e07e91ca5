/**
 * Long convolution through the FFT, with autograd (native/binding/conv.cpp).
 *
 *   fftConv(u [B,H,L], k [H,L], d? [H]) -> y [B,H,L]:  y = causal conv(u, k) + d u,
 *     du, dk, dd from one native backward call.
 *
 * The recurrent view of the same layers (dplrScan, diagScan) is in lib/ops/scan.ts.
 */
import { ops } from '../native/binding';
import { Tensor } from '../tensor/tensor';
import { expectTensor } from '../util/validate';
import { defineOp, handle, type OpOptions } from './define';

const fftConvOp = defineOp({
  name: 'fftConv',
  inputs: { u: { dtype: 'float32', rank: 3 }, k: 'float32', d: 'float32?' },
  plan: ({ u, k, d }, _args: undefined) => {
    const fn = 'fftConv';
    const [B, H, L] = u.shape;
    if (H < 1 || L < 1) throw new RangeError(`${fn}: argument 'u' must have H >= 1 and L >= 1 (got [${u.shape.join(', ')}])`);
    expectTensor(fn, 'k', k, { shape: [H, L], dims: ['H', 'L'] });
    if (d) expectTensor(fn, 'd', d, { shape: [H], dims: ['H'] });
    return { shape: [B, H, L], B, H, L };
  },
  forward: ({ u, k, d }, y, { B, H, L }) => ops.fftConv({ u: u.handle, k: k.handle, d: handle(d), y: y.handle, B, H, L }),
  backward: (g, { u, k, d }, { B, H, L }, grads) =>
    ops.fftConvBackward({
      dy: g.handle,
      u: u.handle,
      k: k.handle,
      d: handle(d),
      du: handle(grads.u),
      dk: handle(grads.k),
      dd: handle(grads.d),
      B,
      H,
      L,
    }),
});

/**
 * Causal convolution of u [B,H,L] with k [H,L] plus the skip d [H] (optional), via the FFT.
 * opts.out: a float32 [B,H,L] tensor to write y into.
 */
export function fftConv(u: Tensor, k: Tensor, d?: Tensor | null, opts?: OpOptions): Tensor {
  return fftConvOp({ u, k, d }, undefined, opts);
}
