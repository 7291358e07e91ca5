/**
 * A pickle reader that executes nothing. A pickle is a program for a stack machine whose
 * GLOBAL and REDUCE opcodes import and call arbitrary Python; torch.save files are such
 * programs. This interpreter knows only the opcodes a state_dict of tensors (and a
 * checkpoint's plain data around it) needs, and builds values itself: it never calls out.
 * Globals are an allow-list: OrderedDict, torch's tensor and parameter rebuild functions and
 * the torch.*Storage types, each interpreted here. Any other global, any opcode outside the
 * list (objects, extensions, protocol-0 text opcodes) and BUILD on anything but a dict is
 * refused with an error that names it. With `ignoreUnknown`, an unknown global and what is
 * built from it (REDUCE, NEWOBJ, BUILD) become PyOpaque stand-ins instead (still nothing
 * runs), so that a checkpoint's other entries can be skipped; tensors never come from them.
 */
import {
  PyDict,
  PyGlobal,
  PyOpaque,
  PyTuple,
  STORAGE_TYPES,
  TorchStorage,
  TorchTensorRef,
  type PyKey,
  type PyValue,
} from './pickle_values';

export class UnsafePickleError extends Error {
  constructor(source: string, what: string) {
    super(`${source}: refused: ${what}; the file holds more than a state_dict of tensors and plain data (nothing from it was run)`);
    this.name = 'UnsafePickleError';
  }
}

export class PickleFormatError extends Error {
  constructor(source: string, what: string) {
    super(`${source}: not a valid pickle (${what})`);
    this.name = 'PickleFormatError';
  }
}

export interface UnpickleOptions {
  /** Name of the file in errors. */
  source?: string;
  /** Unknown globals become PyOpaque stand-ins instead of an error (nothing runs either way). */
  ignoreUnknown?: boolean;
}

const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state']);

