/**
 * Neural-network ops (native/binding/ops_nn.cpp), each with a native forward and backward
 * on both backends and autograd registration:
 *
 *   linear(x [..., K], w [N, K], bias? [N]) -> [..., N]
 *   linearChannels(x [B, H, L], w [O, H], bias? [O]) -> [B, O, L]
 *   layerNorm(x [..., D], w? [D], b? [D], eps = 1e-5);  layerNormChannels(x [B, H, L], w? [H], b? [H], eps)
 *   gelu(x, { approximate: 'none' | 'tanh' });  glu(x, dim) = a * sigmoid(b), halves along dim
 *   dropout(x, p, { seed, step }): mask fixed by (seed, step), the same in the backward
 *   meanPool / lastPool(x [B, H, L]) -> [B, H]
 *   crossEntropy(logits [M, C], labels [M]) -> [] (mean);  mse(a, b) -> [] (mean)
 *   embedding(indices [...], table [V, D]) -> [..., D] (gradient to the table only)
 *   argmaxChannels(x [B, C, L] | [B, C]) -> [B, L] | [B] class indices, no autograd
 *   transpose12(x [B, M, N]) -> [B, N, M];  flip(x [..., L]) reversed along the last dim
 *   exp(x);  complexFromParts(re, im) -> complex64;  realPart(z), imagPart(z) -> float32
 *   adamwStep(param, grad, m, v, opts): in place, no autograd
 *
 * Tensors an op saves for its backward (layer-norm statistics, softmax probabilities) are
 * freed as soon as the backward has used them, or at once when nothing is recorded.
 */
import { record } from '../autograd/tape';
import { backend, type DeviceName } from '../backend';
import { addon, type NativeBuffer } from '../native/binding';
import { Tensor } from '../tensor/tensor';
import { expectInteger, expectNumber, expectTensor, sameDevice } from '../util/validate';

type Buf = NativeBuffer;
type OptBuf = NativeBuffer | null;

