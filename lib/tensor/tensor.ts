/**
 * Tensor: a shape, a dtype (float32, or complex64 stored as interleaved re, im pairs), a
 * device, and a native buffer that is freed by dispose() (or by the collector if a tensor
 * is forgotten). Any use of a disposed tensor throws.
 */
import { ensureDevice, type DeviceName } from '../backend';
import { core, type NativeBuffer } from '../native/binding';
import * as scope from './scope';

export type DType = 'float32' | 'complex64';
export type { DeviceName };

/** Floats per element of each dtype. */
export function floatsPer(dtype: DType): number {
  return dtype === 'complex64' ? 2 : 1;
}

const MAX_ELEMENTS = 2 ** 40;

/** Validates a shape and returns its element count; the message names `name`. */
export function checkShape(shape: unknown, name = 'shape', fn = 'tensor'): number {
  if (!Array.isArray(shape)) throw new TypeError(`${fn}: argument '${name}' must be an array of sizes (got ${typeof shape})`);
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isFinite(d)) {
      throw new TypeError(`${fn}: argument '${name}'[${i}] must be a finite number (got ${String(d)})`);
    }
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${fn}: argument '${name}'[${i}] must be a non-negative integer (got ${d})`);
    }
    count *= d;
    if (count > MAX_ELEMENTS) {
      throw new RangeError(`${fn}: argument '${name}' [${shape.join(', ')}] is too large (its byte count overflows)`);
    }
  }
  return count;
}

/** Autograd bookkeeping of a tensor made by an op (see autograd/tape.ts). */
export interface GradNode {
  inputs: readonly (Tensor | null | undefined)[];
  /** `retain`: the graph is kept for another backward (saved tensors must not be freed). */
  backward: (gradOut: Tensor, retain: boolean) => readonly (Tensor | null | undefined)[];
  name: string;
}

/** Options of Tensor.backward (see autograd/tape.ts). */
export interface BackwardOptions {
  /** Keep the graph and the tensors its ops saved, so that another backward can run through it. */
  retainGraph?: boolean;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: DeviceName;
  /** Number of elements (complex elements for complex64). */
  readonly size: number;
  /** Whether gradients flow to (or through) this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(); owned by this tensor. */
  grad: Tensor | null = null;
  /** Set by autograd for tensors produced by a recorded op. */
  gradNode: GradNode | null = null;
  /** Set when a backward pass released this tensor's node: another backward through it throws. */
  released = false;
  /** Optional name (parameters). */
  name?: string;

  private buffer: NativeBuffer | null;

  /** Wraps a native buffer that already holds size * floatsPer(dtype) floats. */
  constructor(buffer: NativeBuffer, shape: readonly number[], dtype: DType, device: DeviceName) {
    this.buffer = buffer;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.device = device;
    this.size = shape.reduce((a, b) => a * b, 1);
    scope.track(this);
  }

  /** An uninitialized tensor. */
  static empty(shape: readonly number[], dtype: DType = 'float32', device: DeviceName = 'cpu'): Tensor {
    const count = checkShape(shape as number[], 'shape', 'empty');
    ensureDevice(device, 'empty');
    const buf = core.alloc(device, count * floatsPer(dtype) * 4);
    return new Tensor(buf, shape, dtype, device);
  }

  /** A tensor holding a copy of `data` (floats; interleaved pairs for complex64). */
  static fromFloats(data: Float32Array, shape: readonly number[], dtype: DType, device: DeviceName): Tensor {
    const count = checkShape(shape as number[], 'shape', 'tensor');
    if (data.length !== count * floatsPer(dtype)) {
      throw new RangeError(
        `tensor: data has ${data.length} values but shape [${shape.join(', ')}] (${dtype}) needs ${count * floatsPer(dtype)}`,
      );
    }
    ensureDevice(device, 'tensor');
    return new Tensor(core.upload(device, data), shape, dtype, device);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Number of float32 values in the buffer. */
  get floats(): number {
    return this.size * floatsPer(this.dtype);
  }

  get isDisposed(): boolean {
    return this.buffer === null;
  }

  /** The native buffer; throws if the tensor has been disposed. */
  get handle(): NativeBuffer {
    if (!this.buffer) throw new Error(`tensor${this.name ? ` '${this.name}'` : ''} [${this.shape.join(', ')}] has been disposed`);
    return this.buffer;
  }

  /** Reads the values without blocking the event loop (the copy waits on a worker thread). */
  data(): Promise<Float32Array> {
    try {
      return core.downloadAsync(this.handle);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Reads the values, waiting for pending GPU work on this thread. */
  dataSync(): Float32Array {
    return core.download(this.handle);
  }

  /** Plain nested-free array of the values (float32 only: one number per element). */
  async array(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** The single value of a one-element float32 tensor. */
  item(): number {
    if (this.size !== 1 || this.dtype !== 'float32') {
      throw new RangeError(`item: the tensor must hold one float32 value (shape [${this.shape.join(', ')}], ${this.dtype})`);
    }
    return this.dataSync()[0];
  }

  /** A copy on `device` (this tensor is returned unchanged when it is already there). */
  to(device: DeviceName): Tensor {
    if (device !== 'cpu' && device !== 'cuda') throw new TypeError(`to: argument 'device' must be 'cpu' or 'cuda' (got ${String(device)})`);
    if (device === this.device) return this;
    ensureDevice(device, 'to');
    const out = Tensor.empty(this.shape, this.dtype, device);
    core.copy(out.handle, this.handle);
    return out;
  }

  /** A copy with no autograd history. */
  clone(): Tensor {
    const out = Tensor.empty(this.shape, this.dtype, this.device);
    core.copy(out.handle, this.handle);
    return out;
  }

  /** Same data, another shape with the same element count (a copy: tensors own their buffer). */
  reshape(shape: readonly number[]): Tensor {
    const count = checkShape(shape as number[], 'shape', 'reshape');
    if (count !== this.size) {
      throw new RangeError(`reshape: argument 'shape' [${shape.join(', ')}] has ${count} elements, the tensor has ${this.size}`);
    }
    const out = new Tensor(core.alloc(this.device, this.floats * 4), shape, this.dtype, this.device);
    core.copy(out.handle, this.handle);
    return out;
  }

  /** Frees the memory now. Idempotent. Also frees the gradient. */
  dispose(): void {
    if (this.buffer) {
      this.buffer.free();
      this.buffer = null;
    }
    this.gradNode = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Backpropagates from this tensor (a scalar unless `grad` is given); see autograd/tape.ts.
   * `backward({ retainGraph: true })` or `backward(grad, { retainGraph: true })` keeps the
   * graph for another pass.
   */
  backward(grad?: Tensor | BackwardOptions | null, opts?: BackwardOptions): void {
    if (grad !== null && grad !== undefined && !(grad instanceof Tensor) && typeof grad === 'object' && opts === undefined) {
      backwardImpl(this, null, grad);
      return;
    }
    backwardImpl(this, grad as Tensor | null | undefined, opts);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.isDisposed ? ', disposed' : ''})`;
  }
}

/**
 * @internal Another shape over the same buffer (same element count), for fixed-shape hot
 * paths that see one buffer as [B, H, 1] and [B, H]. The view is kept out of tidy scopes and
 * must never be disposed: the owner of `t` frees the buffer.
 */
export function sharedView(t: Tensor, shape: readonly number[]): Tensor {
  if (shape.reduce((a, b) => a * b, 1) !== t.size) throw new RangeError(`sharedView: shape [${shape.join(', ')}] does not hold ${t.size} elements`);
  return scope.keep(new Tensor(t.handle, shape, t.dtype, t.device));
}

// Set by autograd/tape.ts (breaks the import cycle).
type BackwardFn = (root: Tensor, grad?: Tensor | null, opts?: BackwardOptions) => void;
let backwardImpl: BackwardFn = () => {
  throw new Error('autograd is not loaded');
};
export function setBackwardImpl(fn: BackwardFn): void {
  backwardImpl = fn;
}
