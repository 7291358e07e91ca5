/**
 * The residual S4 block, written once for both views of a SequenceModel:
 *
 *   u = prenorm ? LayerNorm(x) : x
 *   y = mix(u)                               S4 mixer with GELU: FFT convolution over the
 *                                            sequence (forward) or one recurrent scan step
 *   z = W y over channels (H -> 2H; the linear's bias is added in the tail, as zBias)
 *   x' = residualNorm(z, x) = [LayerNorm](x + dropout(GLU(z + bias)))   (LayerNorm: post-norm)
 *
 * forward() calls it on [B, H, L] activations with autograd; the stepper calls it on one
 * token ([B, H, 1], the same memory as [B, H]) with preallocated `out` buffers, so a token
 * costs the scan, the linear and the fused tail (plus the pre-norm when prenorm): three
 * launches per post-norm block, and no tensor allocated.
 */
import { add, dropout as dropoutOp, glu, layerNormChannels, linearChannels, residualNorm } from '../ops/index';
import type { Tensor } from '../tensor/tensor';

/**
 * The parts of one block: its norm, the layer's output linear, the residual dropout. The
 * modules themselves in forward() (LayerNorm, Linear, Dropout); snapshots in a stepper.
 */
export interface BlockParts {
  prenorm: boolean;
  norm: { readonly weight: Tensor; readonly bias: Tensor; readonly eps: number };
  output: { readonly weight: Tensor; readonly bias: Tensor | null };
  /** The mask of this call (p = 0: none; tie: one value per channel, shared over L); see Dropout.draw. */
  dropout: { draw(): { p: number; seed: number; step: number; tie?: boolean } };
}

/** Preallocated results of each stage, for allocation-free steps (all [B, *, L]). */
export interface BlockBuffers {
  /** [B, H, L]: the normalized input (prenorm). */
  normed?: Tensor;
  /** [B, 2H, L]: the linear's output. */
  z?: Tensor;
  /** [B, H, L]: the block's output. */
  out?: Tensor;
}

/** One residual block: x [B, H, L] -> [B, H, L]; `mix` maps [B, H, L] -> [B, H, L]. */
export function residualBlock(x: Tensor, parts: BlockParts, mix: (u: Tensor) => Tensor, buffers: BlockBuffers = {}): Tensor {
  const { norm, output, dropout, prenorm } = parts;
  const u = prenorm ? layerNormChannels(x, norm.weight, norm.bias, norm.eps, { out: buffers.normed }) : x;
  const y = mix(u);
  const drop = dropout.draw();
  if (drop.tie && drop.p > 0) {
    // A tied mask (one value per channel, shared over L) is not in the fused tail: the same
    // sum unfused, in training only.
    const g = glu(linearChannels(y, output.weight, output.bias), 1);
    const r = add(x, dropoutOp(g, drop.p, { seed: drop.seed, step: drop.step, tie: true }));
    return prenorm ? r : layerNormChannels(r, norm.weight, norm.bias, norm.eps, { out: buffers.out });
  }
  // The bias is added inside residualNorm: a bias-free linear is one launch (one GEMM).
  const z = linearChannels(y, output.weight, null, { out: buffers.z });
  return residualNorm(
    z,
    x,
    prenorm ? null : norm.weight,
    prenorm ? null : norm.bias,
    { zBias: output.bias, eps: norm.eps, normalize: !prenorm, p: drop.p, seed: drop.seed, step: drop.step },
    { out: buffers.out },
  );
}
