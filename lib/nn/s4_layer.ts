/**
 * S4Layer: the official S4Block with its defaults, on channel-major activations.
 *
 *   u [B, H, L] -> k = kernel(params, L) [H, L] -> y = fftConv(u, k, D) -> GELU -> dropout
 *   -> Linear(H -> 2H) over channels -> GLU over channels -> [B, H, L]
 *
 * (residual and normalization belong to SequenceModel). Trainable parameters:
 *   logNegRe, imLambda  float32 [H, N2]: Lambda = -exp(logNegRe) + i imLambda (Re < 0 always)
 *   p (dplr), b         complex64 [H, N2]
 *   cTilde (dplr) | c (diag)  complex64 [H, N2]  (+ cTildeBwd | cBwd when bidirectional)
 *   logDt               float32 [H]: dt = exp(logDt)
 *   d                   float32 [H]: skip
 *   output.weight [2H, H], output.bias [2H]
 * Optimizer groups follow the official S4: A (logNegRe, imLambda, p), B and logDt are tagged
 * 'ssm' (own learning rate, no weight decay); C, D and the output linear are ordinary.
 *
 * Kernel length (dplr): C~ = C (I - Ab^lMax) is stored for lMax, so the kernel of length
 * lMax is exact. For a call with L < lMax the layer computes the length-lMax kernel and keeps
 * its first L taps (the official S4 does the same) with ops.slice, which has a native
 * backward on both backends. L > lMax is refused. The diagonal kernel has no length in its
 * parameters and is computed for L directly.
 *
 * Bidirectional: a second C (A, B, dt shared, as the official kernel with channels = 2);
 * y = conv(u, k) + flip(conv(flip(u), k_bwd)) + D u. It has no recurrent view.
 */
import { backend, type DeviceName } from '../backend';
import { noGrad } from '../autograd/tape';
import {
  add,
  complexFromParts,
  diagKernel,
  dplrKernel,
  exp,
  fftConv,
  flip,
  gelu,
  glu,
  linear,
  scale,
  slice,
} from '../ops/index';
import { expectInteger, expectNumber, expectTensor } from '../util/validate';
import { diagStepper, stepper as dplrStepper, type Stepper } from './stepper';
import { cToCTilde } from '../ssm/discretize';
import type { Measure } from '../ssm/hippo';
import { initDiag, initDplr } from '../ssm/init';
import type { Complex64Array } from '../ssm/types';
import { runAsync, type AsyncOptions } from '../tensor/async';
import { keep, runScope } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { Dropout } from './dropout';
import { Linear } from './linear';
import { Module } from './module';
import { Rng } from './random';

export type S4Kernel = 'dplr' | 'diag';
/**
 * HiPPO measure of the initialization. 'legs' and 'fout' for both kernels ('legt' needs a
 * rank-2 correction, so it is diagonal only); 'lin' and 'inv' (S4D-Lin, S4D-Inv) diagonal only.
 */
export type S4Init = 'legs' | 'legt' | 'fout' | 'lin' | 'inv';
const INITS: readonly S4Init[] = ['legs', 'legt', 'fout', 'lin', 'inv'];

export interface S4LayerOptions {
  /** Channels H. */
  dModel: number;
  /** State size N (N/2 conjugate pairs stored); default 64 as the official S4Block. */
  dState?: number;
  kernel?: S4Kernel;
  init?: S4Init;
  dtMin?: number;
  dtMax?: number;
  /** Longest sequence (dplr: the length C~ is set up for). Required for 'dplr'. */
  lMax?: number;
  bidirectional?: boolean;
  /** Dropout after the activation (default 0, as the official S4Block). */
  dropout?: number;
  seed?: number;
  device?: DeviceName;
}

function complexTensor(c: Complex64Array, shape: number[], device: DeviceName): Tensor {
  const inter = new Float32Array(2 * c.re.length);
  for (let i = 0; i < c.re.length; i++) {
    inter[2 * i] = c.re[i];
    inter[2 * i + 1] = c.im[i];
  }
  return Tensor.fromFloats(inter, shape, 'complex64', device);
}

function realTensor(a: ArrayLike<number>, shape: number[], device: DeviceName): Tensor {
  return Tensor.fromFloats(Float32Array.from(a), shape, 'float32', device);
}

