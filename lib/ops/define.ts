/**
 * defineOp: the one shape of every differentiable op wrapper. It checks the input tensors
 * (live, dtype, one device, then the rank or non-emptiness an input declares), asks the op
 * for its plan (sizes and the output shape), takes the caller's `out` or allocates it, runs
 * the native forward, and records the backward with gradient buffers allocated for the
 * inputs that need them. Tensors the forward saves for the backward (statistics,
 * probabilities) come from its ctx.save and are freed after the backward ran, at once when
 * nothing is recorded, or when the forward throws.
 * See docs/ARCHITECTURE.md, "Adding an op".
 *
 *   const linearOp = defineOp({
 *     name: 'linear',
 *     inputs: { x: { dtype: 'float32', nonEmpty: true }, w: { dtype: 'float32', rank: 2 }, bias: 'float32?' },
 *     plan: ({ x, w }, _args: undefined) => ({ shape: [...], M, K, N }),
 *     forward: ({ x, w, bias }, out, p) => { ops.linearForward({ ... }); },
 *     backward: (g, { x, w, bias }, p, grads) => { ops.linearBackward({ ... }); },
 *   });
 *   linearOp({ x, w, bias }, undefined, { out })   // scalars second; out: a preallocated result
 */
import { isGradEnabled, record } from '../autograd/tape';
import type { DeviceName } from '../backend';
import type { NativeBuffer } from '../native/binding';
import { Tensor, type DType } from '../tensor/tensor';
import { expectNonEmpty, expectTensor, sameDevice } from '../util/validate';

/**
 * An input: its dtype, where a trailing '?' makes it optional (null or undefined), or a
 * required input with the checks of its shape that need no other input.
 */
export type InputKind = DType | `${DType}?` | InputSpec;

export interface InputSpec {
  dtype: DType;
  /** The exact rank. */
  rank?: number;
  /** Rank >= 1 and no zero-sized dimension (kernels that need one element). */
  nonEmpty?: boolean;
}
type InputTensors<S extends Record<string, InputKind>> = {
  [K in keyof S]: S[K] extends `${string}?` ? Tensor | null : Tensor;
};
type InputArgs<S extends Record<string, InputKind>> = {
  [K in keyof S]: S[K] extends `${string}?` ? Tensor | null | undefined : Tensor;
};
/** Gradient buffers, allocated for the inputs that need one (null for the others). */
export type Grads<S extends Record<string, InputKind>> = { [K in keyof S]: Tensor | null };

export interface Plan {
  /** Shape of the output. */
  shape: readonly number[];
  /** Output dtype (default float32). */
  dtype?: DType;
}

export interface OpOptions {
  /** A tensor of the output's shape, dtype and device to write into (no allocation). */
  out?: Tensor;
}

export interface OpDefinition<S extends Record<string, InputKind>, A, P extends Plan> {
  name: string;
  inputs: S;
  /**
   * Checks what the input checks cannot (shape relations, the scalar arguments `args`) and
   * sizes the call.
   */
  plan(inputs: InputTensors<S>, args: A, device: DeviceName): P;
  /**
   * Writes the output. Tensors the backward needs beyond the inputs and the output
   * (statistics, probabilities) come from ctx.save; defineOp frees them after the backward,
   * at once when none will be recorded (ctx.recording false: a kernel may then skip them),
   * or when the forward throws.
   */
  forward(inputs: InputTensors<S>, out: Tensor, plan: P, ctx: ForwardContext): void;
  /**
   * Fills `grads` from the output gradient g. Gradient buffers are uninitialized; return an
   * object to replace some of them (a kernel that does not write a buffer leaves it null).
   */
  backward?(g: Tensor, inputs: InputTensors<S>, plan: P, grads: Grads<S>, saved: readonly Tensor[], out: Tensor): Partial<Grads<S>> | void;
  /** Gradient buffers for every input, also those that need none (kernels that write all). */
  allGrads?: boolean;
  /** The output may be one of the inputs (elementwise kernels that allow it). */
  inPlace?: boolean;
}

/** What defineOp tells a forward: whether a backward will be recorded, and where to save. */
export interface ForwardContext {
  readonly recording: boolean;
  /** A new tensor for the backward, owned by defineOp. */
  save(shape: readonly number[], dtype?: DType): Tensor;
}

