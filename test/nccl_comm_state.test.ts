/**
 * The NCCL communicator's protocol and deadlines without a GPU: native/cuda/nccl_comm.cpp
 * and nccl_api.cpp are compiled with a driver (test/helpers/nccl_comm_driver.cpp, which
 * stubs the few CUDA calls they make) and run against a fake libnccl
 * (test/helpers/nccl_fake.cpp) that plays NCCL's non-blocking protocol. Checked: the config
 * and id NCCL receives, one group per call with in-place float32 collectives, and that a set-up
 * nobody joins, a group that never queues or fails, a wait that never completes and a flush
 * that never ends each end in an error naming the operation, the rank and the world size,
 * with the communicator aborted, never a hang. Needs a C++ compiler and the CUDA headers
 * (skipped without them).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasCxxCompiler } from './helpers/cxx';

const root = join(__dirname, '..');
const out = join(root, 'build', 'nccl-comm-state-test');
const fakeLib = join(out, 'libnccl_fake.so');
const driver = join(out, 'nccl_comm_driver');

function cudaInclude(): string | null {
  const homes = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda'].filter((x): x is string => !!x);
  for (const home of homes) if (existsSync(join(home, 'include', 'cuda_runtime.h'))) return join(home, 'include');
  return null;
}

const include = cudaInclude();
const canBuild = include !== null && hasCxxCompiler();

interface Run {
  /** Outcome lines of the driver: "what: ok" or "what: <error message>". */
  lines: Map<string, string>;
  /** The fake NCCL's log of calls. */
  calls: string[];
}

function run(scenario: string, env: Record<string, string> = {}): Run {
  const r = spawnSync(driver, [scenario], { env: { ...process.env, S4_NCCL_PATH: fakeLib, ...env }, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, `driver ${scenario} exited with ${r.status}: ${r.stderr}`).toBe(0);
  const lines = new Map<string, string>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const at = line.indexOf(': ');
    lines.set(line.slice(0, at), line.slice(at + 2));
  }
  const calls = r.stderr.split('\n').filter((l) => l.startsWith('fake: ')).map((l) => l.slice(6));
  return { lines, calls };
}

const deadMessage = /a rank may have died or hung; the communicator was aborted$/;

