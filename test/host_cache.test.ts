/**
 * The host block cache (native/common/host_cache.h): a freed large CPU buffer is kept and
 * handed to the next request of its size class, small ones are not kept, emptyCache()
 * returns the kept blocks, and the values of a reused block are the new tensor's own.
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';

const cpu = { device: 'cpu' as const };

describe('host block cache', () => {
  it('keeps freed large blocks for reuse and gives them back on emptyCache', () => {
    s4.emptyCache();
    expect(s4.memory().cpu.cachedBytes).toBe(0);
    const n = 1 << 18; // 1 MiB of float32
    const a = s4.zeros([n], cpu);
    a.dispose();
    const kept = s4.memory().cpu.cachedBytes;
    expect(kept).toBeGreaterThanOrEqual(4 * n);
    // The same size class is served from the cache; a reused block holds the new values.
    const b = s4.full([n], 2.5, cpu);
    expect(s4.memory().cpu.cachedBytes).toBe(0);
    const values = b.dataSync();
    expect(values[0]).toBe(2.5);
    expect(values[n - 1]).toBe(2.5);
    b.dispose();
    const small = s4.zeros([16], cpu);
    small.dispose();
    expect(s4.memory().cpu.cachedBytes).toBe(kept);
    expect(s4.memory().cpu.peakReservedBytes).toBeGreaterThanOrEqual(4 * n);
    s4.emptyCache();
    expect(s4.memory().cpu.cachedBytes).toBe(0);
  });
});
