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

/** What the backward calls of both layers take besides the sizes. */
function backwardArgs(g: Tensor, x: Tensor, w: Tensor, grads: { x: Tensor | null; w: Tensor | null; bias: Tensor | null }) {
  return { gradOut: g.handle, x: x.handle, weight: w.handle, gradX: handle(grads.x), gradWeight: handle(grads.w), gradBias: handle(grads.bias) };
}

const linearOp = defineOp({
  name: 'linear',
  inputs: { x: { dtype: 'float32', nonEmpty: true }, w: { dtype: 'float32', rank: 2 }, bias: 'float32?' },
  plan: ({ x, w, bias }, _args: undefined) => {
    const fn = 'linear';
    const K = x.shape[x.rank - 1];
    if (w.shape[1] !== K || w.shape[0] < 1) {
      throw new RangeError(`${fn}: argument 'w' must have shape [N, K] with K = ${K} (the last dim of 'x'), N >= 1 (got [${w.shape.join(', ')}])`);
    }
    const N = w.shape[0];
    if (bias) expectTensor(fn, 'bias', bias, { shape: [N], dims: ['N'] });
    return { shape: [...x.shape.slice(0, -1), N], M: x.size / K, K, N };
  },
  forward: ({ x, w, bias }, out, { M, K, N }) =>
    ops.linearForward({ x: x.handle, weight: w.handle, bias: handle(bias), out: out.handle, M, K, N }),
  backward: (g, { x, w }, { M, K, N }, grads) => ops.linearBackward({ ...backwardArgs(g, x, w, grads), M, K, N }),
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
  inputs: { x: { dtype: 'float32', rank: 3, nonEmpty: true }, w: { dtype: 'float32', rank: 2 }, bias: 'float32?' },
  plan: ({ x, w, bias }, _args: undefined) => {
    const fn = 'linearChannels';
    const [B, H, L] = x.shape;
    if (w.shape[1] !== H || w.shape[0] < 1) {
      throw new RangeError(`${fn}: argument 'w' must have shape [O, H] with H = ${H} (got [${w.shape.join(', ')}])`);
    }
    const O = w.shape[0];
    if (bias) expectTensor(fn, 'bias', bias, { shape: [O], dims: ['O'] });
    return { shape: [B, O, L], B, H, L, O };
  },
  forward: ({ x, w, bias }, out, { B, H, L, O }) =>
    ops.linearChannelsForward({ x: x.handle, weight: w.handle, bias: handle(bias), out: out.handle, B, H, L, O }),
  backward: (g, { x, w }, { B, H, L, O }, grads) => ops.linearChannelsBackward({ ...backwardArgs(g, x, w, grads), B, H, L, O }),
});

/**
 * Position-wise linear of channel-major data: y[b, o, l] = sum_h w[o, h] x[b, h, l] + bias[o],
 * x [B, H, L], w [O, H], bias [O] -> [B, O, L]. opts.out: a float32 [B, O, L] tensor to write y into.
 */
export function linearChannels(x: Tensor, w: Tensor, bias?: Tensor | null, opts?: OpOptions): Tensor {
  return linearChannelsOp({ x, w, bias }, undefined, opts);
}
