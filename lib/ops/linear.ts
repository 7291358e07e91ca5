/**
 * Linear layers on the GEMM engines, with autograd (native/binding/linear.cpp):
 *
 *   linear(x [..., K], w [N, K], bias? [N]) -> [..., N]              y = x W^T + bias
 *   linearChannels(x [B, H, L], w [O, H], bias? [O]) -> [B, O, L]    y[b] = W x[b] + bias
 *   gemmInfo(device): which GEMM the ops of a device use
 *
 * One native backward call gives the gradients of the inputs that need one.
 */
import { backend, type DeviceName } from '../backend';
import { core, ops, type GemmInfo } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectTensor } from '../util/validate';
import { defineOp, handle, type OpOptions } from './define';

/** Which GEMM a device's ops use. */
export type NnInfo = GemmInfo;

/** GEMM in use on `device` (default: the current backend). */
export function gemmInfo(device: DeviceName = backend()): NnInfo {
  return core.nnInfo(device);
}

function nonEmpty(fn: string, name: string, t: Tensor): void {
  if (t.rank === 0 || t.size === 0) {
    throw new RangeError(`${fn}: argument '${name}' must have rank >= 1 and no zero-sized dimension (got [${t.shape.join(', ')}])`);
  }
}

const linearOp = defineOp({
  name: 'linear',
  inputs: { x: 'float32', w: 'float32', bias: 'float32?' },
  plan: ({ x, w, bias }, _args: undefined) => {
    const fn = 'linear';
    nonEmpty(fn, 'x', x);
    const K = x.shape[x.rank - 1];
    expectTensor(fn, 'w', w, { rank: 2 });
    if (w.shape[1] !== K || w.shape[0] < 1) {
      throw new RangeError(`${fn}: argument 'w' must have shape [N, K] with K = ${K} (the last dim of 'x'), N >= 1 (got [${w.shape.join(', ')}])`);
    }
    const N = w.shape[0];
    if (bias) expectTensor(fn, 'bias', bias, { shape: [N], dims: ['N'] });
    return { shape: [...x.shape.slice(0, -1), N], M: x.size / K, K, N };
  },
  forward: ({ x, w, bias }, out, { M, K, N }) =>
    ops.linearForward({ x: x.handle, weight: w.handle, bias: handle(bias), out: out.handle, M, K, N }),
  backward: (g, { x, w }, { M, K, N }, grads) =>
    ops.linearBackward({
      gradOut: g.handle,
      x: x.handle,
      weight: w.handle,
      gradX: handle(grads.x),
      gradWeight: handle(grads.w),
      gradBias: handle(grads.bias),
      M,
      K,
      N,
    }),
});

/**
 * y = x W^T + bias over the last dimension: x [..., K], w [N, K], bias [N] -> [..., N].
 * opts.out: a float32 tensor of the result's shape to write y into.
 */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null, opts?: OpOptions): Tensor {
  return linearOp({ x, w, bias }, undefined, opts);
}

const linearChannelsOp = defineOp({
  name: 'linearChannels',
  inputs: { x: 'float32', w: 'float32', bias: 'float32?' },
  plan: ({ x, w, bias }, _args: undefined) => {
    const fn = 'linearChannels';
    expectTensor(fn, 'x', x, { rank: 3 });
    nonEmpty(fn, 'x', x);
    const [B, H, L] = x.shape;
    expectTensor(fn, 'w', w, { rank: 2 });
    if (w.shape[1] !== H || w.shape[0] < 1) {
      throw new RangeError(`${fn}: argument 'w' must have shape [O, H] with H = ${H} (got [${w.shape.join(', ')}])`);
    }
    const O = w.shape[0];
    if (bias) expectTensor(fn, 'bias', bias, { shape: [O], dims: ['O'] });
    return { shape: [B, O, L], B, H, L, O };
  },
  forward: ({ x, w, bias }, out, { B, H, L, O }) =>
    ops.linearChannelsForward({ x: x.handle, weight: w.handle, bias: handle(bias), out: out.handle, B, H, L, O }),
  backward: (g, { x, w }, { B, H, L, O }, grads) =>
    ops.linearChannelsBackward({
      gradOut: g.handle,
      x: x.handle,
      weight: w.handle,
      gradX: handle(grads.x),
      gradWeight: handle(grads.w),
      gradBias: handle(grads.bias),
      B,
      H,
      L,
      O,
    }),
});

/**
 * Position-wise linear of channel-major data: y[b, o, l] = sum_h w[o, h] x[b, h, l] + bias[o],
 * x [B, H, L], w [O, H], bias [O] -> [B, O, L]. opts.out: a float32 [B, O, L] tensor to write y into.
 */
export function linearChannels(x: Tensor, w: Tensor, bias?: Tensor | null, opts?: OpOptions): Tensor {
  return linearChannelsOp({ x, w, bias }, undefined, opts);
}
