/**
 * NCCL on one GPU: a communicator of world size 1 (a sum or average over one rank is the
 * input, a broadcast from rank 0 keeps it), collectives ordered with the other work on the
 * stream, the argument checks, destroy and abort, and a rank that never joins (world size 2
 * with one process) ending in an error instead of a hang.
 *
 * NCCL is found through S4_NCCL_PATH, else libnccl.so.2 on the loader's path, else the
 * nvidia-nccl wheel of the machine's python3 (PyTorch installs it); the test fails, saying
 * so, when none loads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { NcclCommunicator, ncclInfo, ncclUniqueId } from '../../lib/distributed/nccl';
import { randomValues } from '../helpers/device';
import { ncclMissing, useNcclFromEnvOrPython } from '../helpers/nccl_path';
import { thrownBy } from '../helpers/throws';

const cuda = { device: 'cuda' as const };

// Before the first NCCL call of this process: S4_NCCL_PATH is read when NCCL is opened.
useNcclFromEnvOrPython();

/** A CUDA tensor of n random elements and its values (complex64: interleaved re, im). */
function cudaTensor(n: number, seed: number, dtype: 'float32' | 'complex64' = 'float32'): { t: s4.Tensor; values: Float32Array } {
  if (dtype === 'float32') {
    const values = randomValues(n, seed);
    return { t: s4.tensor(values, [n], cuda), values };
  }
  const re = randomValues(n, seed);
  const im = randomValues(n, seed + 1000);
  const values = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    values[2 * i] = re[i];
    values[2 * i + 1] = im[i];
  }
  return { t: s4.complex(re, im, [n], cuda), values };
}

