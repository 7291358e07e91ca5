/**
 * Module: a tree of named parameters and sub-modules (as torch.nn.Module). Parameter names
 * are dotted paths ("layers.0.s4.logDt"). Parameters are kept out of tidy scopes and owned
 * by the module: dispose() frees them. Sub-classes read their parameters through
 * param(name) on every forward, so that to(device) and loadStateDict can swap or refill
 * the tensors without leaving stale references behind. Buffers (registerBuffer) are the
 * non-trainable state a module updates itself (BatchNorm's running statistics): owned the
 * same way, in stateDict and loadStateDict beside the parameters (as torch's buffers) and
 * moved by to(), but without gradients and outside the optimizer groups.
 */
import { isDeviceName, type DeviceName } from '../backend';
import { core } from '../native/binding';
import { noGrad } from '../autograd/tape';
import { runAsync, type AsyncOptions } from '../tensor/async';
import { keep } from '../tensor/scope';
import { Tensor, type DType } from '../tensor/tensor';

/** Per-parameter optimizer hints (the official S4's `_optim` attribute). */
export interface ParamOptions {
  /**
   * Optimizer group: 'ssm' parameters (A, B) get their own learning rate and no weight
   * decay; 'dt' ones join them unless a dt learning rate is given (the official `lr` dict
   * has separate entries for dt, A and B).
   */
  group?: 'ssm' | 'dt' | 'default';
}

/** A serializable value of a state dict entry (what stateDict().map(t => t.dataSync()) gives). */
export interface StateValue {
  shape: readonly number[];
  dtype?: DType;
  /** Floats in row-major order (interleaved re, im for complex64). */
  data: ArrayLike<number>;
}

export type StateDict = Record<string, Tensor | StateValue>;

/** One optimizer parameter group (see optim/adamw.ts). */
export interface ParamGroup {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
  /** Names of the parameters, parallel to params (for messages and checkpoints). */
  names?: string[];
}

export interface GroupOptions {
  /** Learning rate of the ordinary parameters. */
  lr: number;
  /** Weight decay of the ordinary parameters (default 0.01, AdamW's). */
  weightDecay?: number;
  /** Learning rate of the SSM parameters (default min(0.001, lr), as the official S4 example). */
  ssmLr?: number;
  /** Weight decay of the SSM parameters (default 0). */
  ssmWeightDecay?: number;
  /**
   * Learning rate of dt (the parameters tagged 'dt'): given, they form a third group with
   * it (weight decay ssmWeightDecay); left out, they are in the SSM group.
   */
  dtLr?: number;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$|^[0-9]+$/;

export class Module {
  /** Training mode (dropout active); see train() / eval(). */
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownOptions = new Map<string, ParamOptions>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly childModules = new Map<string, Module>();
  private disposed = false;

  /**
   * forward(x) without blocking the event loop and without recording gradients: the CPU
   * work runs on a worker thread (CUDA: the wait for the stream does). Resolves to the
   * output; `signal` cancels between ops (an AbortError). See lib/tensor/async.ts.
   */
  forwardAsync(this: Module & { forward(x: Tensor): Tensor }, x: Tensor, opts: AsyncOptions = {}): Promise<Tensor> {
    return runAsync(() => noGrad(() => this.forward(x)), opts, `${this.constructor.name}.forwardAsync`);
  }

  /** Registers (and takes ownership of) a parameter tensor; it gets requiresGrad. */
  protected registerParameter(name: string, t: Tensor, opts: ParamOptions = {}): Tensor {
    this.checkName(name);
    if (!(t instanceof Tensor)) throw new TypeError(`${this.constructor.name}: parameter '${name}' must be a Tensor`);
    t.requiresGrad = true;
    t.name = name;
    this.ownParams.set(name, keep(t));
    this.ownOptions.set(name, { ...opts });
    return t;
  }

  /**
   * Registers (and takes ownership of) a buffer: state the module updates without
   * gradients (running statistics), saved and loaded with the parameters.
   */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    if (!(t instanceof Tensor)) throw new TypeError(`${this.constructor.name}: buffer '${name}' must be a Tensor`);
    t.requiresGrad = false;
    t.name = name;
    this.ownBuffers.set(name, keep(t));
    return t;
  }

