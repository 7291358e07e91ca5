/**
 * One official S4Block state_dict <-> the parameters of our S4Layer (which is that block:
 * FFTConv with GELU, then output_linear = Linear(H -> 2H) + GLU). The official names and
 * shapes (s4.py, SSMKernelDiag/SSMKernelDPLR.register_params, FFTConv, S4Block):
 *
 *   layer.D                    [1, H]                 -> d [H]
 *   layer.kernel.inv_dt        [H, 1]                 dt = T_dt(inv_dt)           -> logDt = log dt
 *   layer.kernel.A_real        [S, N2]                Re A = -T_re(A_real)        -> logNegRe
 *   layer.kernel.A_imag        [S, N2]                Im A = -T_im(A_imag)        -> imLambda = Im A
 *   layer.kernel.B             [1, S, N2, 2]          -> b
 *   layer.kernel.P             [1, S, N2, 2]  (dplr)  -> p  (A = diag(A) - P P^*, as ours)
 *   layer.kernel.C             [c, H, N2, 2]          c = 2 when bidirectional (forward, backward)
 *   layer.kernel.l_kernel      []  int64      (dplr)  the length C holds C~ for (0: C itself)
 *   output_linear.0.weight     [2H, H], .bias [2H]    -> output.weight, output.bias
 *
 * S = n_ssm copies of A, B, P: channel h uses copy h mod S (einops 't n -> (v t) n'); ours
 * are per channel, so they are broadcast on the way in and gathered (checked equal) on the
 * way out. DPLR C: ours is C~ for the layer's lMax; a different l_kernel is converted in
 * float64 (C = C~ (I - Ab^l_kernel)^-1, then C (I - Ab^lMax)); l_kernel = lMax copies it.
 */
import type { StateValue } from '../nn/module';
import { cToCTilde } from '../ssm/discretize';
import { cTildeToC } from '../ssm/step_setup';
import type { Complex64Array, DplrParams64 } from '../ssm/types';
import type { BlockSpec } from './official_config';
import { StateReader, valueAt, type OfficialStateDict, type OfficialTensor } from './official_tensor';
import { invTransform, paramTransform } from './transforms';

/** What the S4Layer needs besides its parameter values. */
export interface LayerShape {
  H: number;
  N2: number;
  kernel: 'dplr' | 'diag';
  bidirectional: boolean;
  /** DPLR: the length C~ is held for (our S4Layer's lMax); diag: the official l_max or null. */
  lMax: number | null;
}

/** Our S4Layer's parameters by their names (float32 data; complex interleaved). */
export type LayerValues = Record<string, StateValue>;

function f32(a: ArrayLike<number>): Float32Array {
  return Float32Array.from(a);
}

/** Complex real view [..., 2] (float64 values) -> { re, im }. */
function split(v: Float64Array): Complex64Array {
  const n = v.length / 2;
  const re = new Float64Array(n), im = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = v[2 * i];
    im[i] = v[2 * i + 1];
  }
  return { re, im };
}

function interleave(c: Complex64Array): Float32Array {
  const out = new Float32Array(2 * c.re.length);
  for (let i = 0; i < c.re.length; i++) {
    out[2 * i] = c.re[i];
    out[2 * i + 1] = c.im[i];
  }
  return out;
}

/** Rows [S, W] -> [H, W] with row h = row (h mod S). */
function broadcastRows(v: ArrayLike<number>, S: number, H: number, W: number): Float64Array {
  const out = new Float64Array(H * W);
  for (let h = 0; h < H; h++) for (let j = 0; j < W; j++) out[h * W + j] = v[(h % S) * W + j];
  return out;
}

