/**
 * The CUDA kernels of the long-row FFT convolution (native/cuda/conv_long_kernels.cuh),
 * compiled as host C++ and run one thread per block by test/helpers/conv_long_emulation.cpp
 * with the launch sequence of conv_long.cu: forward, the correlation (du alone), and the
 * backward with dk, with and without du, against the direct sums in double, at every transform size
 * the kernels take (M = 16384, 32768, 65536) and odd lengths. This checks the kernels' own
 * index arithmetic, twiddles and bin pairing without a GPU. A second build with
 * ThreadSanitizer runs each block as 32 host threads with __syncthreads a barrier, so a
 * shared-memory access left unordered by a missing barrier is reported as a data race (the
 * GPU tests, test/gpu/conv_long.gpu.test.ts, run the kernels for real). Needs a C++20
 * compiler (skipped without one; the race check also needs -fsanitize=thread to work).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasCxxCompiler } from './helpers/cxx';

const root = join(__dirname, '..');
const out = join(root, 'build', 'conv-long-emulation');
const driver = join(out, 'conv_long_emulation');
const tsanDriver = join(out, 'conv_long_emulation_tsan');

const canBuild = hasCxxCompiler();

function compile(output: string, extra: string[]): void {
  execFileSync('c++', [
    '-std=c++20', '-Wall', '-Werror', '-Wno-unknown-pragmas', '-pthread', ...extra,
    `-I${join(root, 'test', 'helpers', 'cuda_emulation')}`, `-I${join(root, 'native', 'cuda')}`,
    join(root, 'test', 'helpers', 'conv_long_emulation.cpp'), '-o', output,
  ], { stdio: 'pipe' });
}

/** Whether a program built with -fsanitize=thread links and runs here. */
function tsanWorks(): boolean {
  try {
    compile(tsanDriver, ['-O1', '-g', '-fsanitize=thread']);
    return spawnSync(tsanDriver, ['1', '1', '16', '2'], { timeout: 60_000 }).status === 0;
  } catch {
    return false;
  }
}

function run(B: number, H: number, L: number, program = driver, threads = 1): Map<string, number> {
  const r = spawnSync(program, [String(B), String(H), String(L), String(threads)], { encoding: 'utf8', timeout: 300_000 });
  expect(r.status, `driver exited with ${r.status}: ${r.stderr.slice(0, 4000)}`).toBe(0);
  const errs = new Map<string, number>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [key, value] = line.split(': ');
    errs.set(key, Number(value));
  }
  return errs;
}

describe.skipIf(!canBuild)('long-row FFT convolution kernels, emulated on the host', () => {
  let tsan = false;
  beforeAll(() => {
    mkdirSync(out, { recursive: true });
    compile(driver, ['-O2']);
    tsan = tsanWorks();
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

  it('32 threads per block under ThreadSanitizer: no data race, the same accuracy (B = 2, H = 1, L = 8193: batch chunks)', (ctx) => {
    if (!tsan) ctx.skip();
    // a race report makes the program exit with 66 (ThreadSanitizer's exitcode)
    const errs = run(2, 1, 8193, tsanDriver, 32);
    expect(errs.get('chunks')).toBe(2);
    errs.delete('chunks');
    expect(errs.size).toBe(7);
    for (const [key, e] of errs) expect(e, key).toBeLessThan(key.startsWith('dd') ? 1e-6 : 2e-6);
  });
});
