/**
 * The NCCL layer without a GPU: how a missing library is reported (S4_NCCL_PATH naming a
 * file that is not there, in a child process since the library is opened once per
 * process), the checks of NcclCommunicator's arguments, and the raw exports' errors. When
 * S4_TEST_NCCL_PATH names a libnccl.so.2 the test also loads it: the version, the file,
 * fresh 128-byte ids, and a communicator that needs a GPU. test/gpu/nccl.gpu.test.ts runs
 * the collectives.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { NcclCommunicator, ncclInfo } from '../lib/distributed/nccl';
import { core, type NativeNcclComm } from '../lib/native/binding';
import { s4cli } from './helpers/cli';
import { expectThrows } from './helpers/throws';

interface ChildError {
  name: string;
  message: string;
}

interface ChildResult {
  info: { loaded: boolean; version: string | null; path: string | null; reason: string | null };
  ids: number[][] | null;
  idError: ChildError | null;
  created: boolean;
  createError: ChildError | null;
  cudaAvailable: boolean;
}

function runChild(ncclPath: string): ChildResult {
  const out = execFileSync(process.execPath, [join(__dirname, '../node_modules/vite-node/vite-node.mjs'), join(__dirname, 'helpers/nccl_child.ts')], {
    env: { ...process.env, S4_NCCL_PATH: ncclPath },
    encoding: 'utf8',
  });
  return JSON.parse(out) as ChildResult;
}

const testNcclPath = process.env.S4_TEST_NCCL_PATH;
const missing = join(__dirname, 'no-such-dir', 'libnccl.so.2');

describe('NCCL loading', () => {
  it('a missing library: loaded false, the reason names the file S4_NCCL_PATH gives and the loader error', () => {
    const r = runChild(missing);
    expect(r.info.loaded).toBe(false);
    expect(r.info.version).toBeNull();
    expect(r.info.path).toBeNull();
    if (s4.info().cudaCompiled) {
      expect(r.info.reason).toContain(missing);
      expect(r.info.reason).toMatch(/cannot open shared object file/);
    } else {
      expect(r.info.reason).toMatch(/^built without CUDA/);
    }
    expect(r.ids).toBeNull();
    expect(r.idError?.message).toMatch(/^ncclUniqueId: NCCL is unavailable: /);
    expect(r.created).toBe(false);
    expect(r.createError?.message).toMatch(/^ncclCommCreate: NCCL is unavailable: /);
  }, 120_000);

  it.skipIf(!testNcclPath)('S4_TEST_NCCL_PATH: the version and file, fresh 128-byte ids, and create needs a GPU', () => {
    const r = runChild(testNcclPath!);
    if (!s4.info().cudaCompiled) {
      expect(r.info.loaded).toBe(false);
      expect(r.info.reason).toMatch(/built without CUDA/);
      return;
    }
    expect(r.info.reason).toBeNull();
    expect(r.info.loaded).toBe(true);
    expect(r.info.version).toMatch(/^2\.\d+\.\d+$/);
    expect(r.info.path).toBe(testNcclPath);
    expect(r.idError).toBeNull();
    expect(r.ids).toHaveLength(2);
    const [a, b] = r.ids!;
    expect(a).toHaveLength(128);
    expect(b).toHaveLength(128);
    expect(a).not.toEqual(b);
    if (r.cudaAvailable) {
      expect(r.createError).toBeNull();
      expect(r.created).toBe(true);
    } else {
      expect(r.created).toBe(false);
      expect(r.createError?.message).toMatch(/^ncclCommCreate: NCCL needs the cuda backend, which is unavailable: .+/);
    }
  }, 120_000);

  /** `s4 info` (and its JSON) with S4_NCCL_PATH set to `ncclPath`. */
  async function infoCli(ncclPath: string): Promise<{ text: string; json: { nccl: ChildResult['info'] } }> {
    const saved = process.env.S4_NCCL_PATH;
    process.env.S4_NCCL_PATH = ncclPath;
    try {
      const [text, json] = await Promise.all([s4cli(['info']), s4cli(['info', '--json'])]);
      expect(text.code, text.stderr).toBe(0);
      expect(json.code, json.stderr).toBe(0);
      return { text: text.stdout, json: JSON.parse(json.stdout) as { nccl: ChildResult['info'] } };
    } finally {
      if (saved === undefined) delete process.env.S4_NCCL_PATH;
      else process.env.S4_NCCL_PATH = saved;
    }
  }

  it('s4 info says NCCL did not load and why', async () => {
    const { text, json } = await infoCli(missing);
    const row = text.split('\n').find((l) => l.startsWith('nccl '));
    expect(row).toMatch(/^nccl\s+not loaded: /);
    expect(json.nccl.loaded).toBe(false);
    const why = s4.info().cudaCompiled ? missing : 'built without CUDA';
    expect(row).toContain(why);
    expect(json.nccl.reason).toContain(why);
  }, 240_000);

  it.skipIf(!testNcclPath)('S4_TEST_NCCL_PATH: s4 info prints the version and file', async () => {
    const { text, json } = await infoCli(testNcclPath!);
    const row = text.split('\n').find((l) => l.startsWith('nccl '));
    if (!s4.info().cudaCompiled) {
      expect(row).toMatch(/^nccl\s+not loaded: .*built without CUDA/);
      return;
    }
    expect(row).toMatch(/^nccl\s+2\.\d+\.\d+ \(/);
    expect(row!.trimEnd().endsWith(`(${testNcclPath})`)).toBe(true);
    expect(json.nccl).toMatchObject({ loaded: true, path: testNcclPath, reason: null });
  }, 240_000);

  it('ncclInfo and s4.info() agree; without NCCL the reason says why', () => {
    const i = ncclInfo();
    expect(s4.info().nccl).toEqual(i);
    expect(typeof i.loaded).toBe('boolean');
    if (i.loaded) {
      expect(i.version).toMatch(/^2\.\d+\.\d+$/);
      expect(i.reason).toBeNull();
    } else {
      expect(i.reason).toMatch(/NCCL/);
    }
  });
});

