import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import type { OfficialStateDict } from '../lib/interop/index';
import { cTildeToC } from '../lib/ssm/step_setup';
import { device, relL2 } from './helpers/device';
import { blockErrors, loadInteropGolden, modelErrors, transposeLast, type FixtureCase } from './helpers/interop_golden';

const golden = loadInteropGolden();
const cases = golden.cases;
const TOL = 1e-4;

function clone(sd: OfficialStateDict): OfficialStateDict {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, { ...v, shape: [...v.shape], data: Array.from(v.data as ArrayLike<number>) }]));
}

/** Same keys in the same order, same shapes and dtypes, bit-identical values. */
function expectIdentical(got: OfficialStateDict, want: OfficialStateDict): void {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const [k, w] of Object.entries(want)) {
    const g = got[k];
    expect([k, [...g.shape], g.dtype ?? 'float32']).toEqual([k, [...w.shape], w.dtype ?? 'float32']);
    const gd = Array.from(g.data as ArrayLike<number>, Number);
    const wd = Array.from(w.data as ArrayLike<number>, (x) => Math.fround(Number(x)));
    expect(gd, k).toEqual(wd);
  }
}

function forwardOf(layer: s4.nn.S4Layer, c: FixtureCase): Float32Array {
  return s4.tidy(() => layer.forward(s4.tensor(c.x.data, c.x.shape, { device })).dataSync());
}

describe('interop: the official fixture', () => {
  for (const name of ['block_dplr', 'block_s4d', 'block_dplr_bidirectional']) {
    it(`${name}: blockFromOfficial reproduces the official forward${cases[name]?.step_y_first16 ? ' and step' : ''}`, () => {
      const c = cases[name];
      const e = blockErrors(c, device);
      expect(e.forward).toBeLessThan(TOL);
      if (c.step_y_first16) expect(e.step!).toBeLessThan(TOL);
    });
  }

  // The official bidirectional convolution applies the backward kernel from lag 1 (its tap j at
  // lag j + 1, s4.py FFTConv.forward); this rebuilds that convolution from the mapped layer's own
  // kernels, so the mapping of C[1] -> cTildeBwd is checked whatever convention the layer uses.
  it('block_dplr_bidirectional: the mapped kernels under the official convention reproduce the official output', () => {
    const c = cases.block_dplr_bidirectional;
    const [, H, L] = c.x.shape;
    const layer = s4.interop.blockFromOfficial(c.state_dict, c.config, { device });
    const y = s4.tidy(() => {
      const x = s4.tensor(c.x.data, c.x.shape, { device });
      const { k, kBwd } = layer.kernels(L);
      const kb = kBwd!.dataSync();
      const shifted = new Float32Array(H * L);
      for (let h = 0; h < H; h++) for (let j = 1; j < L; j++) shifted[h * L + j] = kb[h * L + j - 1];
      const fwd = s4.ops.fftConv(x, k, layer.param('d'));
      const bwd = s4.ops.flip(s4.ops.fftConv(s4.ops.flip(x), s4.tensor(shifted, [H, L], { device })));
      return s4.ops.glu(layer.output.forwardChannels(s4.ops.gelu(s4.ops.add(fwd, bwd))), 1).dataSync();
    });
    layer.dispose();
    expect(relL2(y, c.y.data)).toBeLessThan(TOL);
  });

  it('short inputs (L = 1, 7): the first taps of the official kernel, so the prefix of the official output (causal blocks)', () => {
    for (const name of ['block_dplr', 'block_s4d']) {
      const c = cases[name];
      const [B, H, L] = c.x.shape;
      const layer = s4.interop.blockFromOfficial(c.state_dict, c.config, { device });
      for (const Lp of [1, 7]) {
        const cut = (a: number[]) => Array.from({ length: B * H * Lp }, (_, i) => a[Math.floor(i / Lp) * L + (i % Lp)]);
        const y = s4.tidy(() => layer.forward(s4.tensor(cut(c.x.data), [B, H, Lp], { device })).dataSync());
        expect([name, Lp, relL2(y, cut(c.y.data)) < TOL]).toEqual([name, Lp, true]);
      }
      layer.dispose();
    }
  });

  it('example_model: modelFromOfficial reproduces the official forward, and its stepper after the whole sequence', () => {
    const e = modelErrors(cases.example_model, device);
    expect(e.forward).toBeLessThan(TOL);
    expect(e.stepped).toBeLessThan(TOL);
  });

  for (const name of ['block_dplr', 'block_s4d', 'block_dplr_bidirectional', 'example_model']) {
    it(`${name}: official -> ours -> official gives identical tensors`, () => {
      const c = cases[name];
      const m = name === 'example_model' ? s4.interop.modelFromOfficial(c.state_dict, c.config, { device }) : s4.interop.blockFromOfficial(c.state_dict, c.config, { device });
      try {
        expectIdentical(s4.interop.toOfficialStateDict(m), c.state_dict);
        const cfg = s4.interop.officialConfig(m);
        for (const [k, v] of Object.entries(cfg)) if (k in c.config && k !== 'mode') expect([k, v]).toEqual([k, c.config[k]]);
      } finally {
        m.dispose();
      }
    });
  }
});

