/**
 * s4.setGemmBackend (the CUDA GEMM mode, native/cuda/gemm.h): the TypeScript and the raw
 * export refuse other names with an error naming the argument; a valid name becomes the
 * mode nnInfo reports (builds with CUDA; without a GPU the engine says why it is not used).
 * The products themselves are tested on the GPU (test/gpu/gemm_3xtf32.gpu.test.ts).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { core } from '../lib/native/binding';
import { expectThrows } from './helpers/throws';

const cudaBuild = core.buildInfo().cuda;

describe('setGemmBackend', () => {
  it('refuses names that are not engines, naming the argument and the choices', () => {
    for (const bad of ['cuBLAS', '3xTF32', 'fp32', '', 'gpu']) {
      expectThrows(() => s4.setGemmBackend(bad as s4.GemmBackend), TypeError, new RegExp(`^setGemmBackend: argument 'name' must be one of 'cublas', '3xtf32', 'tf32', 'builtin' \\(got '${bad}'\\)`));
    }
    expectThrows(() => s4.setGemmBackend(3 as unknown as s4.GemmBackend), TypeError, /argument 'name' .* \(got number\)/);
    expectThrows(() => s4.setGemmBackend(null as unknown as s4.GemmBackend), TypeError, /\(got null\)/);
    expect(s4.GEMM_BACKENDS).toEqual(['cublas', '3xtf32', 'tf32', 'builtin']);
  });

  it('the raw export checks its argument itself', () => {
    expectThrows(() => (core.setGemmBackend as (...a: unknown[]) => void)(), TypeError, /^setGemmBackend: /);
    expectThrows(() => core.setGemmBackend(7 as unknown as string), TypeError, /^setGemmBackend: argument 'name' must be a string/);
    if (cudaBuild) expectThrows(() => core.setGemmBackend('fast'), TypeError, /^setGemmBackend: argument 'name' must be 'cublas', '3xtf32', 'tf32' or 'builtin' \(got 'fast'\)/);
    else expectThrows(() => core.setGemmBackend('cublas'), Error, /compiled without CUDA/);
  });

  it.runIf(cudaBuild)('a valid name becomes the mode nnInfo reports; the CPU GEMM is unaffected', () => {
    const before = s4.ops.gemmInfo('cuda').mode;
    expect(s4.GEMM_BACKENDS).toContain(before);
    try {
      for (const name of s4.GEMM_BACKENDS) {
        s4.setGemmBackend(name);
        const info = s4.ops.gemmInfo('cuda');
        expect(info.mode).toBe(name);
        expect(['cublas', '3xtf32', 'builtin']).toContain(info.gemm);
        if (name === 'builtin') expect(info.gemm).toBe('builtin');
        if (!s4.cudaAvailable()) {
          // No GPU: neither cuBLAS nor the 3xTF32 kernel can run, and the reason says so.
          expect(info.gemm).toBe('builtin');
          expect(info.reason).toMatch(/\w+/);
        }
        expect(s4.ops.gemmInfo('cpu').gemm).toBe('builtin');
      }
    } finally {
      s4.setGemmBackend(before!);
    }
  });
});