/** The slice of the raw addon used here. */
export interface NnAddon {
  gemm(A: Buf, B: Buf, C: Buf, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, beta: number, batch: number, reduceBatch: boolean): void;
  nnInfo(device: DeviceName): NnInfo;
  linearForward(x: Buf, w: Buf, bias: OptBuf, y: Buf, M: number, K: number, N: number): void;
  linearBackward(dy: Buf, x: Buf, w: Buf, dx: OptBuf, dw: OptBuf, db: OptBuf, M: number, K: number, N: number): void;
  linearChannelsForward(x: Buf, w: Buf, bias: OptBuf, y: Buf, B: number, H: number, L: number, O: number): void;
  linearChannelsBackward(dy: Buf, x: Buf, w: Buf, dx: OptBuf, dw: OptBuf, db: OptBuf, B: number, H: number, L: number, O: number): void;
  layerNormForward(x: Buf, w: OptBuf, b: OptBuf, y: Buf, mean: Buf, rstd: Buf, rows: number, D: number, eps: number): void;
  layerNormBackward(dy: Buf, x: Buf, w: OptBuf, mean: Buf, rstd: Buf, dx: OptBuf, dw: OptBuf, db: OptBuf, rows: number, D: number): void;
  layerNormChannelsForward(x: Buf, w: OptBuf, b: OptBuf, y: Buf, mean: Buf, rstd: Buf, B: number, H: number, L: number, eps: number): void;
  layerNormChannelsBackward(dy: Buf, x: Buf, w: OptBuf, mean: Buf, rstd: Buf, dx: OptBuf, dw: OptBuf, db: OptBuf, B: number, H: number, L: number): void;
  geluForward(x: Buf, y: Buf, n: number, approximate: 'none' | 'tanh'): void;
  geluBackward(dy: Buf, x: Buf, dx: Buf, n: number, approximate: 'none' | 'tanh'): void;
  gluForward(x: Buf, y: Buf, outer: number, half: number, inner: number): void;
  gluBackward(dy: Buf, x: Buf, dx: Buf, outer: number, half: number, inner: number): void;
  dropout(x: Buf, y: Buf, n: number, p: number, seed: number, step: number): void;
  meanPoolForward(x: Buf, y: Buf, B: number, H: number, L: number): void;
  meanPoolBackward(dy: Buf, dx: Buf, B: number, H: number, L: number): void;
  lastPoolForward(x: Buf, y: Buf, rows: number, L: number): void;
  lastPoolBackward(dy: Buf, dx: Buf, rows: number, L: number): void;
  crossEntropyForward(logits: Buf, labels: Buf, loss: Buf, probs: Buf, M: number, C: number): void;
  crossEntropyBackward(probs: Buf, labels: Buf, gradLoss: Buf, dlogits: Buf, M: number, C: number): void;
  mseForward(a: Buf, b: Buf, loss: Buf, n: number): void;
  mseBackward(a: Buf, b: Buf, gradLoss: Buf, da: OptBuf, db: OptBuf, n: number): void;
  embeddingForward(indices: Buf, table: Buf, out: Buf, M: number, V: number, D: number): void;
  embeddingBackward(indices: Buf, dy: Buf, dtable: Buf, M: number, V: number, D: number): void;
  argmaxChannels(x: Buf, out: Buf, B: number, C: number, L: number): void;
  transpose12(x: Buf, y: Buf, B: number, M: number, N: number): void;
  flipLast(x: Buf, y: Buf, rows: number, L: number): void;
  expForward(x: Buf, y: Buf, n: number): void;
  complexFromParts(re: OptBuf, im: OptBuf, z: Buf, n: number): void;
  complexParts(z: Buf, re: OptBuf, im: OptBuf, n: number): void;
  adamwUpdate(param: Buf, grad: Buf, m: Buf, v: Buf, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;
}

/** Which GEMM a device's ops use. */
export interface NnInfo {
  gemm: 'cublas' | 'builtin' | null;
  /** CPU: the micro-kernel ('avx2' | 'generic'). */
  kernel?: string;
  /** CUDA: why cuBLAS is not used (null when it is). */
  reason?: string | null;
  cublasVersion?: number;
  tf32?: boolean;
}

export const nnNative = addon as unknown as NnAddon;

/** GEMM in use on `device` (default: the current backend). */
export function gemmInfo(device: DeviceName = backend()): NnInfo {
  return nnNative.nnInfo(device);
}

// ---- helpers ------------------------------------------------------------------------------------

function f32(fn: string, name: string, value: unknown, spec: Parameters<typeof expectTensor>[3] = {}): Tensor {
  return expectTensor(fn, name, value, { dtype: 'float32', ...spec });
}

function optional(fn: string, name: string, value: unknown, spec: Parameters<typeof expectTensor>[3]): Tensor | null {
  return value === undefined || value === null ? null : f32(fn, name, value, spec);
}

function nonEmpty(fn: string, name: string, t: Tensor): void {
  if (t.rank === 0 || t.size === 0) {
    throw new RangeError(`${fn}: argument '${name}' must have rank >= 1 and no zero-sized dimension (got [${t.shape.join(', ')}])`);
  }
}

function sameShape(fn: string, name: string, t: Tensor, ref: Tensor, refName: string): void {
  if (t.rank !== ref.rank || t.shape.some((s, i) => s !== ref.shape[i])) {
    throw new RangeError(`${fn}: argument '${name}' must have the shape of '${refName}' [${ref.shape.join(', ')}] (got [${t.shape.join(', ')}])`);
  }
}

function emptyLike(t: Tensor): Tensor {
  return Tensor.empty(t.shape, t.dtype, t.device);
}

function gradFor(t: Tensor | null): Tensor | null {
  return t && t.requiresGrad ? emptyLike(t) : null;
}

function h(t: Tensor | null): NativeBuffer | null {
  return t ? t.handle : null;
}

/**
 * record() for ops that keep tensors for their backward: the saved tensors are freed after
 * the backward ran, or right away when nothing was recorded.
 */
function recordSaving(
  out: Tensor,
  inputs: readonly (Tensor | null)[],
  saved: readonly Tensor[],
  backward: (g: Tensor) => readonly (Tensor | null)[],
  name: string,
): void {
  record(
    out,
    inputs,
    (g) => {
      try {
        return backward(g);
      } finally {
        for (const s of saved) s.dispose();
      }
    },
    name,
  );
  if (!out.gradNode) for (const s of saved) s.dispose();
}

// ---- linear -------------------------------------------------------------------------------------

/** y = x W^T + bias over the last dimension: x [..., K], w [N, K], bias [N] -> [..., N]. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null): Tensor {
  const fn = 'linear';
  const xx = f32(fn, 'x', x);
  nonEmpty(fn, 'x', xx);
  const K = xx.shape[xx.rank - 1];
  const ww = f32(fn, 'w', w, { rank: 2 });
  if (ww.shape[1] !== K || ww.shape[0] < 1) {
    throw new RangeError(`${fn}: argument 'w' must have shape [N, K] with K = ${K} (the last dim of 'x'), N >= 1 (got [${ww.shape.join(', ')}])`);
  }
  const N = ww.shape[0];
  const bb = optional(fn, 'bias', bias, { shape: [N], dims: ['N'] });
  const device = sameDevice(fn, { x: xx, w: ww, bias: bb });
  const M = xx.size / K;
  const y = Tensor.empty([...xx.shape.slice(0, -1), N], 'float32', device);
  nnNative.linearForward(xx.handle, ww.handle, h(bb), y.handle, M, K, N);
  record(
    y,
    [xx, ww, bb],
    (g) => {
      const dx = gradFor(xx);
      const dw = gradFor(ww);
      const db = gradFor(bb);
      nnNative.linearBackward(g.handle, xx.handle, ww.handle, h(dx), h(dw), h(db), M, K, N);
      return [dx, dw, db];
    },
    fn,
  );
  return y;
}

/** Position-wise linear of channel-major data: y[b, o, l] = sum_h w[o, h] x[b, h, l] + bias[o]. */
export function linearChannels(x: Tensor, w: Tensor, bias?: Tensor | null): Tensor {
  const fn = 'linearChannels';
  const xx = f32(fn, 'x', x, { rank: 3 });
  nonEmpty(fn, 'x', xx);
  const [B, H, L] = xx.shape;
  const ww = f32(fn, 'w', w, { rank: 2 });
  if (ww.shape[1] !== H || ww.shape[0] < 1) {
    throw new RangeError(`${fn}: argument 'w' must have shape [O, H] with H = ${H} (got [${ww.shape.join(', ')}])`);
  }
  const O = ww.shape[0];
  const bb = optional(fn, 'bias', bias, { shape: [O], dims: ['O'] });
  const device = sameDevice(fn, { x: xx, w: ww, bias: bb });
  const y = Tensor.empty([B, O, L], 'float32', device);
  nnNative.linearChannelsForward(xx.handle, ww.handle, h(bb), y.handle, B, H, L, O);
  record(
    y,
    [xx, ww, bb],
    (g) => {
      const dx = gradFor(xx);
      const dw = gradFor(ww);
      const db = gradFor(bb);
      nnNative.linearChannelsBackward(g.handle, xx.handle, ww.handle, h(dx), h(dw), h(db), B, H, L, O);
      return [dx, dw, db];
    },
    fn,
  );
  return y;
}

// ---- layer norm ---------------------------------------------------------------------------------

function checkEps(fn: string, eps: unknown): number {
  const e = expectNumber(fn, 'eps', eps);
  if (!(e > 0 && e <= 1)) throw new RangeError(`${fn}: argument 'eps' must be in (0, 1] (got ${e})`);
  return e;
}

/** Layer norm over the last dimension D, with optional affine weight and bias [D]. */
export function layerNorm(x: Tensor, w?: Tensor | null, b?: Tensor | null, eps = 1e-5): Tensor {
  const fn = 'layerNorm';
  const xx = f32(fn, 'x', x);
  nonEmpty(fn, 'x', xx);
  const D = xx.shape[xx.rank - 1];
  const ww = optional(fn, 'w', w, { shape: [D], dims: ['D'] });
  const bb = optional(fn, 'b', b, { shape: [D], dims: ['D'] });
  const e = checkEps(fn, eps);
  const device = sameDevice(fn, { x: xx, w: ww, b: bb });
  const rows = xx.size / D;
  const y = emptyLike(xx);
  const mean = Tensor.empty([rows], 'float32', device);
  const rstd = Tensor.empty([rows], 'float32', device);
  nnNative.layerNormForward(xx.handle, h(ww), h(bb), y.handle, mean.handle, rstd.handle, rows, D, e);
  recordSaving(
    y,
    [xx, ww, bb],
    [mean, rstd],
    (g) => {
      const dx = gradFor(xx);
      const dw = gradFor(ww);
      const db = gradFor(bb);
      nnNative.layerNormBackward(g.handle, xx.handle, h(ww), mean.handle, rstd.handle, h(dx), h(dw), h(db), rows, D);
      return [dx, dw, db];
    },
    fn,
  );
  return y;
}

/** Layer norm of x [B, H, L] over the channels H, for each (b, l); weight and bias [H]. */
export function layerNormChannels(x: Tensor, w?: Tensor | null, b?: Tensor | null, eps = 1e-5): Tensor {
  const fn = 'layerNormChannels';
  const xx = f32(fn, 'x', x, { rank: 3 });
  nonEmpty(fn, 'x', xx);
  const [B, H, L] = xx.shape;
  const ww = optional(fn, 'w', w, { shape: [H], dims: ['H'] });
  const bb = optional(fn, 'b', b, { shape: [H], dims: ['H'] });
  const e = checkEps(fn, eps);
  const device = sameDevice(fn, { x: xx, w: ww, b: bb });
  const y = emptyLike(xx);
  const mean = Tensor.empty([B, L], 'float32', device);
  const rstd = Tensor.empty([B, L], 'float32', device);
  nnNative.layerNormChannelsForward(xx.handle, h(ww), h(bb), y.handle, mean.handle, rstd.handle, B, H, L, e);
  recordSaving(
    y,
    [xx, ww, bb],
    [mean, rstd],
    (g) => {
      const dx = gradFor(xx);
      const dw = gradFor(ww);
      const db = gradFor(bb);
      nnNative.layerNormChannelsBackward(g.handle, xx.handle, h(ww), mean.handle, rstd.handle, h(dx), h(dw), h(db), B, H, L);
      return [dx, dw, db];
    },
    fn,
  );
  return y;
}

// ---- activations --------------------------------------------------------------------------------

export interface GeluOptions {
  /** 'none': x Phi(x) with the exact erf (default); 'tanh': the tanh approximation. */
  approximate?: 'none' | 'tanh';
}

export function gelu(x: Tensor, opts: GeluOptions = {}): Tensor {
  const fn = 'gelu';
  const xx = f32(fn, 'x', x);
  nonEmpty(fn, 'x', xx);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
  const approximate = opts.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new RangeError(`${fn}: option 'approximate' must be 'none' or 'tanh' (got ${String(approximate)})`);
  }
  const y = emptyLike(xx);
  nnNative.geluForward(xx.handle, y.handle, xx.size, approximate);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      nnNative.geluBackward(g.handle, xx.handle, dx.handle, xx.size, approximate);
      return [dx];
    },
    fn,
  );
  return y;
}