describe('NCCL on one GPU', () => {
  let comm: NcclCommunicator;

  beforeAll(async () => {
    const info = ncclInfo();
    if (!info.loaded) throw ncclMissing(info.reason);
    comm = await NcclCommunicator.create(ncclUniqueId(), 0, 1, { timeoutMs: 60_000 });
  });

  afterAll(() => {
    comm?.destroy();
  });

  it('reports the version and file it loaded, in s4.info() too', () => {
    const info = ncclInfo();
    expect(info.version).toMatch(/^2\.\d+\.\d+$/);
    expect(info.path).toMatch(/libnccl/);
    expect(s4.info().nccl).toEqual(info);
    expect(comm.rank).toBe(0);
    expect(comm.worldSize).toBe(1);
  });

  it('allReduce (sum and avg) of several tensors of odd sizes equals the input', async () => {
    const sizes = [1, 7, 1023, 65_537, 3 * 5 * 7 * 11];
    for (const op of ['sum', 'avg'] as const) {
      const xs = sizes.map((n, i) => cudaTensor(n, 10 * i + (op === 'sum' ? 1 : 2)));
      xs.push(cudaTensor(33, 99, 'complex64'));
      comm.allReduce(xs.map((x) => x.t), { op });
      await comm.wait();
      for (const x of xs) expect(Array.from(x.t.dataSync()), `${op} of ${x.t.size}`).toEqual(Array.from(x.values));
      s4.dispose(...xs.map((x) => x.t));
    }
  });

  it('broadcast from root 0 keeps the tensors', async () => {
    const xs = [5, 4097].map((n, i) => cudaTensor(n, 40 + i));
    comm.broadcast(xs.map((x) => x.t));
    comm.broadcast(xs.map((x) => x.t), 0);
    await comm.wait(30_000);
    for (const x of xs) expect(Array.from(x.t.dataSync())).toEqual(Array.from(x.values));
    s4.dispose(...xs.map((x) => x.t));
  });

  it('is ordered with the other work on the stream, without wait()', () => {
    const { t: x, values } = cudaTensor(1000, 7);
    const y = s4.ops.mul(x, x);
    comm.allReduce([y]);
    const z = s4.ops.add(y, x);
    const got = z.dataSync();
    for (let i = 0; i < values.length; i += 97) expect(got[i]).toBeCloseTo(values[i] * values[i] + values[i], 5);
    s4.dispose(x, y, z);
  });

  it('an empty list, and empty tensors, are no work', async () => {
    comm.allReduce([]);
    comm.broadcast([]);
    const e = s4.zeros([0], cuda);
    comm.allReduce([e]);
    await comm.wait();
    e.dispose();
  });

  it('refuses CPU, disposed and repeated tensors, and a bad op or root', () => {
    const { t } = cudaTensor(4, 3);
    const cpu = s4.tensor([1, 2, 3], [3], { device: 'cpu' });
    const gone = s4.zeros([2], cuda);
    gone.dispose();
    const cases: [() => void, ErrorConstructor, RegExp][] = [
      [() => comm.allReduce([t, cpu]), TypeError, /^NcclCommunicator.allReduce: argument 'tensors\[1\]' is on cpu; NCCL needs CUDA tensors/],
      [() => comm.broadcast([cpu]), TypeError, /^NcclCommunicator.broadcast: argument 'tensors\[0\]' is on cpu; NCCL needs CUDA tensors/],
      [() => comm.allReduce([gone]), Error, /argument 'tensors\[0\]' has been disposed/],
      [() => comm.allReduce([t, t]), RangeError, /^ncclAllReduce: argument 'buffers\[1\]' appears twice/],
      [() => comm.allReduce(t as unknown as s4.Tensor[]), TypeError, /argument 'tensors' must be an array/],
      [() => comm.allReduce([t], { op: 'max' as 'sum' }), TypeError, /option 'op' must be 'sum' or 'avg'/],
      [() => comm.broadcast([t], 1), RangeError, /argument 'root' must be an integer in \[0, 0\]/],
    ];
    for (const [fn, cls, msg] of cases) {
      const err = thrownBy(fn);
      expect(err).toBeInstanceOf(cls);
      expect((err as Error).message).toMatch(msg);
    }
    s4.dispose(t, cpu);
  });

  it('destroy twice is safe; a destroyed communicator throws when used', async () => {
    const c = await NcclCommunicator.create(ncclUniqueId(), 0, 1, { timeoutMs: 60_000 });
    const { t } = cudaTensor(9, 5);
    c.allReduce([t]);
    c.destroy();
    c.destroy();
    expect(c.isLive).toBe(false);
    expect(() => c.allReduce([t])).toThrow(/^NcclCommunicator.allReduce: the communicator has been destroyed/);
    expect(() => c.broadcast([t])).toThrow(/has been destroyed/);
    await expect(c.wait()).rejects.toThrow(/^NcclCommunicator.wait: the communicator has been destroyed/);
    c.abort();
    t.dispose();
  });

  it('an aborted communicator throws when used, naming the abort', async () => {
    const c = await NcclCommunicator.create(ncclUniqueId(), 0, 1, { timeoutMs: 60_000 });
    const { t } = cudaTensor(9, 6);
    c.abort();
    c.abort();
    expect(() => c.allReduce([t])).toThrow(/^ncclAllReduce: the communicator was aborted/);
    await expect(c.wait()).rejects.toThrow(/^ncclWait: the communicator was aborted/);
    c.destroy();
    t.dispose();
  });

  it('a rank that never joins ends create with an error naming the rank and world size', async () => {
    const err = await NcclCommunicator.create(ncclUniqueId(), 0, 2, { timeoutMs: 3000 }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/^ncclCommCreate: /);
    expect(err!.message).toMatch(/rank 0 of world size 2/);
    expect(err!.message).toMatch(/did not join within 3 s|a rank may have died/);
    // The stream and this process's other communicator still work.
    const { t, values } = cudaTensor(11, 8);
    comm.allReduce([t]);
    await comm.wait();
    expect(Array.from(t.dataSync())).toEqual(Array.from(values));
    t.dispose();
  }, 120_000);
});
