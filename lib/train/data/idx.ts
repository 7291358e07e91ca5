/**
 * IDX files (the MNIST / Fashion-MNIST format): magic 0x0000 TT DD (TT = element type, DD =
 * number of dimensions), DD big-endian uint32 sizes, then the elements in row-major order.
 * Files may be gzip'd (Debian ships them as .gz): they are inflated with node:zlib.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface IdxArray {
  dims: number[];
  /** The elements (uint8 files: a view of the file's bytes, no copy). */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
};

/** Parses IDX bytes (gzip'd or not); `source` names the data in error messages. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new Error(`${source}: corrupt gzip stream (${(err as Error).message})`);
    }
  }
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new Error(`${source}: not an IDX file (bad magic number)`);
  const type = TYPES[buf[2]];
  if (!type) throw new Error(`${source}: unknown IDX element type 0x${buf[2].toString(16)}`);
  const nd = buf[3];
  if (nd < 1 || buf.length < 4 + 4 * nd) throw new Error(`${source}: truncated IDX header`);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < nd; i++) {
    const d = buf.readUInt32BE(4 + 4 * i);
    dims.push(d);
    count *= d;
  }
  const start = 4 + 4 * nd;
  const need = start + count * type.bytes;
  if (buf.length !== need) {
    throw new Error(`${source}: IDX size mismatch: header [${dims.join(', ')}] of ${type.name} needs ${need} bytes, the data has ${buf.length}${buf.length < need ? ' (truncated)' : ''}`);
  }
  const body = buf.subarray(start);
  if (type.bytes === 1) {
    return { dims, data: type.name === 'uint8' ? new Uint8Array(body.buffer, body.byteOffset, count) : new Int8Array(body.buffer, body.byteOffset, count) };
  }
  // Multi-byte elements are big-endian: decode one by one.
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (type.name) {
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i);
      return { dims, data: out };
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i);
      return { dims, data: out };
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i);
      return { dims, data: out };
    }
    default: {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i);
      return { dims, data: out };
    }
  }
}

/** Reads an IDX file (gzip'd or not). */
export function readIdxFile(path: string): IdxArray {
  return parseIdx(readFileSync(path), path);
}

/** Encodes an array as (uncompressed) IDX bytes; used to write test fixtures and subsets. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Buffer {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new RangeError(`encodeIdx: 'data' must hold ${count} bytes (got ${data.length})`);
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}
