/**
 * The switch between the fused FFT convolution kernels and the cuFFT pipeline
 * (core.setFftConvPath, S4_FFTCONV; native/cuda/conv_long.h): its argument checks, and
 * that nnInfo('cuda') reads it back in a CUDA build. The two paths' results are compared
 * on a GPU in test/gpu/conv_long.gpu.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { core } from '../lib/native/binding';
import { thrownBy } from './helpers/throws';

describe('setFftConvPath', () => {
  afterAll(() => core.setFftConvPath('fused'));

  it('refuses anything but fused or cufft, naming the argument', () => {
    const bad = thrownBy(() => core.setFftConvPath('vkfft' as never));
    expect(bad).toBeInstanceOf(RangeError);
    expect((bad as Error).message).toBe("setFftConvPath: argument 'path' must be 'fused' or 'cufft' (got 'vkfft')");
    const typed = thrownBy(() => core.setFftConvPath(3 as never));
    expect(typed).toBeInstanceOf(TypeError);
    expect((typed as Error).message).toMatch(/^setFftConvPath: argument 'path'/);
    expect(thrownBy(() => (core.setFftConvPath as () => void)())).toBeInstanceOf(TypeError);
  });

  it('reads back through nnInfo in a CUDA build (null without CUDA)', () => {
    if (!core.buildInfo().cuda) {
      core.setFftConvPath('cufft');
      expect(core.nnInfo('cuda').fftConv).toBeNull();
      return;
    }
    core.setFftConvPath('cufft');
    expect(core.nnInfo('cuda').fftConv).toBe('cufft');
    core.setFftConvPath('fused');
    expect(core.nnInfo('cuda').fftConv).toBe('fused');
  });
});
