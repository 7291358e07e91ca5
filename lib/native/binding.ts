/**
 * The whole native surface, declared once: the core exports (buffers, transfers, device
 * queries) typed here, and the ops typed by lib/native/ops.generated.ts, which is written
 * from the addon's own op specs. At load the addon's exports and specs are compared with
 * these declarations; a mismatch (an addon built from other sources) throws at once
 * instead of producing wrong results.
 *
 * node-gyp-build looks in build/Release, then in prebuilds/<platform>-<arch>; S4_ADDON_PATH
 * names a specific .node file instead.
 */
import * as path from 'node:path';
import { bindOps, OP_NAMES, OP_SPECS, type NativeOps, type RawOps } from './ops.generated';
import type { NativeBuffer, NativeGraph, NativeNcclComm, OpSpecDescription } from './types';

export type { NativeBuffer, NativeGraph, NativeNcclComm, OpSpecDescription } from './types';
export type { NativeOps } from './ops.generated';

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
  /** CPU: freed blocks kept for reuse. */
  cachedBytes?: number;
  reservedBytes?: number;
  peakReservedBytes?: number;
  peakUsedBytes?: number;
}

/** Which GEMM a device's ops use (nnInfo). */
export interface GemmInfo {
  /** The engine of ordinary products: cuBLAS, the 3xTF32 tensor-core kernel (CUDA) or our SIMT/CPU kernels. */
  gemm: 'cublas' | '3xtf32' | 'builtin' | null;
  /** CUDA: the GEMM mode asked for (S4_GEMM, setGemmBackend); null without CUDA. */
  mode?: 'cublas' | '3xtf32' | 'tf32' | 'builtin' | null;
  /** CPU: the micro-kernel ('avx2' | 'generic'). */
  kernel?: string;
  /** CPU: the FFT of the convolutions and kernels: FFTW when the system has it (opened at run time). */
  fft?: 'fftw' | 'builtin';
  /** CPU: FFTW's version string, or null. */
  fftVersion?: string | null;
  /** CPU: why FFTW is not used (not found, S4_FFTW=0), or null. */
  fftReason?: string | null;
  /** CPU: the FFT convolution's transform: FFTW in float (libfftw3f), FFTW in double, or the built-in one. */
  convFft?: 'fftw-float' | 'fftw' | 'builtin';
  /** CUDA: why the engine is not the one the mode asks for (null when it is). */
  reason?: string | null;
  cublasVersion?: number;
  /** CUDA: cuBLAS runs on TF32 tensor cores (mode 'tf32'). */
  tf32?: boolean;
  /**
   * CUDA: the FFT convolution's transform: 'fused' (shared-memory kernels up to L = 65536,
   * cuFFT above) or 'cufft' (cuFFT at every length); null in a build without CUDA.
   */
  fftConv?: 'fused' | 'cufft' | null;
}

/** Whether NCCL loaded (opened at run time: S4_NCCL_PATH, else libnccl.so.2, then libnccl.so). */
export interface NcclInfo {
  loaded: boolean;
  /** e.g. '2.30.7'; null when unknown. */
  version: string | null;
  /** The file it was loaded from; null when none loaded. */
  path: string | null;
  /** Why NCCL is unusable; null when it loaded. */
  reason: string | null;
}

