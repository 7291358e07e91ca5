/**
 * The values the restricted unpickler (pickle.ts) builds: Python's plain data as JS values
 * (None -> null, bool, int -> number (bigint beyond 2^53), float, str, bytes -> Uint8Array,
 * list -> array), plus tuples, dicts (any hashable key, insertion order), the references
 * torch's pickles hold (a storage, a tensor view of one), the allow-listed globals, and
 * opaque stand-ins for what was skipped on request. None of them runs anything.
 */

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** Attributes set by BUILD (an OrderedDict's _metadata). */
  attrs: PyValue = null;
}

/** A global the file names (module, qualified name); only allow-listed ones are built. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** torch's persistent id ('storage', <dtype>Storage, key, location, numel): the record data/<key>. */
export class TorchStorage {
  constructor(
    readonly dtype: TorchDType,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}

/** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a strided view of a storage. */
export class TorchTensorRef {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** What stands in for an object the file builds from a global outside the allow-list (read with ignoreUnknown). */
export class PyOpaque {
  constructor(readonly what: string) {}
}

export type PyKey = string | number | bigint | boolean | null | PyTuple;
export type PyValue = PyKey | Uint8Array | PyValue[] | PyDict | PyGlobal | TorchStorage | TorchTensorRef | PyOpaque;

export type TorchDType = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** torch.<Name>Storage -> dtype and element size in bytes. */
export const STORAGE_TYPES: Record<string, { dtype: TorchDType; bytes: number }> = {
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  FloatStorage: { dtype: 'float32', bytes: 4 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ShortStorage: { dtype: 'int16', bytes: 2 },
  CharStorage: { dtype: 'int8', bytes: 1 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
};

export function dtypeBytes(dtype: TorchDType): number {
  for (const v of Object.values(STORAGE_TYPES)) if (v.dtype === dtype) return v.bytes;
  throw new RangeError(`unknown dtype '${dtype}'`);
}

export function storageTypeName(dtype: TorchDType): string {
  for (const [k, v] of Object.entries(STORAGE_TYPES)) if (v.dtype === dtype) return k;
  throw new RangeError(`unknown dtype '${dtype}'`);
}
