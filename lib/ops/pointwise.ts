/**
 * Elementwise ops and the full sum, with autograd. Enough to form scalar losses
 * (sum(mul(K, W))) and to combine gradients; shapes must match exactly (no broadcasting).
 */
import { record } from '../autograd/tape';
import { core } from '../native/addon';
import { Tensor } from '../tensor/tensor';
import { expectNumber, expectTensor, sameDevice } from './validate';

function like(t: Tensor): Tensor {
  return Tensor.empty(t.shape, t.dtype, t.device);
}

function pair(fn: string, a: unknown, b: unknown): [Tensor, Tensor] {
  const x = expectTensor(fn, 'a', a);
  const y = expectTensor(fn, 'b', b, { dtype: x.dtype });
  if (x.size !== y.size || x.rank !== y.rank || x.shape.some((s, i) => s !== y.shape[i])) {
    throw new RangeError(`${fn}: argument 'b' must have the shape of 'a' [${x.shape.join(', ')}] (got [${y.shape.join(', ')}])`);
  }
  sameDevice(fn, { a: x, b: y });
  return [x, y];
}

/** alpha * a + beta * b. */
function linearCombination(fn: string, a: Tensor, alpha: number, b: Tensor, beta: number): Tensor {
  const out = like(a);
  core.axpby(out.handle, a.handle, alpha, b.handle, beta, a.floats);
  record(out, [a, b], (g) => [scaled(g, alpha), scaled(g, beta)], fn);
  return out;
}

function scaled(g: Tensor, s: number): Tensor {
  const out = like(g);
  core.axpby(out.handle, g.handle, s, null, 0, g.floats);
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  const [x, y] = pair('add', a, b);
  return linearCombination('add', x, 1, y, 1);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const [x, y] = pair('sub', a, b);
  return linearCombination('sub', x, 1, y, -1);
}

export function scale(a: Tensor, s: number): Tensor {
  const x = expectTensor('scale', 'a', a);
  expectNumber('scale', 's', s);
  const out = like(x);
  core.axpby(out.handle, x.handle, s, null, 0, x.floats);
  record(out, [x], (g) => [scaled(g, s)], 'scale');
  return out;
}

/** Elementwise product of float32 tensors. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const [x, y] = pair('mul', a, b);
  if (x.dtype !== 'float32') throw new TypeError("mul: argument 'a' must be float32 (complex products are not elementwise on floats)");
  const out = like(x);
  core.mul(out.handle, x.handle, y.handle, x.size);
  record(
    out,
    [x, y],
    (g) => {
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (x.requiresGrad) {
        ga = like(x);
        core.mul(ga.handle, g.handle, y.handle, x.size);
      }
      if (y.requiresGrad) {
        gb = like(y);
        core.mul(gb.handle, g.handle, x.handle, x.size);
      }
      return [ga, gb];
    },
    'mul',
  );
  return out;
}

/** Sum of all elements of a float32 tensor -> shape [] (one value). */
export function sum(a: Tensor): Tensor {
  const x = expectTensor('sum', 'a', a, { dtype: 'float32' });
  const out = Tensor.empty([], 'float32', x.device);
  core.sum(out.handle, x.handle, x.size);
  record(
    out,
    [x],
    (g) => {
      const gx = like(x);
      core.broadcastScalar(gx.handle, g.handle, 1, x.size);
      return [gx];
    },
    'sum',
  );
  return out;
}

/** Mean of all elements -> shape []. */
export function mean(a: Tensor): Tensor {
  const x = expectTensor('mean', 'a', a, { dtype: 'float32' });
  if (x.size === 0) throw new RangeError("mean: argument 'a' is empty");
  const out = Tensor.empty([], 'float32', x.device);
  core.sum(out.handle, x.handle, x.size);
  core.axpby(out.handle, out.handle, 1 / x.size, null, 0, 1);
  record(
    out,
    [x],
    (g) => {
      const gx = like(x);
      core.broadcastScalar(gx.handle, g.handle, 1 / x.size, x.size);
      return [gx];
    },
    'mean',
  );
  return out;
}

/** In-place fill (no autograd). */
export function fill_(t: Tensor, value: number): Tensor {
  expectTensor('fill_', 't', t);
  expectNumber('fill_', 'value', value);
  core.fill(t.handle, value, t.floats);
  return t;
}