/** The op: tensors by name, its scalar arguments (undefined when it has none), options. */
export type Op<S extends Record<string, InputKind>, A> = (inputs: InputArgs<S>, args: A, opts?: OpOptions) => Tensor;

/** The native handle of an optional tensor. */
export function handle(t: Tensor | null | undefined): NativeBuffer | null {
  return t ? t.handle : null;
}

function inputSpec(kind: InputKind): InputSpec & { optional: boolean } {
  if (typeof kind !== 'string') return { ...kind, optional: false };
  const optional = kind.endsWith('?');
  return { dtype: (optional ? kind.slice(0, -1) : kind) as DType, optional };
}

export function defineOp<S extends Record<string, InputKind>, A, P extends Plan>(def: OpDefinition<S, A, P>): Op<S, A> {
  const names = Object.keys(def.inputs) as (keyof S & string)[];
  const specs = names.map((n) => inputSpec(def.inputs[n]));
  const fn = def.name;
  return (args: InputArgs<S>, scalars: A, opts?: OpOptions): Tensor => {
    const inputs = {} as Record<string, Tensor | null>;
    names.forEach((name, i) => {
      const value = (args as Record<string, unknown>)[name];
      const absent = value === null || value === undefined;
      inputs[name] = specs[i].optional && absent ? null : expectTensor(fn, name, value, { dtype: specs[i].dtype });
    });
    const device = sameDevice(fn, inputs);
    // The declared shape checks run where a plan's own checks would: after the device check.
    names.forEach((name, i) => {
      const { rank, nonEmpty } = specs[i];
      if (rank !== undefined) expectTensor(fn, name, inputs[name], { rank });
      if (nonEmpty) expectNonEmpty(fn, name, inputs[name]!);
    });
    const typed = inputs as InputTensors<S>;
    const plan = def.plan(typed, scalars, device);
    const out = opts?.out === undefined ? Tensor.empty(plan.shape, plan.dtype ?? 'float32', device) : checkOut(fn, opts.out, plan, device, inputs, def.inPlace === true);
    const allocated = opts?.out === undefined;
    const backward = def.backward;
    const list = names.map((n) => inputs[n]);
    const recording = backward !== undefined && isGradEnabled() && list.some((t) => t && t.requiresGrad);
    const saved: Tensor[] = [];
    const ctx: ForwardContext = {
      recording,
      save: (shape, dtype = 'float32') => {
        const t = Tensor.empty(shape, dtype, device);
        saved.push(t);
        return t;
      },
    };
    try {
      def.forward(typed, out, plan, ctx);
    } catch (err) {
      for (const s of saved) s.dispose();
      if (allocated) out.dispose();
      throw err;
    }
    if (!recording) {
      for (const s of saved) s.dispose();
      return out;
    }
    record(
      out,
      list,
      (g, retain) => {
        const grads = {} as Record<string, Tensor | null>;
        try {
          for (const n of names) {
            const t = inputs[n];
            grads[n] = t && (def.allGrads || t.requiresGrad) ? Tensor.empty(t.shape, t.dtype, t.device) : null;
          }
          const replaced = backward!(g, typed, plan, grads as Grads<S>, saved, out);
          if (replaced) {
            for (const [n, t] of Object.entries(replaced)) {
              if (grads[n] && grads[n] !== t) grads[n]!.dispose();
              grads[n] = (t as Tensor | null) ?? null;
            }
          }
        } catch (err) {
          for (const t of Object.values(grads)) t?.dispose();
          throw err;
        } finally {
          // A retained graph runs this backward again: its saved tensors stay (the tidy
          // scope of the forward, or the backward that releases the graph, frees them).
          if (!retain) for (const s of saved) s.dispose();
        }
        return names.map((n) => {
          const t = grads[n];
          if (t && !inputs[n]!.requiresGrad) {
            t.dispose();
            return null;
          }
          return t;
        });
      },
      fn,
    );
    return out;
  };
}

function checkOut(fn: string, out: unknown, plan: Plan, device: DeviceName, inputs: Record<string, Tensor | null>, inPlace: boolean): Tensor {
  const t = expectTensor(fn, 'out', out, { dtype: plan.dtype ?? 'float32', shape: plan.shape, device });
  if (!inPlace) {
    for (const [name, input] of Object.entries(inputs)) {
      if (input === t) throw new RangeError(`${fn}: option 'out' must not be the input '${name}'`);
    }
  }
  return t;
}
