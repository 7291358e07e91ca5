/**
 * Elementwise ops with autograd on the pointwise natives (native/binding/pointwise.cpp):
 *
 *   exp(x);  complexFromParts(re, im) -> complex64;  realPart(z), imagPart(z) -> float32
 *
 * Each takes an `out` option: a tensor of the result's shape and dtype to write into.
 */
import { ops } from '../native/binding';
import type { Tensor } from '../tensor/tensor';
import { defineOp, handle, type OpOptions } from './define';

function nonEmpty(fn: string, name: string, t: Tensor): void {
  if (t.rank === 0 || t.size === 0) {
    throw new RangeError(`${fn}: argument '${name}' must have rank >= 1 and no zero-sized dimension (got [${t.shape.join(', ')}])`);
  }
}

const expOp = defineOp({
  name: 'exp',
  inputs: { x: 'float32' },
  plan: ({ x }, _args: undefined) => {
    nonEmpty('exp', 'x', x);
    return { shape: x.shape, n: x.size };
  },
  forward: ({ x }, out, { n }) => ops.expForward({ x: x.handle, out: out.handle, n }),
  // d exp(x) = exp(x) dx
  backward: (g, _in, { n }, grads, _saved, out) => ops.mul({ out: grads.x!.handle, a: g.handle, b: out.handle, n }),
});

export function exp(x: Tensor, opts?: OpOptions): Tensor {
  return expOp({ x }, undefined, opts);
}

const complexFromPartsOp = defineOp({
  name: 'complexFromParts',
  inputs: { re: 'float32', im: 'float32' },
  plan: ({ re, im }, _args: undefined) => {
    const fn = 'complexFromParts';
    nonEmpty(fn, 're', re);
    if (im.rank !== re.rank || im.shape.some((s, i) => s !== re.shape[i])) {
      throw new RangeError(`${fn}: argument 'im' must have the shape of 're' [${re.shape.join(', ')}] (got [${im.shape.join(', ')}])`);
    }
    return { shape: re.shape, dtype: 'complex64' as const, n: re.size };
  },
  forward: ({ re, im }, out, { n }) => ops.complexFromParts({ re: re.handle, im: im.handle, out: out.handle, n }),
  backward: (g, _in, { n }, grads) => ops.complexParts({ z: g.handle, re: handle(grads.re), im: handle(grads.im), n }),
});

/** complex64 re + i im from two float32 tensors of one shape; the gradient splits back. */
export function complexFromParts(re: Tensor, im: Tensor, opts?: OpOptions): Tensor {
  return complexFromPartsOp({ re, im }, undefined, opts);
}

function partOp(name: string, which: 're' | 'im') {
  return defineOp({
    name,
    inputs: { z: 'complex64' },
    plan: ({ z }, _args: undefined) => {
      nonEmpty(name, 'z', z);
      return { shape: z.shape, n: z.size };
    },
    forward: ({ z }, out, { n }) =>
      ops.complexParts({ z: z.handle, re: which === 're' ? out.handle : null, im: which === 'im' ? out.handle : null, n }),
    // PyTorch convention: grad = dL/dRe + i dL/dIm.
    backward: (g, _in, { n }, grads) =>
      ops.complexFromParts({ re: which === 're' ? g.handle : null, im: which === 'im' ? g.handle : null, out: grads.z!.handle, n }),
  });
}

const realPartOp = partOp('realPart', 're');
const imagPartOp = partOp('imagPart', 'im');

/** Re z of a complex64 tensor, as float32. */
export function realPart(z: Tensor, opts?: OpOptions): Tensor {
  return realPartOp({ z }, undefined, opts);
}

/** Im z of a complex64 tensor, as float32. */
export function imagPart(z: Tensor, opts?: OpOptions): Tensor {
  return imagPartOp({ z }, undefined, opts);
}
