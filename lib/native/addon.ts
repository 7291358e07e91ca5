/**
 * Loads the native addon. node-gyp-build looks in build/Release, then in
 * prebuilds/<platform>-<arch>; S4_ADDON_PATH names a specific .node file instead (used to
 * test a build in another folder).
 */
import * as path from 'node:path';

/** Opaque handle of a native buffer (native/binding/buffer.h). */
export interface NativeBuffer {
  readonly bytes: number;
  readonly device: 'cpu' | 'cuda' | 'none';
  readonly alive: boolean;
  free(): void;
}

export interface CudaInfo {
  compiled: boolean;
  usable: boolean;
  reason: string | null;
  deviceCount?: number;
  name?: string | null;
  computeCapability?: string | null;
  totalMemory?: number;
  freeMemory?: number;
  multiprocessors?: number;
  runtimeVersion?: number;
  driverVersion?: number;
  cufftVersion?: number;
}

export interface DeviceMemory {
  buffers: number;
  bytes: number;
  reservedBytes?: number;
  peakReservedBytes?: number;
  peakUsedBytes?: number;
}

/** The core slice of the raw addon; op families declare their own slices. */
export interface CoreAddon {
  alloc(device: 'cpu' | 'cuda', bytes: number): NativeBuffer;
  upload(device: 'cpu' | 'cuda', data: Float32Array): NativeBuffer;
  write(buffer: NativeBuffer, data: Float32Array): void;
  download(buffer: NativeBuffer): Float32Array;
  downloadAsync(buffer: NativeBuffer): Promise<Float32Array>;
  copy(dst: NativeBuffer, src: NativeBuffer): void;
  cudaInfo(): CudaInfo;
  memory(): { cpu: DeviceMemory; cuda: DeviceMemory };
  emptyCache(): void;
  resetPeakMemory(): void;
  synchronize(): void;
  synchronizeAsync(): Promise<void>;
  buildInfo(): { version: string; napiVersion: number; cuda: boolean; cudaArchitectures?: string; cpuThreads: number };
  fill(out: NativeBuffer, value: number, n: number): void;
  axpby(out: NativeBuffer, a: NativeBuffer, alpha: number, b: NativeBuffer | null, beta: number, n: number): void;
  mul(out: NativeBuffer, a: NativeBuffer, b: NativeBuffer, n: number): void;
  sum(out: NativeBuffer, a: NativeBuffer, n: number): void;
  broadcastScalar(out: NativeBuffer, scalar: NativeBuffer, scale: number, n: number): void;
}

export const packageRoot = path.resolve(__dirname, '..', '..');

function load(): unknown {
  const explicit = process.env.S4_ADDON_PATH;
  if (explicit) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.resolve(explicit));
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(packageRoot);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `s4-cuda: the native addon could not be loaded from ${packageRoot} (${why}). ` +
        'Run `npm rebuild s4-cuda` (needs cmake and a C++ compiler; nvcc for the CUDA backend).',
    );
  }
}

/** The raw addon: every export of native/binding. Use a typed slice of it. */
export const addon = load() as CoreAddon & Record<string, unknown>;
export const core: CoreAddon = addon;
