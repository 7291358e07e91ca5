/**
 * AdamW (decoupled weight decay, PyTorch's update order) with parameter groups:
 *
 *   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *
 * t counts the steps of each parameter (a parameter without a gradient is skipped and its
 * count does not advance, as in PyTorch). Complex parameters are updated as pairs of real
 * values (PyTorch's view_as_real), which is what grad = dL/dRe + i dL/dIm asks for.
 * The update of every parameter with a gradient is one native call per device
 * (ops.adamwStepMulti), with the floats of one ops.adamwStep per parameter: on the GPU a
 * training step's host time goes mostly to native calls. Groups come from
 * Module.parameterGroups(): the SSM parameters get their own lr and no weight decay.
 */
import { noGrad } from '../autograd/tape';
import type { ParamGroup } from '../nn/module';
import { adamwStepMulti, type AdamWMultiTensor } from '../ops/index';
import { expectInteger, expectNumber } from '../util/validate';
import { keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { ops } from '../native/binding';

/** Float32 zeros with one value per float of t (moments of complex parameters are real pairs). */
function zeros(t: Tensor): Tensor {
  const out = Tensor.empty([t.floats], 'float32', t.device);
  ops.fill({ out: out.handle, value: 0, n: out.floats });
  return out;
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** A group as the optimizer holds it; schedules change `lr`. */
export interface OptimGroup {
  params: Tensor[];
  names: string[];
  lr: number;
  /** The lr the group was made with (schedules scale it). */
  initialLr: number;
  weightDecay: number;
}

/** A serializable snapshot of the optimizer (see AdamW.stateDict). */
export interface AdamWState {
  /** Learning rates and weight decays of the groups, in order. */
  groups: { lr: number; initialLr: number; weightDecay: number }[];
  /** Per group, per parameter (the order of paramGroups): null before its first update. */
  params: ({ step: number; m: Float32Array; v: Float32Array } | null)[][];
}

interface ParamState {
  m: Tensor;
  v: Tensor;
  step: number;
}

export class AdamW {
  readonly paramGroups: OptimGroup[];
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly state = new Map<Tensor, ParamState>();

  constructor(params: Iterable<Tensor> | ParamGroup[], opts: AdamWOptions = {}) {
    const fn = 'AdamW';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object`);
    const lr = expectNumber(fn, 'lr', opts.lr ?? 1e-3, 0);
    const betas = opts.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new TypeError(`${fn}: option 'betas' must be [beta1, beta2]`);
    this.beta1 = expectNumber(fn, 'betas[0]', betas[0], 0, 1);
    this.beta2 = expectNumber(fn, 'betas[1]', betas[1], 0, 1);
    if (this.beta1 >= 1 || this.beta2 >= 1) throw new RangeError(`${fn}: option 'betas' must be in [0, 1) (got [${betas.join(', ')}])`);
    this.eps = expectNumber(fn, 'eps', opts.eps ?? 1e-8, Number.MIN_VALUE);
    const weightDecay = expectNumber(fn, 'weightDecay', opts.weightDecay ?? 0.01, 0);

    if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`${fn}: argument 'params' must be an array of tensors or of parameter groups`);
    }
    const list = [...(params as Iterable<unknown>)];
    const groups: ParamGroup[] = list.every((p) => p instanceof Tensor) ? [{ params: list as Tensor[] }] : (list as ParamGroup[]);
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g, gi) => {
      if (g === null || typeof g !== 'object' || !Array.isArray(g.params)) {
        throw new TypeError(`${fn}: params[${gi}] must be a Tensor or a group { params: Tensor[], lr?, weightDecay? }`);
      }
      g.params.forEach((p, i) => {
        if (!(p instanceof Tensor)) throw new TypeError(`${fn}: group ${gi} params[${i}] must be a Tensor`);
        if (p.isDisposed) throw new Error(`${fn}: group ${gi} params[${i}] has been disposed`);
        if (seen.has(p)) throw new Error(`${fn}: group ${gi} params[${i}] ('${p.name ?? '?'}') appears in more than one place`);
        seen.add(p);
      });
      const glr = expectNumber(fn, `params[${gi}].lr`, g.lr ?? lr, 0);
      return {
        params: [...g.params],
        names: g.names ? [...g.names] : g.params.map((p, i) => p.name ?? String(i)),
        lr: glr,
        initialLr: glr,
        weightDecay: expectNumber(fn, `params[${gi}].weightDecay`, g.weightDecay ?? weightDecay, 0),
      };
    });
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const g of this.paramGroups) expectNumber('AdamW.step', 'lr', g.lr, 0);
      const tensors: AdamWMultiTensor[] = [];
      for (const g of this.paramGroups) {
        for (const p of g.params) {
          if (!p.grad) continue;
          let st = this.state.get(p);
          if (!st) {
            st = { m: keep(zeros(p)), v: keep(zeros(p)), step: 0 };
            this.state.set(p, st);
          }
          // Complex parameters are updated in place as their interleaved floats.
          tensors.push({ param: p, grad: p.grad, m: st.m, v: st.v, lr: g.lr, weightDecay: g.weightDecay, step: st.step + 1 });
        }
      }
      adamwStepMulti(tensors, { beta1: this.beta1, beta2: this.beta2, eps: this.eps });
      // The counts advance after the update, so that a call refused by its checks leaves them as they were.
      for (const t of tensors) this.state.get(t.param)!.step = t.step;
    });
  }

  /** A copy of the optimizer's state (moments downloaded), for checkpoints. */
  stateDict(): AdamWState {
    return {
      groups: this.paramGroups.map((g) => ({ lr: g.lr, initialLr: g.initialLr, weightDecay: g.weightDecay })),
      params: this.paramGroups.map((g) =>
        g.params.map((p) => {
          const st = this.state.get(p);
          return st ? { step: st.step, m: st.m.dataSync(), v: st.v.dataSync() } : null;
        }),
      ),
    };
  }

  /**
   * Restores a stateDict() taken from an optimizer over parameters of the same shapes in the
   * same groups. Everything is checked before anything is changed.
   */
  loadStateDict(state: AdamWState): void {
    const fn = 'AdamW.loadStateDict';
    if (state === null || typeof state !== 'object' || !Array.isArray(state.groups) || !Array.isArray(state.params)) {
      throw new TypeError(`${fn}: argument 'state' must be { groups, params } as made by stateDict()`);
    }
    if (state.groups.length !== this.paramGroups.length || state.params.length !== this.paramGroups.length) {
      throw new RangeError(`${fn}: the state has ${state.groups.length} groups, the optimizer ${this.paramGroups.length}`);
    }
    const writes: [Tensor, number, Float32Array, Float32Array][] = [];
    this.paramGroups.forEach((g, gi) => {
      const sg = state.groups[gi];
      expectNumber(fn, `groups[${gi}].lr`, sg?.lr, 0);
      expectNumber(fn, `groups[${gi}].initialLr`, sg?.initialLr, 0);
      expectNumber(fn, `groups[${gi}].weightDecay`, sg?.weightDecay, 0);
      const sp = state.params[gi];
      if (!Array.isArray(sp) || sp.length !== g.params.length) {
        throw new RangeError(`${fn}: group ${gi} of the state must hold ${g.params.length} parameters (got ${Array.isArray(sp) ? sp.length : typeof sp})`);
      }
      g.params.forEach((p, i) => {
        const e = sp[i];
        if (e === null) return;
        const where = `params[${gi}][${i}] ('${g.names[i]}')`;
        expectInteger(fn, `${where}.step`, e?.step, 1, Number.MAX_SAFE_INTEGER);
        for (const key of ['m', 'v'] as const) {
          const a = e[key];
          if (!(a instanceof Float32Array) && !Array.isArray(a)) throw new TypeError(`${fn}: ${where}.${key} must be a Float32Array`);
          if (a.length !== p.floats) throw new RangeError(`${fn}: ${where}.${key} must hold ${p.floats} values (got ${a.length})`);
          for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) throw new RangeError(`${fn}: ${where}.${key} has a non-finite value at ${k}`);
        }
        writes.push([p, e.step, Float32Array.from(e.m), Float32Array.from(e.v)]);
      });
    });
    this.dispose();
    this.paramGroups.forEach((g, gi) => {
      g.lr = state.groups[gi].lr;
      g.initialLr = state.groups[gi].initialLr;
      g.weightDecay = state.groups[gi].weightDecay;
    });
    for (const [p, step, m, v] of writes) {
      this.state.set(p, { step, m: keep(Tensor.fromFloats(m, [p.floats], 'float32', p.device)), v: keep(Tensor.fromFloats(v, [p.floats], 'float32', p.device)) });
    }
  }

  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (p.grad) {
          p.grad.dispose();
          p.grad = null;
        }
      }
    }
  }

  /** The moments (float32, one value per float of the parameter) and step count of a parameter (null before its first update). */
  stateOf(p: Tensor): { m: Tensor; v: Tensor; step: number } | null {
    const st = this.state.get(p);
    return st ? { ...st } : null;
  }

  /** Frees the moment buffers. */
  dispose(): void {
    for (const st of this.state.values()) {
      st.m.dispose();
      st.v.dispose();
    }
    this.state.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
