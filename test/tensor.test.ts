import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, randomValues } from './helpers/device';

describe('tensor', () => {
  it('round-trips float32 data from typed and plain arrays', async () => {
    const t = s4.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe(device);
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(await t.data())).toEqual([1, 2, 3, 4, 5, 6]);
    const u = s4.tensor(new Float64Array([0.5, -1.5]));
    expect(u.shape).toEqual([2]);
    expect(Array.from(u.dataSync())).toEqual([0.5, -1.5]);
    s4.dispose(t, u);
  });

  it('stores complex64 interleaved', () => {
    const c = s4.complex([1, 2], [3, 4], [2]);
    expect(c.dtype).toBe('complex64');
    expect(c.size).toBe(2);
    expect(Array.from(c.dataSync())).toEqual([1, 3, 2, 4]);
    c.dispose();
  });

  it('data() does not block the event loop and sees only work issued before it', async () => {
    const values = randomValues(1 << 20, 1);
    const t = s4.tensor(values, [1 << 20]);
    const pending = t.data();
    const doubled = s4.ops.scale(t, 2);
    let ticked = false;
    setImmediate(() => (ticked = true));
    const got = await pending;
    await new Promise((r) => setImmediate(r));
    expect(ticked).toBe(true);
    expect(got[12345]).toBe(values[12345]);
    expect(doubled.dataSync()[12345]).toBe(values[12345] * 2);
    s4.dispose(t, doubled);
  });

  it('throws on any use after dispose', async () => {
    const t = s4.tensor([1, 2, 3]);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.dataSync()).toThrow(/disposed/);
    await expect(t.data()).rejects.toThrow(/disposed/);
    expect(() => s4.ops.sum(t)).toThrow(/disposed/);
    t.dispose(); // idempotent
  });

  it('validates shapes and data with named arguments', () => {
    expect(() => s4.tensor([1, 2, 3], [2, 2])).toThrow(RangeError);
    expect(() => s4.tensor([1, 2], [-2])).toThrow(/non-negative integer/);
    expect(() => s4.tensor([1, 2], [0.5, 4])).toThrow(RangeError);
    expect(() => s4.tensor([1, 2], [2 ** 30, 2 ** 30, 2 ** 30])).toThrow(/too large/);
    expect(() => s4.tensor('abc' as unknown as number[])).toThrow(TypeError);
    expect(() => s4.tensor([1, 'x' as unknown as number])).toThrow(/data'\[1\]/);
    expect(() => s4.complex([1], [1, 2])).toThrow(/same length/);
    expect(() => s4.tensor([1], [1], { device: 'tpu' as 'cpu' })).toThrow(/'cpu' or 'cuda'/);
  });

  it('tidy disposes what it does not return, and nests', () => {
    const before = s4.memory()[device];
    let inner: s4.Tensor | undefined;
    const kept = s4.tidy(() => {
      const a = s4.tensor([1, 2, 3]);
      const b = s4.ops.scale(a, 3);
      inner = s4.tidy(() => s4.ops.add(a, b));
      return { b };
    });
    expect(kept.b.isDisposed).toBe(false);
    expect(inner!.isDisposed).toBe(true);
    expect(Array.from(kept.b.dataSync())).toEqual([3, 6, 9]);
    kept.b.dispose();
    const after = s4.memory()[device];
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
  });

  it('tidy disposes on throw and refuses async functions', () => {
    const before = s4.memory()[device].tensors;
    expect(() =>
      s4.tidy(() => {
        s4.tensor([1]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(s4.memory()[device].tensors).toBe(before);
    expect(() => s4.tidy((async () => 1) as unknown as () => number)).toThrow(/synchronous/);
  });

  it('does not leak over many iterations', () => {
    const before = s4.memory()[device];
    for (let i = 0; i < 200; i++) {
      s4.tidy(() => {
        const w = s4.tensor(randomValues(1000, i), [10, 100], { requiresGrad: true });
        const loss = s4.ops.sum(s4.ops.mul(w, w));
        loss.backward();
        w.dispose();
      });
    }
    const after = s4.memory()[device];
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
  });

  it('moves between devices and reshapes', () => {
    const t = s4.tensor([1, 2, 3, 4], [2, 2]);
    const c = t.to('cpu');
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    const r = t.reshape([4]);
    expect(r.shape).toEqual([4]);
    expect(() => t.reshape([3])).toThrow(RangeError);
    s4.dispose(t, c, r);
  });

  it('supports Symbol.dispose', () => {
    const before = s4.memory()[device].tensors;
    {
      const t = s4.tensor([1, 2]);
      t[Symbol.dispose]();
    }
    expect(s4.memory()[device].tensors).toBe(before);
  });
});
