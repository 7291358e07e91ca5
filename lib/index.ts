/**
 * s4-cuda: S4 structured state space sequence models for Node.js, with CUDA kernels and a
 * CPU fallback. See README.md for the API and docs/ARCHITECTURE.md for the design and the
 * conventions.
 */
import './autograd/tape';
import { Tensor } from './tensor/tensor';
import { runScope, keep as keepTensor } from './tensor/scope';

export { Tensor, type DType } from './tensor/tensor';
export { backend, setBackend, cudaAvailable, setGemmBackend, GEMM_BACKENDS, type DeviceName, type GemmBackend } from './backend';
export { tensor, complex, zeros, ones, full, zerosLike, type TensorOptions } from './tensor/create';
export { noGrad, isGradEnabled, zeroGrad, onGradReady, type GradReadyHook } from './autograd/tape';
export { info, memory, emptyCache, resetPeakMemory, synchronize, synchronizeAsync, type Info, type MemoryReport } from './info';
export * as ops from './ops/index';
export { runAsync, type AsyncOptions } from './tensor/async';

/** Runs fn and disposes every tensor it made except those it returns (synchronous). */
export function tidy<T>(fn: () => T): T {
  return runScope(fn, Tensor);
}

/** Marks a tensor to survive the enclosing tidy scopes. */
export function keep<T extends Tensor>(t: T): T {
  return keepTensor(t);
}

/** Disposes tensors (or arrays / objects of tensors). */
export function dispose(...items: unknown[]): void {
  const visit = (v: unknown): void => {
    if (v instanceof Tensor) v.dispose();
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach(visit);
  };
  items.forEach(visit);
}

export const version: string = (require('../package.json') as { version: string }).version;
export * as ssm from './ssm/index';
export * as nn from './nn/index';
export * as optim from './optim/index';
export { Trainer } from './train/index';
export * as train from './train/index';
export * as interop from './interop/index';
export * as distributed from './distributed/index';
export * as data from './train/data/index';
