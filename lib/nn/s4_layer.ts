/**
 * S4Layer: the official S4Block with its defaults, on channel-major activations.
 *
 *   u [B, H, L] -> k = kernel(params, L) [C H, L] -> y = fftConv(tile(u), k, D) -> GELU
 *   -> dropout -> Linear(C H -> 2H) over channels -> GLU over channels -> [B, H, L]
 *
 * (residual and normalization belong to SequenceModel). C = `channels` output channels per
 * SSM (official FFTConv `channels`: the kernel maps one input sequence to C; the C H outputs
 * are ordered (c, h), the official '(c h)'), S = `nSsm` independent copies of (A, B, P)
 * shared over H: channel h uses copy h mod S (the official repeat 't n -> (v t) n'). dt is
 * per channel H, as in the official kernel (its inv_dt is (H, 1) whatever n_ssm).
 * Trainable parameters (the defaults C = 1, S = H give the shapes of the first release):
 *   logNegRe, imLambda  float32 [S, N2]: Lambda = -exp(logNegRe) + i imLambda (Re < 0 always)
 *   p (dplr), b         complex64 [S, N2]
 *   cTilde (dplr) | c (diag)  complex64 [H, N2] when C = 1, else [C, H, N2]
 *                       (+ cTildeBwd | cBwd of the same shape when bidirectional)
 *   logDt               float32 [H]: dt = exp(logDt)
 *   d                   float32 [H] when C = 1, else [C, H]: skip
 *   output.weight [2H, C H], output.bias [2H]
 * Optimizer groups follow the official S4 `lr` dict: A (logNegRe, imLambda, p) and B are
 * tagged 'ssm', logDt 'dt' (own learning rate, no weight decay; dt joins the 'ssm' group
 * unless a dt learning rate is given); C, D and the output linear are ordinary.
 *
 * Kernel length (dplr): C~ = C (I - Ab^lMax) is stored for lMax, so the kernel of length
 * lMax is exact. For a call with L < lMax the layer computes the length-lMax kernel and keeps
 * its first L taps (the official S4 does the same) with ops.slice. For L > lMax,
 * `longInputs` decides: 'grow' (default) doubles lMax until it covers L and updates C~ for
 * each new length, C~' = C~ (I + Ab^lMax) (the official kernel's double_length; the new
 * lMax is the layer's state: `layer.lMax`, and checkpoints store it); 'truncate' keeps the
 * kernel at lMax taps and pads it with zeros to L (the official FFTConv with l_max set, which
 * asks its kernel for min(L, l_max) taps). The diagonal kernel has no length in its
 * parameters: it is computed for min(L, lMax) taps under 'truncate', else for L (and lMax, if
 * set, grows the same way, so both kernels report the longest length seen).
 *
 * Bidirectional: a second C (A, B, dt shared; the official kernel with 2C channels, the
 * first C forward, the last C backward). `bidirectionalConvention`:
 *   'official' (default): y[t] = sum_{s<=t} k[t-s] u[s] + sum_{s>t} kBwd[s-t-1] u[s] + D u[t]
 *       what the official k = pad(k0, (0, L)) + pad(flip(k1), (L, 0)) and a 2L-point FFT
 *       convolution give: the backward kernel starts at lag 1, so u[t] is counted once.
 *   'lag0': y[t] = sum_{s<=t} k[t-s] u[s] + sum_{s>=t} kBwd[s-t] u[s] + D u[t]
 *       (the first release of this library: the backward kernel also has a lag-0 tap).
 * Both are conv(u, k) + flip(conv(flip(u), k')) with k' = kBwd ('lag0') or kBwd delayed by
 * one tap ('official'), through fftConv, flip, slice and pad, whose backwards are native.
 * A bidirectional layer has no recurrent view.
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
  pad,
  reshape,
  scale,
  slice,
  tile,
} from '../ops/index';
import { expectInteger, expectNumber, expectTensor } from '../util/validate';
import { diagStepper, stepper as dplrStepper, type Stepper } from './stepper';
import { core, ops, type NativeBuffer } from '../native/binding';
import { cToCTilde } from '../ssm/discretize';
import type { Measure } from '../ssm/hippo';
import { initDiag, initDplr, MIN_NEG_RE, type DiagInit } from '../ssm/init';
import type { Complex64Array, DplrParams64 } from '../ssm/types';
import { runAsync, type AsyncOptions } from '../tensor/async';
import { keep, runScope } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { Dropout } from './dropout';
import { Linear } from './linear';
import { Module } from './module';
import { Rng } from './random';

export type S4Kernel = 'dplr' | 'diag';
/**
 * Initialization of (A, B). 'legs' and 'fout' for both kernels ('legt' needs a rank-2
 * correction, so it is diagonal only); 'lin' and 'inv' (S4D-Lin, S4D-Inv) diagonal only.
 * The official names are accepted too: 'diag-lin' = 'lin', 'diag-inv' = 'inv', 'diag-legs'
 * = 'legs' with the diagonal kernel, and 'diag' = half the nSsm copies 'diag-inv', half
 * 'diag-lin' (the official combination; nSsm must be even).
 */