describe('interop: conventions beyond the fixture', () => {
  const c = cases.block_dplr;
  const H: number = c.config.d_model;
  const N2: number = c.config.d_state / 2;

  it('converts C~ held for another l_kernel (or plain C, l_kernel = 0) to the layer length', () => {
    const Lk = Number((c.state_dict['layer.kernel.l_kernel'].data as ArrayLike<number>)[0]);
    // A layer set up for twice the length: C~ converted from l_kernel to 2 l_kernel.
    const longer = s4.interop.blockFromOfficial(c.state_dict, { ...c.config, l_max: 2 * Lk }, { device });
    expect(longer.lMax).toBe(2 * Lk);
    expect(relL2(forwardOf(longer, c), c.y.data)).toBeLessThan(TOL);
    longer.dispose();
    // The same parameters with plain C (what an official module holds before its first forward).
    const sd = clone(c.state_dict);
    const f = (k: string) => Float64Array.from(sd[k].data as ArrayLike<number>);
    const half = (v: Float64Array, off: number) => Float64Array.from({ length: H * N2 }, (_, i) => v[2 * i + off]);
    const P = f('layer.kernel.P'), B = f('layer.kernel.B'), C = f('layer.kernel.C');
    const params = {
      H, N2,
      lambda: { re: Float64Array.from(f('layer.kernel.A_real'), (x) => -Math.exp(Math.fround(x))), im: Float64Array.from(f('layer.kernel.A_imag'), (x) => -x) },
      p: { re: half(P, 0), im: half(P, 1) }, b: { re: half(B, 0), im: half(B, 1) }, cTilde: { re: half(C, 0), im: half(C, 1) },
      dt: Float64Array.from(f('layer.kernel.inv_dt'), (x) => Math.exp(Math.fround(x))),
    };
    const plain = cTildeToC(params, Lk);
    sd['layer.kernel.C'] = { shape: [1, H, N2, 2], data: Array.from({ length: 2 * H * N2 }, (_, i) => (i % 2 ? plain.im : plain.re)[i >> 1]) };
    sd['layer.kernel.l_kernel'] = { shape: [], dtype: 'int64', data: [0] };
    const fromC = s4.interop.blockFromOfficial(sd, c.config, { device });
    expect(relL2(forwardOf(fromC, c), c.y.data)).toBeLessThan(TOL);
    fromC.dispose();
    expect(() => s4.interop.blockFromOfficial(sd, { ...c.config, l_max: undefined }, { device })).toThrow(/config 'l_max' is needed.*l_kernel/);
  });

  it('broadcasts n_ssm copies of A, B, P over the channels (h uses copy h mod n_ssm) and gathers them back', () => {
    const S = [2, 3, 1].find((s) => H % s === 0 && s < H)!;
    const notDividing = [3, 5, 7, 4].find((s) => H % s !== 0)!;
    // The official n_ssm = 2 dict: the first S rows; and by hand the per-channel dict it stands for.
    const small = clone(c.state_dict), wide = clone(c.state_dict);
    for (const [k, w] of [['layer.kernel.A_real', N2], ['layer.kernel.A_imag', N2], ['layer.kernel.B', 2 * N2], ['layer.kernel.P', 2 * N2]] as const) {
      const v = c.state_dict[k].data as number[];
      const lead = k.endsWith('B') || k.endsWith('P') ? [1] : [];
      const tail = lead.length ? [N2, 2] : [N2];
      small[k] = { shape: [...lead, S, ...tail], dtype: 'float32', data: v.slice(0, S * w) };
      wide[k] = { ...wide[k], data: Array.from({ length: H * w }, (_, i) => v[(Math.floor(i / w) % S) * w + (i % w)]) };
    }
    const a = s4.interop.blockFromOfficial(small, { ...c.config, n_ssm: S }, { device });
    const b = s4.interop.blockFromOfficial(wide, c.config, { device });
    expect(relL2(forwardOf(a, c), forwardOf(b, c))).toBe(0);
    expectIdentical(s4.interop.toOfficialStateDict(a, { n_ssm: S }), small);
    // Channels that do not share values cannot be written with fewer copies.
    const own = s4.interop.blockFromOfficial(c.state_dict, c.config, { device });
    expect(() => s4.interop.toOfficialStateDict(own, { n_ssm: S })).toThrow(new RegExp(`parameter '(b|logNegRe)' differs between channels 0 and ${S}.*n_ssm = ${S}`));
    for (const m of [a, b, own]) m.dispose();
    expect(() => s4.interop.blockFromOfficial(small, { ...c.config, n_ssm: notDividing })).toThrow(new RegExp(`'n_ssm' = ${notDividing} must divide d_model = ${H}`));
  });

  it('reads the other official dt and A transforms (softplus dt, none for A_real) in float64', () => {
    const sd = clone(c.state_dict);
    const soft = (x: number) => Math.log(Math.expm1(x));
    sd['layer.kernel.inv_dt'].data = (c.state_dict['layer.kernel.inv_dt'].data as number[]).map((x) => soft(Math.exp(x)));
    sd['layer.kernel.A_real'].data = (c.state_dict['layer.kernel.A_real'].data as number[]).map((x) => Math.exp(x));
    const cfg = { ...c.config, dt_transform: 'softplus', real_transform: 'none' };
    const m = s4.interop.blockFromOfficial(sd, cfg, { device });
    expect(relL2(forwardOf(m, c), c.y.data)).toBeLessThan(TOL);
    const back = s4.interop.toOfficialStateDict(m, { dt_transform: 'softplus', real_transform: 'none' });
    expect(relL2(back['layer.kernel.inv_dt'].data as Float32Array, sd['layer.kernel.inv_dt'].data as number[])).toBeLessThan(1e-6);
    m.dispose();
  });
});

