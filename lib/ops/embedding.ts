/**
 * Embedding lookup, with autograd to the table (native/binding/embedding.cpp):
 *
 *   embedding(indices [...], table [V, D]) -> [..., D]
 *
 * The indices are float32 holding row ids in [0, V); anything else throws a RangeError
 * naming 'indices'. They get no gradient. The `out` option takes a float32 [..., D] tensor
 * to write the rows into.
 */
import { ops } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { defineOp, type OpOptions } from './define';

const embeddingOp = defineOp({
  name: 'embedding',
  inputs: { indices: { dtype: 'float32', nonEmpty: true }, table: { dtype: 'float32', rank: 2, nonEmpty: true } },
  plan: ({ indices, table }, _args: undefined) => {
    const [V, D] = table.shape;
    return { shape: [...indices.shape, D], M: indices.size, V, D };
  },
  forward: ({ indices, table }, out, { M, V, D }) => ops.embeddingForward({ indices: indices.handle, table: table.handle, out: out.handle, M, V, D }),
  backward: (g, { indices }, { M, V, D }, grads) => {
    if (grads.table) ops.embeddingBackward({ indices: indices.handle, gradOut: g.handle, gradTable: grads.table.handle, M, V, D });
    return { indices: null }; // row ids: no gradient
  },
});

/** Rows of table [V, D] picked by indices [...] (float32 holding ids in [0, V)) -> [..., D]. */
export function embedding(indices: Tensor, table: Tensor, opts?: OpOptions): Tensor {
  return embeddingOp({ indices, table }, undefined, opts);
}
