/**
 * The restricted pickle machine (lib/interop/pickle.ts): hand-built pickles, plain ones that
 * it reads and malicious ones that it must refuse without running anything. Each malicious
 * pickle would create a marker file if a Python unpickler ran it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { unpickle } from '../lib/interop/pickle';
import { PyDict, PyOpaque, PyTuple } from '../lib/interop/pickle_values';
import { writeZip } from '../lib/interop/zip_write';

const marker = path.join(os.tmpdir(), `s4-pickle-marker-${process.pid}`);
afterAll(() => fs.rmSync(marker, { force: true }));

/** Pickle bytes from opcodes (numbers), strings (latin1 as written) and Buffers. */
function bytes(...parts: (number | string | Buffer)[]): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from([p]) : typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
}
function binunicode(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const n = Buffer.alloc(4);
  n.writeUInt32LE(b.length);
  return Buffer.concat([Buffer.from([0x58]), n, b]);
}
const shortUnicode = (s: string): Buffer => Buffer.concat([Buffer.from([0x8c, Buffer.byteLength(s)]), Buffer.from(s)]);
const noStorage = () => {
  throw new Error('no persistent ids here');
};

// os.system('touch <marker>') with GLOBAL + REDUCE (protocol 2), as `pickle.dumps` of a __reduce__ exploit writes it.
const osSystem = bytes(0x80, 2, 'cos\nsystem\n', binunicode(`touch ${marker}`), 0x85, 0x52, '.');
// builtins.eval(...) with STACK_GLOBAL (protocol 4).
const builtinsEval = bytes(0x80, 4, shortUnicode('builtins'), shortUnicode('eval'), 0x93, binunicode(`open(${JSON.stringify(marker)}, 'w')`), 0x85, 0x52, '.');
const posixSystem = bytes(0x80, 2, 'cposix\nsystem\n', binunicode(`touch ${marker}`), 0x85, 0x52, '.');

