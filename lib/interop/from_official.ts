/**
 * s4.interop.blockFromOfficial / modelFromOfficial: an official state_dict (names and shapes
 * as torch saves them) and the official constructor arguments -> our S4Layer (the official
 * S4Block: [B, H, L] -> [B, H, L]) or SequenceModel (example.py's model: [B, d_input, L] ->
 * [B, d_output]), in eval mode, with their steppers. See block_map.ts for the names.
 */
import { backend, type DeviceName } from '../backend';
import { S4Layer } from '../nn/s4_layer';
import { SequenceModel } from '../nn/sequence_model';
import type { StateValue } from '../nn/module';
import { layerFromOfficial, type LayerShape } from './block_map';
import { blockSpec, modelSpec, type OfficialBlockConfig, type OfficialModelConfig } from './official_config';
import { checkStateDict, StateReader, type OfficialStateDict } from './official_tensor';

export interface FromOfficialOptions {
  /** Refuse keys the config does not explain (default true). */
  strict?: boolean;
  device?: DeviceName;
}

function options(fn: string, opts: FromOfficialOptions | undefined): { strict: boolean; device: DeviceName } {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError(`${fn}: argument 'opts' must be an object`);
  const strict = opts?.strict ?? true;
  if (typeof strict !== 'boolean') throw new TypeError(`${fn}: option 'strict' must be a boolean`);
  return { strict, device: opts?.device ?? backend() };
}

function loadInto<M extends S4Layer | SequenceModel>(m: M, values: Record<string, StateValue>): M {
  try {
    m.loadStateDict(values);
  } catch (err) {
    m.dispose();
    throw err;
  }
  m.eval();
  return m;
}

/** An official S4Block's state_dict (keys 'layer.*', 'output_linear.0.*') as our S4Layer. */
export function blockFromOfficial(stateDict: OfficialStateDict, config: OfficialBlockConfig, opts?: FromOfficialOptions): S4Layer {
  const fn = 'blockFromOfficial';
  const { strict, device } = options(fn, opts);
  const sd = checkStateDict(fn, stateDict);
  const spec = blockSpec(fn, config);
  const r = new StateReader(fn, sd);
  const { shape, values } = layerFromOfficial(r, spec);
  if (strict) r.expectAllUsed();
  return loadInto(new S4Layer({ dModel: spec.H, dState: 2 * spec.N2, kernel: spec.kernel, lMax: shape.lMax ?? undefined, bidirectional: spec.bidirectional, dropout: spec.dropout, device }), values);
}

/**
 * The official example model's state_dict (encoder, s4_layers.N, norms.N, decoder) as our
 * SequenceModel. The encoder is a Linear (d_input -> d_model) over the features.
 */
export function modelFromOfficial(stateDict: OfficialStateDict, config: OfficialModelConfig, opts?: FromOfficialOptions): SequenceModel {
  const fn = 'modelFromOfficial';
  const { strict, device } = options(fn, opts);
  const sd = checkStateDict(fn, stateDict);
  const spec = modelSpec(fn, config);
  const { H } = spec.block;
  const r = new StateReader(fn, sd);
  const values: Record<string, StateValue> = {};
  values['encoder.weight'] = { shape: [H, spec.dInput], data: Float32Array.from(r.floats('encoder.weight', [H, spec.dInput], ['d_model', 'd_input'])) };
  values['encoder.bias'] = { shape: [H], data: Float32Array.from(r.floats('encoder.bias', [H], ['d_model'])) };
  let first: LayerShape | null = null;
  // The example model's norms are LayerNorms; a state_dict with running statistics comes
  // from the same model built with BatchNorm1d.
  const batchNorm = 'norms.0.running_mean' in sd;
  for (let i = 0; i < spec.nLayers; i++) {
    const { shape, values: lv } = layerFromOfficial(r.child(`s4_layers.${i}.`), spec.block);
    if (first && shape.lMax !== first.lMax) {
      throw new RangeError(`${fn}: 's4_layers.${i}.layer.kernel.l_kernel' gives a kernel length ${shape.lMax} but layer 0 has ${first.lMax}; give config 'l_max' so that all layers are set up for one length`);
    }
    first ??= shape;
    for (const [k, v] of Object.entries(lv)) values[`layers.${i}.s4.${k}`] = v;
    values[`layers.${i}.norm.weight`] = { shape: [H], data: Float32Array.from(r.floats(`norms.${i}.weight`, [H], ['d_model'])) };
    values[`layers.${i}.norm.bias`] = { shape: [H], data: Float32Array.from(r.floats(`norms.${i}.bias`, [H], ['d_model'])) };
    if (batchNorm) {
      for (const b of ['running_mean', 'running_var'])
        values[`layers.${i}.norm.${b}`] = { shape: [H], data: Float32Array.from(r.floats(`norms.${i}.${b}`, [H], ['d_model'])) };
      if (`norms.${i}.num_batches_tracked` in sd)
        values[`layers.${i}.norm.num_batches_tracked`] = { shape: [], data: Float32Array.from(r.floats(`norms.${i}.num_batches_tracked`, [], [])) };
    }
  }
  values['decoder.weight'] = { shape: [spec.dOutput, H], data: Float32Array.from(r.floats('decoder.weight', [spec.dOutput, H], ['d_output', 'd_model'])) };
  values['decoder.bias'] = { shape: [spec.dOutput], data: Float32Array.from(r.floats('decoder.bias', [spec.dOutput], ['d_output'])) };
  if (strict) r.expectAllUsed();
  const lMax = first?.lMax ?? spec.block.lMax;
  const model = new SequenceModel({
    dInput: spec.dInput,
    dModel: H,
    nLayers: spec.nLayers,
    dState: 2 * spec.block.N2,
    dOutput: spec.dOutput,
    prenorm: spec.prenorm,
    norm: batchNorm ? 'batch' : 'layer',
    pool: spec.pool,
    dropout: spec.block.dropout,
    kernel: spec.block.kernel,
    lMax: lMax ?? undefined,
    bidirectional: spec.block.bidirectional,
    device,
  });
  return loadInto(model, values);
}
