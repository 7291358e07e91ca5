/**
 * S4Layer against the official S4Block (shared/golden/official_interop_small.json, made with
 * state-spaces/s4 @e757cef): the DPLR block, its bidirectional twin (the official
 * convention: backward kernel from lag 1) and the S4D block, eval-mode outputs within a
 * relative L2 error of 1e-4, and the first 16 official recurrent step outputs. The official
 * parameters map onto the layer's directly (default transforms): logNegRe = A_real,
 * imLambda = -A_imag, logDt = inv_dt, b = B[0], p = P[0], cTilde = C[0] (C~ for l_kernel =
 * l_max), cTildeBwd = C[1], d = D[0].
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { device, relL2 } from './helpers/device';
import { layerFromOfficial, officialFixture as fixture, runOfficialCase } from './helpers/official_block';

describe('S4Layer vs the official S4Block', () => {
  for (const name of ['block_dplr', 'block_dplr_bidirectional', 'block_s4d']) {
    it(`${name}: eval output within 1e-4${fixture.cases[name].step_y_first16 ? ', and the first 16 recurrent steps' : ''}`, () => {
      const c = fixture.cases[name];
      const layer = layerFromOfficial(c, device);
      const { y, steps } = runOfficialCase(layer, c, device);
      expect(relL2(y, c.y.data)).toBeLessThan(1e-4);
      if (c.step_y_first16) expect(relL2(steps!, c.step_y_first16.data)).toBeLessThan(1e-4);
      layer.dispose();
    });
  }

  it("the bidirectional block is not reproduced by the 'lag0' convention (the fixture tells the two apart)", () => {
    const c = fixture.cases.block_dplr_bidirectional;
    const layer = layerFromOfficial(c, device);
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
