/**
 * The CUDA kernels of the long-row FFT convolution (native/cuda/conv_long_kernels.cuh),
 * compiled as host C++ and run one thread per block by test/helpers/conv_long_emulation.cpp
 * with the launch sequence of conv_long.cu: forward, the correlation (du alone), and the
 * backward with dk, with and without du, against the direct sums in double, at every transform size
 * the kernels take (M = 16384, 32768, 65536) and odd lengths. This checks the kernels' own
 * index arithmetic, twiddles and bin pairing without a GPU; races between the threads of a
 * block are not modelled (the GPU tests, test/gpu/conv_long.gpu.test.ts, run them for real).
 * Needs a C++ compiler (skipped without one).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const out = join(root, 'build', 'conv-long-emulation');
const driver = join(out, 'conv_long_emulation');

function hasCompiler(): boolean {
  try {
    execFileSync('c++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const canBuild = hasCompiler();

function run(B: number, H: number, L: number): Map<string, number> {
  const r = spawnSync(driver, [String(B), String(H), String(L)], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, `driver exited with ${r.status}: ${r.stderr}`).toBe(0);
  const errs = new Map<string, number>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [key, value] = line.split(': ');
    errs.set(key, Number(value));
  }
  return errs;
}

describe.skipIf(!canBuild)('long-row FFT convolution kernels, emulated on the host', () => {
  beforeAll(() => {
    mkdirSync(out, { recursive: true });
    execFileSync('c++', [
      '-std=c++17', '-O2', '-Wall', '-Werror', '-Wno-unknown-pragmas',
      `-I${join(root, 'test', 'helpers', 'cuda_emulation')}`, `-I${join(root, 'native', 'cuda')}`,
      join(root, 'test', 'helpers', 'conv_long_emulation.cpp'), '-o', driver,
    ], { stdio: 'pipe' });
  });

  // [B, H, L, batch chunks of the backward's pass B]: the smallest long length (odd), odd
  // lengths inside each transform size, the powers of two that fill them (M1 x M2 = 128 x
  // 128, 128 x 256, 256 x 256), and batches cut into chunks (one row each, uneven).
  for (const [B, H, L, chunks] of [
    [2, 2, 8193, 2], [2, 3, 12345, 2], [3, 1, 16384, 3], [2, 2, 20001, 2], [1, 2, 32768, 1], [1, 2, 65536, 1], [11, 32, 9000, 6],
  ] as const) {
    it(`[${B}, ${H}, ${L}]: y, du, dk and dd within float32 rounding of the direct sums`, () => {
      const errs = run(B, H, L);
      expect(errs.get('chunks'), 'batch chunks').toBe(chunks);
      errs.delete('chunks');
      expect([...errs.keys()]).toEqual(['y', 'corr', 'du', 'dk', 'dd', 'dkNoDu', 'ddNoDu']);
      // float32 transforms of up to 131072 points: about 1e-6; dd is a sum in double
      for (const [key, e] of errs) expect(e, key).toBeLessThan(key.startsWith('dd') ? 1e-6 : 2e-6);
    });
  }
});