describe('interop: bad input is refused by name', () => {
  const c = cases.block_dplr;
  const m = cases.example_model;
  const H: number = c.config.d_model;
  const N2: number = c.config.d_state / 2;
  const esc = (s: string) => s.replace(/[[\]().*]/g, (ch) => `\\${ch}`);

  it('names a missing key, a wrong shape and an unknown key with the expected shape', () => {
    const missing = clone(c.state_dict);
    delete missing['layer.kernel.P'];
    expect(() => s4.interop.blockFromOfficial(missing, c.config)).toThrow(new RegExp(esc(`missing key 'layer.kernel.P' (expected shape [1, n_ssm, N/2, 2] = [1, ${H}, ${N2}, 2])`)));
    const wrong = clone(c.state_dict);
    wrong['layer.D'] = { shape: [H], data: wrong['layer.D'].data };
    expect(() => s4.interop.blockFromOfficial(wrong, c.config)).toThrow(new RegExp(esc(`key 'layer.D' must have shape [1, H] = [1, ${H}] (got [${H}])`)));
    const extra = clone(c.state_dict);
    extra['layer.kernel.log_dt'] = { shape: [H], data: new Array(H).fill(0) };
    expect(() => s4.interop.blockFromOfficial(extra, c.config)).toThrow(/unexpected key 'layer\.kernel\.log_dt'/);
    const layer = s4.interop.blockFromOfficial(extra, c.config, { strict: false, device });
    layer.dispose();
    const noNorm = clone(m.state_dict);
    delete noNorm['norms.1.bias'];
    expect(() => s4.interop.modelFromOfficial(noNorm, m.config)).toThrow(new RegExp(esc(`missing key 'norms.1.bias' (expected shape [d_model] = [${m.config.d_model}])`)));
    expect(() => s4.interop.modelFromOfficial(m.state_dict, { ...m.config, n_layers: 3 })).toThrow(/missing key 's4_layers\.2\.layer\.kernel\.A_real'/);
    expect(() => s4.interop.blockFromOfficial(c.state_dict, { ...c.config, d_state: 4 * N2 })).toThrow(new RegExp(esc(`key 'layer.kernel.A_real' must have shape [n_ssm, N/2] = [${H}, ${2 * N2}] (got [${H}, ${N2}])`)));
  });

  it('refuses non-finite values, inconsistent entries and unsupported official options', () => {
    const nan = clone(c.state_dict);
    (nan['layer.kernel.B'].data as number[])[5] = NaN;
    expect(() => s4.interop.blockFromOfficial(nan, c.config)).toThrow(/'layer\.kernel\.B' holds a non-finite value at index 5/);
    const short = clone(c.state_dict);
    short['layer.D'] = { shape: [1, H], data: [1, 2, 3] };
    expect(() => s4.interop.blockFromOfficial(short, c.config)).toThrow(new RegExp(esc(`'layer.D' has shape [1, ${H}] (${H} values) but 3 values`)));
    expect(() => s4.interop.blockFromOfficial(null as never, c.config)).toThrow(/'stateDict' must be an object/);
    expect(() => s4.interop.blockFromOfficial(c.state_dict, { ...c.config, colour: 1 })).toThrow(/unknown config key 'colour'/);
    expect(() => s4.interop.blockFromOfficial(c.state_dict, { ...c.config, channels: 2 })).toThrow(/config 'channels' = 2 is not supported/);
    expect(() => s4.interop.blockFromOfficial(c.state_dict, { ...c.config, activation: 'relu' })).toThrow(/config 'activation' = "relu" is not supported/);
    expect(() => s4.interop.blockFromOfficial(c.state_dict, { ...c.config, mode: 'dense' })).toThrow(/config 'mode' must be/);
    expect(() => s4.interop.blockFromOfficial(c.state_dict, { ...c.config, d_model: 'eight' })).toThrow(/config 'd_model' must be an integer/);
    expect(() => s4.interop.blockFromOfficial(cases.block_s4d.state_dict, { ...cases.block_s4d.config, disc: 'bilinear' })).toThrow(/'disc' = "bilinear" is not supported for mode 'diag'/);
    expect(() => s4.interop.toOfficialStateDict({} as never)).toThrow(/must be an S4Layer or a SequenceModel/);
  });

  it('the model takes [B, d_input, L] (the official one [B, L, d_input])', () => {
    const model = s4.interop.modelFromOfficial(m.state_dict, m.config, { device });
    const x = transposeLast(m.x);
    expect(model.dInput).toBe(m.config.d_input);
    expect(s4.tidy(() => model.forward(s4.tensor(x.data, x.shape, { device })).shape)).toEqual([x.shape[0], m.config.d_output]);
    model.dispose();
  });
});