/** Reads one official S4Block (keys under reader's prefix) as our S4Layer's shape and values. */
export function layerFromOfficial(r: StateReader, spec: BlockSpec): { shape: LayerShape; values: LayerValues } {
  const { H, N2, nSsm: S, kernel, bidirectional } = spec;
  const nc = bidirectional ? 2 : 1;
  const dims = { s: ['n_ssm', 'N/2'], c: ['1', 'n_ssm', 'N/2', '2'] };
  const aReal = r.floats('layer.kernel.A_real', [S, N2], dims.s);
  const aImag = r.floats('layer.kernel.A_imag', [S, N2], dims.s);
  const b = r.floats('layer.kernel.B', [1, S, N2, 2], dims.c);
  const invDt = r.floats('layer.kernel.inv_dt', [H, 1], ['H', '1']);
  const cAll = r.floats('layer.kernel.C', [nc, H, N2, 2], [bidirectional ? '2 (bidirectional)' : '1', 'H', 'N/2', '2']);
  const d = r.floats('layer.D', [1, H], ['1', 'H']);
  const w = r.floats('output_linear.0.weight', [2 * H, H], ['2H', 'H']);
  const bias = r.floats('output_linear.0.bias', [2 * H], ['2H']);

  const logNegRe = new Float64Array(S * N2), imLambda = new Float64Array(S * N2);
  for (let i = 0; i < S * N2; i++) {
    logNegRe[i] = spec.realTransform === 'exp' ? aReal[i] : Math.log(paramTransform(aReal[i], spec.realTransform));
    imLambda[i] = -(spec.imagTransform === 'none' ? aImag[i] : paramTransform(aImag[i], spec.imagTransform));
  }
  const logDt = spec.dtTransform === 'exp' ? invDt : invDt.map((x) => Math.log(paramTransform(x, spec.dtTransform)));
  const shapeHN = [H, N2];
  const values: LayerValues = {
    logNegRe: { shape: shapeHN, data: f32(broadcastRows(logNegRe, S, H, N2)) },
    imLambda: { shape: shapeHN, data: f32(broadcastRows(imLambda, S, H, N2)) },
  };
  const bH = broadcastRows(b, S, H, 2 * N2);
  const cOf = (j: number): Float64Array => cAll.subarray(j * H * N2 * 2, (j + 1) * H * N2 * 2);
  const complex = (data: ArrayLike<number>): StateValue => ({ shape: shapeHN, dtype: 'complex64', data: f32(data) });

  let lMax = spec.lMax;
  if (kernel === 'dplr') {
    const p = r.floats('layer.kernel.P', [1, S, N2, 2], dims.c);
    const { key, t } = r.take('layer.kernel.l_kernel', []);
    const lKernel = valueAt(t, 0);
    if (!Number.isInteger(lKernel) || lKernel < 0) throw new RangeError(`${r.fn}: key '${key}' must be a length >= 0 (got ${lKernel})`);
    lMax = spec.lMax ?? (lKernel > 0 ? lKernel : null);
    if (lMax === null) throw new RangeError(`${r.fn}: config 'l_max' is needed: '${key}' is 0 (C was never converted to C~) and no l_max is given`);
    values.p = complex(broadcastRows(p, S, H, 2 * N2));
    values.b = complex(bH);
    // The float32 parameters as the layer will hold them, in float64, for the C~ conversion.
    const params: Omit<DplrParams64, 'cTilde'> = {
      H,
      N2,
      lambda: {
        re: Float64Array.from(values.logNegRe.data as Float32Array, (x) => -Math.exp(x)),
        im: Float64Array.from(values.imLambda.data as Float32Array),
      },
      p: split(Float64Array.from(values.p.data as Float32Array)),
      b: split(Float64Array.from(values.b.data as Float32Array)),
      dt: Float64Array.from(f32(logDt), Math.exp),
    };
    const target = lMax;
    const toOurs = (c: Float64Array): Float32Array => {
      if (lKernel === target) return f32(c);
      const plain = lKernel === 0 ? split(c) : cTildeToC({ ...params, cTilde: split(c) }, lKernel);
      return interleave(cToCTilde(params, plain, target));
    };
    values.cTilde = complex(toOurs(cOf(0)));
    if (bidirectional) values.cTildeBwd = complex(toOurs(cOf(1)));
  } else {
    values.b = complex(bH);
    values.c = complex(cOf(0));
    if (bidirectional) values.cBwd = complex(cOf(1));
  }
  values.logDt = { shape: [H], data: f32(logDt) };
  values.d = { shape: [H], data: f32(d) };
  values['output.weight'] = { shape: [2 * H, H], data: f32(w) };
  values['output.bias'] = { shape: [2 * H], data: f32(bias) };
  return { shape: { H, N2, kernel, bidirectional, lMax }, values };
}

