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
  config: { d_model: number; d_state: number; l_max: number; bidirectional?: boolean; mode?: string };
  state_dict: Record<string, Entry>;
  x: Entry;
  y: Entry;
  step_y_first16?: Entry;
}

export const officialFixture = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../shared/golden/official_interop_small.json'), 'utf8')) as {
  cases: Record<string, OfficialCase>;
};

/** Row i of a leading axis of size `rows` (the official (1, H, N, 2) -> [H, N2] complex). */
function row(e: Entry, i: number, rows: number): number[] {
  const n = e.data.length / rows;
  return e.data.slice(i * n, (i + 1) * n);
}

/**
 * An S4Layer (eval mode) holding an official block's parameters (default transforms):
 * logNegRe = A_real, imLambda = -A_imag, logDt = inv_dt, b = B[0], p = P[0], cTilde = C[0]
 * (C~ for l_kernel, which must be l_max), cTildeBwd = C[1], d = D[0].
 */
export function layerFromOfficial(c: OfficialCase, device: s4.DeviceName): s4.nn.S4Layer {
  const { d_model: H, d_state: N, l_max: L } = c.config;
  const kernel = c.config.mode === 'diag' ? 'diag' : 'dplr';
  const sd = c.state_dict;
  if (kernel === 'dplr' && sd['layer.kernel.l_kernel'].data[0] !== L) throw new Error(`fixture: l_kernel ${sd['layer.kernel.l_kernel'].data[0]} is not l_max ${L}`);
  const layer = new s4.nn.S4Layer({ dModel: H, dState: N, lMax: L, kernel, bidirectional: c.config.bidirectional ?? false, device });
  const N2 = N / 2;
  const shape = [H, N2];
  const cx = (data: number[]) => ({ shape, dtype: 'complex64' as const, data });
  const cRows = sd['layer.kernel.C'].shape[0];
  const state: Record<string, { shape: number[]; dtype?: 'complex64'; data: number[] }> = {
    logNegRe: { shape, data: sd['layer.kernel.A_real'].data },
    imLambda: { shape, data: sd['layer.kernel.A_imag'].data.map((v) => -v) },
    b: cx(row(sd['layer.kernel.B'], 0, 1)),
    logDt: { shape: [H], data: sd['layer.kernel.inv_dt'].data },
    d: { shape: [H], data: row(sd['layer.D'], 0, 1) },
    'output.weight': { shape: [2 * H, H], data: sd['output_linear.0.weight'].data },
    'output.bias': { shape: [2 * H], data: sd['output_linear.0.bias'].data },
  };
  const cName = kernel === 'dplr' ? 'cTilde' : 'c';
  if (kernel === 'dplr') state.p = cx(row(sd['layer.kernel.P'], 0, 1));
  state[cName] = cx(row(sd['layer.kernel.C'], 0, cRows));
  if (cRows === 2) state[`${cName}Bwd`] = cx(row(sd['layer.kernel.C'], 1, cRows));
  layer.loadStateDict(state);
  layer.eval();
  return layer;
}

/** The official eval output of a layer on the case's input, and (unidirectional) its first steps. */
export function runOfficialCase(layer: s4.nn.S4Layer, c: OfficialCase, device: s4.DeviceName): { y: Float32Array; steps: Float32Array | null } {
  const [B, H, L] = c.x.shape;
  const x = Float32Array.from(c.x.data);
  const y = s4.tidy(() => layer.forward(s4.tensor(x, [B, H, L], { device })).dataSync());
  if (!c.step_y_first16) return { y, steps: null };
  const T = c.step_y_first16.shape[2];
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
