/**
 * The loss of each task kind, from the model output and a batch:
 *   classify  out [B, C], labels [B]              -> cross-entropy
 *   sequence  out [B, C, L], labels [B * L]       -> cross-entropy over every position
 *   regress   out and targets of the same shape   -> mean squared error
 */
import { record } from '../autograd/tape';
import { crossEntropy, mse, transpose12 } from '../ops/index';
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

/** The scalar loss of a batch; `out` is the model output for batch.x. */
export function taskLoss(kind: TaskKind, out: Tensor, batch: Batch, device: DeviceName): Tensor {
  // A per-position loss would count the padding of a variable-length batch: refused rather
  // than silently wrong (the variable-length tasks pool to one output per sequence).
  if (batch.lengths && out.rank === 3) {
    throw new RangeError('taskLoss: per-position targets of variable-length sequences are not supported (pool the outputs: one target per sequence)');
  }
  const target = Tensor.fromFloats(batch.y, batch.yShape, 'float32', device);
  switch (kind) {
    case 'classify':
      return crossEntropy(out, target);
    case 'sequence': {
      const [B, C, L] = out.shape;
      return crossEntropy(reshapeWithGrad(transpose12(out), [B * L, C]), target);
    }
    case 'regress':
      return mse(out, target.shape.length === out.shape.length ? target : target.reshape(out.shape));
    default:
      throw new TypeError(`taskLoss: argument 'kind' must be 'classify', 'sequence' or 'regress' (got ${String(kind)})`);
  }
}
