/**
 * S4Layer options against the official S4Block (test/data/official_layer_options.json, made
 * by test/data/make_official_layer_options.py with state-spaces/s4 @e757cef, CPU, float32):
 * channels, n_ssm, bidirectional with channels, S4D 'diag-lin' / 'diag-inv', a kernel that
 * doubles 16 -> 64 for an input of 40 (l_max None), and an input longer than l_max = 16
 * (truncated kernel, bidirectional). Eval outputs within a relative L2 error of 1e-4, the
 * first 8 recurrent steps, and the grown C~ against the official one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, relL2 } from './helpers/device';
import { layerFromOfficial, runOfficialCase, type Entry, type OfficialCase } from './helpers/official_block';

type Case = OfficialCase & { step_y?: Entry; state_dict_after?: Record<string, Entry> };
const fixture = JSON.parse(fs.readFileSync(path.resolve(__dirname, 'data/official_layer_options.json'), 'utf8')) as { cases: Record<string, Case> };

describe('S4Layer options vs the official S4Block', () => {
  for (const [name, c] of Object.entries(fixture.cases)) {
    it(`${name}: eval output within 1e-4${c.step_y ? ', and the first 8 recurrent steps' : ''}`, () => {
      const layer = layerFromOfficial(c, device);
      const { y, steps } = runOfficialCase(layer, c, device, c.step_y);
      expect(relL2(y, c.y.data)).toBeLessThan(1e-4);
      if (c.step_y) expect(relL2(steps!, c.step_y.data)).toBeLessThan(1e-4);
      if (c.state_dict_after) {
        // The official kernel doubled its length and updated C~ in place: so did the layer.
        const after = c.state_dict_after;
        expect(layer.lMax).toBe(after['layer.kernel.l_kernel'].data[0]);
        expect(relL2(layer.param('cTilde').dataSync(), after['layer.kernel.C'].data)).toBeLessThan(1e-4);
      }
      if (c.config.l_max !== null && c.x.shape[2] > c.config.l_max) expect(layer.lMax).toBe(c.config.l_max);
      layer.dispose();
    });
  }

  for (const [name, init] of [
    ['s4d_diag_lin_channels2_nssm1', 'diag-lin'],
    ['s4d_diag_inv', 'diag-inv'],
  ] as const) {
    it(`the '${init}' init gives the official A and B (${name})`, () => {
      const c = fixture.cases[name];
      const S = c.state_dict['layer.kernel.A_real'].shape[0];
      const layer = new s4.nn.S4Layer({ dModel: 4, dState: 8, kernel: 'diag', init, nSsm: S, channels: c.config.channels, device });
      expect(relL2(layer.param('logNegRe').dataSync(), c.state_dict['layer.kernel.A_real'].data)).toBeLessThan(1e-6);
      expect(relL2(layer.param('imLambda').dataSync(), c.state_dict['layer.kernel.A_imag'].data.map((v) => -v))).toBeLessThan(1e-6);
      expect(relL2(layer.param('b').dataSync(), c.state_dict['layer.kernel.B'].data)).toBeLessThan(1e-6);
      layer.dispose();
    });
  }

  it("the fixture tells the conventions apart: 'lag0' and 'grow' miss the official outputs", () => {
    const bi = fixture.cases.dplr_bidirectional_channels2_nssm1;
    const lag0 = layerFromOfficial(bi, device);
    const swapped = new s4.nn.S4Layer({ dModel: 4, dState: 8, lMax: 16, bidirectional: true, bidirectionalConvention: 'lag0', channels: 2, nSsm: 1, device });
    swapped.loadStateDict(Object.fromEntries(lag0.namedParameters()));
    swapped.eval();
    expect(relL2(runOfficialCase(swapped, bi, device).y, bi.y.data)).toBeGreaterThan(1e-3);
    const tr = fixture.cases.dplr_lmax16_input40;
    const official = layerFromOfficial(tr, device);
    const grow = new s4.nn.S4Layer({ dModel: 4, dState: 8, lMax: 16, bidirectional: true, longInputs: 'grow', device });
    grow.loadStateDict(Object.fromEntries(official.namedParameters()));
    grow.eval();
    expect(relL2(runOfficialCase(grow, tr, device).y, tr.y.data)).toBeGreaterThan(1e-3);
    s4.dispose(lag0, swapped, official, grow);
  });
});
