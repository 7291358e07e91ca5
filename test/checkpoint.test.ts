import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { randomValues } from './helpers/device';

const { encodeSafetensors, decodeSafetensors, encodeCheckpoint, decodeCheckpoint, saveCheckpoint, loadCheckpoint, writeFileAtomic, CorruptFileError } = s4.train;

function sampleState(): s4.train.CheckpointState {
  return {
    step: 12,
    epoch: 1,
    batch: 3,
    seed: 42,
    params: {
      'encoder.weight': { shape: [4, 1], dtype: 'float32', data: randomValues(4, 1) },
      'layers.0.s4.b': { shape: [4, 3], dtype: 'complex64', data: randomValues(24, 2) },
      'decoder.bias': { shape: [1], dtype: 'float32', data: Float32Array.from([0.5]) },
    },
    moments: {
      'encoder.weight': { step: 12, m: randomValues(4, 3), v: randomValues(4, 4).map(Math.abs) },
      'layers.0.s4.b': { step: 11, m: randomValues(24, 5), v: randomValues(24, 6).map(Math.abs) },
    },
    optimizer: { type: 'AdamW', betas: [0.9, 0.999], eps: 1e-8, groups: [{ names: ['encoder.weight'], lr: 0.01, initialLr: 0.01, weightDecay: 0.01 }] },
    scheduleStep: 12,
    dropout: { 'layers.0.dropout': { seed: 123456, step: 12 } },
    info: { task: { name: 'sine', options: { length: 7 } }, model: { dModel: 4 } },
  };
}

describe('safetensors', () => {
  it('writes the standard layout: u64 LE header length, JSON header padded to 8, LE data', () => {
    const bytes = encodeSafetensors({ a: { shape: [2], data: Float32Array.from([1, -2]) }, b: { shape: [1, 1], data: Float32Array.from([3.5]) } }, { note: 'x' });
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(header.a).toEqual({ dtype: 'F32', shape: [2], data_offsets: [0, 8] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [1, 1], data_offsets: [8, 12] });
    expect(header.__metadata__.note).toBe('x');
    expect(header.__metadata__.crc32).toMatch(/^[0-9a-f]{8}$/);
    expect(bytes.length).toBe(8 + n + 12);
    expect(bytes.readFloatLE(8 + n)).toBe(1);
    expect(bytes.readFloatLE(8 + n + 4)).toBe(-2);
    expect(bytes.readFloatLE(8 + n + 8)).toBe(3.5);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ note: 'x' });
    expect(back.tensors.a).toEqual({ shape: [2], data: Float32Array.from([1, -2]) });
    expect(back.tensors.b.shape).toEqual([1, 1]);
  });

  it('reads files without a checksum (written by other tools)', () => {
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const data = Buffer.alloc(4);
    data.writeFloatLE(0.25);
    expect(decodeSafetensors(Buffer.concat([len, header, data])).tensors.w.data[0]).toBe(0.25);
  });
});

describe('checkpoints', () => {
  it('round-trip every field', () => {
    const st = sampleState();
    const back = decodeCheckpoint(encodeCheckpoint(st));
    expect(back).toEqual(st);
  });

  it('are written atomically: no temporary file is left and the old file is replaced whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-ckpt-'));
    const path = join(dir, 'run', 'model.safetensors');
    saveCheckpoint(path, sampleState());
    const st2 = { ...sampleState(), step: 99 };
    saveCheckpoint(path, st2);
    expect(readdirSync(join(dir, 'run'))).toEqual(['model.safetensors']);
    expect(loadCheckpoint(path).step).toBe(99);
    writeFileAtomic(join(dir, 'plain.bin'), Buffer.from('abc'));
    expect(readFileSync(join(dir, 'plain.bin'), 'utf8')).toBe('abc');
  });

  it('refuses every truncation with an error naming the file', () => {
    const bytes = encodeCheckpoint(sampleState());
    const n = Number(bytes.readBigUInt64LE(0));
    // Cut inside the length, the header, at the header's end, inside the data, one byte short.
    for (const cut of [0, 5, 8, 20, 8 + n - 1, 8 + n, 8 + n + 13, bytes.length - 1]) {
      expect(() => decodeCheckpoint(bytes.subarray(0, cut), 'ck.safetensors'), `cut at ${cut}`).toThrow(CorruptFileError);
      expect(() => decodeCheckpoint(bytes.subarray(0, cut), 'ck.safetensors')).toThrow(/ck\.safetensors: not a valid checkpoint/);
    }
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
  });

  it('refuses corrupt bytes: data flips (checksum), broken header, extra bytes, foreign files', () => {
    const bytes = encodeCheckpoint(sampleState());
    const n = Number(bytes.readBigUInt64LE(0));
    for (const at of [8 + n, 8 + n + 17, bytes.length - 1]) {
      const bad = Buffer.from(bytes);
      bad[at] ^= 0x10;
      expect(() => decodeCheckpoint(bad), `flip at ${at}`).toThrow(/checksum does not match/);
    }
    const badHeader = Buffer.from(bytes);
    badHeader[8] = 0x5b; // '[' : not an object / not parseable
    expect(() => decodeCheckpoint(badHeader)).toThrow(CorruptFileError);
    const hugeLen = Buffer.from(bytes);
    hugeLen.writeBigUInt64LE(2n ** 60n);
    expect(() => decodeCheckpoint(hugeLen)).toThrow(/header length .* out of range/);
    expect(() => decodeCheckpoint(Buffer.concat([bytes, Buffer.from([0, 0, 0, 0])]))).toThrow(/4 bytes after the last tensor/);
    expect(() => decodeCheckpoint(Buffer.from('PK\x03\x04 this is a zip file'))).toThrow(CorruptFileError);
    const other = encodeSafetensors({ w: { shape: [1], data: Float32Array.from([1]) } }, { format: 'pt' });
    expect(() => decodeCheckpoint(other)).toThrow(/metadata 'format' is "pt"/);
  });

  it('refuses non-finite values, wrong dtypes and overlapping offsets', () => {
    const nan = encodeSafetensors({ w: { shape: [2], data: Float32Array.from([1, NaN]) } });
    expect(() => decodeSafetensors(nan)).toThrow(/tensor 'w' holds a non-finite value at index 1/);
    const mk = (header: object, dataBytes: number): Buffer => {
      const h = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(h.length));
      return Buffer.concat([len, h, Buffer.alloc(dataBytes)]);
    };
    expect(() => decodeSafetensors(mk({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, 4))).toThrow(/dtype F16; only F32/);
    expect(() => decodeSafetensors(mk({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4))).toThrow(/needs 8 bytes/);
    expect(() =>
      decodeSafetensors(mk({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8)),
    ).toThrow(/hole or overlap/);
    expect(() => decodeSafetensors(mk({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4))).toThrow(/invalid shape/);
  });

  it('loadCheckpoint names a missing file', () => {
    expect(() => loadCheckpoint(join(tmpdir(), 'does-not-exist.safetensors'))).toThrow(/cannot read .*does-not-exist\.safetensors.*ENOENT/);
    expect(() => loadCheckpoint('' as string)).toThrow(/'path'/);
  });

  it('a corrupt file on disk is refused by loadCheckpoint', () => {
    const dir = mkdtempSync(join(tmpdir(), 's4-ckpt-'));
    const path = join(dir, 'c.safetensors');
    saveCheckpoint(path, sampleState());
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length >> 1));
    expect(() => loadCheckpoint(path)).toThrow(new RegExp(`${path.replace(/[.]/g, '\\.')}: not a valid checkpoint \\(truncated`));
  });
});