describe('pickle: plain data', () => {
  it('reads dicts, lists, tuples, ints, floats, strings, bytes, None and booleans, with the memo', () => {
    const f = Buffer.alloc(8);
    f.writeDoubleBE(-2.5);
    const v = unpickle(
      bytes(0x80, 2, 0x7d, 0x71, 0, 0x28, binunicode('a'), 0x4b, 7, binunicode('b'), 0x47, f, binunicode('c'), 0x5d, 0x28, 0x4e, 0x88, 0x89, 0x65,
        binunicode('d'), binunicode('x'), 0x4d, 0x34, 0x12, 0x86, 0x71, 1, binunicode('e'), 0x68, 1, binunicode('f'), 0x8a, 2, 0xff, 0x7f, binunicode('g'), 0x43, 2, 'hi', 0x75, '.'),
      noStorage,
    ) as PyDict;
    expect(v).toBeInstanceOf(PyDict);
    expect([...v.map.keys()]).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(v.map.get('a')).toBe(7);
    expect(v.map.get('b')).toBe(-2.5);
    expect(v.map.get('c')).toEqual([null, true, false]);
    const t = v.map.get('d') as PyTuple;
    expect(t.items).toEqual(['x', 0x1234]);
    expect(v.map.get('e')).toBe(t); // BINGET of the memoized tuple
    expect(v.map.get('f')).toBe(0x7fff);
    expect(Buffer.from(v.map.get('g') as Uint8Array).toString()).toBe('hi');
  });

  it('reports a truncated or inconsistent pickle as a format error', () => {
    expect(() => unpickle(bytes(0x80, 2, 0x58, 5, 0, 0, 0, 'ab'), noStorage)).toThrow(/not a valid pickle \(truncated/);
    expect(() => unpickle(bytes(0x80, 2, 0x68, 3, '.'), noStorage)).toThrow(/memo entry 3 is not set/);
    expect(() => unpickle(bytes(0x80, 2, 0x52, '.'), noStorage)).toThrow(/stack underflow/);
    expect(() => unpickle(bytes(0x80, 2, 0x4e, 0x4e, '.'), noStorage)).toThrow(/STOP with 2 values/);
    // A list that holds itself (EMPTY_LIST, BINPUT 0, BINGET 0, APPEND) reads, but is refused as data.
    const selfList = bytes(0x80, 2, 0x5d, 0x71, 0, 0x68, 0, 0x61, '.');
    expect(() => s4.interop.stateDictFromBytes(writeZip([{ name: 'a/data.pkl', data: selfList }]), 'loop.pt')).toThrow(/loop\.pt: not a valid pickle \(a container that holds itself/);
  });
});

describe('pickle: anything beyond a state_dict is refused and nothing runs', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['os.system via GLOBAL + REDUCE', osSystem, /global 'os\.system' is not on the allow-list/],
    ['builtins.eval via STACK_GLOBAL', builtinsEval, /global 'builtins\.eval' is not on the allow-list/],
    ['posix.system', posixSystem, /global 'posix\.system'/],
    ['an unknown opcode', bytes(0x80, 2, 0xff, '.'), /unknown opcode 0xff/],
    ['INST (protocol 0 object)', bytes('(iposix\nsystem\n', binunicode('x'), '.'), /opcode INST \(0x69\)/],
    ['NEWOBJ of an allow-listed class', bytes(0x80, 2, 'ccollections\nOrderedDict\n', 0x29, 0x81, '.'), /opcode NEWOBJ \(0x81\) builds an object of 'collections\.OrderedDict'/],
    ['REDUCE of a storage type', bytes(0x80, 2, 'ctorch\nFloatStorage\n', 0x29, 0x52, '.'), /REDUCE calls 'torch\.FloatStorage'/],
    ['BUILD on a list', bytes(0x80, 2, 0x5d, 0x7d, 0x62, '.'), /BUILD on an object that is not a dict/],
    ['EXT1', bytes(0x80, 2, 0x82, 1, '.'), /opcode EXT1/],
  ];
  for (const [name, pkl, message] of cases) {
    it(`refuses ${name}`, () => {
      expect(() => unpickle(pkl, noStorage, { source: 'evil.pkl' })).toThrow(message);
      expect(() => unpickle(pkl, noStorage, { source: 'evil.pkl' })).toThrow(/^evil\.pkl: refused: .*the file holds more than a state_dict/);
      expect(fs.existsSync(marker)).toBe(false);
    });
  }

  it('refuses a torch file whose data.pkl calls os.system, and a checkpoint with such an entry unless asked to skip it', () => {
    const evilPt = writeZip([{ name: 'archive/data.pkl', data: osSystem }, { name: 'archive/version', data: Buffer.from('3\n') }]);
    expect(() => s4.interop.stateDictFromBytes(evilPt, 'evil.pt')).toThrow(/evil\.pt: refused: global 'os\.system'/);
    expect(() => s4.interop.stateDictFromBytes(evilPt, 'evil.pt', { ignoreUnknown: true })).toThrow(/evil\.pt: the file holds an object built from global os\.system\(\.\.\.\), not a state_dict/);
    // {'state_dict': {}, 'callbacks': os.system(...)}: the callback entry is skipped as an opaque stand-in.
    const ckpt = bytes(0x80, 2, 0x7d, 0x28, binunicode('state_dict'), 0x7d, binunicode('callbacks'), 'cos\nsystem\n', binunicode(`touch ${marker}`), 0x85, 0x52, 0x75, '.');
    const evilCkpt = writeZip([{ name: 'm/data.pkl', data: ckpt }, { name: 'm/version', data: Buffer.from('3\n') }]);
    expect(() => s4.interop.stateDictFromBytes(evilCkpt, 'evil.ckpt')).toThrow(/evil\.ckpt: refused: global 'os\.system'/);
    const read = s4.interop.stateDictFromBytes(evilCkpt, 'evil.ckpt', { ignoreUnknown: true });
    expect(read.format).toBe('lightning');
    expect(read.meta.callbacks).toBeInstanceOf(PyOpaque);
    expect((read.meta.callbacks as PyOpaque).what).toBe('global os.system(...)');
    // A stand-in where a tensor belongs is refused even then.
    const inSd = bytes(0x80, 2, 0x7d, binunicode('state_dict'), 0x7d, binunicode('w'), 'cos\nsystem\n', binunicode('x'), 0x85, 0x52, 0x73, 0x73, '.');
    expect(() => s4.interop.stateDictFromBytes(writeZip([{ name: 'm/data.pkl', data: inSd }]), 'evil2.ckpt', { ignoreUnknown: true })).toThrow(/state_dict\['w'\] is built from global os\.system\(\.\.\.\), not a tensor/);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('pickle: corrupted torch files', () => {
  it('random byte flips and truncations of a real .pt end in a thrown error or a valid read, never a crash or a hang', () => {
    const original = fs.readFileSync(path.join(__dirname, 'data/torch/block.pt'));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const pklEnd = 1400; // data.pkl lies in the first ~1.3 KB: flip there most of the time
    const kinds = new Set<string>();
    for (let trial = 0; trial < 400; trial++) {
      const bytes = Buffer.from(original);
      const flips = 1 + rand(4);
      for (let i = 0; i < flips; i++) bytes[trial % 4 === 0 ? rand(bytes.length) : 44 + rand(pklEnd - 44)] = rand(256);
      const input = trial % 10 === 9 ? bytes.subarray(0, rand(bytes.length)) : bytes;
      try {
        s4.interop.stateDictFromBytes(input, 'fuzz.pt');
        kinds.add('read');
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/fuzz\.pt/);
        kinds.add((err as Error).name);
      }
    }
    expect(kinds.size).toBeGreaterThan(1);
  });
});

describe('pickle: tensor views that would only allocate memory', () => {
  it('refuses a stride-0 view far larger than its storage, and a view outside its storage', () => {
    // {'w': _rebuild_tensor_v2(storage(float, key '0', numel 1), 0, size, stride, False, OrderedDict())}
    const view = (size: number[], stride: number[], offset = 0): Buffer => {
      const ints = (xs: number[]) => Buffer.concat([Buffer.from([0x28]), ...xs.map((x) => { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(x, 1); return b; }), Buffer.from([0x74])]);
      const pkl = bytes(0x80, 2, 0x7d, binunicode('w'), 'ctorch._utils\n_rebuild_tensor_v2\n', 0x28,
        0x28, binunicode('storage'), 'ctorch\nFloatStorage\n', binunicode('0'), binunicode('cpu'), 0x4b, 1, 0x74, 0x51,
        0x4a, Buffer.from(new Int32Array([offset]).buffer), ints(size), ints(stride), 0x89, 'ccollections\nOrderedDict\n', 0x29, 0x52, 0x74, 0x52, 0x73, '.');
      return writeZip([{ name: 'a/data.pkl', data: pkl }, { name: 'a/data/0', data: Buffer.alloc(4) }]);
    };
    expect(s4.interop.stateDictFromBytes(view([3], [0]), 'ok.pt').stateDict.w.shape).toEqual([3]);
    expect(() => s4.interop.stateDictFromBytes(view([100000, 100000], [0, 0]), 'big.pt')).toThrow(/big\.pt: .*a tensor view of shape \[100000, 100000\] over a storage of 1 elements/);
    expect(() => s4.interop.stateDictFromBytes(view([2], [1]), 'out.pt')).toThrow(/out\.pt: .*reaches element 1 of a storage of 1/);
    expect(() => s4.interop.stateDictFromBytes(view([1], [1], 3), 'off.pt')).toThrow(/off\.pt: .*reaches element 3/);
  });
});