  /** Registers a sub-module under `name`. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    if (!(m instanceof Module)) throw new TypeError(`${this.constructor.name}: sub-module '${name}' must be a Module`);
    this.childModules.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw new TypeError(`${this.constructor.name}: invalid name '${String(name)}'`);
    if (this.ownParams.has(name) || this.ownBuffers.has(name) || this.childModules.has(name)) throw new Error(`${this.constructor.name}: '${name}' is already registered`);
  }

  /** One of this module's own parameters. */
  param(name: string): Tensor {
    if (this.disposed) throw new Error(`${this.constructor.name}: the module has been disposed`);
    const t = this.ownParams.get(name);
    if (!t) throw new RangeError(`${this.constructor.name}: no parameter named '${name}'`);
    return t;
  }

  /** One of this module's own buffers. */
  buffer(name: string): Tensor {
    if (this.disposed) throw new Error(`${this.constructor.name}: the module has been disposed`);
    const t = this.ownBuffers.get(name);
    if (!t) throw new RangeError(`${this.constructor.name}: no buffer named '${name}'`);
    return t;
  }

  /** Every buffer with its dotted name, own buffers first, in registration order. */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownBuffers) out.push([prefix ? `${prefix}.${n}` : n, t]);
    for (const [n, m] of this.childModules) out.push(...m.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Parameters, then buffers: everything stateDict() holds, by dotted name. */
  namedState(): [string, Tensor][] {
    return [...this.namedParameters(), ...this.namedBuffers()];
  }

  /** Direct sub-modules with their names. */
  namedChildren(): [string, Module][] {
    return [...this.childModules.entries()];
  }

  /** This module and every descendant, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.childModules) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Every parameter with its dotted name, own parameters first, in registration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    return this.namedParametersWithOptions(prefix).map(([n, t]) => [n, t]);
  }

  private namedParametersWithOptions(prefix: string): [string, Tensor, ParamOptions][] {
    const out: [string, Tensor, ParamOptions][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix ? `${prefix}.${n}` : n, t, this.ownOptions.get(n)!]);
    for (const [n, m] of this.childModules) out.push(...m.namedParametersWithOptions(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Number of trainable scalars (a complex value counts as two). */
  parameterCount(): number {
    return this.parameters().reduce((a, t) => a + t.floats, 0);
  }

  /**
   * Optimizer groups as in the official S4: parameters tagged 'ssm' (log(-Re lambda),
   * Im lambda, P, B) and 'dt' (log dt) get ssmLr and ssmWeightDecay; everything else lr and
   * weightDecay. With dtLr, the 'dt' parameters form their own group (lr dtLr, weight decay
   * ssmWeightDecay), as the official `lr` dict's separate dt entry. Empty groups are left out.
   */
  parameterGroups(opts: GroupOptions): ParamGroup[] {
    if (opts === null || typeof opts !== 'object') throw new TypeError("parameterGroups: argument 'opts' must be an object with 'lr'");
    const { lr } = opts;
    if (typeof lr !== 'number' || !(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`parameterGroups: option 'lr' must be a finite number >= 0 (got ${String(lr)})`);
    const main: ParamGroup = { params: [], names: [], lr, weightDecay: opts.weightDecay ?? 0.01 };
    const ssm: ParamGroup = { params: [], names: [], lr: opts.ssmLr ?? Math.min(0.001, lr), weightDecay: opts.ssmWeightDecay ?? 0 };
    const dtLr = opts.dtLr;
    if (dtLr !== undefined && (typeof dtLr !== 'number' || !(dtLr >= 0) || !Number.isFinite(dtLr))) {
      throw new RangeError(`parameterGroups: option 'dtLr' must be a finite number >= 0 (got ${String(dtLr)})`);
    }
    const dt: ParamGroup = dtLr === undefined ? ssm : { params: [], names: [], lr: dtLr, weightDecay: opts.ssmWeightDecay ?? 0 };
    for (const [n, t, o] of this.namedParametersWithOptions('')) {
      const g = o.group === 'ssm' ? ssm : o.group === 'dt' ? dt : main;
      g.params.push(t);
      g.names!.push(n);
    }
    return (dt === ssm ? [main, ssm] : [main, ssm, dt]).filter((g) => g.params.length > 0);
  }

  /** Sets training mode here and below (dropout on); returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets evaluation mode here and below (dropout off); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Clears the .grad of every parameter. */
  zeroGrad(): void {
    for (const t of this.parameters()) {
      if (t.grad) {
        t.grad.dispose();
        t.grad = null;
      }
    }
  }

  /** Copies of every parameter and buffer by dotted name; the caller owns (and disposes) them. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [n, t] of this.namedState()) out[n] = keep(t.clone());
    return out;
  }

  /**
   * Copies values into the parameters and buffers (their tensors stay the same objects, so
   * an optimizer made before keeps working). strict: every parameter and buffer must be
   * present and no unknown name may appear.
   */
  loadStateDict(state: StateDict, opts: { strict?: boolean } = {}): void {
    const fn = 'loadStateDict';
    if (state === null || typeof state !== 'object') throw new TypeError(`${fn}: argument 'state' must be an object of named tensors`);
    const strict = opts.strict ?? true;
    const params = new Map(this.namedState());
    if (strict) {
      for (const n of Object.keys(state)) if (!params.has(n)) throw new RangeError(`${fn}: unexpected key '${n}' (the module has no such parameter or buffer)`);
      for (const n of params.keys()) if (!(n in state)) throw new RangeError(`${fn}: missing key '${n}'`);
    }
    // Validate everything before writing anything, so a bad entry leaves the module intact.
    const writes: [Tensor, Tensor | Float32Array][] = [];
    for (const [n, t] of params) {
      const v = state[n];
      if (v === undefined) continue;
      const shape = v instanceof Tensor ? v.shape : v?.shape;
      const dtype = v instanceof Tensor ? v.dtype : (v?.dtype ?? 'float32');
      if (!Array.isArray(shape) && !(v instanceof Tensor)) throw new TypeError(`${fn}: entry '${n}' must be a Tensor or { shape, dtype?, data }`);
      if (dtype !== t.dtype) throw new TypeError(`${fn}: entry '${n}' must be ${t.dtype} (got ${dtype})`);
      if (shape!.length !== t.rank || shape!.some((s, i) => s !== t.shape[i])) {
        throw new RangeError(`${fn}: entry '${n}' must have shape [${t.shape.join(', ')}] (got [${shape!.join(', ')}])`);
      }
      if (v instanceof Tensor) {
        if (v.isDisposed) throw new Error(`${fn}: entry '${n}' has been disposed`);
        writes.push([t, v]);
      } else {
        const data = v.data instanceof Float32Array ? v.data : Float32Array.from(v.data ?? []);
        if (data.length !== t.floats) throw new RangeError(`${fn}: entry '${n}' must hold ${t.floats} floats (got ${data.length})`);
        for (let i = 0; i < data.length; i++) {
          if (!Number.isFinite(data[i])) throw new RangeError(`${fn}: entry '${n}' has a non-finite value at index ${i}`);
        }
        writes.push([t, data]);
      }
    }
    for (const [t, v] of writes) {
      if (v instanceof Tensor) core.copy(t.handle, v.handle);
      else core.write(t.handle, v);
    }
  }

  /** Moves every parameter and buffer to `device` (in place; make optimizers after this). */
  to(device: DeviceName): this {
    if (!isDeviceName(device)) throw new TypeError(`to: argument 'device' must be 'cpu' or 'cuda' (got ${String(device)})`);
    for (const [, m] of this.namedModules()) m.moveOwn(device);
    return this;
  }

  private moveOwn(device: DeviceName): void {
    for (const [n, t] of this.ownParams) {
      if (t.device === device) continue;
      const moved = keep(t.to(device));
      moved.requiresGrad = true;
      moved.name = t.name;
      t.dispose();
      this.ownParams.set(n, moved);
    }
    for (const [n, t] of this.ownBuffers) {
      if (t.device === device) continue;
      const moved = keep(t.to(device));
      moved.name = t.name;
      t.dispose();
      this.ownBuffers.set(n, moved);
    }
  }

  /** The device of the parameters ('cpu' for a module without any). */
  get device(): DeviceName {
    const first = this.parameters()[0];
    return first ? first.device : 'cpu';
  }

  /** Frees every parameter (and its gradient) and buffer here and below. */
  dispose(): void {
    for (const [, m] of this.namedModules()) m.disposeOwn();
  }

  protected disposeOwn(): void {
    for (const t of this.ownParams.values()) t.dispose();
    for (const t of this.ownBuffers.values()) t.dispose();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