/** Opcodes that exist but build objects, run extensions or belong to text protocols: named in the refusal. */
const REFUSED: Record<number, string> = {
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x50: 'PERSID', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING', 0x55: 'SHORT_BINSTRING', 0x54: 'BINSTRING',
  0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET', 0x64: 'DICT', 0x6c: 'LIST', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS',
  0x91: 'FROZENSET', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

function hex(op: number): string {
  return `0x${op.toString(16).padStart(2, '0')}`;
}

/** Runs the restricted machine over `bytes`; `persistentLoad` resolves BINPERSID ids. */
export function unpickle(bytes: Uint8Array, persistentLoad: (pid: PyValue) => PyValue, opts: UnpickleOptions = {}): PyValue {
  const source = opts.source ?? 'pickle';
  const ignoreUnknown = opts.ignoreUnknown ?? false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: Slot[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;

  const bad = (what: string): never => {
    throw new PickleFormatError(source, `${what} at byte ${pos}`);
  };
  const refuse = (what: string): never => {
    throw new UnsafePickleError(source, what);
  };
  const need = (n: number): number => {
    if (pos + n > bytes.length) bad(`truncated: ${n} bytes needed`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => bytes[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(bytes.length)) bad(`length ${v} exceeds the data`);
    return Number(v);
  };
  const text = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return bad('invalid UTF-8 in a string');
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) bad('unterminated GLOBAL line');
    const s = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) bad('stack underflow');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) bad('stack underflow');
    const v = stack[stack.length - 1];
    if (v === MARK) bad('a MARK where a value was expected');
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) bad('no MARK to pop to');
    // The values above the mark (the mark itself is removed with them).
    return stack.splice(m!).slice(1) as PyValue[];
  };
  const key = (k: PyValue): PyKey => {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k instanceof PyTuple) return k;
    return refuse(`a dict key of type ${(k as object).constructor?.name ?? typeof k}`);
  };
  const setItems = (d: PyValue, items: PyValue[]): void => {
    if (d instanceof PyOpaque) return;
    if (!(d instanceof PyDict)) bad('SETITEM(S) on a value that is not a dict');
    if (items.length % 2 !== 0) bad('SETITEMS with an odd number of values');
    for (let i = 0; i < items.length; i += 2) (d as PyDict).map.set(key(items[i]), items[i + 1]);
  };
  const appendAll = (l: PyValue, items: PyValue[]): void => {
    if (l instanceof PyOpaque) return;
    if (!Array.isArray(l)) bad('APPEND(S) on a value that is not a list');
    (l as PyValue[]).push(...items);
  };
  const global = (module: string, name: string): PyValue => {
    const full = `${module}.${name}`;
    if (CALLABLES.has(full)) return new PyGlobal(module, name);
    if (module === 'torch' && name in STORAGE_TYPES) return new PyGlobal(module, name);
    if (ignoreUnknown) return new PyOpaque(`global ${full}`);
    return refuse(`global '${full}' is not on the allow-list (OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, torch.*Storage); to skip such objects outside the state_dict, still without running them, read with ignoreUnknown (s4 import --ignore-unknown)`);
  };
  const int = (v: PyValue, what: string): number => {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    return bad(`${what} must be an integer`);
  };
  const reduce = (f: PyValue, args: PyValue): PyValue => {
    if (f instanceof PyOpaque) return new PyOpaque(`${f.what}(...)`);
    if (!(f instanceof PyGlobal) || !CALLABLES.has(f.fullName)) {
      return refuse(`REDUCE calls ${f instanceof PyGlobal ? `'${f.fullName}'` : 'a value that is not an allow-listed function'}`);
    }
    if (!(args instanceof PyTuple)) return bad('REDUCE arguments are not a tuple');
    const a = args.items;
    switch (f.fullName) {
      case 'collections.OrderedDict':
        if (a.length !== 0) return refuse('OrderedDict called with arguments');
        return new PyDict();
      case 'torch._utils._rebuild_tensor_v2': {
        if (a.length < 4) return bad('_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)');
        const [storage, offset, size, stride] = a;
        if (!(storage instanceof TorchStorage)) return refuse('_rebuild_tensor_v2 of something that is not a storage');
        if (!(size instanceof PyTuple) || !(stride instanceof PyTuple)) return bad('_rebuild_tensor_v2 size and stride must be tuples');
        const shape = size.items.map((s) => int(s, 'a tensor size'));
        const strides = stride.items.map((s) => int(s, 'a tensor stride'));
        if (shape.length !== strides.length) return bad('_rebuild_tensor_v2 size and stride differ in length');
        return new TorchTensorRef(storage, int(offset, 'a storage offset'), shape, strides);
      }
      default: // _rebuild_parameter(data, requires_grad, hooks[, state]): the data itself
        if (a.length < 1 || !(a[0] instanceof TorchTensorRef)) return refuse(`${f.fullName} of something that is not a tensor`);
        return a[0];
    }
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) bad('pickle protocol above 5');
        break;
      case 0x95: // FRAME (the length is advisory)
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) bad(`STOP with ${stack.length} values on the stack`);
        return top();
      case 0x28: // MARK
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: { // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: { // TUPLE1..3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(new PyTuple(items));
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendAll(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendAll(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x43: { // SHORT_BINBYTES
        const n = u8();
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x42:
      case 0x8e: { // BINBYTES, BINBYTES8
        const n = op === 0x42 ? u32() : u64();
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a:
      case 0x8b: { // LONG1, LONG4: little-endian two's complement
        const n = op === 0x8a ? u8() : u32();
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
        if (n > 0 && bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68:
      case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) bad(`memo entry ${i} is not set`);
        stack.push(memo.get(i)!);
        break;
      }
      case 0x30: // POP
        if (stack.length > 0 && stack[stack.length - 1] === MARK) {
          stack.pop();
          marks.pop();
        } else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const f = pop();
        stack.push(reduce(f, args));
        break;
      }
      case 0x81:
      case 0x92: { // NEWOBJ, NEWOBJ_EX: only of a stand-in (ignoreUnknown), which builds nothing
        if (op === 0x92) pop(); // kwargs
        pop(); // args
        const cls = pop();
        if (!(cls instanceof PyOpaque)) refuse(`opcode ${REFUSED[op]} (${hex(op)}) builds an object of ${cls instanceof PyGlobal ? `'${cls.fullName}'` : 'a class'}`);
        stack.push(new PyOpaque(`${(cls as PyOpaque).what} object`));
        break;
      }
      case 0x62: { // BUILD: only a dict's attributes (an OrderedDict's _metadata)
        const state = pop();
        const obj = top();
        if (obj instanceof PyOpaque) break;
        if (!(obj instanceof PyDict)) refuse(`BUILD on ${obj instanceof TorchTensorRef ? 'a tensor' : 'an object that is not a dict'}`);
        (obj as PyDict).attrs = state;
        break;
      }
      default:
        if (op in REFUSED) refuse(`opcode ${REFUSED[op]} (${hex(op)})`);
        refuse(`unknown opcode ${hex(op)} at byte ${pos - 1}`);
    }
  }
}
