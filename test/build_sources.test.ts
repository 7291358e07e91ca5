/**
 * The two builds of the addon, CMakeLists.txt (cmake-js) and binding.gyp (node-gyp),
 * compile the same files with the same defines and flags. Both read native/build.json;
 * this compares what the build tools themselves make of them (CMake's compile commands,
 * gyp's loaded target), so a file, define or flag added to one build only fails here.
 * The CUDA half needs nvcc (CMake's CUDA configure compiles a probe with it).
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cmakeCompiles, cudaTargets, gypCompiles, repoRoot, type CompiledFile } from './helpers/build_defs';

interface BuildConfigModule {
  readConfig(): { cxxFlags: string[]; cuda: { architectures: string[]; flags: string[] } };
  sources(kind: string): string[];
  findNvcc(): string | null;
  gencodeFlags(architectures: string[]): string[];
}
const buildConfig = createRequire(__filename)(path.join(repoRoot, 'scripts', 'build-config.js')) as BuildConfigModule;
const nvcc = buildConfig.findNvcc();

/** `file: defines` lines, one per compiled file: a difference reads as the file and define that differ. */
function defineLines(files: readonly CompiledFile[]): string[] {
  return files.map((f) => `${f.file}: ${f.defines.join(' ')}`);
}

/** Every .cpp and .cu file under native/, relative to the repository root. */
function nativeSources(dir = 'native'): string[] {
  return fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return nativeSources(rel);
    return /\.(cpp|cu)$/.test(e.name) ? [rel] : [];
  });
}

// Arguments of CMake's own nvcc invocation (the options file holds the include folders).
const CMAKE_NVCC_PLUMBING = new Set(['-forward-unknown-to-host-compiler', '--options-file', '-x', '-c', '-o']);

function nvccOptions(f: CompiledFile): string[] {
  return [...new Set(f.flags.filter((a) => !/^(-gencode|--generate-code)=/.test(a) && !CMAKE_NVCC_PLUMBING.has(a)))].sort();
}

describe('native/build.json', () => {
  it('lists every .cpp and .cu file under native/ in exactly one source list', () => {
    const listed = [...buildConfig.sources('cpu'), ...buildConfig.sources('cuda')];
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(nativeSources().sort());
  });

  it("turns CMake's architecture notation into nvcc's -gencode options", () => {
    expect(buildConfig.gencodeFlags(['80-real', '90-virtual', '86'])).toEqual([
      '-gencode=arch=compute_80,code=sm_80',
      '-gencode=arch=compute_90,code=compute_90',
      '-gencode=arch=compute_86,code=sm_86',
      '-gencode=arch=compute_86,code=compute_86',
    ]);
    expect(() => buildConfig.gencodeFlags(['sm_90'])).toThrow(/architecture 'sm_90'/);
  });
});

describe('the CPU backend: CMakeLists.txt and binding.gyp', () => {
  let cmake: CompiledFile[] = [];
  let gyp: CompiledFile[] = [];
  beforeAll(async () => {
    [cmake, gyp] = await Promise.all([cmakeCompiles(false), gypCompiles({ s4_nvcc: '' })]);
  });

  it('compile the same files', () => {
    expect(gyp.map((f) => f.file)).toEqual(cmake.map((f) => f.file));
    expect(cmake.length).toBe(buildConfig.sources('cpu').length);
  });

  it('give each file the same defines', () => {
    expect(defineLines(gyp)).toEqual(defineLines(cmake));
    expect(cmake[0].defines).toEqual(expect.arrayContaining(['NAPI_VERSION=8', 'NDEBUG', expect.stringMatching(/^S4_VERSION="\d+\.\d+\.\d+/)]));
  });

  it("give each file native/build.json's C++ flags", () => {
    const { cxxFlags } = buildConfig.readConfig();
    for (const f of gyp) expect(f.flags, f.file).toEqual(cxxFlags);
    for (const c of cmake) expect(c.flags, c.file).toEqual(expect.arrayContaining(cxxFlags));
  });
});

describe.skipIf(!nvcc)('the CUDA backend (nvcc found): CMakeLists.txt and binding.gyp', () => {
  let cmake: CompiledFile[] = [];
  let gyp: CompiledFile[] = [];
  beforeAll(async () => {
    [cmake, gyp] = await Promise.all([cmakeCompiles(true), gypCompiles({})]);
  });

  it('compile the same files', () => {
    expect(gyp.map((f) => f.file)).toEqual(cmake.map((f) => f.file));
    expect(gyp.filter((f) => f.file.endsWith('.cu')).length).toBeGreaterThan(0);
  });

  it('give each file the same defines', () => {
    expect(defineLines(gyp)).toEqual(defineLines(cmake));
    expect(cmake.find((f) => f.file.endsWith('.cu'))?.defines).toEqual(expect.arrayContaining(['S4_WITH_CUDA', 'NDEBUG']));
  });

  it('give nvcc the same architectures, standard and flags', () => {
    const { cuda } = buildConfig.readConfig();
    const cu = gyp.filter((f) => f.file.endsWith('.cu'));
    for (const f of cu) {
      const c = cmake.find((x) => x.file === f.file) as CompiledFile;
      expect(cudaTargets(f.flags), f.file).toEqual(cudaTargets(c.flags));
      expect(nvccOptions(f), f.file).toEqual(nvccOptions(c));
      expect(nvccOptions(f), f.file).toEqual(expect.arrayContaining(['-std=c++17', ...cuda.flags]));
    }
    expect(cudaTargets(cu[0].flags)).toEqual(cudaTargets(buildConfig.gencodeFlags(cuda.architectures)));
  });
});
