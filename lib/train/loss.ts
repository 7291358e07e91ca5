/**
 * The loss of each task kind, from the model output and a batch:
 *   classify  out [B, C], labels [B]              -> cross-entropy
 *   sequence  out [B, C, L], labels [B * L]       -> cross-entropy over every position
 *   regress   out and targets of the same shape   -> mean squared error
 *
 * A padded batch of sequences (batch.lengths) with per-position outputs counts only the
 * valid positions: the mean over them, as each sequence's own positions would give. The
 * padding's logits (and regression outputs and targets) are zeroed by lengthMask, whose
 * backward also zeroes their gradients; each zeroed logit column adds exactly log C to the
 * cross-entropy sum (a uniform softmax), which is taken off, and the mean is rescaled from
 * all positions to the valid ones.
 */
import { record } from '../autograd/tape';
import { add, crossEntropy, lengthMask, mse, scale, transpose12 } from '../ops/index';
import { Tensor } from '../tensor/tensor';
import type { DeviceName } from '../backend';
import type { Batch } from './data/dataset';

export type TaskKind = 'classify' | 'sequence' | 'regress';

/** reshape with a gradient (Tensor.reshape is a copy outside autograd). */
function reshapeWithGrad(x: Tensor, shape: number[]): Tensor {
  const out = x.reshape(shape);
  record(out, [x], (g) => [g.reshape(x.shape)], 'reshape');
  return out;
}

/**
 * Throws unless every label is a class id in [0, C). The labels are host data here, so the
 * cross-entropy need not check them on the device, which on CUDA waits for the forward pass
 * (crossEntropy's `check`); a +Infinity logit then shows as a NaN loss.
 */
function checkLabels(y: Float32Array, C: number): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!(v >= 0 && v < C && Number.isInteger(v))) {
      throw new RangeError(`taskLoss: the batch's labels must be class indices in [0, ${C}) (got ${v} at position ${i})`);
    }
  }
}

/** The scalar loss of a batch; `out` is the model output for batch.x. */
export function taskLoss(kind: TaskKind, out: Tensor, batch: Batch, device: DeviceName): Tensor {
  if (batch.lengths && out.rank === 3 && kind !== 'classify') return maskedLoss(kind, out, batch, device);
  const target = Tensor.fromFloats(batch.y, batch.yShape, 'float32', device);
  switch (kind) {
    case 'classify':
      checkLabels(batch.y, out.shape[1]);
      return crossEntropy(out, target, { check: false });
    case 'sequence': {
      const [B, C, L] = out.shape;
      checkLabels(batch.y, C);
      return crossEntropy(reshapeWithGrad(transpose12(out), [B * L, C]), target, { check: false });
    }
    case 'regress':
      return mse(out, target.shape.length === out.shape.length ? target : target.reshape(out.shape));
    default:
      throw new TypeError(`taskLoss: argument 'kind' must be 'classify', 'sequence' or 'regress' (got ${String(kind)})`);
  }
}

/** The per-position loss of a padded batch over its valid positions (see the file comment). */
function maskedLoss(kind: TaskKind, out: Tensor, batch: Batch, device: DeviceName): Tensor {
  const [B, C, L] = out.shape;
  const lengths = batch.lengths!;
  if (lengths.length !== B) throw new RangeError(`taskLoss: batch.lengths must hold ${B} lengths (got ${lengths.length})`);
  let valid = 0;
  for (const n of lengths) {
    if (!Number.isInteger(n) || n < 1 || n > L) throw new RangeError(`taskLoss: batch.lengths must hold integers in [1, ${L}] (got ${n})`);
    valid += n;
  }
  const n = Tensor.fromFloats(Float32Array.from(lengths), [B], 'float32', device);
  const masked = lengthMask(out, n);
  const target = Tensor.fromFloats(batch.y, batch.yShape, 'float32', device);
  if (kind === 'sequence') {
    checkLabels(batch.y, C);
    const ce = crossEntropy(reshapeWithGrad(transpose12(masked), [B * L, C]), target, { check: false });
    const padding = B * L - valid;
    const offset = Tensor.fromFloats(Float32Array.of((-padding * Math.log(C)) / valid), [], 'float32', device);
    return add(scale(ce, (B * L) / valid), offset);
  }
  if (kind !== 'regress') throw new TypeError(`taskLoss: argument 'kind' must be 'classify', 'sequence' or 'regress' (got ${String(kind)})`);
  const t = target.shape.length === out.shape.length ? target : target.reshape(out.shape);
  return scale(mse(masked, lengthMask(t, n)), L / (valid / B));
}