/** The exports that are not ops (native/binding/addon.cpp), positional. */
export interface CoreBinding {
  alloc(device: 'cpu' | 'cuda', bytes: number): NativeBuffer;
  upload(device: 'cpu' | 'cuda', data: Float32Array): NativeBuffer;
  write(buffer: NativeBuffer, data: Float32Array): void;
  download(buffer: NativeBuffer): Float32Array;
  downloadAsync(buffer: NativeBuffer): Promise<Float32Array>;
  /** Starts recording the CPU ops of an async call (lib/tensor/async.ts; native/binding/cpu_stream.h). */
  beginQueue(): void;
  /** Queues the recorded ops as one job on a worker thread; cancel() stops it between ops. */
  endQueue(): { promise: Promise<void>; cancel(): void };
  /** Drops the recording (nothing of it runs). */
  abandonQueue(): void;
  copy(dst: NativeBuffer, src: NativeBuffer): void;
  cudaInfo(): CudaInfo;
  memory(): { cpu: DeviceMemory; cuda: DeviceMemory };
  emptyCache(): void;
  resetPeakMemory(): void;
  synchronize(): void;
  synchronizeAsync(): Promise<void>;
  buildInfo(): { version: string; napiVersion: number; cuda: boolean; cudaArchitectures?: string; cpuThreads: number };
  nnInfo(device: 'cpu' | 'cuda'): GemmInfo;
  /** The CUDA GEMM mode of this process (native/cuda/gemm.h); throws on other names and in builds without CUDA. */
  setGemmBackend(name: string): void;
  /**
   * CUDA: the FFT convolution's transform for the ops queued afterwards: 'fused' (the
   * default) or 'cufft'; S4_FFTCONV gives the first value. Throws on any other value.
   */
  setFftConvPath(path: 'fused' | 'cufft'): void;
  /**
   * CUDA: records the launches of the ops fn calls (they do not run) as a graph; throws,
   * with nothing left captured, when an op cannot be captured (it allocates memory).
   */
  captureGraph(fn: () => void): NativeGraph;
  /** Runs a captured graph on the stream (asynchronously, as any op). */
  launchGraph(graph: NativeGraph): void;
  opSpecs(): OpSpecDescription[];
  ncclInfo(): NcclInfo;
  /** A fresh 128-byte communicator id (ncclGetUniqueId); throws when NCCL did not load. */
  ncclUniqueId(): Uint8Array;
  /** Joins the communicator `id` as `rank` of `worldSize`; rejects when the others do not join within timeoutMs. */
  ncclCommCreate(id: Uint8Array, rank: number, worldSize: number, timeoutMs: number): Promise<NativeNcclComm>;
  /** One NCCL group of in-place all-reduces of CUDA float32 buffers, queued on the stream. */
  ncclAllReduce(comm: NativeNcclComm, buffers: NativeBuffer[], op: 'sum' | 'avg'): void;
  /** One NCCL group of in-place broadcasts from `root`, queued on the stream. */
  ncclBroadcast(comm: NativeNcclComm, buffers: NativeBuffer[], root: number): void;
  /** Resolves when the queued collectives finished; aborts the communicator and rejects on an error or at the deadline. */
  ncclWait(comm: NativeNcclComm, timeoutMs: number): Promise<void>;
  ncclAbort(comm: NativeNcclComm): void;
  /** Flushes and frees the communicator; idempotent. */
  ncclDestroy(comm: NativeNcclComm): void;
  /**
   * The adamwUpdate op on many tensors in one call, with its floats (native/binding/adamw_multi.cpp):
   * tensor k updates params[k] in place from grads[k] with moments ms[k], vs[k] (float32
   * buffers of equal size, all on one device) and lr[k], weightDecay[k], step[k] (a
   * Float64Array each, one number per tensor); beta1, beta2 and eps are shared. A written
   * buffer (params, ms, vs) may appear once and be no grad.
   */
  adamwMulti(
    params: readonly NativeBuffer[], grads: readonly NativeBuffer[], ms: readonly NativeBuffer[], vs: readonly NativeBuffer[],
    lr: Float64Array, weightDecay: Float64Array, step: Float64Array, beta1: number, beta2: number, eps: number,
  ): void;
}

/** The names of CoreBinding, checked against the addon at load. */
export const CORE_NAMES: readonly (keyof CoreBinding)[] = [
  'alloc', 'upload', 'write', 'download', 'downloadAsync', 'beginQueue', 'endQueue', 'abandonQueue', 'copy', 'cudaInfo', 'memory',
  'emptyCache', 'resetPeakMemory', 'synchronize', 'synchronizeAsync', 'buildInfo', 'nnInfo', 'setGemmBackend', 'setFftConvPath', 'captureGraph', 'launchGraph',
  'opSpecs', 'ncclInfo', 'ncclUniqueId', 'ncclCommCreate', 'ncclAllReduce', 'ncclBroadcast', 'ncclWait', 'ncclAbort',
  'ncclDestroy', 'adamwMulti',
];

/** Exports that are classes or values rather than functions. */
const OTHER_EXPORTS: readonly string[] = ['NativeBuffer'];

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

/**
 * Every way the addon differs from the declarations: missing or undeclared exports, and
 * op specs that differ. Empty when they agree.
 */
