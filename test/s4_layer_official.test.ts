/**
 * S4Layer against the official S4Block (shared/golden/official_interop_small.json, made with
 * state-spaces/s4 @e757cef): the DPLR block, its bidirectional twin (the official
 * convention: backward kernel from lag 1) and the S4D block, eval-mode outputs within a
 * relative L2 error of 1e-4, and the first 16 official recurrent step outputs. The official
 * parameters map onto the layer's directly (default transforms): logNegRe = A_real,
 * imLambda = -A_imag, logDt = inv_dt, b = B[0], p = P[0], cTilde = C[0] (C~ for l_kernel =
 * l_max), cTildeBwd = C[1], d = D[0].
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, relL2 } from './helpers/device';

interface Entry {
  shape: number[];
  data: number[];
}
interface Case {
  config: { d_model: number; d_state: number; l_max: number; bidirectional?: boolean; mode?: string };
  state_dict: Record<string, Entry>;
  x: Entry;
  y: Entry;
  step_y_first16?: Entry;
}

const fixture = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../shared/golden/official_interop_small.json'), 'utf8')) as {
  cases: Record<string, Case>;
};

/** The first row of a leading axis of size `rows` (the official (1, H, N, 2) -> [H, N2] complex). */
function row(e: Entry, i: number, rows: number): number[] {
  const n = e.data.length / rows;
  return e.data.slice(i * n, (i + 1) * n);
}

function layerFrom(c: Case): s4.nn.S4Layer {
  const { d_model: H, d_state: N, l_max: L } = c.config;
  const kernel = c.config.mode === 'diag' ? 'diag' : 'dplr';
  const sd = c.state_dict;
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
  if (kernel === 'dplr') {
    expect(sd['layer.kernel.l_kernel'].data[0]).toBe(L);
    state.p = cx(row(sd['layer.kernel.P'], 0, 1));
    state.cTilde = cx(row(sd['layer.kernel.C'], 0, cRows));
    if (cRows === 2) state.cTildeBwd = cx(row(sd['layer.kernel.C'], 1, cRows));
  } else {
    state.c = cx(row(sd['layer.kernel.C'], 0, cRows));
    if (cRows === 2) state.cBwd = cx(row(sd['layer.kernel.C'], 1, cRows));
  }
  layer.loadStateDict(state);
  layer.eval();
  return layer;
}

describe('S4Layer vs the official S4Block', () => {
  for (const name of ['block_dplr', 'block_dplr_bidirectional', 'block_s4d']) {
    it(`${name}: eval output within 1e-4${fixture.cases[name].step_y_first16 ? ', and the first 16 recurrent steps' : ''}`, () => {
      const c = fixture.cases[name];
      const layer = layerFrom(c);
      const [B, H, L] = c.x.shape;
      const x = Float32Array.from(c.x.data);
      const y = s4.tidy(() => layer.forward(s4.tensor(x, [B, H, L], { device })).dataSync());
      expect(relL2(y, c.y.data)).toBeLessThan(1e-4);
      if (c.step_y_first16) {
        const T = c.step_y_first16.shape[2];
        const st = layer.stepper({ batch: B });
        const got = new Float32Array(B * H * T);
        for (let t = 0; t < T; t++) {
          const ut = Float32Array.from({ length: B * H }, (_, i) => x[i * L + t]);
          const yt = s4.tidy(() => st.step(s4.tensor(ut, [B, H], { device })).dataSync());
          for (let i = 0; i < B * H; i++) got[i * T + t] = yt[i];
        }
        st.dispose();
        expect(relL2(got, c.step_y_first16.data)).toBeLessThan(1e-4);
      }
      layer.dispose();
    });
  }

  it("the bidirectional block is not reproduced by the 'lag0' convention (the fixture tells the two apart)", () => {
    const c = fixture.cases.block_dplr_bidirectional;
    const layer = layerFrom(c);
    const lag0 = new s4.nn.S4Layer({ dModel: 8, dState: 16, lMax: 64, bidirectional: true, bidirectionalConvention: 'lag0', device });
    lag0.loadStateDict(Object.fromEntries(layer.namedParameters()));
    lag0.eval();
    const [B, H, L] = c.x.shape;
    const y = s4.tidy(() => lag0.forward(s4.tensor(Float32Array.from(c.x.data), [B, H, L], { device })).dataSync());
    expect(relL2(y, c.y.data)).toBeGreaterThan(1e-3);
    layer.dispose();
    lag0.dispose();
  });
});