export type S4Init = 'legs' | 'legt' | 'fout' | 'lin' | 'inv' | 'diag-lin' | 'diag-inv' | 'diag-legs' | 'diag';
export const S4_INITS: readonly S4Init[] = ['legs', 'legt', 'fout', 'lin', 'inv', 'diag-lin', 'diag-inv', 'diag-legs', 'diag'];
/** The official names of the diagonal inits, by the names initDiag takes. */
const DIAG_ALIASES: Record<string, DiagInit> = { 'diag-lin': 'lin', 'diag-inv': 'inv', 'diag-legs': 'legs' };
export type BidirectionalConvention = 'official' | 'lag0';
export type LongInputs = 'grow' | 'truncate';

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
  /** Sequences longer than lMax: 'grow' (default) or 'truncate' (see the header). */
  longInputs?: LongInputs;
  bidirectional?: boolean;
  /** Which lags the backward kernel covers (default 'official'; see the header). */
  bidirectionalConvention?: BidirectionalConvention;
  /** Output channels per SSM (official `channels`, default 1). */
  channels?: number;
  /** Independent copies of (A, B, P), a divisor of dModel (official `n_ssm`; default dModel). */
  nSsm?: number;
  /** Dropout after the activation (default 0, as the official S4Block). */
  dropout?: number;
  /** One dropout mask value per batch element and channel, shared over L (official tie_dropout). */
  tieDropout?: boolean;
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

/**
 * Lambda as the official parameters hold it at initialization: their registration clamps
 * -Im Lambda to >= 1e-4 (inv_transform; the real part is capped the same way in initDplr),
 * so an eigenvalue on the real axis (S4D-Lin's first, fout's) sits at Im = -1e-4. The same
 * array when nothing moves.
 */
function officialLambda(lambda: Complex64Array): Complex64Array {
  if (lambda.im.every((v) => v <= -MIN_NEG_RE)) return lambda;
  return { re: lambda.re, im: lambda.im.map((v) => Math.min(v, -MIN_NEG_RE)) };
}

/** Rows [from, to) of a complex [*, N2] array. */
function rowsOf(c: Complex64Array, N2: number, from: number, to: number): Complex64Array {
  return { re: c.re.slice(from * N2, to * N2), im: c.im.slice(from * N2, to * N2) };
}

/** Complex arrays one after the other. */
function concat(parts: Complex64Array[]): Complex64Array {
  const n = parts.reduce((a, p) => a + p.re.length, 0);
  const re = new Float64Array(n), im = new Float64Array(n);
  let o = 0;
  for (const p of parts) {
    re.set(p.re, o);
    im.set(p.im, o);
    o += p.re.length;
  }
  return { re, im };
}