export function bindingMismatches(raw: unknown, specs: readonly OpSpecDescription[] = OP_SPECS): string[] {
  if (raw === null || typeof raw !== 'object') return ['the addon is not an object'];
  const given = raw as Record<string, unknown>;
  const problems: string[] = [];
  const declared = new Set<string>([...CORE_NAMES, ...specs.map((s) => s.name), ...OTHER_EXPORTS]);
  for (const name of declared) {
    if (OTHER_EXPORTS.includes(name)) continue;
    if (typeof given[name] !== 'function') problems.push(`export '${name}' is declared but the addon has no such function`);
  }
  for (const name of Object.keys(given)) {
    if (!declared.has(name)) problems.push(`export '${name}' of the addon is not declared in lib/native/binding.ts or ops.generated.ts`);
  }
  if (typeof given.opSpecs !== 'function') return problems;
  const actual = new Map<string, string>();
  for (const s of (given.opSpecs as () => OpSpecDescription[])()) actual.set(s.name, JSON.stringify(s));
  for (const s of specs) {
    const got = actual.get(s.name);
    if (got !== undefined && got !== JSON.stringify(s)) problems.push(`op '${s.name}': ${specDifference(JSON.parse(got), s)}`);
  }
  return problems;
}

/** The first difference between the addon's spec (a) and the declaration (d), in words. */
function specDifference(a: OpSpecDescription, d: OpSpecDescription): string {
  const n = Math.max(a.args.length, d.args.length);
  for (let i = 0; i < n; i++) {
    const x = a.args[i];
    const y = d.args[i];
    if (!x || !y) return `the addon has ${a.args.length} arguments, the declaration ${d.args.length}`;
    const jx = JSON.stringify(x);
    const jy = JSON.stringify(y);
    if (jx !== jy) return `argument ${i + 1} is ${jx} in the addon but ${jy} in the declaration`;
  }
  return `the addon's spec is ${JSON.stringify(a)}, the declaration is ${JSON.stringify(d)}`;
}

function isBinding(raw: unknown): raw is CoreBinding & RawOps {
  const problems = bindingMismatches(raw);
  if (problems.length === 0) return true;
  throw new Error(
    `s4-cuda: the native addon does not match this package's declarations (rebuild it with \`npm rebuild s4-cuda\`; ` +
      `after changing an op spec run \`npm run gen:binding\`):\n  ${problems.join('\n  ')}`,
  );
}

function bind(): { raw: CoreBinding & RawOps; ops: NativeOps } {
  const raw = load();
  if (!isBinding(raw)) throw new Error('unreachable');
  return { raw, ops: bindOps(raw) };
}

const bound = bind();

/** The core exports: buffers, transfers, device queries. */
export const core: CoreBinding = bound.raw;
/** The ops, with named arguments (see lib/native/ops.generated.ts for each one's spec). */
export const ops: NativeOps = bound.ops;
export { OP_NAMES, OP_SPECS };

/** One native op call as a trace holds it: the raw export and its positional arguments. */
export interface TracedCall {
  name: keyof RawOps;
  fn: (...args: never[]) => unknown;
  args: unknown[];
}

/** Calls a traced op again with (possibly substituted) positional arguments, unchecked in TS. */
export function callTraced(call: TracedCall, args: readonly unknown[]): unknown {
  return Reflect.apply(call.fn, bound.raw, args);
}

function isRawOps(x: Record<string, unknown>): x is Record<string, unknown> & RawOps {
  return OP_NAMES.every((n) => typeof x[n] === 'function');
}

/**
 * Runs fn and returns every op call it made (they run as usual). While fn runs, `ops` calls
 * through recording functions; they are restored afterwards, so ops outside a trace pay
 * nothing for it. See lib/native/trace.ts.
 */
export function recordOps(fn: () => void): TracedCall[] {
  const calls: TracedCall[] = [];
  const recording: Record<string, unknown> = {};
  for (const name of OP_NAMES) {
    const f: (...args: never[]) => unknown = bound.raw[name];
    recording[name] = (...args: unknown[]) => {
      const call = { name, fn: f, args };
      calls.push(call);
      return callTraced(call, args);
    };
  }
  if (!isRawOps(recording)) throw new Error('recordOps: the recording table is incomplete');
  Object.assign(ops, bindOps(recording));
  try {
    fn();
  } finally {
    Object.assign(ops, bindOps(bound.raw));
  }
  return calls;
}
