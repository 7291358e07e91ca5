/**
 * Backend choice. The cuda backend is the default when the addon was built with CUDA and
 * the probe (device count, properties, cuFFT) succeeds; S4_BACKEND=cpu|cuda or
 * setBackend() override it, and asking for cuda where it cannot work throws the reason.
 * setGemmBackend() (or S4_GEMM) picks the engine of the CUDA matrix products.
 */
import { core, type CudaInfo } from './native/binding';

export type DeviceName = 'cpu' | 'cuda';

let cudaCache: CudaInfo | undefined;
let current: DeviceName | undefined;

/** The probe's answer, cached (the native side also probes only once). */
export function cudaInfo(): CudaInfo {
  if (!cudaCache) cudaCache = core.cudaInfo();
  return cudaCache;
}

export function cudaAvailable(): boolean {
  return cudaInfo().usable;
}

function requireCuda(context: string): void {
  const info = cudaInfo();
  if (!info.usable) throw new Error(`${context}: the cuda backend is unavailable: ${info.reason ?? 'unknown reason'}`);
}

export function isDeviceName(value: unknown): value is DeviceName {
  return value === 'cpu' || value === 'cuda';
}

/** The backend new tensors go to by default. */
export function backend(): DeviceName {
  if (current) return current;
  const env = process.env.S4_BACKEND;
  if (env !== undefined && env !== '') {
    if (!isDeviceName(env)) throw new TypeError(`S4_BACKEND must be 'cpu' or 'cuda' (got '${env}')`);
    if (env === 'cuda') requireCuda('S4_BACKEND=cuda');
    current = env;
  } else {
    current = cudaAvailable() ? 'cuda' : 'cpu';
  }
  return current;
}

export function setBackend(name: DeviceName): void {
  if (!isDeviceName(name)) throw new TypeError(`setBackend: argument 'name' must be 'cpu' or 'cuda' (got ${String(name)})`);
  if (name === 'cuda') requireCuda('setBackend');
  current = name;
}

/** Checks that a device can hold tensors now (throws the reason for cuda). */
export function ensureDevice(device: DeviceName, context: string): void {
  if (device === 'cuda') requireCuda(context);
}

/**
 * Engines of the CUDA matrix products (linear layers, the raw gemm op):
 * - 'cublas': cuBLAS in FP32, the default (our SIMT kernels where cuBLAS does not load);
 * - '3xtf32': our tensor-core kernel with the error-compensated split of each float into two
 *   TF32 parts, about FP32 accuracy (sm_80 and newer; products under 2^18 multiply-adds or
 *   that it cannot run take the 'cublas' path);
 * - 'tf32': cuBLAS on plain TF32 tensor cores, about 1e-3 relative error (not exact);
 * - 'builtin': our SIMT FP32 kernels.
 */
export type GemmBackend = 'cublas' | '3xtf32' | 'tf32' | 'builtin';
export const GEMM_BACKENDS: readonly GemmBackend[] = ['cublas', '3xtf32', 'tf32', 'builtin'];

/**
 * Chooses the engine of the CUDA matrix products for this process, replacing S4_GEMM; it
 * applies to the products issued from then on. gemmInfo('cuda') (s4.ops) and s4.info()
 * report the engine in use and why it differs from the choice.
 */
export function setGemmBackend(name: GemmBackend): void {
  if (typeof name !== 'string' || !GEMM_BACKENDS.includes(name)) {
    const got = typeof name === 'string' ? `'${name}'` : name === null ? 'null' : typeof name;
    throw new TypeError(`setGemmBackend: argument 'name' must be one of ${GEMM_BACKENDS.map((n) => `'${n}'`).join(', ')} (got ${got})`);
  }
  core.setGemmBackend(name);
}
