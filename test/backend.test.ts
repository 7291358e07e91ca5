import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device } from './helpers/device';

describe('backend and info', () => {
  it('reports the backend, the addon and the reason when cuda is unavailable', () => {
    const info = s4.info();
    expect(info.backend).toBe(device);
    expect(info.addonVersion).toBe(s4.version);
    expect(info.napiVersion).toBe(8);
    expect(info.cpuThreads).toBeGreaterThan(0);
    if (info.cudaAvailable) {
      expect(info.gpu?.name).toBeTruthy();
      expect(info.cufftVersion).toBeGreaterThan(0);
      expect(info.cudaUnavailableReason).toBeNull();
    } else {
      expect(info.cudaUnavailableReason).toMatch(/\w+/);
    }
  });

  it('setBackend validates and refuses cuda with the reason when it cannot work', () => {
    const prev = s4.backend();
    expect(() => s4.setBackend('gpu' as 'cpu')).toThrow(TypeError);
    if (!s4.cudaAvailable()) {
      expect(() => s4.setBackend('cuda')).toThrow(/cuda backend is unavailable: .+/);
      expect(() => s4.tensor([1], [1], { device: 'cuda' })).toThrow(/unavailable/);
    }
    s4.setBackend('cpu');
    expect(s4.backend()).toBe('cpu');
    s4.setBackend(prev);
  });

  it('memory() reports per-device counts', () => {
    const m = s4.memory();
    expect(m.cpu.tensors).toBeGreaterThanOrEqual(0);
    expect(typeof m.cuda.bytes).toBe('number');
  });
});
