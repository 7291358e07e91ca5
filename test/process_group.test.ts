/**
 * The TCP process group (lib/distributed/process_group.ts): collectives between ranks that
 * are separate connections in this process, and its failure paths (a rank that exits, hangs,
 * disagrees, presents another run id, a port in use), the rank-that-exits ones with real
 * child processes.
 */
import * as net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessGroup, ProcessGroupError } from '../lib/distributed/process_group';
import { finished, freePort, groups, spawnTs } from './helpers/dist';

const child = join(__dirname, 'helpers', 'dist_rank_child.ts');
let open: ProcessGroup[] = [];
afterEach(async () => {
  await Promise.all(open.map((g) => g.close()));
  open = [];
});

async function make(worldSize: number, opts = {}): Promise<ProcessGroup[]> {
  open = await groups(worldSize, opts);
  return open;
}

describe('process group over TCP', () => {
  it('all-reduces, broadcasts and meets at barriers (3 ranks), in float64 rank order', async () => {
    const gs = await make(3);
    const sums = await Promise.all(gs.map((g) => g.allReduce(Float32Array.from({ length: 1000 }, (_, i) => i * (g.rank + 1) + 0.25))));
    for (const s of sums) {
      expect(s).toBeInstanceOf(Float32Array);
      for (let i = 0; i < 1000; i += 97) expect(s[i]).toBe(Math.fround(6 * i + 0.75));
    }
    const max = await Promise.all(gs.map((g) => g.allReduce(Float64Array.of(g.rank, -g.rank - 1, g.rank === 1 ? 1e300 : 0), 'max')));
    for (const m of max) expect(Array.from(m)).toEqual([2, -1, 1e300]);
    const bytes = await Promise.all(gs.map((g) => g.broadcast(g.rank === 0 ? Uint8Array.of(7, 8, 9) : null)));
    for (const b of bytes) expect(Array.from(b)).toEqual([7, 8, 9]);
    await Promise.all(gs.map((g) => g.barrier()));
    const nan = await Promise.all(gs.map((g) => g.allReduce(Float32Array.of(g.rank === 2 ? NaN : 1), 'max')));
    for (const v of nan) expect(Number.isNaN(v[0])).toBe(true);
  });

  it('keeps many collectives in flight in order, large ones included', async () => {
    const gs = await make(2);
    const big = 3_000_000; // 12 MB: many TCP chunks per frame
    const results = await Promise.all(
      gs.map((g) => Promise.all([g.allReduce(Float32Array.of(1, g.rank)), g.allReduce(new Float32Array(big).fill(g.rank + 1)), g.allReduce(Float64Array.of(10 * g.rank))])),
    );
    for (const [a, b, c] of results) {
      expect(Array.from(a)).toEqual([2, 1]);
      expect(b.length).toBe(big);
      expect(b[0]).toBe(3);
      expect(b[big - 1]).toBe(3);
      expect(c[0]).toBe(10);
    }
  });

  it('a part still to come keeps its place in the call order; a failed part aborts the group', async () => {
    const gs = await make(3);
    // Collective #0's part of rank 1 comes after its part of #1: the results still pair up by call.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const results = gs.map((g) => {
      const first = g.allReduce(g.rank === 1 ? gate.then(() => Float32Array.of(10, 20)) : Float32Array.of(g.rank, 1));
      const second = g.allReduce(Promise.resolve(Float64Array.of(g.rank)));
      return Promise.all([first, second]);
    });
    await new Promise((r) => setTimeout(r, 50));
    release();
    for (const [a, b] of await Promise.all(results)) {
      expect(a).toBeInstanceOf(Float32Array);
      expect(Array.from(a)).toEqual([12, 22]);
      expect(b).toBeInstanceOf(Float64Array);
      expect(Array.from(b)).toEqual([3]);
    }
    // A part that fails on rank 2 (a copy off the GPU, say): every rank ends with its message.
    const failing = gs.map((g) => g.allReduce(g.rank === 2 ? Promise.reject(new Error('copy failed')) : Float32Array.of(1)));
    await expect(failing[2]).rejects.toThrow('copy failed');
    for (const c of failing.slice(0, 2)) await expect(c).rejects.toThrow(/rank 2: its part of allReduce\(sum\) #2 failed: copy failed/);
    await expect(gs[0].allReduce(Promise.resolve([1] as unknown as Float32Array))).rejects.toThrow(ProcessGroupError);
  });

  it('world size 1 works without a network', async () => {
    const g = await ProcessGroup.connect({ rank: 0, worldSize: 1, masterPort: 1 });
    expect(Array.from(await g.allReduce(Float32Array.of(2, 3)))).toEqual([2, 3]);
    expect(Array.from(await g.broadcast(Uint8Array.of(5)))).toEqual([5]);
    await g.close();
  });

  it('a rank that does not take part times out on every rank, naming it', async () => {
    const gs = await make(3, { timeoutMs: 400 });
    const calls = [gs[0].allReduce(Float32Array.of(1)), gs[1].allReduce(Float32Array.of(1))];
    for (const c of calls) await expect(c).rejects.toThrow(/allReduce\(sum\) #0 timed out after 0.4 s waiting for rank 2/);
    // Rank 2 hears of it too, and later calls fail at once.
    await expect(gs[2].barrier()).rejects.toBeInstanceOf(ProcessGroupError);
    expect(gs[2].error?.message).toMatch(/waiting for rank 2/);
  });

  it('ranks that call different collectives fail with both named', async () => {
    const gs = await make(2);
    const a = gs[0].allReduce(Float32Array.of(1, 2));
    const b = gs[1].broadcast(null);
    await expect(a).rejects.toThrow(/disagree at collective #0: .*broadcast.*allReduce\(sum\)|disagree at collective #0: .*allReduce\(sum\).*broadcast/);
    await expect(b).rejects.toThrow(/disagree/);
  });

  it('arrays of different lengths are refused', async () => {
    const gs = await make(2);
    const calls = [gs[0].allReduce(Float32Array.of(1, 2)), gs[1].allReduce(Float32Array.of(1, 2, 3))];
    for (const c of calls) await expect(c).rejects.toThrow(/disagree.*8 bytes|disagree.*12 bytes/);
  });

  it('a process with another run id is refused, and rank 0 says why no one joined', async () => {
    const masterPort = await freePort();
    const host = ProcessGroup.connect({ rank: 0, worldSize: 2, masterPort, runId: 'run-a', connectTimeoutMs: 1500 });
    const stranger = ProcessGroup.connect({ rank: 1, worldSize: 2, masterPort, runId: 'run-b', connectTimeoutMs: 1500 });
    await expect(stranger).rejects.toThrow(/refused this process: a process presented run id 'run-b', expected 'run-a'/);
    await expect(host).rejects.toThrow(/rank 1 did not join within 1.5 s .*refused: a process presented run id 'run-b'/);
  });

  it('a world size that differs between ranks is refused', async () => {
    const masterPort = await freePort();
    const host = ProcessGroup.connect({ rank: 0, worldSize: 2, masterPort, connectTimeoutMs: 1500 });
    await expect(ProcessGroup.connect({ rank: 1, worldSize: 3, masterPort, connectTimeoutMs: 1500 })).rejects.toThrow(/expects 3 processes, rank 0 expects 2/);
    await expect(host).rejects.toThrow(/did not join/);
  });

  it('a port in use is named as such', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      await expect(ProcessGroup.connect({ rank: 0, worldSize: 2, masterPort: port })).rejects.toThrow(new RegExp(`could not listen on 127.0.0.1:${port}: the port is in use`));
    } finally {
      blocker.close();
    }
  });

  it('a rank that never comes is reported by rank 0 and by the rank that waits', async () => {
    const masterPort = await freePort();
    await expect(ProcessGroup.connect({ rank: 0, worldSize: 3, masterPort, connectTimeoutMs: 800 })).rejects.toThrow(/ranks 1, 2 did not join within 0.8 s/);
    await expect(ProcessGroup.connect({ rank: 1, worldSize: 2, masterPort, connectTimeoutMs: 800 })).rejects.toThrow(/could not join rank 0|did not start the group/);
  });

  it('rejects bad options with the option named', async () => {
    await expect(ProcessGroup.connect({ rank: 2, worldSize: 2, masterPort: 1 })).rejects.toThrow(/option 'rank' must be an integer in \[0, 1\]/);
    await expect(ProcessGroup.connect({ rank: 0, worldSize: 0, masterPort: 1 })).rejects.toThrow(/option 'worldSize'/);
    await expect(ProcessGroup.connect({ rank: 0, worldSize: 2, masterPort: 70000 })).rejects.toThrow(/option 'masterPort'/);
    const g = await ProcessGroup.connect({ rank: 0, worldSize: 1, masterPort: 1 });
    await expect(g.allReduce([1, 2] as unknown as Float32Array)).rejects.toThrow(/argument 'data' must be a Float32Array or Float64Array/);
    await expect(g.allReduce(Promise.resolve([1, 2] as unknown as Float32Array))).rejects.toThrow(/argument 'data' must resolve to a Float32Array or Float64Array/);
    await g.close();
  });

  it('a rank process that exits ends the others with a message naming it', async () => {
    const masterPort = await freePort();
    const proc = spawnTs(child, ['2', '3', String(masterPort), 'sum-then-exit']);
    const done = finished(proc);
    const gs = await Promise.all([0, 1].map((rank) => ProcessGroup.connect({ rank, worldSize: 3, masterPort, connectTimeoutMs: 60_000 })));
    open = gs;
    await Promise.all(gs.map((g) => g.allReduce(Float32Array.of(1))));
    const next = gs.map((g) => g.allReduce(Float32Array.of(1)));
    for (const c of next) await expect(c).rejects.toThrow(/rank 2 exited or lost its connection/);
    expect((await done).code).toBe(3);
  }, 90_000);

  it('rank 0 exiting ends the others', async () => {
    const masterPort = await freePort();
    const proc = spawnTs(child, ['0', '2', String(masterPort), 'exit-after-join']);
    const done = finished(proc);
    const g = await ProcessGroup.connect({ rank: 1, worldSize: 2, masterPort, connectTimeoutMs: 60_000 });
    open = [g];
    await expect(g.allReduce(Float32Array.of(1))).rejects.toThrow(/rank 0 exited or lost its connection/);
    expect((await done).code).toBe(3);
  }, 90_000);
});
