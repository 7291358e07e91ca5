/**
 * Files written by torch.save (the zip format of torch >= 1.6: <root>/data.pkl, the tensor
 * records <root>/data/<key>, <root>/byteorder, <root>/version), read without running any of
 * it: the pickle goes through the restricted machine of pickle.ts, storages come from the
 * records, and tensors are gathered from them by size, stride and offset. The result is
 * plain JS: dicts as objects (keys as strings), lists and tuples as arrays, tensors as
 * OfficialTensor values, skipped objects (ignoreUnknown) as PyOpaque.
 */
import { decodeElements } from './dtype_decode';
import type { OfficialTensor } from './official_tensor';
import { PickleFormatError, unpickle } from './pickle';
import { dtypeBytes, PyDict, PyGlobal, PyOpaque, PyTuple, STORAGE_TYPES, TorchStorage, TorchTensorRef, type PyValue } from './pickle_values';
import { readZip, ZipFormatError } from './zip_read';

export interface TorchLoadOptions {
  /** Name of the file in errors. */
  source?: string;
  /** Let unknown globals become PyOpaque stand-ins (see pickle.ts) instead of refusing the file. */
  ignoreUnknown?: boolean;
}

/** A JS value as read from a torch file. */
export type TorchValue = null | boolean | number | bigint | string | Uint8Array | OfficialTensor | PyOpaque | TorchValue[] | { [key: string]: TorchValue };

export function isTensorValue(v: unknown): v is OfficialTensor & { dtype: string } {
  return v !== null && typeof v === 'object' && (v as { [TENSOR]?: boolean })[TENSOR] === true;
}
const TENSOR = Symbol('torch tensor');

/** Reads a torch.save zip file's object. */
export function loadTorch(bytes: Uint8Array, opts: TorchLoadOptions = {}): TorchValue {
  const source = opts.source ?? 'torch file';
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new ZipFormatError(source, "this is torch's legacy (pre-1.6, non-zip) format; re-save it with a current torch.save");
  }
  const records = readZip(bytes, source);
  const pkl = [...records.keys()].find((n) => /^[^/]*\/data\.pkl$/.test(n) || n === 'data.pkl');
  if (!pkl) throw new ZipFormatError(source, 'no data.pkl record: not a torch.save file');
  const root = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const order = records.get(`${root}byteorder`);
  if (order) {
    const o = Buffer.from(order.data()).toString('latin1').trim();
    if (o !== 'little') throw new ZipFormatError(source, `byteorder '${o}' (only little-endian files are read)`);
  }
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
      throw new PickleFormatError(source, "a persistent id that is not ('storage', type, key, location, numel)");
    }
    const [, type, key, location, numel] = pid.items;
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGE_TYPES)) throw new PickleFormatError(source, 'a storage of an unknown type');
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new PickleFormatError(source, 'a storage id with a bad key or size');
    return new TorchStorage(STORAGE_TYPES[type.name].dtype, key, String(location), numel);
  };
  const value = unpickle(records.get(pkl)!.data(), persistentLoad, { source, ignoreUnknown: opts.ignoreUnknown });

  const storageBytes = new Map<string, Uint8Array>();
  const storageData = (s: TorchStorage): Uint8Array => {
    let b = storageBytes.get(s.key);
    if (!b) {
      const rec = records.get(`${root}data/${s.key}`);
      if (!rec) throw new ZipFormatError(source, `storage record 'data/${s.key}' is missing`);
      b = rec.data();
      const need = s.numel * dtypeBytes(s.dtype);
      if (b.length < need) throw new ZipFormatError(source, `storage record 'data/${s.key}' holds ${b.length} bytes, ${need} needed`);
      storageBytes.set(s.key, b);
    }
    return b;
  };
  const tensor = (t: TorchTensorRef): OfficialTensor => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    // The largest element index the view reaches must lie in the storage.
    let last = t.offset;
    for (let d = 0; d < t.shape.length; d++) {
      if (t.shape[d] < 0 || t.stride[d] < 0) throw new PickleFormatError(source, 'a tensor with a negative size or stride');
      if (t.shape[d] > 0) last += (t.shape[d] - 1) * t.stride[d];
    }
    if (count > 0 && (t.offset < 0 || last >= t.storage.numel)) throw new PickleFormatError(source, `a tensor view reaches element ${last} of a storage of ${t.storage.numel}`);
    // A view may repeat elements (stride 0, as expand()); one far larger than its storage would
    // only allocate memory, so it is refused.
    if (!Number.isSafeInteger(count) || (count > t.storage.numel && count > 2 ** 24)) {
      throw new PickleFormatError(source, `a tensor view of shape [${t.shape.join(', ')}] over a storage of ${t.storage.numel} elements`);
    }
    const bytesOf = storageData(t.storage);
    const rank = t.shape.length;
    const index = (i: number): number => {
      let off = t.offset;
      for (let d = rank - 1; d >= 0; d--) {
        const n = t.shape[d];
        off += (i % n) * t.stride[d];
        i = Math.floor(i / n);
      }
      return off;
    };
    const out = { shape: t.shape, dtype: t.storage.dtype, data: decodeElements(bytesOf, t.storage.dtype, count, index) };
    Object.defineProperty(out, TENSOR, { value: true });
    return out;
  };
  // Containers being converted: the memo lets a pickle make a list hold itself.
  const open = new Set<object>();
  const plain = (v: PyValue): TorchValue => {
    if (v instanceof TorchTensorRef) return tensor(v);
    if (v instanceof PyTuple || Array.isArray(v) || v instanceof PyDict) {
      if (open.has(v)) throw new PickleFormatError(source, 'a container that holds itself');
      open.add(v);
      try {
        if (v instanceof PyTuple) return v.items.map(plain);
        if (Array.isArray(v)) return v.map(plain);
        const o: { [key: string]: TorchValue } = {};
        for (const [k, x] of v.map) Object.defineProperty(o, keyText(k), { value: plain(x), enumerable: true, writable: true, configurable: true });
        return o;
      } finally {
        open.delete(v);
      }
    }
    if (v instanceof PyGlobal || v instanceof TorchStorage) return new PyOpaque(v instanceof PyGlobal ? `global ${v.fullName}` : 'a bare storage');
    return v;
  };
  return plain(value);
}

function keyText(k: unknown): string {
  if (k instanceof PyTuple) return `(${k.items.map(keyText).join(', ')})`;
  return String(k);
}
