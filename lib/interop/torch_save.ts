/**
 * Writes a state_dict as torch.save does (zip format): <root>/data.pkl, a pickle (protocol 2)
 * of an OrderedDict of tensors that uses only collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 and the torch.*Storage types (what torch.load accepts
 * with weights_only=True); one storage record <root>/data/<i> per tensor (little-endian);
 * <root>/byteorder ('little') and <root>/version ('3').
 */
import type { OfficialStateDict } from './official_tensor';
import { dtypeBytes, storageTypeName, type TorchDType } from './pickle_values';
import { writeZip } from './zip_write';

class PickleWriter {
  private readonly chunks: Buffer[] = [];
  op(...bytes: number[]): this {
    this.chunks.push(Buffer.from(bytes));
    return this;
  }
  raw(b: Buffer): this {
    this.chunks.push(b);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return this.op(0x58).raw(len).raw(b); // BINUNICODE
  }
  int(n: number): this {
    if (!Number.isSafeInteger(n)) throw new RangeError(`torch writer: ${n} is not an integer`);
    if (n >= 0 && n < 256) return this.op(0x4b, n); // BININT1
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8); // BININT2
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(n);
      return this.op(0x4a).raw(b); // BININT
    }
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return this.op(0x8a, 8).raw(b); // LONG1
  }
  global(module: string, name: string): this {
    return this.op(0x63).raw(Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }
  tuple(items: number[]): this {
    if (items.length === 0) return this.op(0x29); // EMPTY_TUPLE
    this.op(0x28);
    items.forEach((i) => this.int(i));
    return this.op(0x74);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function storageBytes(dtype: TorchDType, data: ArrayLike<number> | BigInt64Array, key: string): Buffer {
  const b = Buffer.alloc(dtypeBytes(dtype) * data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (dtype === 'float32') b.writeFloatLE(Number(v), 4 * i);
    else if (dtype === 'float64') b.writeDoubleLE(Number(v), 8 * i);
    else if (dtype === 'int64') b.writeBigInt64LE(BigInt(v), 8 * i);
    else if (dtype === 'int32') b.writeInt32LE(Number(v), 4 * i);
    else throw new RangeError(`torch writer: tensor '${key}' has dtype ${dtype} (written: float32, float64, int64, int32)`);
  }
  return b;
}

/** The bytes of a torch.save file holding `sd` as an OrderedDict; `root` is the archive's folder name. */
export function encodeTorchStateDict(sd: OfficialStateDict, root = 'archive'): Buffer {
  if (!/^[A-Za-z0-9_.-]+$/.test(root)) throw new RangeError(`torch writer: archive name '${root}' must be letters, digits, '_', '.' or '-'`);
  const p = new PickleWriter();
  p.op(0x80, 2); // PROTO 2
  p.global('collections', 'OrderedDict').op(0x29, 0x52); // OrderedDict()
  const records: { name: string; data: Uint8Array }[] = [];
  const keys = Object.keys(sd);
  if (keys.length > 0) p.op(0x28); // MARK
  keys.forEach((key, i) => {
    const t = sd[key];
    const dtype = (t.dtype ?? 'float32') as TorchDType;
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new RangeError(`torch writer: tensor '${key}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    p.str(key);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.op(0x28); // MARK (the arguments)
    p.op(0x28).str('storage').global('torch', storageTypeName(dtype)).str(String(i)).str('cpu').int(numel).op(0x74, 0x51); // (...) BINPERSID
    p.int(0).tuple([...t.shape]).tuple(stride).op(0x89); // offset, size, stride, requires_grad False
    p.global('collections', 'OrderedDict').op(0x29, 0x52); // backward_hooks = OrderedDict()
    p.op(0x74, 0x52); // TUPLE, REDUCE
    records.push({ name: `${root}/data/${i}`, data: storageBytes(dtype, t.data, key) });
  });
  if (keys.length > 0) p.op(0x75); // SETITEMS
  p.op(0x2e); // STOP
  return writeZip([
    { name: `${root}/data.pkl`, data: p.bytes() },
    { name: `${root}/byteorder`, data: Buffer.from('little') },
    ...records,
    { name: `${root}/version`, data: Buffer.from('3\n') },
  ]);
}
