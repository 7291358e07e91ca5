/**
 * Argument checks shared by the op wrappers. Messages start with the op name and name
 * the argument: "fftConv: argument 'k' must have shape [H, L] = [4, 7] (got [4, 8])".
 */
import { Tensor, type DType } from '../tensor/tensor';
import type { DeviceName } from '../backend';

export interface TensorSpec {
  dtype?: DType;
  /** Expected sizes; null matches any size at that position. */
  shape?: readonly (number | null)[];
  rank?: number;
  device?: DeviceName;
  /** Names for the shape positions, used in messages (e.g. ['B', 'H', 'L']). */
  dims?: readonly string[];
}

function fmt(shape: readonly (number | null)[], dims?: readonly string[]): string {
  const sizes = `[${shape.map((s) => (s === null ? '*' : String(s))).join(', ')}]`;
  return dims ? `[${dims.join(', ')}] = ${sizes}` : sizes;
}

export function expectTensor(fn: string, name: string, value: unknown, spec: TensorSpec = {}): Tensor {
  if (!(value instanceof Tensor)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new TypeError(`${fn}: argument '${name}' must be a Tensor (got ${got})`);
  }
  if (value.isDisposed) throw new Error(`${fn}: argument '${name}' has been disposed`);
  if (spec.dtype && value.dtype !== spec.dtype) {
    throw new TypeError(`${fn}: argument '${name}' must be ${spec.dtype} (got ${value.dtype})`);
  }
  const rank = spec.shape ? spec.shape.length : spec.rank;
  if (rank !== undefined && value.rank !== rank) {
    const want = spec.shape ? `shape ${fmt(spec.shape, spec.dims)}` : `rank ${rank}`;
    throw new RangeError(`${fn}: argument '${name}' must have ${want} (got [${value.shape.join(', ')}])`);
  }
  if (spec.shape) {
    spec.shape.forEach((s, i) => {
      if (s !== null && value.shape[i] !== s) {
        throw new RangeError(
          `${fn}: argument '${name}' must have shape ${fmt(spec.shape!, spec.dims)} (got [${value.shape.join(', ')}])`,
        );
      }
    });
  }
  if (spec.device && value.device !== spec.device) {
    throw new Error(`${fn}: argument '${name}' is on ${value.device} but the operation runs on ${spec.device}`);
  }
  return value;
}

/** All tensors must be on one device; returns it. */
export function sameDevice(fn: string, tensors: Record<string, Tensor | null | undefined>): DeviceName {
  let device: DeviceName | undefined;
  let first = '';
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    if (!device) {
      device = t.device;
      first = name;
    } else if (t.device !== device) {
      throw new Error(`${fn}: argument '${name}' is on ${t.device} but '${first}' is on ${device}; move them to one device`);
    }
  }
  return device ?? 'cpu';
}

export function expectInteger(fn: string, name: string, value: unknown, min = 1, max = 2 ** 31 - 1): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${fn}: argument '${name}' must be a finite number (got ${String(value)})`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${fn}: argument '${name}' must be an integer in [${min}, ${max}] (got ${value})`);
  }
  return value;
}

export function expectNumber(fn: string, name: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${fn}: argument '${name}' must be a finite number (got ${String(value)})`);
  }
  if (value < min || value > max) throw new RangeError(`${fn}: argument '${name}' must be in [${min}, ${max}] (got ${value})`);
  return value;
}

/** A tensor of rank >= 1 with no zero-sized dimension (ops whose kernels need one element). */
export function expectNonEmpty(fn: string, name: string, t: Tensor): void {
  if (t.rank === 0 || t.size === 0) {
    throw new RangeError(`${fn}: argument '${name}' must have rank >= 1 and no zero-sized dimension (got [${t.shape.join(', ')}])`);
  }
}

/** Tensor `t` (argument `name`) must have the shape of `ref` (argument `refName`). */
export function expectSameShape(fn: string, name: string, t: Tensor, refName: string, ref: Tensor): void {
  if (t.rank !== ref.rank || t.shape.some((s, i) => s !== ref.shape[i])) {
    throw new RangeError(`${fn}: argument '${name}' must have the shape of '${refName}' [${ref.shape.join(', ')}] (got [${t.shape.join(', ')}])`);
  }
}
