/** Tensor constructors of the public API. */
import { backend, isDeviceName, type DeviceName } from '../backend';
import { ops } from '../native/binding';
import { Tensor, checkShape } from './tensor';

export interface TensorOptions {
  device?: DeviceName;
  requiresGrad?: boolean;
  name?: string;
}

function deviceOf(fn: string, opts: TensorOptions | undefined): DeviceName {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null)) {
    throw new TypeError(`${fn}: argument 'opts' must be an object`);
  }
  const d = opts?.device ?? backend();
  if (!isDeviceName(d)) throw new TypeError(`${fn}: option 'device' must be 'cpu' or 'cuda' (got ${String(d)})`);
  return d;
}

function finish(t: Tensor, opts?: TensorOptions): Tensor {
  if (opts?.requiresGrad) t.requiresGrad = true;
  if (opts?.name) t.name = opts.name;
  return t;
}

function toFloat32(fn: string, name: string, data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) return Float32Array.from(data as ArrayLike<number> & ArrayBufferView);
  if (Array.isArray(data)) {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'number') throw new TypeError(`${fn}: argument '${name}'[${i}] must be a number (got ${typeof v})`);
      out[i] = v;
    }
    return out;
  }
  throw new TypeError(`${fn}: argument '${name}' must be a typed array or an array of numbers`);
}

/** A float32 tensor from values in row-major order. `shape` defaults to [data.length]. */
export function tensor(data: ArrayLike<number>, shape?: readonly number[], opts?: TensorOptions): Tensor {
  const values = toFloat32('tensor', 'data', data);
  const s = shape ?? [values.length];
  checkShape(s as number[], 'shape', 'tensor');
  return finish(Tensor.fromFloats(values, s, 'float32', deviceOf('tensor', opts)), opts);
}

/** A complex64 tensor from separate real and imaginary parts. */
export function complex(re: ArrayLike<number>, im: ArrayLike<number>, shape?: readonly number[], opts?: TensorOptions): Tensor {
  const r = toFloat32('complex', 're', re);
  const i = toFloat32('complex', 'im', im);
  if (r.length !== i.length) {
    throw new RangeError(`complex: arguments 're' and 'im' must have the same length (got ${r.length} and ${i.length})`);
  }
  const s = shape ?? [r.length];
  const count = checkShape(s as number[], 'shape', 'complex');
  if (count !== r.length) throw new RangeError(`complex: shape [${s.join(', ')}] needs ${count} values, got ${r.length}`);
  const inter = new Float32Array(2 * r.length);
  for (let k = 0; k < r.length; k++) {
    inter[2 * k] = r[k];
    inter[2 * k + 1] = i[k];
  }
  return finish(Tensor.fromFloats(inter, s, 'complex64', deviceOf('complex', opts)), opts);
}

export function full(shape: readonly number[], value: number, opts?: TensorOptions): Tensor {
  const device = deviceOf('full', opts);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`full: argument 'value' must be a finite number`);
  const t = Tensor.empty(shape, 'float32', device);
  ops.fill({ out: t.handle, value, n: t.floats });
  return finish(t, opts);
}

export function zeros(shape: readonly number[], opts?: TensorOptions): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[], opts?: TensorOptions): Tensor {
  return full(shape, 1, opts);
}

export function zerosLike(t: Tensor): Tensor {
  const out = Tensor.empty(t.shape, t.dtype, t.device);
  ops.fill({ out: out.handle, value: 0, n: out.floats });
  return out;
}
