/**
 * Backend choice. The cuda backend is the default when the addon was built with CUDA and
 * the probe (device count, properties, cuFFT) succeeds; S4_BACKEND=cpu|cuda or
 * setBackend() override it, and asking for cuda where it cannot work throws the reason.
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
