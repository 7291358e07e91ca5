/**
 * Reads the records of a zip archive (what torch.save writes: stored entries, zip64 when
 * large) from its central directory. Stored and deflated entries; every offset and size is
 * checked against the file, so a truncated or corrupt archive is an error, never a crash.
 */
import { inflateRawSync } from 'node:zlib';

export class ZipFormatError extends Error {
  constructor(source: string, what: string) {
    super(`${source}: not a valid zip archive (${what})`);
    this.name = 'ZipFormatError';
  }
}

export interface ZipEntry {
  name: string;
  /** The record's bytes (a view into the file for stored entries). */
  data(): Uint8Array;
}

const EOCD = 0x06054b50, EOCD64 = 0x06064b50, LOCATOR64 = 0x07064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;

export function readZip(bytes: Uint8Array, source = 'zip archive'): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string): never => {
    throw new ZipFormatError(source, what);
  };
  const u16 = (at: number): number => (at + 2 <= bytes.length ? view.getUint16(at, true) : bad('truncated'));
  const u32 = (at: number): number => (at + 4 <= bytes.length ? view.getUint32(at, true) : bad('truncated'));
  const u64 = (at: number): number => {
    if (at + 8 > bytes.length) bad('truncated');
    const v = view.getBigUint64(at, true);
    return v > BigInt(bytes.length) ? bad(`a size or offset (${v}) beyond the file`) : Number(v);
  };
  // The end-of-central-directory record is in the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad('no end-of-central-directory record');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== LOCATOR64) bad('zip64 sizes without a zip64 locator');
    const e64 = u64(loc + 8);
    if (u32(e64) !== EOCD64) bad('zip64 end record missing');
    count = u64(e64 + 32);
    cdSize = u64(e64 + 40);
    cdOffset = u64(e64 + 48);
  }
  if (cdOffset + cdSize > bytes.length) bad('the central directory lies beyond the file');
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (u32(p) !== CENTRAL) bad(`central directory entry ${i} has a bad signature`);
    const method = u16(p + 10);
    let compSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
    let localOffset = u32(p + 42);
    if (p + 46 + nameLen > bytes.length) bad('truncated central directory');
    const name = Buffer.from(bytes.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
    // zip64 extra field (id 1): the 64-bit values of the fields that are 0xffffffff, in order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = u16(e), len = u16(e + 2);
      if (id === 1) {
        let q = e + 4;
        if (size === 0xffffffff) (size = u64(q)), (q += 8);
        if (compSize === 0xffffffff) (compSize = u64(q)), (q += 8);
        if (localOffset === 0xffffffff) localOffset = u64(q);
      }
      e += 4 + len;
    }
    if (u32(localOffset) !== LOCAL) bad(`record '${name}' has no local header`);
    const start = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
    if (start + compSize > bytes.length) bad(`record '${name}' runs past the end of the file`);
    if (method !== 0 && method !== 8) bad(`record '${name}' uses compression method ${method} (only stored and deflate are read)`);
    const raw = bytes.subarray(start, start + compSize);
    entries.set(name, {
      name,
      data(): Uint8Array {
        if (method === 0) {
          if (compSize !== size) bad(`stored record '${name}' has sizes ${compSize} and ${size}`);
          return raw;
        }
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
        if (out.length !== size) bad(`record '${name}' inflates to ${out.length} bytes, expected ${size}`);
        return new Uint8Array(out.buffer, out.byteOffset, out.length);
      },
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
