/** s4.info(), s4.memory() and cache control. */
import { backend, cudaInfo, type DeviceName } from './backend';
import { core, packageRoot, type DeviceMemory, type NcclInfo } from './native/binding';
import { gemmInfo } from './ops/linear';

export interface Info {
  backend: DeviceName;
  addonVersion: string;
  napiVersion: number;
  cudaCompiled: boolean;
  cudaArchitectures: string | null;
  cudaAvailable: boolean;
  cudaUnavailableReason: string | null;
  gpu: {
    name: string;
    computeCapability: string;
    totalMemoryBytes: number;
    freeMemoryBytes: number;
    multiprocessors: number;
  } | null;
  cudaRuntimeVersion: string | null;
  cudaDriverVersion: string | null;
  cufftVersion: number | null;
  cpuThreads: number;
  /** Which matrix-multiply path the active backend uses: cuBLAS (opened at run time), the 3xTF32 kernel or our SIMT kernels (s4.setGemmBackend, S4_GEMM). */
  gemm: string;
  /** NCCL (data-parallel training on GPUs), opened at run time: loaded or why not. */
  nccl: NcclInfo;
  packageRoot: string;
}

function cudaVersion(v: number | undefined): string | null {
  if (!v) return null;
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

function describeGemm(device: DeviceName): string {
  try {
    const g = gemmInfo(device);
    const asked = g.mode && g.mode !== g.gemm && g.mode !== 'tf32' ? `${g.mode} asked` : undefined;
    const version = g.cublasVersion && g.cublasVersion > 0 ? `cuBLAS ${g.cublasVersion}` : undefined;
    const extra = [g.kernel, version, g.tf32 ? 'TF32 on' : undefined, asked, g.reason]
      .filter((x) => x !== undefined && x !== null && x !== '')
      .join(', ');
    const name = g.gemm ?? 'none';
    return extra ? `${name} (${extra})` : name;
  } catch (e) {
    return `unknown (${(e as Error).message})`;
  }
}

export function info(): Info {
  const build = core.buildInfo();
  const cuda = cudaInfo();
  let active: DeviceName;
  try {
    active = backend();
  } catch {
    active = 'cpu';
  }
  return {
    backend: active,
    addonVersion: build.version,
    napiVersion: build.napiVersion,
    cudaCompiled: cuda.compiled,
    cudaArchitectures: build.cudaArchitectures ?? null,
    cudaAvailable: cuda.usable,
    cudaUnavailableReason: cuda.usable ? null : cuda.reason,
    gpu: cuda.name
      ? {
          name: cuda.name,
          computeCapability: cuda.computeCapability ?? '',
          totalMemoryBytes: cuda.totalMemory ?? 0,
          freeMemoryBytes: cuda.freeMemory ?? 0,
          multiprocessors: cuda.multiprocessors ?? 0,
        }
      : null,
    cudaRuntimeVersion: cudaVersion(cuda.runtimeVersion),
    cudaDriverVersion: cudaVersion(cuda.driverVersion),
    cufftVersion: cuda.cufftVersion !== undefined && cuda.cufftVersion >= 0 ? cuda.cufftVersion : null,
    cpuThreads: build.cpuThreads,
    gemm: describeGemm(active),
    nccl: core.ncclInfo(),
    packageRoot,
  };
}

export interface MemoryReport {
  /** cachedBytes: freed host blocks kept for reuse (S4_HOST_CACHE_MB caps them); peakReservedBytes: the highest live + kept. */
  cpu: { tensors: number; bytes: number; cachedBytes: number; peakReservedBytes: number };
  cuda: { tensors: number; bytes: number; reservedBytes: number; peakReservedBytes: number; peakUsedBytes: number };
}

/** Live native buffers and their bytes per device; for cuda also the pool's reserve. */
export function memory(): MemoryReport {
  const m = core.memory();
  const cuda: DeviceMemory = m.cuda;
  return {
    cpu: { tensors: m.cpu.buffers, bytes: m.cpu.bytes, cachedBytes: m.cpu.cachedBytes ?? 0, peakReservedBytes: m.cpu.peakReservedBytes ?? 0 },
    cuda: {
      tensors: cuda.buffers,
      bytes: cuda.bytes,
      reservedBytes: cuda.reservedBytes ?? 0,
      peakReservedBytes: cuda.peakReservedBytes ?? 0,
      peakUsedBytes: cuda.peakUsedBytes ?? 0,
    },
  };
}

/** Returns cached, unused memory: GPU blocks to the driver, kept host blocks to the system. */
export function emptyCache(): void {
  core.emptyCache();
}

export function resetPeakMemory(): void {
  core.resetPeakMemory();
}

/** Waits for all queued GPU work (blocks this thread). */
export function synchronize(): void {
  core.synchronize();
}

/** Waits for all queued GPU work on a worker thread. */
export function synchronizeAsync(): Promise<void> {
  return core.synchronizeAsync();
}
