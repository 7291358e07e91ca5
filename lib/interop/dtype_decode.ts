/**
 * Little-endian element decoding for the dtypes torch and safetensors files hold: floats to
 * Float32Array / Float64Array (float16 and bfloat16 widened exactly to float32), integers to
 * their typed arrays, int64 to a Float64Array when every value is below 2^53 in magnitude
 * (else a BigInt64Array), bool to Uint8Array.
 */
import type { TorchDType } from './pickle_values';

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** `count` elements of `dtype` read at the element indices `index(i)` of `bytes`. */
export function decodeElements(bytes: Uint8Array, dtype: TorchDType, count: number, index: (i: number) => number): ArrayLike<number> | BigInt64Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = v.getFloat32(4 * index(i), true);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = v.getFloat64(8 * index(i), true);
      return out;
    }
    case 'float16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(v.getUint16(2 * index(i), true));
      return out;
    }
    case 'bfloat16': {
      const out = new Float32Array(count);
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, v.getUint16(2 * index(i), true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      return out;
    }
    case 'int64': {
      const big = new BigInt64Array(count);
      let safe = true;
      for (let i = 0; i < count; i++) {
        big[i] = v.getBigInt64(8 * index(i), true);
        if (big[i] > BigInt(Number.MAX_SAFE_INTEGER) || big[i] < BigInt(Number.MIN_SAFE_INTEGER)) safe = false;
      }
      return safe ? Float64Array.from(big, Number) : big;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = v.getInt32(4 * index(i), true);
      return out;
    }
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = v.getInt16(2 * index(i), true);
      return out;
    }
    case 'int8': {
      const out = new Int8Array(count);
      for (let i = 0; i < count; i++) out[i] = v.getInt8(index(i));
      return out;
    }
    case 'uint8':
    case 'bool': {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) out[i] = v.getUint8(index(i));
      return out;
    }
  }
}