describe('NcclCommunicator arguments', () => {
  const id = new Uint8Array(128);

  async function rejection(p: Promise<unknown>): Promise<Error> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    return err as Error;
  }

  it('create checks the id, rank, world size and timeout before any native call', async () => {
    const create = NcclCommunicator.create;
    let e = await rejection(create([1, 2] as unknown as Uint8Array, 0, 1));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe("NcclCommunicator.create: argument 'id' must be a Uint8Array from ncclUniqueId()");
    e = await rejection(create(new Uint8Array(127), 0, 1));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toMatch(/argument 'id' must hold 128 bytes \(got 127\)/);
    e = await rejection(create(id, 2, 2));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toMatch(/argument 'rank' must be an integer in \[0, 1\] \(got 2\)/);
    e = await rejection(create(id, -1, 2));
    expect(e.message).toMatch(/argument 'rank'/);
    e = await rejection(create(id, 0, 0));
    expect(e.message).toMatch(/argument 'worldSize' must be an integer in \[1, /);
    e = await rejection(create(id, 0.5, 2));
    expect(e.message).toMatch(/argument 'rank'/);
    e = await rejection(create(id, 0, 1, { timeoutMs: 0 }));
    expect(e.message).toMatch(/argument 'opts.timeoutMs' must be an integer in \[1, /);
    e = await rejection(create(id, 0, 1, { timeoutMs: NaN }));
    expect(e).toBeInstanceOf(TypeError);
  });

  it.skipIf(s4.cudaAvailable() && ncclInfo().loaded)('create rejects with the reason when NCCL or the GPU is missing', async () => {
    const e = await rejection(NcclCommunicator.create(id, 0, 1, { timeoutMs: 1000 }));
    expect(e.message).toMatch(/^ncclCommCreate: NCCL (is unavailable|needs the cuda backend, which is unavailable): .+/);
  });
});

describe('raw NCCL exports', () => {
  const notComm = {} as unknown as NativeNcclComm;

  it('refuse what is not a communicator, naming the argument', () => {
    const t = s4.tensor([1, 2, 3]);
    expectThrows(() => core.ncclAllReduce(notComm, [t.handle], 'sum'), TypeError, /^ncclAllReduce: argument 'comm' must be a communicator returned by ncclCommCreate/);
    expectThrows(() => core.ncclBroadcast(notComm, [t.handle], 0), TypeError, /^ncclBroadcast: argument 'comm' must be a communicator/);
    expectThrows(() => core.ncclWait(notComm, 1000), TypeError, /^ncclWait: argument 'comm' must be a communicator/);
    expectThrows(() => core.ncclAbort(notComm), TypeError, /^ncclAbort: argument 'comm' must be a communicator/);
    expectThrows(() => core.ncclDestroy(notComm), TypeError, /^ncclDestroy: argument 'comm' must be a communicator/);
    t.dispose();
  });

  it('ncclCommCreate checks its arguments before loading anything', () => {
    const id = new Uint8Array(128);
    expectThrows(() => core.ncclCommCreate(new Uint8Array(64), 0, 1, 1000), RangeError, /^ncclCommCreate: argument 'id' must hold 128 bytes \(got 64\)/);
    expectThrows(() => core.ncclCommCreate(new Float32Array(32) as unknown as Uint8Array, 0, 1, 1000), TypeError, /argument 'id' must be a Uint8Array/);
    expectThrows(() => core.ncclCommCreate(id, 1, 1, 1000), RangeError, /argument 'rank' must be in \[0, 0\] \(got 1\)/);
    expectThrows(() => core.ncclCommCreate(id, 0, 0, 1000), RangeError, /argument 'worldSize' must be in \[1, /);
    expectThrows(() => core.ncclCommCreate(id, 0, 1, 0), RangeError, /argument 'timeoutMs' must be in \[1, /);
    expectThrows(() => core.ncclCommCreate(id, 0, 1, NaN), RangeError, /argument 'timeoutMs' must be finite/);
  });
});
