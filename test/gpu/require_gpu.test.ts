/** Under npm run test:gpu the cuda backend must be there: this fails (never skips) without it. */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';

describe('GPU present', () => {
  it('the cuda backend is usable and selected', () => {
    const info = s4.info();
    expect(info.cudaUnavailableReason, 'cuda backend unavailable').toBeNull();
    expect(info.cudaAvailable).toBe(true);
    expect(s4.backend()).toBe('cuda');
    expect(info.gpu?.name).toBeTruthy();
    expect(info.cufftVersion).toBeGreaterThan(0);
  });

  it('runs pointwise ops on the GPU like the CPU', async () => {
    const n = 100_003;
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
    const ga = s4.tensor(a, [n], { device: 'cuda' });
    const gb = s4.tensor(b, [n], { device: 'cuda' });
    const ca = s4.tensor(a, [n], { device: 'cpu' });
    const cb = s4.tensor(b, [n], { device: 'cpu' });
    const gs = s4.ops.sum(s4.ops.mul(ga, gb)).item();
    const cs = s4.ops.sum(s4.ops.mul(ca, cb)).item();
    expect(Math.abs(gs - cs)).toBeLessThan(1e-3 * Math.max(1, Math.abs(cs)));
    const gm = await s4.ops.add(ga, gb).data();
    expect(gm[77777]).toBeCloseTo(a[77777] + b[77777], 6);
    expect(() => s4.ops.add(ga, cb)).toThrow(/move them to one device/);
    const moved = ga.to('cpu');
    expect(moved.dataSync()[5]).toBe(a[5]);
  });

  it('reports and releases GPU memory', () => {
    const before = s4.memory().cuda;
    const t = s4.zeros([1 << 20], { device: 'cuda' });
    expect(s4.memory().cuda.bytes).toBe(before.bytes + 4 * (1 << 20));
    expect(s4.memory().cuda.reservedBytes).toBeGreaterThan(0);
    t.dispose();
    expect(s4.memory().cuda.bytes).toBe(before.bytes);
    // The freed block stays cached: the same size again comes from the free list.
    const cached = s4.memory().cuda.reservedBytes;
    expect(cached).toBeGreaterThanOrEqual(4 * (1 << 20));
    const again = s4.zeros([1 << 20], { device: 'cuda' });
    expect(s4.memory().cuda.reservedBytes).toBe(cached);
    again.dispose();
    s4.emptyCache();
    expect(s4.memory().cuda.reservedBytes).toBeLessThanOrEqual(cached - 4 * (1 << 20));
  });
});
