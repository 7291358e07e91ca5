/**
 * Layer normalization, with autograd (native/binding/norm.cpp). The biased variance and eps
 * inside the square root, as PyTorch's LayerNorm:
 *
 *   layerNorm(x [..., D], w? [D], b? [D], eps = 1e-5)            over the last dimension
 *   layerNormChannels(x [B, H, L], w? [H], b? [H], eps = 1e-5)    over H at each (b, l)
 *   residualNorm(z [B, 2H, L], x [B, H, L], w? [H], b? [H], { zBias? [2H], ... })
 *     = [LayerNorm over H](x + dropout(GLU(z + zBias))), the tail of a residual S4 block in
 *       one pass
 *
 * The statistics (mean, rstd) the forward saves are freed as soon as the backward has used
 * them, or at once when nothing is recorded.
 */
import { ops, type NativeBuffer } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { expectInteger, expectNumber, expectTensor } from '../util/validate';
import { defineOp, handle, type ForwardContext, type OpOptions } from './define';

/**
 * The buffers of the statistics a forward saves (mean, rstd), of `shape` each, or nulls when
 * no backward will be recorded (the kernels then skip them, and a traced call holds no
 * buffer freed after it).
 */
function statistics(ctx: ForwardContext, shape: number[]): { mean: NativeBuffer | null; rstd: NativeBuffer | null } {
  return ctx.recording ? { mean: ctx.save(shape).handle, rstd: ctx.save(shape).handle } : { mean: null, rstd: null };
}

function checkEps(fn: string, eps: unknown): number {
  const e = expectNumber(fn, 'eps', eps);
  if (!(e > 0 && e <= 1)) throw new RangeError(`${fn}: argument 'eps' must be in (0, 1] (got ${e})`);
  return e;
}

/** The arguments both layer-norm backwards share: the gradient, x, the weight, the saved statistics, the gradient buffers. */
function layerNormGradArgs(
  g: Tensor,
  x: Tensor,
  w: Tensor | null | undefined,
  [mean, rstd]: readonly Tensor[],
  grads: { x?: Tensor | null; w?: Tensor | null; b?: Tensor | null },
) {
  return {
    gradOut: g.handle,
    x: x.handle,
    weight: handle(w),
    mean: mean.handle,
    rstd: rstd.handle,
    gradX: handle(grads.x),
    gradWeight: handle(grads.w),
    gradBias: handle(grads.b),
  };
}

const layerNormOp = defineOp({
  name: 'layerNorm',
  inputs: { x: { dtype: 'float32', nonEmpty: true }, w: 'float32?', b: 'float32?' },
  plan: ({ x, w, b }, eps: number) => {
    const fn = 'layerNorm';
    const D = x.shape[x.rank - 1];
    if (w) expectTensor(fn, 'w', w, { shape: [D], dims: ['D'] });
    if (b) expectTensor(fn, 'b', b, { shape: [D], dims: ['D'] });
    return { shape: x.shape, rows: x.size / D, D, eps: checkEps(fn, eps) };
  },
  forward: ({ x, w, b }, out, { rows, D, eps }, ctx) => {
    ops.layerNormForward({ x: x.handle, weight: handle(w), bias: handle(b), out: out.handle, ...statistics(ctx, [rows]), rows, D, eps });
  },
  backward: (g, { x, w }, { rows, D }, grads, saved) => ops.layerNormBackward({ ...layerNormGradArgs(g, x, w, saved, grads), rows, D }),
});

/**
 * Layer norm over the last dimension D, with optional affine weight and bias [D].
 * opts.out: a float32 tensor of x's shape to write the result into.
 */
export function layerNorm(x: Tensor, w?: Tensor | null, b?: Tensor | null, eps = 1e-5, opts?: OpOptions): Tensor {
  return layerNormOp({ x, w, b }, eps, opts);
}

const layerNormChannelsOp = defineOp({
  name: 'layerNormChannels',
  inputs: { x: { dtype: 'float32', rank: 3, nonEmpty: true }, w: 'float32?', b: 'float32?' },
  plan: ({ x, w, b }, eps: number) => {
    const fn = 'layerNormChannels';
    const [B, H, L] = x.shape;
    if (w) expectTensor(fn, 'w', w, { shape: [H], dims: ['H'] });
    if (b) expectTensor(fn, 'b', b, { shape: [H], dims: ['H'] });
    return { shape: x.shape, B, H, L, eps: checkEps(fn, eps) };
  },
  forward: ({ x, w, b }, out, { B, H, L, eps }, ctx) => {
    ops.layerNormChannelsForward({ x: x.handle, weight: handle(w), bias: handle(b), out: out.handle, ...statistics(ctx, [B, L]), B, H, L, eps });
  },
  backward: (g, { x, w }, { B, H, L }, grads, saved) =>
    ops.layerNormChannelsBackward({ ...layerNormGradArgs(g, x, w, saved, grads), B, H, L }),
});

/**
 * Layer norm of x [B, H, L] over the channels H, for each (b, l); weight and bias [H].
 * opts.out: a float32 [B, H, L] tensor to write the result into.
 */
export function layerNormChannels(x: Tensor, w?: Tensor | null, b?: Tensor | null, eps = 1e-5, opts?: OpOptions): Tensor {
  return layerNormChannelsOp({ x, w, b }, eps, opts);
}