/** One step of a layer's recurrent view (see S4Layer.stepper). */
export interface LayerStepper {
  /** u_t [B, H] -> y_t [B, H] (a new tensor). */
  step(u: Tensor): Tensor;
  /** u_t [B, H] -> y_t written into `out` (float32 [B, H], not `u`): no allocation. */
  stepInto(u: Tensor, out: Tensor): Tensor;
  /** step(u) without blocking the event loop (lib/tensor/async.ts); steps run in issue order. */
  stepAsync(u: Tensor, opts?: AsyncOptions): Promise<Tensor>;
  reset(): void;
  dispose(): void;
}

export class S4Layer extends Module {
  readonly H: number;
  readonly N2: number;
  readonly kernel: S4Kernel;
  readonly init: S4Init;
  readonly lMax: number | null;
  readonly bidirectional: boolean;
  readonly activationDropout: Dropout;
  readonly output: Linear;

  constructor(opts: S4LayerOptions) {
    super();
    const fn = 'S4Layer';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'dModel'`);
    const H = (this.H = expectInteger(fn, 'dModel', opts.dModel, 1));
    const N = expectInteger(fn, 'dState', opts.dState ?? 64, 2);
    if (N % 2 !== 0) throw new RangeError(`${fn}: option 'dState' must be even (N/2 conjugate pairs are stored; got ${N})`);
    this.N2 = N / 2;
    const kernel = opts.kernel ?? 'dplr';
    if (kernel !== 'dplr' && kernel !== 'diag') throw new TypeError(`${fn}: option 'kernel' must be 'dplr' or 'diag' (got ${String(kernel)})`);
    this.kernel = kernel;
    const init = opts.init ?? 'legs';
    if (!INITS.includes(init)) throw new TypeError(`${fn}: option 'init' must be one of ${INITS.map((i) => `'${i}'`).join(', ')} (got ${String(init)})`);
    if (kernel === 'dplr' && init !== 'legs' && init !== 'fout') {
      throw new RangeError(`${fn}: option 'init' must be 'legs' or 'fout' for kernel 'dplr' (got '${init}': its DPLR form needs a rank-2 correction or has no low-rank part); use kernel 'diag'`);
    }
    this.init = init;
    const dtMin = expectNumber(fn, 'dtMin', opts.dtMin ?? 0.001, Number.MIN_VALUE);
    const dtMax = expectNumber(fn, 'dtMax', opts.dtMax ?? 0.1, dtMin);
    if (kernel === 'dplr' && opts.lMax === undefined) throw new TypeError(`${fn}: option 'lMax' (the longest sequence) is required for kernel 'dplr'`);
    this.lMax = opts.lMax === undefined ? null : expectInteger(fn, 'lMax', opts.lMax, 1);
    this.bidirectional = opts.bidirectional ?? false;
    if (typeof this.bidirectional !== 'boolean') throw new TypeError(`${fn}: option 'bidirectional' must be a boolean`);
    const dropoutP = expectNumber(fn, 'dropout', opts.dropout ?? 0, 0, 1);
    const seed = expectInteger(fn, 'seed', opts.seed ?? 0, 0, 2 ** 32 - 1);
    const device = opts.device ?? backend();
    const rng = new Rng(seed);
    const shape = [H, this.N2];
    const ssm = { group: 'ssm' as const };

    if (kernel === 'dplr') {
      const p64 = initDplr({ H, N, init: init as Measure, dtMin, dtMax, L: this.lMax!, seed: rng.fork() });
      // The backward C is drawn as the forward one (a second init) and converted to C~
      // with this layer's shared A, B, dt.
      let cTildeBwd: Complex64Array | null = null;
      if (this.bidirectional) {
        const other = initDplr({ H, N, init: init as Measure, dtMin, dtMax, L: this.lMax!, seed: rng.fork() });
        cTildeBwd = cToCTilde(p64, other.c, this.lMax!);
      }
      this.registerLambda(p64.lambda, shape, device);
      this.registerParameter('p', complexTensor(p64.p, shape, device), ssm);
      this.registerParameter('b', complexTensor(p64.b, shape, device), ssm);
      this.registerParameter('cTilde', complexTensor(p64.cTilde, shape, device));
      if (cTildeBwd) this.registerParameter('cTildeBwd', complexTensor(cTildeBwd, shape, device));
      this.registerParameter('logDt', realTensor(p64.dt.map(Math.log), [H], device), ssm);
    } else {
      const p64 = initDiag({ H, N, init, dtMin, dtMax, seed: rng.fork() });
      const bwd = this.bidirectional ? initDiag({ H, N, init, dtMin, dtMax, seed: rng.fork() }) : null;
      this.registerLambda(p64.lambda, shape, device);
      this.registerParameter('b', complexTensor(p64.b, shape, device), ssm);
      this.registerParameter('c', complexTensor(p64.c, shape, device));
      if (bwd) this.registerParameter('cBwd', complexTensor(bwd.c, shape, device));
      this.registerParameter('logDt', realTensor(p64.dt.map(Math.log), [H], device), ssm);
    }
    // D ~ N(0, 1) as the official FFTConv.
    this.registerParameter('d', Tensor.fromFloats(rng.normalArray(H), [H], 'float32', device));
    this.activationDropout = this.registerModule('dropout', new Dropout(dropoutP, { seed: rng.fork() }));
    this.output = this.registerModule('output', new Linear(H, 2 * H, { seed: rng.fork(), device }));
  }

  private registerLambda(lambda: Complex64Array, shape: number[], device: DeviceName): void {
    for (let i = 0; i < lambda.re.length; i++) {
      if (!(lambda.re[i] < 0)) throw new RangeError(`S4Layer: the '${this.init}' initialization gave Re(lambda) >= 0 at index ${i}`);
    }
    this.registerParameter('logNegRe', realTensor(lambda.re.map((v) => Math.log(-v)), shape, device), { group: 'ssm' });
    this.registerParameter('imLambda', realTensor(lambda.im, shape, device), { group: 'ssm' });
  }

  /** Lambda (complex64 [H, N2]) from its trainable parts, with autograd. */
  lambda(): Tensor {
    return complexFromParts(scale(exp(this.param('logNegRe')), -1), this.param('imLambda'));
  }

  /** dt [H] = exp(logDt), with autograd. */
  dt(): Tensor {
    return exp(this.param('logDt'));
  }

  /** The convolution kernel(s) of length L: [H, L] (forward) and, bidirectional, the backward one. */
  kernels(L: number): { k: Tensor; kBwd: Tensor | null } {
    expectInteger('S4Layer', 'L', L, 1);
    const lambda = this.lambda();
    const dt = this.dt();
    // Re(lambda) = -exp(.) <= 0 and dt = exp(.) > 0 by construction; a parameter that turned
    // non-finite makes K NaN, which the loss shows. So the kernels check shapes only and do
    // not read the values back (that read would stall the host once per layer and step).
    const check = { check: 'shapes' as const };
    if (this.kernel === 'diag') {
      const base = { lambda, b: this.param('b'), dt };
      return {
        k: diagKernel({ ...base, c: this.param('c') }, L, check),
        kBwd: this.bidirectional ? diagKernel({ ...base, c: this.param('cBwd') }, L, check) : null,
      };
    }
    if (L > this.lMax!) {
      throw new RangeError(`S4Layer: the sequence length L = ${L} exceeds lMax = ${this.lMax} (C~ is set up for lMax); make the layer with a larger lMax`);
    }
    const base = { lambda, p: this.param('p'), b: this.param('b'), dt };
    const make = (cTilde: Tensor): Tensor => this.truncate(dplrKernel({ ...base, cTilde }, this.lMax!, check), L);
    return { k: make(this.param('cTilde')), kBwd: this.bidirectional ? make(this.param('cTildeBwd')) : null };
  }

  /** First L taps of k [H, lMax]. */
  private truncate(k: Tensor, L: number): Tensor {
    if (L === this.lMax) return k;
    return slice(k, 0, L);
  }

  /**
   * The sequence mixer of the block: u [B, H, L] -> GELU(conv(u, k) + D u) with the
   * activation dropout, [B, H, L] (bidirectional: plus the backward kernel's convolution of
   * the reversed input, reversed). The output linear and GLU follow in forward() or, inside
   * a SequenceModel, in the fused block tail (lib/nn/block.ts).
   */
  mix(u: Tensor): Tensor {
    const x = expectTensor('S4Layer.forward', 'u', u, { dtype: 'float32', rank: 3 });
    if (x.shape[1] !== this.H) {
      throw new RangeError(`S4Layer.forward: argument 'u' must have shape [B, H, L] with H = ${this.H} (got [${x.shape.join(', ')}])`);
    }
    const L = x.shape[2];
    const { k, kBwd } = this.kernels(L);
    let y = fftConv(x, k, this.param('d'));
    if (kBwd) y = add(y, flip(fftConv(flip(x), kBwd)));
    return this.activationDropout.forward(gelu(y));
  }

  /** u [B, H, L] -> GLU(Linear_{H -> 2H}(mix(u))) over channels: [B, H, L]. */
  forward(u: Tensor): Tensor {
    return glu(this.output.forwardChannels(this.mix(u)), 1);
  }

  /**
   * The recurrence of mix(): a scan stepper (with D) over tokens of this layer's current
   * parameters. Not available for bidirectional layers (they read the future).
   */
  recurrence(fn: string, batch: number): Stepper {
    if (this.bidirectional) throw new Error(`${fn}: a bidirectional layer has no recurrent view (it reads the future)`);
    // A scope frees lambda, dt and the intermediates that make them (the stepper keeps its own).
    return noGrad(() =>
      runScope(() => {
        const lambda = this.lambda();
        const dt = this.dt();
        return this.kernel === 'dplr'
          ? dplrStepper({ lambda, p: this.param('p'), b: this.param('b'), cTilde: this.param('cTilde'), dt, d: this.param('d') }, { batch, L: this.lMax! })
          : diagStepper({ lambda, b: this.param('b'), c: this.param('c'), dt, d: this.param('d') }, { batch });
      }, Tensor),
    );
  }

  /**
   * The recurrent view: a stepper over tokens u_t [B, H] -> y_t [B, H] that equals
   * forward() on the sequence fed so far. It snapshots the current parameters (make a new
   * one after training steps) and ignores dropout. Not available for bidirectional layers.
   * A token is forward()'s pipeline on preallocated buffers: the scan (GELU in its launch),
   * the linear and the GLU.
   */
  stepper(opts: { batch: number }): LayerStepper {
    const fn = 'S4Layer.stepper';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'batch'`);
    const batch = expectInteger(fn, 'batch', opts.batch, 1);
    const ssm = this.recurrence(fn, batch);
    const owned: Tensor[] = [];
    const own = (t: Tensor): Tensor => {
      owned.push(keep(t));
      return t;
    };
    const H = this.H;
    let weight: Tensor, bias: Tensor, mixed: Tensor, z: Tensor;
    try {
      weight = own(this.output.weight.clone());
      bias = own(this.output.bias!.clone());
      const device = weight.device;
      mixed = own(Tensor.empty([batch, H], 'float32', device));
      z = own(Tensor.empty([batch, 2 * H], 'float32', device));
    } catch (err) {
      owned.forEach((t) => t.dispose());
      ssm.dispose();
      throw err;
    }
    const device = weight.device;
    const tokenSpec = { dtype: 'float32' as const, shape: [batch, H], dims: ['B', 'H'], device };
    const stepInto = (u: Tensor, out: Tensor): Tensor => {
      expectTensor(`${fn}.step`, 'u', u, tokenSpec);
      expectTensor(`${fn}.step`, 'out', out, tokenSpec);
      if (out === u) throw new RangeError(`${fn}.step: argument 'out' must not be the input 'u'`);
      noGrad(() => {
        ssm.step(u, mixed, { gelu: true });
        linear(mixed, weight, bias, { out: z });
        glu(z, 1, { out });
      });
      return out;
    };
    return {
      step(u: Tensor): Tensor {
        expectTensor(`${fn}.step`, 'u', u, tokenSpec);
        const out = Tensor.empty([batch, H], 'float32', device);
        try {
          return stepInto(u, out);
        } catch (err) {
          out.dispose();
          throw err;
        }
      },
      stepInto,
      stepAsync(u: Tensor, opts: AsyncOptions = {}): Promise<Tensor> {
        return runAsync(() => this.step(u), opts, `${fn}.stepAsync`);
      },
      reset(): void {
        ssm.reset();
      },
      dispose(): void {
        ssm.dispose();
        owned.forEach((t) => t.dispose());
      },
    };
  }

}