/** GLU: splits x in halves a, b along `dim` (size must be even) and returns a * sigmoid(b). */
export function glu(x: Tensor, dim = -1): Tensor {
  const fn = 'glu';
  const xx = f32(fn, 'x', x);
  nonEmpty(fn, 'x', xx);
  const d = expectInteger(fn, 'dim', dim, -xx.rank, xx.rank - 1);
  const axis = d < 0 ? d + xx.rank : d;
  const size = xx.shape[axis];
  if (size % 2 !== 0) throw new RangeError(`${fn}: dimension ${axis} of 'x' must be even (got ${size} in [${xx.shape.join(', ')}])`);
  const outer = xx.shape.slice(0, axis).reduce((a, s) => a * s, 1);
  const inner = xx.shape.slice(axis + 1).reduce((a, s) => a * s, 1);
  const half = size / 2;
  const shape = [...xx.shape];
  shape[axis] = half;
  const y = Tensor.empty(shape, 'float32', xx.device);
  nnNative.gluForward(xx.handle, y.handle, outer, half, inner);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      nnNative.gluBackward(g.handle, xx.handle, dx.handle, outer, half, inner);
      return [dx];
    },
    fn,
  );
  return y;
}

export interface DropoutOptions {
  /** Integer in [0, 2^53]; with `step` it fixes the mask. */
  seed: number;
  /** Integer in [0, 2^53], e.g. the training step (a new mask each step). */
  step: number;
}