/** Rows [H, W] -> [S, W], checking that the rows sharing copy t (h mod S = t) are equal. */
function gatherRows(fn: string, name: string, v: ArrayLike<number>, S: number, H: number, W: number): Float64Array {
  const out = new Float64Array(S * W);
  for (let h = 0; h < H; h++) {
    for (let j = 0; j < W; j++) {
      const x = v[h * W + j];
      if (h < S) out[h * W + j] = x;
      else if (x !== out[(h % S) * W + j]) {
        throw new RangeError(`${fn}: parameter '${name}' differs between channels ${h % S} and ${h}, which share SSM copy ${h % S} with n_ssm = ${S}; export with n_ssm = ${H} (or null)`);
      }
    }
  }
  return out;
}

function tensor(shape: number[], data: ArrayLike<number>, dtype = 'float32'): OfficialTensor {
  return { shape, dtype, data: dtype === 'float32' ? f32(data) : Array.from(data) };
}

/**
 * Our S4Layer's values (float32, by our names) -> the official S4Block entries under
 * `prefix`, in the order torch's state_dict lists them.
 */
export function layerToOfficial(fn: string, shape: LayerShape, values: Record<string, Float32Array>, spec: Pick<BlockSpec, 'nSsm' | 'dtTransform' | 'realTransform' | 'imagTransform'>, prefix = ''): OfficialStateDict {
  const { H, N2, kernel, bidirectional } = shape;
  const S = spec.nSsm;
  if (H % S !== 0) throw new RangeError(`${fn}: n_ssm = ${S} must divide d_model = ${H}`);
  const get = (name: string): Float32Array => {
    const v = values[name];
    if (!v) throw new RangeError(`${fn}: the layer has no parameter '${name}'`);
    return v;
  };
  const out: OfficialStateDict = {};
  const k = `${prefix}layer.kernel.`;
  out[`${prefix}layer.D`] = tensor([1, H], get('d'));
  const logDt = get('logDt');
  out[`${k}inv_dt`] = tensor([H, 1], spec.dtTransform === 'exp' ? logDt : Array.from(logDt, (x) => invTransform(Math.exp(x), spec.dtTransform)));
  const c = bidirectional ? [...get(kernel === 'dplr' ? 'cTilde' : 'c'), ...get(kernel === 'dplr' ? 'cTildeBwd' : 'cBwd')] : get(kernel === 'dplr' ? 'cTilde' : 'c');
  out[`${k}C`] = tensor([bidirectional ? 2 : 1, H, N2, 2], c);
  out[`${k}B`] = tensor([1, S, N2, 2], gatherRows(fn, 'b', get('b'), S, H, 2 * N2));
  const logNegRe = gatherRows(fn, 'logNegRe', get('logNegRe'), S, H, N2);
  const imLambda = gatherRows(fn, 'imLambda', get('imLambda'), S, H, N2);
  out[`${k}A_real`] = tensor([S, N2], spec.realTransform === 'exp' ? logNegRe : logNegRe.map((x) => invTransform(Math.exp(x), spec.realTransform)));
  out[`${k}A_imag`] = tensor([S, N2], imLambda.map((x) => (spec.imagTransform === 'none' ? -x : invTransform(-x, spec.imagTransform))));
  if (kernel === 'dplr') {
    out[`${k}P`] = tensor([1, S, N2, 2], gatherRows(fn, 'p', get('p'), S, H, 2 * N2));
    out[`${k}l_kernel`] = tensor([], [shape.lMax!], 'int64');
  }
  out[`${prefix}output_linear.0.weight`] = tensor([2 * H, H], get('output.weight'));
  out[`${prefix}output_linear.0.bias`] = tensor([2 * H], get('output.bias'));
  return out;
}