describe.skipIf(!canBuild)('NCCL communicator against a fake NCCL', () => {
  beforeAll(() => {
    mkdirSync(out, { recursive: true });
    execFileSync('c++', ['-std=c++17', '-shared', '-fPIC', '-O1', '-o', fakeLib, join(root, 'test/helpers/nccl_fake.cpp')]);
    execFileSync('c++', [
      '-std=c++17', '-O1', '-Wall', '-Wno-unused-parameter', '-Werror', `-I${include}`, '-o', driver,
      join(root, 'test/helpers/nccl_comm_driver.cpp'), join(root, 'native/cuda/nccl_comm.cpp'), join(root, 'native/cuda/nccl_api.cpp'),
      '-ldl', '-lpthread',
    ]);
  }, 300_000);

  it('joins with a non-blocking NCCL 2.14 config and the id as given; collectives are in-place float32 groups', () => {
    const { lines, calls } = run('collectives');
    expect(lines.get('info')).toBe('loaded 2.30.7');
    expect(lines.get('create')).toBe('ok');
    expect(calls[0]).toBe('init nranks=2 rank=1 id=ok size=24 magic=cafebeef version=21400 blocking=0');
    // Two groups (avg = op 4, then a broadcast from rank 1) of the two non-empty buffers.
    expect(calls.slice(1, 7)).toEqual([
      'allReduce count=8 datatype=7 op=4 inPlace=1',
      'allReduce count=3 datatype=7 op=4 inPlace=1',
      'groupEnd ops=2',
      'broadcast count=8 datatype=7 root=1 inPlace=1',
      'broadcast count=3 datatype=7 root=1 inPlace=1',
      'groupEnd ops=2',
    ]);
    expect(lines.get('allReduce')).toBe('ok');
    expect(lines.get('broadcast')).toBe('ok');
    expect(lines.get('wait')).toBe('ok');
    // destroy flushes (finalize) and then frees; a second destroy does nothing.
    expect(calls.slice(7)).toEqual(['finalize', 'destroy']);
    expect(lines.get('destroy')).toBe('ok');
    expect(lines.get('destroy again')).toBe('ok');
    expect(lines.get('allReduce after destroy')).toBe('ncclAllReduce: the communicator has been destroyed');
  }, 60_000);

  it('ranks that never join: create ends at its deadline and aborts', () => {
    const { lines, calls } = run('collectives', { FAKE_NCCL_INIT_POLLS: '-1' });
    expect(lines.get('create')).toBe(
      'ncclCommCreate: the other ranks did not join within 0.3 s (this is rank 1 of world size 2); the communicator was aborted',
    );
    expect(calls.slice(1)).toEqual(['abort']);
  }, 60_000);

  it('a set-up NCCL refuses at once: the reason, and the half-made communicator aborted', () => {
    const { lines, calls } = run('collectives', { FAKE_NCCL_INIT_FAIL: '1' });
    expect(lines.get('create')).toBe('ncclCommCreate: NCCL could not set up rank 1 of world size 2: fake NCCL error 2 (fake detail)');
    expect(calls.slice(1)).toEqual(['abort']);
  }, 60_000);

  it('a group that ends with an error aborts; later calls say why', () => {
    const { lines, calls } = run('group', { FAKE_NCCL_GROUP_ERROR: '6' });
    const message = lines.get('allReduce')!;
    expect(message).toMatch(/^ncclAllReduce: NCCL failed during the all-reduce of 3 buffers \(rank 1 of world size 2\): fake NCCL error 6 \(fake detail\); /);
    expect(message).toMatch(deadMessage);
    expect(calls.at(-1)).toBe('abort');
    expect(lines.get('broadcast after')).toBe(`ncclBroadcast: the communicator was aborted after an error (${message})`);
  }, 60_000);

  it('a group that is never queued ends at the deadline', () => {
    const { lines, calls } = run('group', { FAKE_NCCL_GROUP_POLLS: '-1' });
    expect(lines.get('allReduce')).toMatch(/^ncclAllReduce: NCCL did not finish the all-reduce of 3 buffers within 0\.3 s \(rank 1 of world size 2\); /);
    expect(lines.get('allReduce')).toMatch(deadMessage);
    expect(calls.at(-1)).toBe('abort');
  }, 60_000);

  it('collectives that never complete: wait ends at its deadline, aborts, and destroy is then safe', () => {
    const { lines, calls } = run('wait-hang');
    expect(lines.get('allReduce')).toBe('ok');
    expect(lines.get('wait')).toMatch(/^ncclWait: the all-reduce of 3 buffers did not complete within 0\.3 s \(rank 1 of world size 2\); /);
    expect(lines.get('wait')).toMatch(deadMessage);
    expect(lines.get('allReduce after')).toMatch(/^ncclAllReduce: the communicator was aborted after an error \(ncclWait: /);
    expect(lines.get('destroy')).toBe('ok');
    expect(calls.filter((c) => c === 'abort')).toHaveLength(1);
    expect(calls).not.toContain('finalize');
  }, 60_000);

  it('abort() while a wait is polling: the wait rejects, naming the abort', () => {
    const { lines, calls } = run('abort-during-wait');
    expect(lines.get('wait')).toBe(
      'ncclWait: the communicator was aborted (abort() was called) while waiting for the all-reduce of 3 buffers (rank 1 of world size 2)',
    );
    expect(lines.get('abort again')).toBe('ok');
    expect(calls.filter((c) => c === 'abort')).toHaveLength(1);
  }, 60_000);

  it('a flush that never ends: destroy aborts and throws; destroying again is safe', () => {
    const { lines, calls } = run('destroy', { FAKE_NCCL_FINAL_POLLS: '-1' });
    expect(lines.get('destroy')).toMatch(/^ncclDestroy: NCCL did not finish the flush of the queued collectives before destroying the communicator within 0\.3 s/);
    expect(lines.get('destroy again')).toBe('ok');
    expect(calls.slice(1)).toEqual(['finalize', 'abort']);
  }, 60_000);

  it('a communicator dropped without destroy is aborted (never waits for other ranks)', () => {
    const { lines, calls } = run('drop');
    expect(lines.get('dropped')).toBe('ok');
    expect(calls.slice(1)).toEqual(['abort']);
  }, 60_000);

  it('an NCCL older than 2.14 is refused with its version and file', () => {
    const { lines } = run('collectives', { FAKE_NCCL_VERSION: '21304' });
    expect(lines.get('info')).toBe(
      `not loaded: NCCL 2.13.4 at ${fakeLib} is too old: s4-cuda needs NCCL 2.14 or newer (non-blocking communicators, which can time out)`,
    );
  }, 60_000);
});
