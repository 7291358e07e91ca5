/**
 * `s4 import` and `s4 export` end to end, in child processes: the Lightning checkpoint and the
 * .pt written by torch become s4 checkpoints that reproduce the official outputs and that
 * `s4 eval` loads; the export reads back to the same official tensors. The PyTorch side of
 * the export (load_state_dict(strict=True) in the official model) is test/data/check_export.py.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as s4 from '../lib/index';
import { relL2 } from './helpers/device';
import { transposeLast } from './helpers/interop_golden';

const root = join(__dirname, '..');
const data = join(root, 'test/data/torch');
const expected = JSON.parse(readFileSync(join(data, 'expected.json'), 'utf8'));

/** Runs the CLI in a child process without blocking this worker's event loop (vitest talks to it meanwhile). */
function s4cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'node_modules/vite-node/vite-node.mjs'), join(root, 'lib/cli/s4.ts'), ...args],
      { cwd: root, env: { ...process.env, S4_BACKEND: 'cpu' }, encoding: 'utf8', timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: unknown }).code as number | null) ?? 1 : 0, stdout, stderr }),
    );
  });
}

/** The imported checkpoint's model output on the official input. */
function checkpointOutput(path: string): Float32Array {
  const model = s4.train.modelFromCheckpoint(s4.train.loadCheckpoint(path), 'cpu');
  const x = transposeLast(expected.model.x);
  try {
    return s4.tidy(() => model.forward(s4.tensor(x.data, x.shape, { device: 'cpu' })).dataSync());
  } finally {
    model.dispose();
  }
}

describe('s4 import / export', async () => {
  it('imports a Lightning .ckpt, reproduces the official output, exports .pt and .safetensors that read back to the same tensors', async () => {
    const out = mkdtempSync(join(tmpdir(), 's4-interop-'));
    const cfg = join(out, 'cfg.json');
    writeFileSync(cfg, JSON.stringify(expected.model.config));
    const ckpt = join(out, 'imported.safetensors');
    const imp = await s4cli(['import', join(data, 'model.ckpt'), '--config', cfg, '--out', ckpt, '--task', 'sine', '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({ out: ckpt, format: 'lightning', skipped: [] });
    const state = s4.train.loadCheckpoint(ckpt);
    expect(state.step).toBe(120);
    expect(state.epoch).toBe(3);
    expect(relL2(checkpointOutput(ckpt), expected.model.y.data)).toBeLessThan(1e-4);

    const pt = join(out, 'official.pt');
    const exp = await s4cli(['export', ckpt, '--out', pt, '--config-out', join(out, 'official.json')]);
    expect(exp.code, exp.stderr).toBe(0);
    const original = s4.interop.readStateDict(join(data, 'model.ckpt'), { prefix: 'model.' }).stateDict;
    for (const file of [pt]) {
      const back = s4.interop.readStateDict(file).stateDict;
      expect(Object.keys(back)).toEqual(Object.keys(original));
      for (const k of Object.keys(original)) {
        expect([k, back[k].dtype, [...back[k].shape], Array.from(back[k].data as ArrayLike<number>)]).toEqual([k, original[k].dtype, [...original[k].shape], Array.from(original[k].data as ArrayLike<number>)]);
      }
    }
    const st = join(out, 'official.safetensors');
    expect((await s4cli(['export', ckpt, '--out', st])).code).toBe(0);
    const fromSt = s4.interop.readStateDict(st).stateDict;
    expect(Array.from(fromSt['s4_layers.1.layer.kernel.C'].data as ArrayLike<number>)).toEqual(Array.from(original['s4_layers.1.layer.kernel.C'].data as ArrayLike<number>));
    expect(JSON.parse(readFileSync(join(out, 'official.json'), 'utf8'))).toMatchObject(expected.model.config);
    // The exported files import again (round trip through the CLI).
    const again = join(out, 'again.safetensors');
    expect((await s4cli(['import', pt, '--config', cfg, '--out', again])).code).toBe(0);
    expect(relL2(checkpointOutput(again), checkpointOutput(ckpt))).toBe(0);
  });

  it('an imported model of a task\'s shape runs under s4 eval', async () => {
    const out = mkdtempSync(join(tmpdir(), 's4-interop-'));
    // The sine task's shape (1 feature in, 1 out per step, length 128), written as an official .pt.
    const model = new s4.nn.SequenceModel({ dInput: 1, dModel: 4, nLayers: 1, dState: 4, dOutput: 1, pool: 'none', lMax: 128, dropout: 0, seed: 3, device: 'cpu' });
    const pt = join(out, 'sine.pt');
    writeFileSync(pt, s4.interop.encodeTorchStateDict(s4.interop.toOfficialStateDict(model)));
    const cfg = join(out, 'cfg.json');
    writeFileSync(cfg, JSON.stringify(s4.interop.officialConfig(model)));
    model.dispose();
    const ckpt = join(out, 'sine.safetensors');
    const imp = await s4cli(['import', pt, '--config', cfg, '--out', ckpt, '--task', 'sine']);
    expect(imp.code, imp.stderr).toBe(0);
    const ev = await s4cli(['eval', ckpt, '--limit', '8', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    const m = JSON.parse(ev.stdout);
    expect(m.task).toBe('sine');
    expect(Number.isFinite(m.loss)).toBe(true);
    expect((await s4cli(['import', pt, '--config', cfg, '--out', ckpt, '--task', 'nope'])).stderr).toMatch(/--task must be one of/);
  });

  it('names the file, the key or the option that is wrong', async () => {
    const out = mkdtempSync(join(tmpdir(), 's4-interop-'));
    const cfg = join(out, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ ...expected.model.config, n_layers: 3 }));
    const r = await s4cli(['import', join(data, 'model.ckpt'), '--config', cfg, '--out', join(out, 'x.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing key 's4_layers\.2\.layer\.kernel\.A_real'/);
    writeFileSync(cfg, JSON.stringify(expected.block.config));
    expect((await s4cli(['import', join(data, 'block.pt'), '--config', cfg, '--out', join(out, 'x.safetensors')])).stderr).toMatch(/lacks 'd_input', 'd_output', 'n_layers': s4 import converts the official example model/);
    const modelCfg = join(out, 'model.json');
    writeFileSync(modelCfg, JSON.stringify(expected.model.config));
    expect((await s4cli(['import', join(data, 'attrdict.ckpt'), '--config', modelCfg, '--out', join(out, 'x.safetensors')])).stderr).toMatch(/attrdict\.ckpt: refused: global 'pytorch_lightning\.utilities\.parsing\.AttributeDict'.*--ignore-unknown/);
    writeFileSync(cfg, '{ not json');
    expect((await s4cli(['import', join(data, 'block.pt'), '--config', cfg, '--out', join(out, 'x.safetensors')])).stderr).toMatch(/--config: '.*cfg\.json' is not a JSON object/);
    expect((await s4cli(['export', join(out, 'none.safetensors'), '--out', join(out, 'y.pt')])).stderr).toMatch(/cannot read '.*none\.safetensors'/);
    expect((await s4cli(['export', join(out, 'none.safetensors'), '--out', join(out, 'y.bin')])).stderr).toMatch(/--out must end in \.pt, \.pth or \.safetensors/);
  });
});
