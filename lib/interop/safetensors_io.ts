/**
 * safetensors files of any of the common dtypes, for official state_dicts (what
 * `safetensors.torch.save_file` writes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL;
 * lib/train/safetensors.ts is the F32-only codec of our checkpoints, whose header checks
 * this one shares). Values are OfficialTensor; writing keeps float32 and int64.
 */
import { frameSafetensors } from '../train/safetensors';
import { CorruptFileError, decodeSafetensors, encodeSafetensors } from '../train/safetensors';
import { decodeElements } from './dtype_decode';
import type { OfficialStateDict } from './official_tensor';
import type { TorchDType } from './pickle_values';

const DTYPES: Record<string, { dtype: TorchDType; bytes: number }> = {
  F64: { dtype: 'float64', bytes: 8 }, F32: { dtype: 'float32', bytes: 4 }, F16: { dtype: 'float16', bytes: 2 }, BF16: { dtype: 'bfloat16', bytes: 2 },
  I64: { dtype: 'int64', bytes: 8 }, I32: { dtype: 'int32', bytes: 4 }, I16: { dtype: 'int16', bytes: 2 }, I8: { dtype: 'int8', bytes: 1 },
  U8: { dtype: 'uint8', bytes: 1 }, BOOL: { dtype: 'bool', bytes: 1 },
};

/** Decodes a safetensors file of any listed dtype: tensors by name and the string metadata. */
export function readSafetensorsAny(bytes: Uint8Array, source = 'safetensors file'): { tensors: OfficialStateDict; metadata: Record<string, string> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string): never => {
    throw new CorruptFileError(source, what);
  };
  if (buf.length < 8) bad('truncated: the 8-byte header length is missing');
  const n64 = buf.readBigUInt64LE(0);
  if (n64 < 2n || n64 > BigInt(Math.min(buf.length - 8, 64 * 2 ** 20))) bad(`header length ${n64} is out of range`);
  const n = Number(n64);
  let header: Record<string, { dtype?: unknown; shape?: unknown; data_offsets?: unknown }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (err) {
    return bad(`the JSON header does not parse: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad('the header is not a JSON object');
  // All-F32 files go through our own codec (with its checks and CRC).
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
  if (entries.every(([, e]) => e?.dtype === 'F32')) {
    const { tensors, metadata } = decodeSafetensors(bytes, source);
    const out: OfficialStateDict = {};
    for (const [k, t] of Object.entries(tensors)) out[k] = { shape: t.shape, dtype: 'float32', data: t.data };
    return { tensors: out, metadata };
  }
  const data = buf.subarray(8 + n);
  const spans: [string, number, number][] = [];
  const tensors: OfficialStateDict = {};
  for (const [name, e] of entries) {
    const dt = DTYPES[String(e?.dtype)];
    if (!dt) bad(`tensor '${name}' has dtype ${String(e?.dtype)} (read: ${Object.keys(DTYPES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`tensor '${name}' has an invalid shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) bad(`tensor '${name}' has invalid data_offsets`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const [begin, end] = off as number[];
    if (end - begin !== count * dt.bytes) bad(`tensor '${name}': shape [${(shape as number[]).join(', ')}] of ${e.dtype} needs ${count * dt.bytes} bytes, data_offsets span ${end - begin}`);
    if (end > data.length) bad(`truncated: tensor '${name}' ends at data byte ${end}, the file has ${data.length}`);
    spans.push([name, begin, end]);
    const at = data.subarray(begin, end);
    tensors[name] = { shape: shape as number[], dtype: dt.dtype, data: decodeElements(at, dt.dtype, count, (i) => i) };
  }
  spans.sort((a, b) => a[1] - b[1]);
  let pos = 0;
  for (const [name, begin, end] of spans) {
    if (begin !== pos) bad(`tensor '${name}' starts at byte ${begin}, expected ${pos} (hole or overlap)`);
    pos = end;
  }
  if (pos !== data.length) bad(`${data.length - pos} bytes after the last tensor`);
  const meta = (header as Record<string, unknown>).__metadata__ ?? {};
  if (meta === null || typeof meta !== 'object' || Object.values(meta).some((v) => typeof v !== 'string')) bad('__metadata__ must map strings to strings');
  return { tensors, metadata: meta as Record<string, string> };
}

/** Encodes an official state_dict (float32 tensors, and int64 ones such as l_kernel) as safetensors. */
export function writeSafetensorsAny(sd: OfficialStateDict, metadata: Record<string, string> = {}): Buffer {
  const names = Object.keys(sd);
  if (names.every((k) => (sd[k].dtype ?? 'float32') === 'float32')) {
    return encodeSafetensors(Object.fromEntries(names.map((k) => [k, { shape: [...sd[k].shape], data: Float32Array.from(sd[k].data as ArrayLike<number>) }])), metadata);
  }
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const k of names) {
    const t = sd[k];
    const dtype = t.dtype ?? 'float32';
    let b: Buffer;
    if (dtype === 'float32') {
      b = Buffer.alloc(4 * t.data.length);
      for (let i = 0; i < t.data.length; i++) b.writeFloatLE(Number(t.data[i]), 4 * i);
    } else if (dtype === 'int64') {
      b = Buffer.alloc(8 * t.data.length);
      for (let i = 0; i < t.data.length; i++) b.writeBigInt64LE(BigInt(t.data[i]), 8 * i);
    } else {
      throw new RangeError(`writeSafetensors: tensor '${k}' has dtype ${dtype} (written: float32, int64)`);
    }
    header[k] = { dtype: dtype === 'float32' ? 'F32' : 'I64', shape: [...t.shape], data_offsets: [offset, offset + b.length] };
    chunks.push(b);
    offset += b.length;
  }
  header.__metadata__ = metadata;
  return frameSafetensors(header, chunks);
}