/** Interleaved complex64 floats as a float64 pair of arrays. */
function complexOfFloats(f: Float32Array): Complex64Array {
  const n = f.length / 2;
  const re = new Float64Array(n), im = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = f[2 * i];
    im[i] = f[2 * i + 1];
  }
  return { re, im };
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
  /** Output channels per SSM (C). */
  readonly channels: number;
  /** Independent copies of (A, B, P) (S). */
  readonly nSsm: number;
  readonly kernel: S4Kernel;
  readonly init: S4Init;
  readonly longInputs: LongInputs;
  readonly bidirectional: boolean;
  readonly bidirectionalConvention: BidirectionalConvention;
  readonly activationDropout: Dropout;
  readonly output: Linear;
  private kernelLength: number | null;

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
    if (!S4_INITS.includes(init)) throw new TypeError(`${fn}: option 'init' must be one of ${S4_INITS.map((i) => `'${i}'`).join(', ')} (got ${String(init)})`);
    if (kernel === 'dplr' && init !== 'legs' && init !== 'fout') {
      throw new RangeError(`${fn}: option 'init' must be 'legs' or 'fout' for kernel 'dplr' (got '${init}': its DPLR form needs a rank-2 correction or has no low-rank part); use kernel 'diag'`);
    }
    this.init = init;
    const C = (this.channels = expectInteger(fn, 'channels', opts.channels ?? 1, 1, 64));
    const S = (this.nSsm = expectInteger(fn, 'nSsm', opts.nSsm ?? H, 1, H));
    if (H % S !== 0) throw new RangeError(`${fn}: option 'nSsm' must divide dModel = ${H} (got ${S})`);
    if (init === 'diag' && S % 2 !== 0) throw new RangeError(`${fn}: init 'diag' splits the nSsm copies between 'diag-inv' and 'diag-lin', so nSsm must be even (got ${S})`);
    const dtMin = expectNumber(fn, 'dtMin', opts.dtMin ?? 0.001, Number.MIN_VALUE);
    const dtMax = expectNumber(fn, 'dtMax', opts.dtMax ?? 0.1, dtMin);
    if (kernel === 'dplr' && opts.lMax === undefined) throw new TypeError(`${fn}: option 'lMax' (the longest sequence) is required for kernel 'dplr'`);
    this.kernelLength = opts.lMax === undefined ? null : expectInteger(fn, 'lMax', opts.lMax, 1);
    const longInputs = opts.longInputs ?? 'grow';
    if (longInputs !== 'grow' && longInputs !== 'truncate') throw new TypeError(`${fn}: option 'longInputs' must be 'grow' or 'truncate' (got ${String(longInputs)})`);
    this.longInputs = longInputs;
    this.bidirectional = opts.bidirectional ?? false;
    if (typeof this.bidirectional !== 'boolean') throw new TypeError(`${fn}: option 'bidirectional' must be a boolean`);
    const convention = opts.bidirectionalConvention ?? 'official';
    if (convention !== 'official' && convention !== 'lag0') {
      throw new TypeError(`${fn}: option 'bidirectionalConvention' must be 'official' or 'lag0' (got ${String(convention)})`);
    }
    this.bidirectionalConvention = convention;
    const dropoutP = expectNumber(fn, 'dropout', opts.dropout ?? 0, 0, 1);
    const tie = opts.tieDropout ?? false;
    if (typeof tie !== 'boolean') throw new TypeError(`${fn}: option 'tieDropout' must be a boolean (got ${String(tie)})`);
    const seed = expectInteger(fn, 'seed', opts.seed ?? 0, 0, 2 ** 32 - 1);
    const device = opts.device ?? backend();
    const rng = new Rng(seed);
    const N2 = this.N2;
    const ssmShape = [S, N2];
    const cShape = C === 1 ? [H, N2] : [C, H, N2];
    const ssm = { group: 'ssm' as const };

    if (kernel === 'dplr') {
      const L = this.kernelLength!;
      const drawn = initDplr({ H, N, init: init as Measure, dtMin, dtMax, L, seed: rng.fork() });
      // C~ again if the official clamp of Im Lambda moved an eigenvalue.
      const lambda = officialLambda(drawn.lambda);
      const p64 = lambda === drawn.lambda ? drawn : { ...drawn, lambda, cTilde: cToCTilde({ ...drawn, lambda }, drawn.c, L) };
      // Every further C (backward, other channels) is drawn as the first one (another init)
      // and converted to C~ with this layer's A, B, dt.
      const another = (): Complex64Array => cToCTilde(p64, initDplr({ H, N, init: init as Measure, dtMin, dtMax, L, seed: rng.fork() }).c, L);
      const fwd = [p64.cTilde];
      const bwd = this.bidirectional ? [another()] : [];
      for (let c = 1; c < C; c++) {
        fwd.push(another());
        if (this.bidirectional) bwd.push(another());
      }
      this.registerLambda(rowsOf(p64.lambda, N2, 0, S), ssmShape, device);
      this.registerParameter('p', complexTensor(rowsOf(p64.p, N2, 0, S), ssmShape, device), ssm);
      this.registerParameter('b', complexTensor(rowsOf(p64.b, N2, 0, S), ssmShape, device), ssm);
      this.registerParameter('cTilde', complexTensor(concat(fwd), cShape, device));
      if (this.bidirectional) this.registerParameter('cTildeBwd', complexTensor(concat(bwd), cShape, device));
      this.registerParameter('logDt', realTensor(p64.dt.map(Math.log), [H], device), { group: 'dt' });
    } else {
      const diagInit = (name: S4Init): DiagInit => DIAG_ALIASES[name] ?? (name as DiagInit);
      const first = rng.fork();
      // 'diag': copies [0, S/2) from 'diag-inv', [S/2, S) from 'diag-lin' (one dt and C draw).
      const p64 = initDiag({ H, N, init: diagInit(init === 'diag' ? 'inv' : init), dtMin, dtMax, seed: first });
      let lambda = rowsOf(p64.lambda, N2, 0, S);
      let b = rowsOf(p64.b, N2, 0, S);
      if (init === 'diag') {
        const lin = initDiag({ H, N, init: 'lin', dtMin, dtMax, seed: first });
        lambda = concat([rowsOf(p64.lambda, N2, 0, S / 2), rowsOf(lin.lambda, N2, 0, S / 2)]);
        b = concat([rowsOf(p64.b, N2, 0, S / 2), rowsOf(lin.b, N2, 0, S / 2)]);
      }
      // Every further C (backward, other channels): the C of another seeded draw (its A, B
      // and dt are not used).
      const another = (): Complex64Array => initDiag({ H, N, init: 'lin', dtMin, dtMax, seed: rng.fork() }).c;
      const fwd = [p64.c];
      const bwd = this.bidirectional ? [another()] : [];
      for (let c = 1; c < C; c++) {
        fwd.push(another());
        if (this.bidirectional) bwd.push(another());
      }
      this.registerLambda(officialLambda(lambda), ssmShape, device);
      this.registerParameter('b', complexTensor(b, ssmShape, device), ssm);
      this.registerParameter('c', complexTensor(concat(fwd), cShape, device));
      if (this.bidirectional) this.registerParameter('cBwd', complexTensor(concat(bwd), cShape, device));
      this.registerParameter('logDt', realTensor(p64.dt.map(Math.log), [H], device), { group: 'dt' });
    }
    // D ~ N(0, 1) as the official FFTConv (its D is (channels, H)).
    this.registerParameter('d', Tensor.fromFloats(rng.normalArray(C * H), C === 1 ? [H] : [C, H], 'float32', device));
    this.activationDropout = this.registerModule('dropout', new Dropout(dropoutP, { seed: rng.fork(), tie }));
    this.output = this.registerModule('output', new Linear(C * H, 2 * H, { seed: rng.fork(), device }));
  }

  /**
   * The kernel length the layer is set up for (dplr: the length of C~); it grows when a
   * longer input arrives under longInputs 'grow'. null for a diagonal layer made without lMax.
   */
  get lMax(): number | null {
    return this.kernelLength;
  }

  /**
   * Declares the kernel length the parameters hold (dplr: C~ is for this length), without
   * changing them: for loading the parameters of a layer whose lMax grew. To grow the
   * parameters themselves, see grow().
   */
  setLMax(L: number): void {
    this.kernelLength = expectInteger('S4Layer.setLMax', 'L', L, 1);
  }

  /**
   * Doubles lMax until it is at least L, updating C~ (and the backward C~) for each new
   * length in float64: C (I - Ab^{2M}) = C~ (I + Ab^M) for the current length M (the
   * official double_length). No gradient is recorded; a diagonal layer only records the
   * length. Called by the forward under longInputs 'grow'.
   */
  grow(L: number): void {
    expectInteger('S4Layer.grow', 'L', L, 1);
    if (this.kernelLength === null || L <= this.kernelLength) return;
    if (this.kernel === 'diag') {
      while (this.kernelLength < L) this.kernelLength *= 2;
      return;
    }
    const names = this.bidirectional ? ['cTilde', 'cTildeBwd'] : ['cTilde'];
    const p64 = this.dplrParams64();
    const values = names.map((n) => complexOfFloats(this.param(n).dataSync()));
    let M = this.kernelLength;
    while (M < L) {
      for (let v = 0; v < values.length; v++) {
        const ct = values[v];
        const minus = cToCTilde(p64, ct, M); // C~ (I - Ab^M)
        values[v] = { re: ct.re.map((x, i) => 2 * x - minus.re[i]), im: ct.im.map((x, i) => 2 * x - minus.im[i]) };
      }
      M *= 2;
    }
    names.forEach((n, v) => {
      const t = this.param(n);
      const inter = new Float32Array(t.floats);
      for (let i = 0; i < values[v].re.length; i++) {
        inter[2 * i] = values[v].re[i];
        inter[2 * i + 1] = values[v].im[i];
      }
      core.write(t.handle, inter);
    });
    this.kernelLength = M;
  }

  /** The DPLR parameters in float64 with C H rows (row c H + h: SSM copy h mod S, dt of h); no C~. */
  private dplrParams64(): Omit<DplrParams64, 'cTilde'> {
    const { H, N2, channels: C, nSsm: S } = this;
    const logNegRe = this.param('logNegRe').dataSync(), imLambda = this.param('imLambda').dataSync();
    const p = complexOfFloats(this.param('p').dataSync()), b = complexOfFloats(this.param('b').dataSync());
    const logDt = this.param('logDt').dataSync();
    const R = C * H;
    const lambda = { re: new Float64Array(R * N2), im: new Float64Array(R * N2) };
    const pp = { re: new Float64Array(R * N2), im: new Float64Array(R * N2) };
    const bb = { re: new Float64Array(R * N2), im: new Float64Array(R * N2) };
    const dt = new Float64Array(R);
    for (let r = 0; r < R; r++) {
      const s = r % S;
      dt[r] = Math.exp(logDt[r % H]);
      for (let n = 0; n < N2; n++) {
        const i = r * N2 + n, j = s * N2 + n;
        lambda.re[i] = -Math.exp(logNegRe[j]);
        lambda.im[i] = imLambda[j];
        pp.re[i] = p.re[j];
        pp.im[i] = p.im[j];
        bb.re[i] = b.re[j];
        bb.im[i] = b.im[j];
      }
    }
    return { H: R, N2, lambda, p: pp, b: bb, dt };
  }

  private registerLambda(lambda: Complex64Array, shape: number[], device: DeviceName): void {
    for (let i = 0; i < lambda.re.length; i++) {
      if (!(lambda.re[i] < 0)) throw new RangeError(`S4Layer: the '${this.init}' initialization gave Re(lambda) >= 0 at index ${i}`);
    }
    this.registerParameter('logNegRe', realTensor(lambda.re.map((v) => Math.log(-v)), shape, device), { group: 'ssm' });
    this.registerParameter('imLambda', realTensor(lambda.im, shape, device), { group: 'ssm' });
  }

  /** Lambda (complex64 [nSsm, N2]) from its trainable parts, with autograd. */
  lambda(): Tensor {
    return complexFromParts(scale(exp(this.param('logNegRe')), -1), this.param('imLambda'));
  }

  /** dt [H] = exp(logDt), with autograd. */
  dt(): Tensor {
    return exp(this.param('logDt'));
  }

  /**
   * The kernel parameters with one row per output channel, [C H, N2] (dt [C H]), with
   * autograd: row c H + h takes SSM copy h mod S and the dt of h, as the official repeats.
   */
  private rowParams(): { lambda: Tensor; b: Tensor; p: Tensor | null; dt: Tensor } {
    const rep = (this.channels * this.H) / this.nSsm;
    const rows = (t: Tensor): Tensor => (rep === 1 ? t : tile(t, rep, 0));
    const dt = this.channels === 1 ? this.dt() : tile(this.dt(), this.channels, 0);
    return { lambda: rows(this.lambda()), b: rows(this.param('b')), p: this.kernel === 'dplr' ? rows(this.param('p')) : null, dt };
  }

  /** A [C, H, N2] parameter as [C H, N2] (as is when C = 1). */
  private flatRows(name: string): Tensor {
    const t = this.param(name);
    return this.channels === 1 ? t : reshape(t, [this.channels * this.H, this.N2]);
  }

  /** D as [C H]. */
  private flatD(): Tensor {
    const d = this.param('d');
    return this.channels === 1 ? d : reshape(d, [this.channels * this.H]);
  }

  /**
   * The convolution kernel(s) of length L: [C H, L] (forward) and, bidirectional, the
   * backward one, with lags from 0 (see the header for how mix() applies it). Under
   * longInputs 'grow' a longer L first grows lMax (see grow()).
   */
  kernels(L: number): { k: Tensor; kBwd: Tensor | null } {
    expectInteger('S4Layer', 'L', L, 1);
    if (this.longInputs === 'grow') this.grow(L);
    const lk = this.kernelLength;
    const taps = lk === null ? L : Math.min(L, lk);
    const { lambda, b, p, dt } = this.rowParams();
    // Re(lambda) = -exp(.) <= 0 and dt = exp(.) > 0 by construction; a parameter that turned
    // non-finite makes K NaN, which the loss shows. So the kernels check shapes only and do
    // not read the values back (that read would stall the host once per layer and step).
    const check = { check: 'shapes' as const };
    const fill = (k: Tensor): Tensor => (taps < L ? pad(k, 0, L - taps) : k);
    if (this.kernel === 'diag') {
      const make = (name: string): Tensor => fill(diagKernel({ lambda, b, dt, c: this.flatRows(name) }, taps, check));
      return { k: make('c'), kBwd: this.bidirectional ? make('cBwd') : null };
    }
    const make = (name: string): Tensor => {
      const k = dplrKernel({ lambda, p: p!, b, dt, cTilde: this.flatRows(name) }, lk!, check);
      return fill(taps < lk! ? slice(k, 0, taps) : k);
    };
    return { k: make('cTilde'), kBwd: this.bidirectional ? make('cTildeBwd') : null };
  }

  /**
   * The sequence mixer of the block: u [B, H, L] -> GELU(conv(u, k) + D u) with the
   * activation dropout, [B, C H, L] (bidirectional: plus the backward kernel's convolution
   * of the reversed input, reversed, in the layer's convention). The output linear and GLU
   * follow in forward() or, inside a SequenceModel, in the block tail (lib/nn/block.ts).
   */
  mix(u: Tensor): Tensor {
    const x = expectTensor('S4Layer.forward', 'u', u, { dtype: 'float32', rank: 3 });
    if (x.shape[1] !== this.H) {
      throw new RangeError(`S4Layer.forward: argument 'u' must have shape [B, H, L] with H = ${this.H} (got [${x.shape.join(', ')}])`);
    }
    const L = x.shape[2];
    const { k, kBwd } = this.kernels(L);
    const C = this.channels;
    const xs = C === 1 ? x : tile(x, C, 1);
    let y = fftConv(xs, k, this.flatD());
    if (kBwd) {
      // 'official': the backward kernel delayed by one tap (lag s - t >= 1 uses kBwd[s - t - 1]).
      const kb = this.bidirectionalConvention === 'lag0' ? kBwd : L > 1 ? pad(slice(kBwd, 0, L - 1), 1, 0) : null;
      if (kb) y = add(y, flip(fftConv(flip(xs), kb)));
    }
    return this.activationDropout.forward(gelu(y));
  }

  /** u [B, H, L] -> GLU(Linear_{C H -> 2H}(mix(u))) over channels: [B, H, L]. */
  forward(u: Tensor): Tensor {
    return glu(this.output.forwardChannels(this.mix(u)), 1);
  }

  /**
   * The recurrence of mix(): a scan stepper (with D) over tokens of this layer's current
   * parameters, on C H rows: its input is the token tiled C times, [B, C H] (see
   * tileToken). Not available for bidirectional layers (they read the future).
   */
  recurrence(fn: string, batch: number): Stepper {
    if (this.bidirectional) throw new Error(`${fn}: a bidirectional layer has no recurrent view (it reads the future)`);
    // The row parameters are temporaries: the stepper keeps only its coefficients.
    return noGrad(() =>
      runScope(() => {
        const { lambda, b, p, dt } = this.rowParams();
        const d = this.flatD();
        return this.kernel === 'dplr'
          ? dplrStepper({ lambda, p: p!, b, cTilde: this.flatRows('cTilde'), dt, d }, { batch, L: this.kernelLength! })
          : diagStepper({ lambda, b, c: this.flatRows('c'), dt, d }, { batch });
      }, Tensor),
    );
  }

  /**
   * u [B, H] (or [B, H, 1]) -> [B, C H] copies for the recurrence when channels > 1: the raw
   * native copy into a buffer the caller owns (no allocation, no gradient; recorded by
   * traces like any native call).
   */
  tileToken(u: NativeBuffer, out: NativeBuffer, batch: number): void {
    ops.repeatMid({ x: u, out, outer: batch, reps: this.channels, inner: this.H });
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
    const { H, channels: C } = this;
    let weight: Tensor, bias: Tensor, mixed: Tensor, z: Tensor, tiled: Tensor | null;
    try {
      weight = own(this.output.weight.clone());
      bias = own(this.output.bias!.clone());
      const device = weight.device;
      mixed = own(Tensor.empty([batch, C * H], 'float32', device));
      z = own(Tensor.empty([batch, 2 * H], 'float32', device));
      tiled = C === 1 ? null : own(Tensor.empty([batch, C * H], 'float32', device));
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
        if (tiled) this.tileToken(u.handle, tiled.handle, batch);
        ssm.step(tiled ?? u, mixed, { gelu: true });
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
