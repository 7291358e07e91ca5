/**
 * The safetensors format (F32 tensors only): an 8-byte little-endian header length N, N
 * bytes of JSON { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: {
 * string: string } } padded with spaces to a multiple of 8, then the tensor bytes
 * (little-endian, row-major), offsets relative to the start of the data. Decoding checks
 * everything a truncated or corrupt file could break: sizes, offsets (contiguous, no holes,
 * no overlap, inside the file), dtypes, shapes, the CRC-32 of the data when the metadata
 * carries one, and that every value is finite.
 */
import { crc32 } from '../util/crc32';

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export interface Safetensors {
  tensors: Record<string, F32Tensor>;
  metadata: Record<string, string>;
}

/** The metadata key holding the CRC-32 of the data section (hex). */
export const CRC_KEY = 'crc32';
const MAX_HEADER = 64 * 2 ** 20;

export class CorruptFileError extends Error {
  constructor(source: string, what: string) {
    super(`${source}: not a valid checkpoint (${what})`);
    this.name = 'CorruptFileError';
  }
}

function toLittleEndianBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  return out;
}

/** Encodes tensors (in the order given) and string metadata; adds the data CRC-32. */
export function encodeSafetensors(tensors: Record<string, F32Tensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new RangeError("encodeSafetensors: '__metadata__' is reserved");
    if (!(t.data instanceof Float32Array)) throw new TypeError(`encodeSafetensors: tensor '${name}' must hold a Float32Array`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new RangeError(`encodeSafetensors: tensor '${name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    const bytes = toLittleEndianBytes(t.data);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let crc = 0;
  for (const c of chunks) crc = crc32(c, crc);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`encodeSafetensors: metadata '${k}' must be a string`);
  header.__metadata__ = { ...metadata, [CRC_KEY]: crc.toString(16).padStart(8, '0') };
  return frameSafetensors(header, chunks);
}

/**
 * A safetensors file from its header (entries with data_offsets into the concatenated
 * chunks, and __metadata__) and the tensor bytes: the header's length (u64 little-endian),
 * the header as JSON padded with spaces to a multiple of 8 bytes, the data.
 */
export function frameSafetensors(header: Record<string, unknown>, chunks: readonly Uint8Array[]): Buffer {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  return Buffer.concat([len, head, ...chunks]);
}

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => Number.isInteger(d) && d >= 0);
}

/** Decodes and validates safetensors bytes; `source` names the file in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Safetensors {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string): never => {
    throw new CorruptFileError(source, what);
  };
  if (buf.length < 8) bad(`truncated: ${buf.length} bytes, the 8-byte header length is missing`);
  const n64 = buf.readBigUInt64LE(0);
  if (n64 < 2n || n64 > BigInt(MAX_HEADER)) bad(`header length ${n64} is out of range`);
  const n = Number(n64);
  if (8 + n > buf.length) bad(`truncated: the header needs ${8 + n} bytes, the file has ${buf.length}`);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (err) {
    bad(`the JSON header does not parse: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad('the header is not a JSON object');
  const data = buf.subarray(8 + n);
  const entries: [string, { shape: number[]; begin: number; end: number }][] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) if (typeof v !== 'string') bad(`metadata '${k}' is not a string`);
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') bad(`entry '${name}' is not an object`);
    if (e.dtype !== 'F32') bad(`tensor '${name}' has dtype ${String(e.dtype)}; only F32 is supported`);
    if (!isShape(e.shape)) bad(`tensor '${name}' has an invalid shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) {
      bad(`tensor '${name}' has invalid data_offsets`);
    }
    const [begin, end] = off as number[];
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4) bad(`tensor '${name}': shape [${(e.shape as number[]).join(', ')}] needs ${count * 4} bytes, data_offsets span ${end - begin}`);
    entries.push([name, { shape: e.shape as number[], begin, end }]);
  }
  // The data must be covered exactly: no holes, no overlaps, nothing missing or extra.
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin);
  let pos = 0;
  for (const [name, e] of sorted) {
    if (e.begin !== pos) bad(`tensor '${name}' starts at byte ${e.begin}, expected ${pos} (hole or overlap)`);
    pos = e.end;
  }
  if (pos > data.length) bad(`truncated: the tensors need ${pos} data bytes, the file has ${data.length}`);
  if (pos < data.length) bad(`${data.length - pos} bytes after the last tensor`);
  const want = metadata[CRC_KEY];
  if (want !== undefined) {
    const got = crc32(data).toString(16).padStart(8, '0');
    if (got !== want) bad(`the data checksum does not match (crc32 ${got}, the header says ${want})`);
  }
  const tensors: Record<string, F32Tensor> = {};
  for (const [name, e] of entries) {
    const view = new DataView(data.buffer, data.byteOffset + e.begin, e.end - e.begin);
    const out = new Float32Array((e.end - e.begin) / 4);
    for (let i = 0; i < out.length; i++) {
      const v = view.getFloat32(4 * i, true);
      if (!Number.isFinite(v)) bad(`tensor '${name}' holds a non-finite value at index ${i}`);
      out[i] = v;
    }
    tensors[name] = { shape: e.shape, data: out };
  }
  const { [CRC_KEY]: _crc, ...rest } = metadata;
  return { tensors, metadata: rest };
}