export interface ResidualNormOptions {
  /** LayerNorm eps, in (0, 1] (default 1e-5). */
  eps?: number;
  /** false: out = x + dropout(GLU(z)), without the layer norm (w and b unused). Default true. */
  normalize?: boolean;
  /** Dropout rate of the GLU output, in [0, 1) (default 0: no dropout). */
  p?: number;
  /** Integer in [0, 2^53]; with `step` it fixes the dropout mask (required when p > 0). */
  seed?: number;
  /** Integer in [0, 2^53], e.g. the training step (required when p > 0). */
  step?: number;
  /** Index of x's first example in a larger batch whose mask this is a slice of (default 0; see DropoutOptions). */
  batchOffset?: number;
}

const residualNormOp = defineOp({
  name: 'residualNorm',
  inputs: { z: 'float32', zBias: 'float32?', x: { dtype: 'float32', rank: 3, nonEmpty: true }, w: 'float32?', b: 'float32?' },
  plan: ({ z, zBias, x, w, b }, o: ResidualNormOptions) => {
    const fn = 'residualNorm';
    const [B, H, L] = x.shape;
    expectTensor(fn, 'z', z, { shape: [B, 2 * H, L], dims: ['B', '2H', 'L'] });
    if (zBias) expectTensor(fn, 'zBias', zBias, { shape: [2 * H], dims: ['2H'] });
    if (w) expectTensor(fn, 'w', w, { shape: [H], dims: ['H'] });
    if (b) expectTensor(fn, 'b', b, { shape: [H], dims: ['H'] });
    if (o === null || typeof o !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object { zBias, eps, normalize, p, seed, step }`);
    const eps = checkEps(fn, o.eps ?? 1e-5);
    const normalize = o.normalize ?? true;
    if (typeof normalize !== 'boolean') throw new TypeError(`${fn}: argument 'normalize' must be a boolean (got ${String(normalize)})`);
    const p = expectNumber(fn, 'p', o.p ?? 0);
    if (!(p >= 0 && p < 1)) throw new RangeError(`${fn}: argument 'p' must be in [0, 1) (got ${p})`);
    // Without dropout the mask does not exist, and neither do its seed and step.
    const seed = p > 0 || o.seed !== undefined ? expectInteger(fn, 'seed', o.seed, 0, 2 ** 53) : 0;
    const step = p > 0 || o.step !== undefined ? expectInteger(fn, 'step', o.step, 0, 2 ** 53) : 0;
    const offset = expectInteger(fn, 'batchOffset', o.batchOffset ?? 0, 0, 2 ** 53) * H * L;
    if (!Number.isSafeInteger(offset)) throw new RangeError(`${fn}: option 'batchOffset' ${o.batchOffset} puts the mask index beyond 2^53`);
    return { shape: [B, H, L], B, H, L, eps, normalize, p, seed, step, offset };
  },
  forward: ({ z, zBias, x, w, b }, out, { B, H, L, eps, normalize, p, seed, step, offset }, ctx) => {
    // Without the norm there are no statistics to keep.
    const stats = normalize ? statistics(ctx, [B, L]) : { mean: null, rstd: null };
    ops.residualNormForward({
      z: z.handle,
      zBias: handle(zBias),
      x: x.handle,
      weight: handle(w),
      bias: handle(b),
      out: out.handle,
      ...stats,
      B,
      H,
      L,
      p,
      seed,
      step,
      offset,
      eps,
      normalize,
    });
  },
  // gradZBias without gradZ: the native op sums dz from a workspace of its own.
  backward: (g, { z, zBias, x, w }, { B, H, L, normalize, p, seed, step, offset }, grads, saved) =>
    ops.residualNormBackward({
      gradOut: g.handle,
      z: z.handle,
      zBias: handle(zBias),
      x: x.handle,
      weight: handle(w),
      mean: handle(saved[0]),
      rstd: handle(saved[1]),
      gradZ: handle(grads.z),
      gradZBias: handle(grads.zBias),
      gradX: handle(grads.x),
      gradWeight: handle(grads.w),
      gradBias: handle(grads.b),
      B,
      H,
      L,
      p,
      seed,
      step,
      offset,
      normalize,
    }),
});

/**
 * The tail of a residual S4 block on channel-major data, in one pass:
 *   u = z + zBias                         (z [B, 2H, L] the block's linear output, zBias [2H]
 *                                          that linear's bias, channel c of z gets zBias[c];
 *                                          no zBias: u = z)
 *   g = u[:, :H] * sigmoid(u[:, H:])      (GLU over the channels)
 *   r = x + dropout(g, p; seed, step)     (the mask of ops.dropout(g, p, { seed, step }))
 *   out = normalize ? LayerNorm over H of r at each (b, l), times w plus b : r
 * x [B, H, L] is the block's input; w, b [H] optional (unit weight, zero shift). With L = 1
 * it is one token's epilogue in generation, one kernel launch on the GPU, and with zBias
 * the linear before it needs no bias of its own. Gradients to z, zBias, x, w and b.
 * opts.out: a float32 [B, H, L] tensor (not x) to write the result into.
 */
export function residualNorm(
  z: Tensor,
  x: Tensor,
  w?: Tensor | null,
  b?: Tensor | null,
  options: ResidualNormOptions & { zBias?: Tensor | null } = {},
  opts?: OpOptions,
): Tensor {
  return residualNormOp({ z, zBias: options?.zBias, x, w, b }, options, opts);
}
