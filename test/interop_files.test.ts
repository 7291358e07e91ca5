/**
 * Files written by PyTorch 2.13 and the official S4 (test/data/make_torch_files.py): a
 * torch.save'd S4Block state_dict, the same as safetensors, a Lightning-style checkpoint of
 * the example model, and tensors of every common dtype and layout; read without running
 * them, and our own .pt / safetensors writers read back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { readZip } from '../lib/interop/zip_read';
import { device, relL2 } from './helpers/device';
import { transposeLast } from './helpers/interop_golden';

const dir = path.resolve(__dirname, 'data/torch');
const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8'));
const file = (name: string) => path.join(dir, name);

function blockOutput(sd: s4.interop.OfficialStateDict): Float32Array {
  const layer = s4.interop.blockFromOfficial(sd, expected.block.config, { device });
  try {
    return s4.tidy(() => layer.forward(s4.tensor(expected.block.x.data, expected.block.x.shape, { device })).dataSync());
  } finally {
    layer.dispose();
  }
}

describe('interop files written by torch', () => {
  it('block.pt (torch.save of an official S4Block state_dict) reproduces the official output', () => {
    const r = s4.interop.readStateDict(file('block.pt'));
    expect(r.format).toBe('torch');
    expect(r.stateDict['layer.kernel.l_kernel']).toMatchObject({ shape: [], dtype: 'int64' });
    expect(relL2(blockOutput(r.stateDict), expected.block.y.data)).toBeLessThan(1e-4);
  });

  it('block.safetensors holds the same tensors as block.pt', () => {
    const pt = s4.interop.readStateDict(file('block.pt')).stateDict;
    const st = s4.interop.readStateDict(file('block.safetensors'));
    expect(st.format).toBe('safetensors');
    expect(Object.keys(st.stateDict)).toEqual(Object.keys(pt));
    for (const k of Object.keys(pt)) expect([k, st.stateDict[k].dtype, Array.from(st.stateDict[k].data as ArrayLike<number>)]).toEqual([k, pt[k].dtype, Array.from(pt[k].data as ArrayLike<number>)]);
  });

  it('model.ckpt (Lightning layout) gives the state_dict under its prefix, the plain entries, and the official output', () => {
    const r = s4.interop.readStateDict(file('model.ckpt'), { prefix: expected.model.prefix });
    expect(r.format).toBe('lightning');
    expect(r.skipped).toEqual([]);
    expect(r.meta).toMatchObject({ epoch: 3, global_step: 120, 'pytorch-lightning_version': '2.0.0', hyper_parameters: { model: expected.model.config, tags: ['s4', 'small'], dt: null, flag: true } });
    const opt = (r.meta.optimizer_states as Record<string, unknown>[])[0] as { state: Record<string, { exp_avg: { shape: number[] } }>; param_groups: { lr: number; betas: number[] }[] };
    expect(opt.param_groups[0].lr).toBe(0.01);
    expect(opt.param_groups[0].betas).toEqual([0.9, 0.999]);
    expect(opt.state['0'].exp_avg.shape).toEqual([4, 1]);
    const model = s4.interop.modelFromOfficial(r.stateDict, expected.model.config, { device });
    const x = transposeLast(expected.model.x);
    const y = s4.tidy(() => model.forward(s4.tensor(x.data, x.shape, { device })).dataSync());
    model.dispose();
    expect(relL2(y, expected.model.y.data)).toBeLessThan(1e-4);
    // Without the prefix the keys do not fit the official model's names.
    expect(() => s4.interop.modelFromOfficial(s4.interop.readStateDict(file('model.ckpt')).stateDict, expected.model.config)).toThrow(/missing key 'encoder\.weight'/);
    expect(() => s4.interop.readStateDict(file('model.ckpt'), { prefix: 'net.' })).toThrow(/no key starts with the prefix 'net\.'/);
  });

  it('attrdict.ckpt (hyper_parameters an AttributeDict): refused by default, naming the class; read with ignoreUnknown, the class skipped', () => {
    expect(() => s4.interop.readStateDict(file('attrdict.ckpt'))).toThrow(/attrdict\.ckpt: refused: global 'pytorch_lightning\.utilities\.parsing\.AttributeDict' is not on the allow-list.*ignoreUnknown/);
    const r = s4.interop.readStateDict(file('attrdict.ckpt'), { ignoreUnknown: true, prefix: 'model.' });
    expect(r.format).toBe('lightning');
    expect(r.stateDict.w).toMatchObject({ shape: [2, 3], dtype: 'float32' });
    expect(Array.from(r.stateDict.w.data as ArrayLike<number>)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(r.meta.epoch).toBe(1);
    expect(r.meta.hyper_parameters).toBeInstanceOf(s4.interop.PyOpaque);
  });

  it('dtypes.pt: float64, float16, bfloat16, int64, int32, bool, scalars, strided views and offsets', () => {
    const r = s4.interop.readStateDict(file('dtypes.pt'));
    for (const [k, want] of Object.entries(expected.dtypes) as [string, { shape: number[]; dtype: string; data: number[] }][]) {
      const got = r.stateDict[k];
      expect([k, [...got.shape], got.dtype]).toEqual([k, want.shape, want.dtype]);
      expect([k, Array.from(got.data as ArrayLike<number>, Number)]).toEqual([k, want.data]);
    }
  });

  it('our .pt writer: torch\'s layout (64-byte aligned records, byteorder, version) and read back exactly', () => {
    const sd = s4.interop.readStateDict(file('block.pt')).stateDict;
    const bytes = s4.interop.encodeTorchStateDict(sd, 'block');
    const recs = readZip(bytes);
    expect([...recs.keys()].slice(0, 2)).toEqual(['block/data.pkl', 'block/byteorder']);
    expect(Buffer.from(recs.get('block/version')!.data()).toString()).toBe('3\n');
    for (const [name, r] of recs) if (name.startsWith('block/data/')) expect((r.data().byteOffset - bytes.byteOffset) % 64).toBe(0);
    const back = s4.interop.stateDictFromBytes(bytes, 'written.pt').stateDict;
    expect(Object.keys(back)).toEqual(Object.keys(sd));
    for (const k of Object.keys(sd)) expect([k, back[k].dtype, [...back[k].shape], Array.from(back[k].data as ArrayLike<number>)]).toEqual([k, sd[k].dtype, [...sd[k].shape], Array.from(sd[k].data as ArrayLike<number>)]);
    const st = s4.interop.stateDictFromBytes(s4.interop.writeSafetensorsAny(sd), 'written.safetensors').stateDict;
    for (const k of Object.keys(sd)) expect([k, st[k].dtype, Array.from(st[k].data as ArrayLike<number>)]).toEqual([k, sd[k].dtype, Array.from(sd[k].data as ArrayLike<number>)]);
  });

  it('refuses truncated, foreign and legacy files with the file name', () => {
    const pt = fs.readFileSync(file('block.pt'));
    expect(() => s4.interop.stateDictFromBytes(pt.subarray(0, pt.length - 30), 'cut.pt')).toThrow(/cut\.pt: not a valid zip archive/);
    expect(() => s4.interop.stateDictFromBytes(Buffer.from([0x80, 2, 0x8a, 0x0a]), 'old.pt')).toThrow(/old\.pt: .*legacy/);
    expect(() => s4.interop.stateDictFromBytes(Buffer.from('hello world, not a tensor file'), 'x.bin')).toThrow(/x\.bin: not a valid checkpoint/);
    expect(() => s4.interop.readStateDict(file('missing.pt'))).toThrow(/cannot read '.*missing\.pt': ENOENT/);
  });
});
