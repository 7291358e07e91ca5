/**
 * S4Layer options on CUDA: the official bidirectional convention, channels, nSsm, inputs
 * longer than lMax (grow and truncate) against the float64 layer; SequenceModels with these
 * options and tied dropout, CUDA against CPU (forward, every gradient, the masks); the
 * recurrent view with channels and nSsm; the official S4Block fixtures on the GPU
 * (shared/golden/official_interop_small.json and test/data/official_layer_options.json).
 * Run by `npm run test:gpu` (S4_BACKEND=cuda).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../../lib/index';
import { randomValues, relL2 } from '../helpers/device';
import { layerOfShape } from '../helpers/layer_checks';
import { forwardAndSteps, outputAndGrads } from '../helpers/model_checks';
import { s4Layer64, type LayerShape } from '../helpers/nn_reference';
import { layerFromOfficial, officialFixture, runOfficialCase, type Entry, type OfficialCase } from '../helpers/official_block';

const { SequenceModel } = s4.nn;
type Opts = s4.nn.SequenceModelOptions;

function makeLayer(s: LayerShape, seed: number): s4.nn.S4Layer {
  return layerOfShape(s, seed, 'cuda');
}

describe('S4Layer options on CUDA against the float64 layer', () => {
  const layerCases: [string, LayerShape, number, number][] = [
    ['dplr bidirectional (official), L = 784', { kind: 'dplr', H: 3, N2: 16, lMax: 784, bidirectional: true }, 784, 784],
    ['diag bidirectional (lag0), L = 7', { kind: 'diag', H: 3, N2: 8, lMax: 7, bidirectional: true, convention: 'lag0' }, 7, 7],
    ['dplr channels 2, nSsm 1, L = 1', { kind: 'dplr', H: 4, N2: 8, lMax: 1, bidirectional: false, channels: 2, nSsm: 1 }, 1, 1],
    ['diag channels 3, nSsm 2, bidirectional, L = 333', { kind: 'diag', H: 4, N2: 16, lMax: 333, bidirectional: true, channels: 3, nSsm: 2 }, 333, 333],
    ['dplr grows lMax 100 -> 800 for L = 784', { kind: 'dplr', H: 3, N2: 16, lMax: 100, bidirectional: false }, 784, 800],
    ['dplr bidirectional truncate, lMax 64 < L = 200', { kind: 'dplr', H: 2, N2: 8, lMax: 64, bidirectional: true, truncate: true }, 200, 64],
  ];
  for (const [name, s, L, lMaxAfter] of layerCases) {
    it(`forward matches (${name})`, () => {
      const layer = makeLayer(s, 2);
      const B = 2;
      const uv = randomValues(B * s.H * L, 5);
      const y = s4.tidy(() => layer.forward(s4.tensor(uv, [B, s.H, L], { device: 'cuda' })).dataSync());
      expect(layer.lMax).toBe(lMaxAfter);
      const P = Object.fromEntries(layer.namedParameters().map(([n, t]) => [n, Float64Array.from(t.dataSync())]));
      expect(relL2(y, s4Layer64(P, { ...s, lMax: lMaxAfter }, uv, B, L))).toBeLessThan(1e-4);
      layer.dispose();
    });
  }

  for (const name of ['block_dplr', 'block_dplr_bidirectional', 'block_s4d']) {
    it(`reproduces the official ${name} on the GPU (eval output, first 16 steps)`, () => {
      const c = officialFixture.cases[name];
      const layer = layerFromOfficial(c, 'cuda');
      const { y, steps } = runOfficialCase(layer, c, 'cuda');
      expect(relL2(y, c.y.data)).toBeLessThan(1e-4);
      if (c.step_y_first16) expect(relL2(steps!, c.step_y_first16.data)).toBeLessThan(1e-4);
      layer.dispose();
    });
  }
});

describe('SequenceModel options, CUDA vs CPU', () => {
  const cases: [string, Opts, number, number][] = [
    ['dplr bidirectional, channels 2, nSsm 4, tied dropout 0.3, L = 784', { dInput: 1, dModel: 32, nLayers: 2, dState: 16, dOutput: 10, lMax: 784, bidirectional: true, channels: 2, nSsm: 4, tieDropout: true, dropout: 0.3, pool: 'mean' }, 784, 2],
    ['diag pre-norm, init diag, channels 3, tied dropout 0.2, L = 7 > lMax = 4', { dInput: 3, dModel: 34, nLayers: 2, dState: 8, dOutput: 4, kernel: 'diag', init: 'diag', nSsm: 2, lMax: 4, prenorm: true, channels: 3, tieDropout: true, dropout: 0.2, pool: 'none' }, 7, 3],
    ['dplr grows 64 -> 512 for L = 300, last pool', { dInput: 2, dModel: 16, nLayers: 1, dState: 16, dOutput: 3, lMax: 64, pool: 'last' }, 300, 2],
  ];
  for (const [name, o, L, B] of cases) {
    it(`forward, every gradient and the dropout masks agree (${name})`, () => {
      const m = new SequenceModel({ ...o, seed: 5, device: 'cpu' });
      const cpu = outputAndGrads(m, o, B, L, 'cpu');
      const lengths = m.kernelLengths();
      for (const [, x] of m.namedModules()) if (x instanceof s4.nn.Dropout) x.step = 0;
      m.to('cuda');
      const gpu = outputAndGrads(m, o, B, L, 'cuda');
      expect(m.kernelLengths()).toEqual(lengths);
      expect(relL2(gpu.y, cpu.y)).toBeLessThan(1e-4);
      // d logDt amplifies the kernels' float32 rounding (see nn_model.gpu.test.ts): 1e-3.
      for (const n of Object.keys(cpu.grads)) expect(relL2(gpu.grads[n], cpu.grads[n]), n).toBeLessThan(n.endsWith('logDt') ? 1e-3 : 1e-4);
      m.dispose();
    });
  }

  for (const [kernel, L] of [
    ['dplr', 784],
    ['diag', 7],
  ] as const) {
    it(`the recurrent view with channels 2 and nSsm 8 equals the convolutional forward (${kernel}, L = ${L})`, () => {
      const o: Opts = { dInput: 2, dModel: 32, nLayers: 2, dState: 16, dOutput: 3, lMax: L, kernel, channels: 2, nSsm: 8, pool: 'none' };
      const m = new SequenceModel({ ...o, seed: 6, device: 'cuda' }).eval();
      const B = 3;
      const xv = randomValues(B * 2 * L, 7);
      const { full, got, st } = forwardAndSteps(m, xv, B, 2, 3, L, 'cuda');
      expect(relL2(got, full)).toBeLessThan(1e-4);
      st.dispose();
      m.dispose();
    });
  }
});

describe('S4Layer options vs the official S4Block on the GPU (test/data/official_layer_options.json)', () => {
  const file = JSON.parse(readFileSync(join(__dirname, '../data/official_layer_options.json'), 'utf8')) as {
    cases: Record<string, OfficialCase & { step_y?: Entry; state_dict_after?: Record<string, Entry> }>;
  };
  for (const [name, c] of Object.entries(file.cases)) {
    it(`${name}: eval output${c.step_y ? ' and the first 8 steps' : ''} within 1e-4`, () => {
      const layer = layerFromOfficial(c, 'cuda');
      const { y, steps } = runOfficialCase(layer, c, 'cuda', c.step_y);
      expect(relL2(y, c.y.data)).toBeLessThan(1e-4);
      if (c.step_y) expect(relL2(steps!, c.step_y.data)).toBeLessThan(1e-4);
      if (c.state_dict_after) expect(relL2(layer.param('cTilde').dataSync(), c.state_dict_after['layer.kernel.C'].data)).toBeLessThan(1e-4);
      layer.dispose();
    });
  }
});