/**
 * Inverted dropout: each element is zeroed with probability p, the rest scaled by 1/(1-p).
 * The mask is a pure function of (seed, step, element index), so the backward applies the
 * very same mask. Identity when p = 0.
 */
export function dropout(x: Tensor, p: number, opts: DropoutOptions): Tensor {
  const fn = 'dropout';
  const xx = f32(fn, 'x', x);
  nonEmpty(fn, 'x', xx);
  const pp = expectNumber(fn, 'p', p);
  if (!(pp >= 0 && pp < 1)) throw new RangeError(`${fn}: argument 'p' must be in [0, 1) (got ${pp})`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object { seed, step }`);
  const seed = expectInteger(fn, 'seed', opts.seed, 0, 2 ** 53);
  const step = expectInteger(fn, 'step', opts.step, 0, 2 ** 53);
  const y = emptyLike(xx);
  nnNative.dropout(xx.handle, y.handle, xx.size, pp, seed, step);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      nnNative.dropout(g.handle, dx.handle, xx.size, pp, seed, step);
      return [dx];
    },
    fn,
  );
  return y;
}

// ---- pooling ------------------------------------------------------------------------------------

/** Mean over the last dimension of x [B, H, L] -> [B, H]. */
export function meanPool(x: Tensor): Tensor {
  const fn = 'meanPool';
  const xx = f32(fn, 'x', x, { rank: 3 });
  nonEmpty(fn, 'x', xx);
  const [B, H, L] = xx.shape;
  const y = Tensor.empty([B, H], 'float32', xx.device);
  nnNative.meanPoolForward(xx.handle, y.handle, B, H, L);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      nnNative.meanPoolBackward(g.handle, dx.handle, B, H, L);
      return [dx];
    },
    fn,
  );
  return y;
}

/** The last position of x [B, H, L] -> [B, H] (x[:, :, L-1]). */
export function lastPool(x: Tensor): Tensor {
  const fn = 'lastPool';
  const xx = f32(fn, 'x', x, { rank: 3 });
  nonEmpty(fn, 'x', xx);
  const [B, H, L] = xx.shape;
  const y = Tensor.empty([B, H], 'float32', xx.device);
  nnNative.lastPoolForward(xx.handle, y.handle, B * H, L);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      nnNative.lastPoolBackward(g.handle, dx.handle, B * H, L);
      return [dx];
    },
    fn,
  );
  return y;
}

// ---- losses -------------------------------------------------------------------------------------

/**
 * Mean softmax cross-entropy of logits [M, C] against labels [M] (float32 holding class
 * ids in [0, C); anything else throws a RangeError naming 'labels'). Gradient to logits.
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const fn = 'crossEntropy';
  const z = f32(fn, 'logits', logits, { rank: 2 });
  nonEmpty(fn, 'logits', z);
  const [M, C] = z.shape;
  const lab = f32(fn, 'labels', labels, { shape: [M], dims: ['M'] });
  const device = sameDevice(fn, { logits: z, labels: lab });
  const loss = Tensor.empty([], 'float32', device);
  const probs = emptyLike(z);
  try {
    nnNative.crossEntropyForward(z.handle, lab.handle, loss.handle, probs.handle, M, C);
  } catch (err) {
    loss.dispose();
    probs.dispose();
    throw err;
  }
  recordSaving(
    loss,
    [z],
    [probs],
    (g) => {
      const dz = emptyLike(z);
      nnNative.crossEntropyBackward(probs.handle, lab.handle, g.handle, dz.handle, M, C);
      return [dz];
    },
    fn,
  );
  return loss;
}

/** Mean squared error mean((a - b)^2) over all elements -> []; gradients to both. */
export function mse(a: Tensor, b: Tensor): Tensor {
  const fn = 'mse';
  const x = f32(fn, 'a', a);
  nonEmpty(fn, 'a', x);
  const y = f32(fn, 'b', b);
  sameShape(fn, 'b', y, x, 'a');
  const device = sameDevice(fn, { a: x, b: y });
  const loss = Tensor.empty([], 'float32', device);
  nnNative.mseForward(x.handle, y.handle, loss.handle, x.size);
  record(
    loss,
    [x, y],
    (g) => {
      const da = gradFor(x);
      const db = gradFor(y);
      nnNative.mseBackward(x.handle, y.handle, g.handle, h(da), h(db), x.size);
      return [da, db];
    },
    fn,
  );
  return loss;
}

// ---- embedding ----------------------------------------------------------------------------------

/** Rows of table [V, D] picked by indices [...] (float32 holding ids in [0, V)) -> [..., D]. */
export function embedding(indices: Tensor, table: Tensor): Tensor {
  const fn = 'embedding';
  const idx = f32(fn, 'indices', indices);
  nonEmpty(fn, 'indices', idx);
  const tt = f32(fn, 'table', table, { rank: 2 });
  nonEmpty(fn, 'table', tt);
  const [V, D] = tt.shape;
  const device = sameDevice(fn, { indices: idx, table: tt });
  const M = idx.size;
  const out = Tensor.empty([...idx.shape, D], 'float32', device);
  try {
    nnNative.embeddingForward(idx.handle, tt.handle, out.handle, M, V, D);
  } catch (err) {
    out.dispose();
    throw err;
  }
  record(
    out,
    [null, tt],
    (g) => {
      const dt = emptyLike(tt);
      nnNative.embeddingBackward(idx.handle, g.handle, dt.handle, M, V, D);
      return [null, dt];
    },
    fn,
  );
  return out;
}

// ---- predictions --------------------------------------------------------------------------------

/** Largest channel count argmaxChannels takes: float32 holds every index up to 2^24 exactly. */
const MAX_ARGMAX_CHANNELS = 2 ** 24;

/**
 * Index of the largest value over the channel axis, computed on x's device:
 * x [B, C, L] -> [B, L], or x [B, C] -> [B] (the case L = 1). The indices are float32.
 * The rule is the host scorer's (s4.train.argmax), so accuracy is the same either way:
 * ties (values that compare equal, +0 and -0 too) go to the smallest index, a column of
 * -Infinity gives 0, and a column holding any NaN gives -1 (never a valid class).
 * Not differentiable: the result is never recorded by autograd and has no gradient.
 */
export function argmaxChannels(x: Tensor): Tensor {
  const fn = 'argmaxChannels';
  const xx = f32(fn, 'x', x);
  if (xx.rank !== 2 && xx.rank !== 3) {
    throw new RangeError(`${fn}: argument 'x' must have shape [B, C, L] or [B, C] (got [${xx.shape.join(', ')}])`);
  }
  nonEmpty(fn, 'x', xx);
  const [B, C] = xx.shape;
  const L = xx.rank === 3 ? xx.shape[2] : 1;
  if (C > MAX_ARGMAX_CHANNELS) {
    throw new RangeError(`${fn}: argument 'x' has ${C} channels; at most ${MAX_ARGMAX_CHANNELS} (float32 indices) are supported`);
  }
  const out = Tensor.empty(xx.rank === 3 ? [B, L] : [B], 'float32', xx.device);
  try {
    nnNative.argmaxChannels(xx.handle, out.handle, B, C, L);
  } catch (err) {
    out.dispose();
    throw err;
  }
  return out;
}

// ---- layout -------------------------------------------------------------------------------------

/** Batched transpose x [B, M, N] -> [B, N, M]. */
export function transpose12(x: Tensor): Tensor {
  const fn = 'transpose12';
  const xx = f32(fn, 'x', x, { rank: 3 });
  nonEmpty(fn, 'x', xx);
  const [B, M, N] = xx.shape;
  const y = Tensor.empty([B, N, M], 'float32', xx.device);
  nnNative.transpose12(xx.handle, y.handle, B, M, N);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      nnNative.transpose12(g.handle, dx.handle, B, N, M);
      return [dx];
    },
    fn,
  );
  return y;
}

/** x reversed along its last dimension. */
export function flip(x: Tensor): Tensor {
  const fn = 'flip';
  const xx = f32(fn, 'x', x);
  nonEmpty(fn, 'x', xx);
  const L = xx.shape[xx.rank - 1];
  const rows = xx.size / L;
  const y = emptyLike(xx);
  nnNative.flipLast(xx.handle, y.handle, rows, L);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      nnNative.flipLast(g.handle, dx.handle, rows, L);
      return [dx];
    },
    fn,
  );
  return y;
}

// ---- pointwise with backward --------------------------------------------------------------------

export function exp(x: Tensor): Tensor {
  const fn = 'exp';
  const xx = f32(fn, 'x', x);
  nonEmpty(fn, 'x', xx);
  const y = emptyLike(xx);
  nnNative.expForward(xx.handle, y.handle, xx.size);
  record(
    y,
    [xx],
    (g) => {
      const dx = emptyLike(xx);
      addon.mul(dx.handle, g.handle, y.handle, xx.size); // d exp(x) = exp(x) dx
      return [dx];
    },
    fn,
  );
  return y;
}

/** complex64 re + i im from two float32 tensors of one shape; the gradient splits back. */
export function complexFromParts(re: Tensor, im: Tensor): Tensor {
  const fn = 'complexFromParts';
  const r = f32(fn, 're', re);
  nonEmpty(fn, 're', r);
  const i = f32(fn, 'im', im);
  sameShape(fn, 'im', i, r, 're');
  const device = sameDevice(fn, { re: r, im: i });
  const z = Tensor.empty(r.shape, 'complex64', device);
  nnNative.complexFromParts(r.handle, i.handle, z.handle, r.size);
  record(
    z,
    [r, i],
    (g) => {
      const dr = gradFor(r);
      const di = gradFor(i);
      nnNative.complexParts(g.handle, h(dr), h(di), r.size);
      return [dr, di];
    },
    fn,
  );
  return z;
}

function part(fn: string, z: Tensor, which: 're' | 'im'): Tensor {
  const zz = expectTensor(fn, 'z', z, { dtype: 'complex64' });
  nonEmpty(fn, 'z', zz);
  const out = Tensor.empty(zz.shape, 'float32', zz.device);
  nnNative.complexParts(zz.handle, which === 're' ? out.handle : null, which === 'im' ? out.handle : null, zz.size);
  record(
    out,
    [zz],
    (g) => {
      // PyTorch convention: grad = dL/dRe + i dL/dIm.
      const dz = emptyLike(zz);
      nnNative.complexFromParts(which === 're' ? g.handle : null, which === 'im' ? g.handle : null, dz.handle, zz.size);
      return [dz];
    },
    fn,
  );
  return out;
}

/** Re z of a complex64 tensor, as float32. */
export function realPart(z: Tensor): Tensor {
  return part('realPart', z, 're');
}

/** Im z of a complex64 tensor, as float32. */
export function imagPart(z: Tensor): Tensor {
  return part('imagPart', z, 'im');
}

// ---- optimizer ----------------------------------------------------------------------------------

export interface AdamWStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count (bias corrections use beta^step). */
  step: number;
}

/**
 * One fused AdamW update in place (decoupled weight decay, PyTorch order):
 *   p *= 1 - lr wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 * param and grad: float32, or complex64 (updated as their interleaved real and imaginary
 * parts, as PyTorch's AdamW treats a complex parameter through view_as_real); m, v: float32
 * with one value per float of param. All on one device. Not recorded by autograd.
 */
export function adamwStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWStepOptions): void {
  const fn = 'adamwStep';
  const p = expectTensor(fn, 'param', param);
  if (p.dtype !== 'float32' && p.dtype !== 'complex64') throw new TypeError(`${fn}: argument 'param' must be float32 or complex64 (got ${p.dtype})`);
  nonEmpty(fn, 'param', p);
  const g = expectTensor(fn, 'grad', grad, { dtype: p.dtype });
  const mm = f32(fn, 'm', m);
  const vv = f32(fn, 'v', v);
  if (g.size !== p.size) throw new RangeError(`${fn}: argument 'grad' must have ${p.size} elements like 'param' (got ${g.size})`);
  for (const [name, t] of [['m', mm], ['v', vv]] as const) {
    if (t.size !== p.floats) throw new RangeError(`${fn}: argument '${name}' must have ${p.floats} elements, one per float of 'param' (got ${t.size})`);
  }
  sameDevice(fn, { param: p, grad: g, m: mm, v: vv });
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
  const lr = expectNumber(fn, 'lr', opts.lr, 0);
  const beta1 = expectNumber(fn, 'beta1', opts.beta1, 0);
  const beta2 = expectNumber(fn, 'beta2', opts.beta2, 0);
  if (beta1 >= 1) throw new RangeError(`${fn}: argument 'beta1' must be in [0, 1) (got ${beta1})`);
  if (beta2 >= 1) throw new RangeError(`${fn}: argument 'beta2' must be in [0, 1) (got ${beta2})`);
  const eps = expectNumber(fn, 'eps', opts.eps);
  if (!(eps > 0)) throw new RangeError(`${fn}: argument 'eps' must be > 0 (got ${eps})`);
  const wd = expectNumber(fn, 'weightDecay', opts.weightDecay, 0);
  const step = expectInteger(fn, 'step', opts.step, 1, 2 ** 53);
  nnNative.adamwUpdate(p.handle, g.handle, mm.handle, vv.handle, p.floats, lr, beta1, beta2, eps, wd, step);
}
