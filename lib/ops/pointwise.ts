/**
 * Elementwise ops and the full sum, with autograd (native/binding/pointwise.cpp). Enough to
 * form scalar losses (sum(mul(K, W))) and to combine gradients; shapes must match exactly
 * (no broadcasting). Counts passed to the kernels are in floats (complex64 counts twice).
 * Also exp(x), complexFromParts(re, im) -> complex64 and realPart(z), imagPart(z) -> float32,
 * the parameter transforms of the S4 layer.
 */
import { ops } from '../native/binding';
import { Tensor } from '../tensor/tensor';
import { expectNumber, expectSameShape, expectTensor } from '../util/validate';
import { defineOp, handle, type OpOptions } from './define';

/** The dtypes whose values add and scale as their floats. */
type FloatsDType = 'float32' | 'complex64';

/** out = alpha * g (a new tensor). */
function scaled(g: Tensor, s: number): Tensor {
  const out = Tensor.empty(g.shape, g.dtype, g.device);
  ops.axpby({ out: out.handle, a: g.handle, alpha: s, beta: 0, n: g.floats });
  return out;
}

/** alpha a + beta b of two tensors of one shape and dtype. */
function combination(name: string, alpha: number, beta: number, dtype: FloatsDType) {
  return defineOp({
    name,
    inputs: { a: dtype, b: dtype },
    plan: ({ a, b }, _args: undefined) => {
      expectSameShape(name, 'b', b, 'a', a);
      return { shape: a.shape, dtype };
    },
    forward: ({ a, b }, out) => ops.axpby({ out: out.handle, a: a.handle, alpha, b: b.handle, beta, n: a.floats }),
    backward: (g, { a, b }) => ({ a: a.requiresGrad ? scaled(g, alpha) : null, b: b.requiresGrad ? scaled(g, beta) : null }),
  });
}

const addOp = combination('add', 1, 1, 'float32');
const subOp = combination('sub', 1, -1, 'float32');
const addComplexOp = combination('add', 1, 1, 'complex64');
const subComplexOp = combination('sub', 1, -1, 'complex64');

/** a + b (float32; complex64 tensors add as their float pairs through addComplex). */
export function add(a: Tensor, b: Tensor, opts?: OpOptions): Tensor {
  return complexAware(a, b) ? addComplexOp({ a, b }, undefined, opts) : addOp({ a, b }, undefined, opts);
}

export function sub(a: Tensor, b: Tensor, opts?: OpOptions): Tensor {
  return complexAware(a, b) ? subComplexOp({ a, b }, undefined, opts) : subOp({ a, b }, undefined, opts);
}

function complexAware(a: unknown, b: unknown): boolean {
  return a instanceof Tensor && a.dtype === 'complex64' && b instanceof Tensor;
}

/** s * a of one dtype (the output may be a itself). */
function scaling(dtype: FloatsDType) {
  return defineOp({
    name: 'scale',
    inputs: { a: dtype },
    plan: ({ a }, s: number) => ({ shape: a.shape, dtype, s: expectNumber('scale', 's', s) }),
    forward: ({ a }, out, p) => ops.axpby({ out: out.handle, a: a.handle, alpha: p.s, beta: 0, n: a.floats }),
    backward: (g, _in, p) => ({ a: scaled(g, p.s) }),
    inPlace: true,
  });
}

const scaleOp = scaling('float32');
const scaleComplexOp = scaling('complex64');

/** s * a (float32 or complex64). */
export function scale(a: Tensor, s: number, opts?: OpOptions): Tensor {
  return a instanceof Tensor && a.dtype === 'complex64' ? scaleComplexOp({ a }, s, opts) : scaleOp({ a }, s, opts);
}

const mulOp = defineOp({
  name: 'mul',
  inputs: { a: 'float32', b: 'float32' },
  plan: ({ a, b }, _args: undefined) => {
    expectSameShape('mul', 'b', b, 'a', a);
    return { shape: a.shape };
  },
  forward: ({ a, b }, out) => ops.mul({ out: out.handle, a: a.handle, b: b.handle, n: a.size }),
  backward: (g, { a, b }, _p, grads) => {
    if (grads.a) ops.mul({ out: grads.a.handle, a: g.handle, b: b.handle, n: a.size });
    if (grads.b) ops.mul({ out: grads.b.handle, a: g.handle, b: a.handle, n: a.size });
  },
});

/** Elementwise product of float32 tensors. */
export function mul(a: Tensor, b: Tensor, opts?: OpOptions): Tensor {
  if (a instanceof Tensor && a.dtype !== 'float32') {
    throw new TypeError("mul: argument 'a' must be float32 (complex products are not elementwise on floats)");
  }
  return mulOp({ a, b }, undefined, opts);
}

const sumOp = defineOp({
  name: 'sum',
  inputs: { a: 'float32' },
  plan: (_in, _args: undefined) => ({ shape: [] as number[] }),
  forward: ({ a }, out) => ops.sum({ out: out.handle, a: a.handle, n: a.size }),
  backward: (g, { a }, _p, grads) => ops.broadcastScalar({ out: grads.a!.handle, scalar: g.handle, scale: 1, n: a.size }),
});

/** Sum of all elements of a float32 tensor -> shape [] (one value). */
export function sum(a: Tensor, opts?: OpOptions): Tensor {
  return sumOp({ a }, undefined, opts);
}

const meanOp = defineOp({
  name: 'mean',
  inputs: { a: 'float32' },
  plan: ({ a }, _args: undefined) => {
    if (a.size === 0) throw new RangeError("mean: argument 'a' is empty");
    return { shape: [] as number[] };
  },
  forward: ({ a }, out) => {
    ops.sum({ out: out.handle, a: a.handle, n: a.size });
    ops.axpby({ out: out.handle, a: out.handle, alpha: 1 / a.size, beta: 0, n: 1 });
  },
  backward: (g, { a }, _p, grads) => ops.broadcastScalar({ out: grads.a!.handle, scalar: g.handle, scale: 1 / a.size, n: a.size }),
});

/** Mean of all elements -> shape []. */
export function mean(a: Tensor, opts?: OpOptions): Tensor {
  return meanOp({ a }, undefined, opts);
}

/** In-place fill (no autograd). */
export function fill_(t: Tensor, value: number): Tensor {
  expectTensor('fill_', 't', t);
  expectNumber('fill_', 'value', value);
  ops.fill({ out: t.handle, value, n: t.floats });
  return t;
}

const expOp = defineOp({
  name: 'exp',
  inputs: { x: { dtype: 'float32', nonEmpty: true } },
  plan: ({ x }, _args: undefined) => ({ shape: x.shape, n: x.size }),
  forward: ({ x }, out, { n }) => ops.expForward({ x: x.handle, out: out.handle, n }),
  // d exp(x) = exp(x) dx
  backward: (g, _in, { n }, grads, _saved, out) => ops.mul({ out: grads.x!.handle, a: g.handle, b: out.handle, n }),
});

export function exp(x: Tensor, opts?: OpOptions): Tensor {
  return expOp({ x }, undefined, opts);
}

const complexFromPartsOp = defineOp({
  name: 'complexFromParts',
  inputs: { re: { dtype: 'float32', nonEmpty: true }, im: 'float32' },
  plan: ({ re, im }, _args: undefined) => {
    expectSameShape('complexFromParts', 'im', im, 're', re);
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
    inputs: { z: { dtype: 'complex64', nonEmpty: true } },
    plan: ({ z }, _args: undefined) => ({ shape: z.shape, n: z.size }),
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
