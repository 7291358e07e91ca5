/**
 * Stateful recurrent steppers for generation: the state [B, H, N2] (complex64) stays on
 * the device between calls; each call is one native launch, whatever its token count.
 *
 *   const s = stepper({ lambda, p, b, cTilde, dt, d? }, { batch, L, d? });   // DPLR (S4)
 *   const s = diagStepper({ lambda, b, c, dt, d? }, { batch, d? });          // S4D (ZOH)
 *   s.step(u_t [B, H], out?) -> y_t [B, H]      (out: reuse a [B, H] tensor, no allocation)
 *   s.stepMany(u [B, H, T], out?) -> y [B, H, T] (T tokens in one call)
 *   s.state -> complex64 [B, H, N2] (a copy);  s.reset();  s.dispose()
 *
 * Parameters are tensors (as for ops.dplrScan) or float64 parameter sets (lib/ssm/types.ts,
 * then `device` picks where the stepper runs; default: the current backend). Feeding a
 * sequence in chunks equals feeding it whole.
 */
import { backend, isDeviceName, type DeviceName } from '../backend';
import { ops, type NativeBuffer } from '../native/binding';
import { diagParams64, dplrParams64, type DiagTensorParams, type DplrTensorParams } from '../ops/scan';
import { expectInteger, expectTensor } from '../util/validate';
import { keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { diagStepCoefficients, dplrStepCoefficients } from '../ssm/step_setup';
import type { DiagParams64, DplrParams64 } from '../ssm/types';

export interface StepperOptions {
  /** Batch size B of every input. */
  batch: number;
  /** Skip term D [H]; overrides params.d. */
  d?: Tensor | ArrayLike<number> | null;
  /** Device for float64 parameter sets (tensor parameters run where they live). */
  device?: DeviceName;
}

export interface DplrStepperOptions extends StepperOptions {
  /** Length C~ was set up for (C = C~ (I - Ab^L)^-1). */
  L: number;
}

export class Stepper {
  readonly batch: number;
  readonly H: number;
  readonly N2: number;
  readonly device: DeviceName;
  private coef: Tensor | null;
  private st: Tensor | null;
  private readonly kind: string;
  // Handles of coef and st, read once: step() is the per-token hot path of generation.
  private coefH: NativeBuffer | null = null;
  private stH: NativeBuffer | null = null;

  /** @internal use stepper() / diagStepper(). */
  constructor(kind: string, coef: Float32Array, batch: number, H: number, N2: number, device: DeviceName) {
    this.kind = kind;
    this.batch = batch;
    this.H = H;
    this.N2 = N2;
    this.device = device;
    this.coef = keep(Tensor.fromFloats(coef, [H, coef.length / H], 'float32', device));
    try {
      this.st = keep(Tensor.empty([batch, H, N2], 'complex64', device));
      ops.fill({ out: this.st.handle, value: 0, n: this.st.floats });
      this.coefH = this.coef.handle;
      this.stH = this.st.handle;
    } catch (err) {
      this.coef.dispose();
      throw err;
    }
  }

  get isDisposed(): boolean {
    return this.coef === null;
  }

  private live(fn: string): { coef: Tensor; st: Tensor } {
    if (!this.coef || !this.st) throw new Error(`${this.kind}.${fn}: the stepper has been disposed`);
    return { coef: this.coef, st: this.st };
  }

  private run(fn: string, u: unknown, rank: 2 | 3, out: unknown, gelu = false): Tensor {
    const { coef, st } = this.live(fn);
    const name = `${this.kind}.${fn}`;
    const x = expectTensor(name, 'u', u, { dtype: 'float32', rank, device: this.device });
    if (x.shape[0] !== this.batch || x.shape[1] !== this.H) {
      const want = rank === 2 ? `[B, H] = [${this.batch}, ${this.H}]` : `[B, H, T] = [${this.batch}, ${this.H}, *]`;
      throw new RangeError(`${name}: argument 'u' must have shape ${want} (got [${x.shape.join(', ')}]); the batch is fixed when the stepper is made`);
    }
    const T = rank === 2 ? 1 : x.shape[2];
    const y = out === undefined ? Tensor.empty(x.shape, 'float32', this.device) : expectTensor(name, 'out', out, { dtype: 'float32', shape: x.shape, device: this.device });
    if (y === x) throw new RangeError(`${name}: argument 'out' must not be the input 'u'`);
    ops.ssmScan({ coef: coef.handle, state: st.handle, u: x.handle, y: y.handle, B: this.batch, H: this.H, N2: this.N2, T, gelu });
    return y;
  }

  /**
   * One token: u_t [B, H] -> y_t [B, H]. `out` (float32 [B, H] on the stepper's device)
   * receives y_t instead of a new tensor: no allocation per token. gelu: y_t = GELU(scan),
   * the S4 block's activation, in the same launch.
   */
  step(u: Tensor, out?: Tensor, opts?: { gelu?: boolean }): Tensor {
    const gelu = opts?.gelu === true;
    // Fast path: the checks of run() without building names or spec objects; anything
    // unusual (or any error) goes through run(), which reports it.
    if (
      this.coefH !== null &&
      out !== undefined &&
      out !== u &&
      this.matches(u) &&
      this.matches(out) &&
      !u.isDisposed &&
      !out.isDisposed
    ) {
      ops.ssmScan({ coef: this.coefH, state: this.stH, u: u.handle, y: out.handle, B: this.batch, H: this.H, N2: this.N2, T: 1, gelu });
      return out;
    }
    return this.run('step', u, 2, out, gelu);
  }

  /** A live-or-not float32 [B, H] tensor on this stepper's device. */
  private matches(t: unknown): t is Tensor {
    return (
      t instanceof Tensor &&
      t.dtype === 'float32' &&
      t.device === this.device &&
      t.shape.length === 2 &&
      t.shape[0] === this.batch &&
      t.shape[1] === this.H
    );
  }

  /**
   * @internal One token between raw buffers of B * H floats on this stepper's device,
   * unchecked in TypeScript (the addon still checks sizes and devices): for steppers of
   * whole blocks that own and have checked these buffers. gelu: y = GELU(y_t), the
   * activation of an S4 block, in the same launch.
   */
  stepBuffers(u: NativeBuffer, y: NativeBuffer, gelu = false): void {
    if (this.coefH === null) this.live('step');
    ops.ssmScan({ coef: this.coefH!, state: this.stH, u, y, B: this.batch, H: this.H, N2: this.N2, T: 1, gelu });
  }

  /** T tokens in one native call: u [B, H, T] -> y [B, H, T] (into `out` when given). */
  stepMany(u: Tensor, out?: Tensor): Tensor {
    return this.run('stepMany', u, 3, out);
  }

  /** A copy of the complex state, complex64 [B, H, N2]. */
  get state(): Tensor {
    return this.live('state').st.clone();
  }

  /** Back to the zero state. */
  reset(): void {
    const { st } = this.live('reset');
    ops.fill({ out: st.handle, value: 0, n: st.floats });
  }

  dispose(): void {
    this.coef?.dispose();
    this.st?.dispose();
    this.coef = null;
    this.st = null;
    this.coefH = null;
    this.stH = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function isTensorParams(params: unknown): boolean {
  return !!params && typeof params === 'object' && (params as { lambda?: unknown }).lambda instanceof Tensor;
}

function checkOptions(fn: string, opts: unknown): StepperOptions {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'batch'`);
  const o = opts as StepperOptions;
  expectInteger(fn, 'batch', o.batch, 1);
  if (o.device !== undefined && !isDeviceName(o.device)) {
    throw new TypeError(`${fn}: option 'device' must be 'cpu' or 'cuda' (got ${String(o.device)})`);
  }
  return o;
}

function skipOf(fn: string, d: StepperOptions['d'], H: number): Float64Array | null {
  if (d == null) return null;
  if (d instanceof Tensor) {
    const t = expectTensor(fn, 'd', d, { dtype: 'float32', shape: [H], dims: ['H'] });
    return Float64Array.from(t.dataSync());
  }
  if (typeof (d as ArrayLike<number>).length !== 'number') throw new TypeError(`${fn}: option 'd' must be a Tensor or an array of H numbers`);
  const a = Float64Array.from(d as ArrayLike<number>);
  if (a.length !== H) throw new RangeError(`${fn}: option 'd' must hold H = ${H} values (got ${a.length})`);
  return a;
}

function checkParams64(fn: string, p: { H?: unknown; N2?: unknown }): void {
  expectInteger(fn, 'params.H', p.H, 1);
  expectInteger(fn, 'params.N2', p.N2, 1);
}

/**
 * The float64 parameters, skip term and device of a stepper: downloaded from tensor
 * parameters (which run where they live), or a float64 set as given (on opts.device or the
 * current backend); opts.d overrides the skip term either way.
 */
function resolveParams<P extends DplrParams64 | DiagParams64>(
  fn: string,
  params: unknown,
  o: StepperOptions,
  fromTensors: (fn: string, params: unknown) => { p64: P; d: Float64Array | null; device: DeviceName },
): { p64: P; d: Float64Array | null; device: DeviceName } {
  let r: { p64: P; d: Float64Array | null; device: DeviceName };
  if (isTensorParams(params)) {
    r = fromTensors(fn, params);
  } else {
    if (params === null || typeof params !== 'object') throw new TypeError(`${fn}: argument 'params' must be an object`);
    checkParams64(fn, params as P);
    r = { p64: params as P, d: null, device: o.device ?? backend() };
  }
  if (o.d != null) r.d = skipOf(fn, o.d, r.p64.H);
  return r;
}

/**
 * The step coefficients of the last few parameter sets. Setting them up is float64 matrix
 * work in JS (C = C~ (I - Ab^L)^-1 per channel: seconds for a model of a few layers of 128
 * channels), and a server makes a stepper for every generation batch from the same
 * parameters; a lookup compares the parameter values themselves (O(H N)), so a changed
 * parameter never finds stale coefficients.
 */
const coefficientCache: { key: Float64Array[]; coef: Float32Array }[] = [];
const COEFFICIENT_CACHE_SIZE = 16;

function cachedCoefficients(parts: readonly ArrayLike<number>[], compute: () => Float32Array): Float32Array {
  const key = parts.map((a) => Float64Array.from(a));
  const same = (k: Float64Array[]): boolean => k.length === key.length && k.every((a, i) => a.length === key[i].length && a.every((v, j) => Object.is(v, key[i][j])));
  const hit = coefficientCache.findIndex((e) => same(e.key));
  if (hit >= 0) {
    const [e] = coefficientCache.splice(hit, 1);
    coefficientCache.push(e);
    return e.coef;
  }
  const coef = compute();
  coefficientCache.push({ key, coef });
  if (coefficientCache.length > COEFFICIENT_CACHE_SIZE) coefficientCache.shift();
  return coef;
}

/** A stepper of a DPLR (S4, bilinear) layer whose C~ was set up for length opts.L. */
export function stepper(params: DplrTensorParams | DplrParams64, opts: DplrStepperOptions): Stepper {
  const fn = 'stepper';
  const o = checkOptions(fn, opts);
  const L = expectInteger(fn, 'L', (opts as DplrStepperOptions).L, 1);
  const { p64, d, device } = resolveParams(fn, params, o, dplrParams64);
  const parts = [[0, p64.H, p64.N2, L], ...[p64.lambda, p64.p, p64.b, p64.cTilde].flatMap((c) => [c.re, c.im]), p64.dt, d ?? []];
  return new Stepper('stepper', cachedCoefficients(parts, () => dplrStepCoefficients(p64, L, d)), o.batch, p64.H, p64.N2, device);
}

/** A stepper of a diagonal (S4D, ZOH) layer; C is used directly. */
export function diagStepper(params: DiagTensorParams | DiagParams64, opts: StepperOptions): Stepper {
  const fn = 'diagStepper';
  const o = checkOptions(fn, opts);
  const { p64, d, device } = resolveParams(fn, params, o, diagParams64);
  const parts = [[1, p64.H, p64.N2], ...[p64.lambda, p64.b, p64.c].flatMap((c) => [c.re, c.im]), p64.dt, d ?? []];
  return new Stepper('diagStepper', cachedCoefficients(parts, () => diagStepCoefficients(p64, d)), o.batch, p64.H, p64.N2, device);
}
