/**
 * The official-S4 interop fixture on CUDA: every case's forward and step outputs against the
 * official ones, and the CUDA results against the CPU backend's (blocks built from the same
 * official state_dict on each device).
 */
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { relL2 } from '../helpers/device';
import { blockErrors, loadInteropGolden, modelErrors, transposeLast } from '../helpers/interop_golden';

const cases = loadInteropGolden().cases;

describe('interop on CUDA', () => {
  for (const name of ['block_dplr', 'block_s4d', 'block_dplr_bidirectional']) {
    it(`${name}: the official outputs within 1e-4, on CUDA`, () => {
      const e = blockErrors(cases[name], 'cuda');
      expect(e.forward).toBeLessThan(1e-4);
      if (e.step !== undefined) expect(e.step).toBeLessThan(1e-4);
    });
  }

  it('example_model: the official output within 1e-4 on CUDA, forward and stepper', () => {
    const e = modelErrors(cases.example_model, 'cuda');
    expect(e.forward).toBeLessThan(1e-4);
    expect(e.stepped).toBeLessThan(1e-4);
  });

  it('CUDA equals the CPU backend on every case (within float32 rounding)', () => {
    for (const [name, c] of Object.entries(cases)) {
      const isModel = name === 'example_model';
      const x = isModel ? transposeLast(c.x) : c.x;
      const out = (device: s4.DeviceName): Float32Array => {
        const m = isModel ? s4.interop.modelFromOfficial(c.state_dict, c.config, { device }) : s4.interop.blockFromOfficial(c.state_dict, c.config, { device });
        try {
          return s4.tidy(() => m.forward(s4.tensor(x.data, x.shape, { device })).dataSync());
        } finally {
          m.dispose();
        }
      };
      expect(relL2(out('cuda'), out('cpu')), name).toBeLessThan(1e-5);
    }
  });
});
