/**
 * The official S4Block interop fixture (shared/golden/official_interop_small.json in this
 * repository) and a direct map of its block state_dicts onto S4Layer parameters.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as s4 from '../../lib/index';

export interface Entry {
  shape: number[];
  data: number[];
}
export interface OfficialCase {
  config: { d_model: number; d_state: number; l_max: number | null; bidirectional?: boolean; mode?: string; channels?: number; n_ssm?: number; init?: string };
  state_dict: Record<string, Entry>;
  x: Entry;
  y: Entry;
  step_y_first16?: Entry;
}

export const officialFixture = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../shared/golden/official_interop_small.json'), 'utf8')) as {
  cases: Record<string, OfficialCase>;
};

/** Rows [from, to) of a leading axis of size `rows`. */
function rows(e: Entry, from: number, to: number, count: number): number[] {
  const n = e.data.length / count;
  return e.data.slice(from * n, to * n);
}

/**
 * An S4Layer (eval mode) holding an official block's parameters (default transforms):
 * logNegRe = A_real, imLambda = -A_imag, logDt = inv_dt, b = B[0], p = P[0] ([n_ssm, N2]),
 * cTilde = C[0 : channels] (C~ for l_kernel, the layer's lMax), cTildeBwd = C[channels :
 * 2 channels] (bidirectional), d = D ([channels, H]; [H] for one channel). Inputs longer
 * than l_max: 'truncate' when the block has an l_max (the official FFTConv asks for
 * min(L, l_max) taps), 'grow' when it has none (the kernel doubles).
 */
export function layerFromOfficial(c: OfficialCase, device: s4.DeviceName): s4.nn.S4Layer {
  const { d_model: H, d_state: N } = c.config;
  const kernel = c.config.mode === 'diag' ? 'diag' : 'dplr';
  const sd = c.state_dict;
  const C = c.config.channels ?? 1;
  const bidirectional = c.config.bidirectional ?? false;
  const S = sd['layer.kernel.A_real'].shape[0];
  const lKernel = kernel === 'dplr' ? sd['layer.kernel.l_kernel'].data[0] : (c.config.l_max ?? undefined);
  if (kernel === 'dplr' && !(lKernel! > 0)) throw new Error('fixture: l_kernel 0 (C is not C~ yet); save the state after a forward');
  const layer = new s4.nn.S4Layer({
    dModel: H,
    dState: N,
    lMax: lKernel ?? undefined,
    kernel,
    bidirectional,
    channels: C,
    nSsm: S,
    longInputs: c.config.l_max === null ? 'grow' : 'truncate',
    device,
  });
  const N2 = N / 2;
  const cShape = C === 1 ? [H, N2] : [C, H, N2];
  const cRows = sd['layer.kernel.C'].shape[0];
  const ssm = (data: number[]) => ({ shape: [S, N2], dtype: 'complex64' as const, data });
  const state: Record<string, { shape: number[]; dtype?: 'complex64'; data: number[] }> = {
    logNegRe: { shape: [S, N2], data: sd['layer.kernel.A_real'].data },
    imLambda: { shape: [S, N2], data: sd['layer.kernel.A_imag'].data.map((v) => -v) },
    b: ssm(sd['layer.kernel.B'].data),
    logDt: { shape: [H], data: sd['layer.kernel.inv_dt'].data },
    d: { shape: C === 1 ? [H] : [C, H], data: sd['layer.D'].data },
    'output.weight': { shape: [2 * H, C * H], data: sd['output_linear.0.weight'].data },
    'output.bias': { shape: [2 * H], data: sd['output_linear.0.bias'].data },
  };
  const cName = kernel === 'dplr' ? 'cTilde' : 'c';
  if (kernel === 'dplr') state.p = ssm(sd['layer.kernel.P'].data);
  state[cName] = { shape: cShape, dtype: 'complex64', data: rows(sd['layer.kernel.C'], 0, C, cRows) };
  if (bidirectional) state[`${cName}Bwd`] = { shape: cShape, dtype: 'complex64', data: rows(sd['layer.kernel.C'], C, 2 * C, cRows) };
  layer.loadStateDict(state);
  layer.eval();
  return layer;
}

/** The official eval output of a layer on the case's input, and (unidirectional) its first steps. */
export function runOfficialCase(layer: s4.nn.S4Layer, c: OfficialCase, device: s4.DeviceName, stepsEntry = c.step_y_first16): { y: Float32Array; steps: Float32Array | null } {
  const [B, H, L] = c.x.shape;
  const x = Float32Array.from(c.x.data);
  const y = s4.tidy(() => layer.forward(s4.tensor(x, [B, H, L], { device })).dataSync());
  if (!stepsEntry) return { y, steps: null };
  const T = stepsEntry.shape[2];
  const st = layer.stepper({ batch: B });
  const steps = new Float32Array(B * H * T);
  for (let t = 0; t < T; t++) {
    const ut = Float32Array.from({ length: B * H }, (_, i) => x[i * L + t]);
    const yt = s4.tidy(() => st.step(s4.tensor(ut, [B, H], { device })).dataSync());
    for (let i = 0; i < B * H; i++) steps[i * T + t] = yt[i];
  }
  st.dispose();
  return { y, steps };
}
