/**
 * The residual S4 block, written once for both views of a SequenceModel:
 *
 *   u = prenorm ? norm(x) : x
 *   y = mix(u)                               S4 mixer with GELU: FFT convolution over the
 *                                            sequence (forward) or one recurrent scan step
 *   z = W y over channels (H -> 2H; the linear's bias is added in the tail, as zBias)
 *   r = x + dropout(GLU(z + bias))           residualNorm without its norm
 *   x' = prenorm ? r : norm(r)
 *
 * The norm is a choice: 'layer' (LayerNorm over channels; post-norm fuses it into the
 * residual tail, one op: residualNorm), 'batch' (BatchNorm over (B, L) per channel, an op of
 * its own after the tail; in a stepper, eval mode: a per-channel affine map with the
 * running statistics) or 'none'.
 *
 * forward() calls it on [B, H, L] activations with autograd; the stepper calls it on one
 * token ([B, H, 1], the same memory as [B, H]) with preallocated `out` buffers, so a token
 * costs the scan, the linear and the fused tail (plus the norm when it is not fused): three
 * launches per post-LayerNorm block, and no tensor allocated.
 */
import type { OpOptions } from '../ops/define';
import { add, dropout as dropoutOp, glu, layerNormChannels, linearChannels, residualNorm } from '../ops/index';
import type { Tensor } from '../tensor/tensor';

export type NormKind = 'layer' | 'batch' | 'none';

/**
 * The norm of one block. 'layer': the LayerNorm's parameters (post-norm fuses it into the
 * residual tail). 'batch': the map itself, [B, H, L] -> [B, H, L] (a BatchNorm module in
 * forward(), which follows its training flag; an eval-mode snapshot in a stepper).
 */
export type BlockNorm =
  | { kind: 'layer'; weight: Tensor; bias: Tensor; eps: number }
  | { kind: 'batch'; forwardChannels(x: Tensor, opts?: OpOptions): Tensor }
  | { kind: 'none' };

/**
 * The parts of one block: its norm, the layer's output linear, the residual dropout. The
 * modules themselves in forward() (norm, Linear, Dropout); snapshots in a stepper.
 */
export interface BlockParts {
  prenorm: boolean;
  norm: BlockNorm;
  output: { readonly weight: Tensor; readonly bias: Tensor | null };
  /** The mask of this call (p = 0: none; tie: one value per channel, shared over L); see Dropout.draw. */
  dropout: { draw(): { p: number; seed: number; step: number; tie?: boolean; batchOffset?: number } };
}

/** Preallocated results of each stage, for allocation-free steps (all [B, *, L]). */
export interface BlockBuffers {
  /** [B, H, L]: the normalized input (prenorm, a norm other than 'none'). */
  normed?: Tensor;
  /** [B, 2H, L]: the linear's output. */
  z?: Tensor;
  /** [B, H, L]: the residual sum before an unfused post-norm ('batch'). */
  residual?: Tensor;
  /** [B, H, L]: the block's output. */
  out?: Tensor;
}

/** The norm of x alone (pre-norm), or x itself for 'none'. */
function normalize(x: Tensor, norm: BlockNorm, out: Tensor | undefined): Tensor {
  if (norm.kind === 'layer') return layerNormChannels(x, norm.weight, norm.bias, norm.eps, { out });
  if (norm.kind === 'batch') return norm.forwardChannels(x, { out });
  return x;
}

/** One residual block: x [B, H, L] -> [B, H, L]; `mix` maps [B, H, L] -> [B, H, L]. */
export function residualBlock(x: Tensor, parts: BlockParts, mix: (u: Tensor) => Tensor, buffers: BlockBuffers = {}): Tensor {
  const { norm, output, dropout, prenorm } = parts;
  const u = prenorm ? normalize(x, norm, buffers.normed) : x;
  const y = mix(u);
  const drop = dropout.draw();
  if (drop.tie && drop.p > 0) {
    // A tied mask (one value per channel, shared over L) is not in the fused tail: the same
    // sum unfused, in training only.
    const g = glu(linearChannels(y, output.weight, output.bias), 1);
    const r = add(x, dropoutOp(g, drop.p, { seed: drop.seed, step: drop.step, tie: true, batchOffset: drop.batchOffset }));
    return prenorm ? r : normalize(r, norm, buffers.out);
  }
  // The bias is added inside residualNorm: a bias-free linear is one launch (one GEMM).
  const z = linearChannels(y, output.weight, null, { out: buffers.z });
  const fused = !prenorm && norm.kind === 'layer';
  const r = residualNorm(
    z,
    x,
    fused ? norm.weight : null,
    fused ? norm.bias : null,
    { zBias: output.bias, eps: fused ? norm.eps : undefined, normalize: fused, p: drop.p, seed: drop.seed, step: drop.step, batchOffset: drop.batchOffset },
    { out: prenorm || norm.kind !== 'batch' ? buffers.out : buffers.residual },
  );
  return !prenorm && norm.kind === 'batch' ? normalize(r, norm, buffers.out) : r;
}
