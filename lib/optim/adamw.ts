/**
 * AdamW (decoupled weight decay, PyTorch's update order) with parameter groups:
 *
 *   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *
 * t counts the steps of each parameter (a parameter without a gradient is skipped and its
 * count does not advance, as in PyTorch). Complex parameters are updated as pairs of real
 * values (PyTorch's view_as_real), which is what grad = dL/dRe + i dL/dIm asks for.
 * The update is one fused native call per parameter (ops.adamwStep). Groups come from
 * Module.parameterGroups(): the SSM parameters get their own lr and no weight decay.
 */
import { noGrad } from '../autograd/tape';
import type { ParamGroup } from '../nn/module';
import { adamwStep } from '../ops/index';
import { expectNumber } from '../ops/validate';
import { keep } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { core } from '../native/addon';

/** Float32 zeros with one value per float of t (moments of complex parameters are real pairs). */
function zeros(t: Tensor): Tensor {
  const out = Tensor.empty([t.floats], 'float32', t.device);
  core.fill(out.handle, 0, out.floats);
  return out;
}

function floatCopy(t: Tensor): Tensor {
  const out = Tensor.empty([t.floats], 'float32', t.device);
  core.copy(out.handle, t.handle);
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
      for (const g of this.paramGroups) {
        expectNumber('AdamW.step', 'lr', g.lr, 0);
        g.params.forEach((p) => {
          if (!p.grad) return;
          let st = this.state.get(p);
          if (!st) {
            st = { m: keep(zeros(p)), v: keep(zeros(p)), step: 0 };
            this.state.set(p, st);
          }
          st.step++;
          const opts = { lr: g.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: g.weightDecay, step: st.step };
          if (p.dtype === 'float32') {
            adamwStep(p, p.grad, st.m, st.v, opts);
            return;
          }
          // Complex: update the interleaved floats through float32 copies, then copy back.
          const pf = floatCopy(p);
          const gf = floatCopy(p.grad);
          try {
            adamwStep(pf, gf, st.m, st.v, opts);
            core.copy(p.handle, pf.handle);
          } finally {
            pf.dispose();
            gf.dispose();
          }
        });
      }
    });
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
