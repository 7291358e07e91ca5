/**
 * s4.interop.toOfficialStateDict: our S4Layer or SequenceModel -> the official state_dict
 * (names, shapes and dtypes as the official S4Block / example model's state_dict(), so that
 * `load_state_dict(sd, strict=True)` takes it), and officialConfig: the constructor
 * arguments that build that official module.
 */
import { BatchNorm } from '../nn/batch_norm';
import { Embedding } from '../nn/embedding';
import { S4Layer } from '../nn/s4_layer';
import { SequenceModel } from '../nn/sequence_model';
import { layerToOfficial, type LayerShape } from './block_map';
import { blockSpec, type OfficialBlockConfig, type OfficialModelConfig, type Transform } from './official_config';
import type { OfficialStateDict } from './official_tensor';

export interface ToOfficialOptions {
  /**
   * SSM copies (the official n_ssm) to write A, B, P with: channels h and h' with
   * h = h' mod n_ssm must hold equal values. Default: one per channel (n_ssm = d_model).
   */
  n_ssm?: number | null;
  dt_transform?: Transform;
  real_transform?: Transform;
  imag_transform?: Transform;
}

function layerShape(layer: S4Layer): LayerShape {
  return { H: layer.H, N2: layer.N2, kernel: layer.kernel, bidirectional: layer.bidirectional, lMax: layer.lMax };
}

function layerValues(layer: S4Layer): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [n, t] of layer.namedParameters()) out[n] = t.dataSync();
  return out;
}

function resolve(fn: string, H: number, opts: ToOfficialOptions | undefined) {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError(`${fn}: argument 'opts' must be an object`);
  const { n_ssm, dt_transform, real_transform, imag_transform } = opts ?? {};
  return blockSpec(fn, { d_model: H, n_ssm, dt_transform, real_transform, imag_transform });
}

function floats(t: { dataSync(): Float32Array; shape: readonly number[] }): { shape: number[]; dtype: string; data: Float32Array } {
  return { shape: [...t.shape], dtype: 'float32', data: t.dataSync() };
}

/** The official state_dict of an S4Layer (as an S4Block) or a SequenceModel (as example.py's model). */
export function toOfficialStateDict(module: S4Layer | SequenceModel, opts?: ToOfficialOptions): OfficialStateDict {
  const fn = 'toOfficialStateDict';
  if (module instanceof S4Layer) {
    const spec = resolve(fn, module.H, opts);
    return layerToOfficial(fn, layerShape(module), layerValues(module), spec);
  }
  if (!(module instanceof SequenceModel)) throw new TypeError(`${fn}: argument 'module' must be an S4Layer or a SequenceModel`);
  const spec = resolve(fn, module.dModel, opts);
  const out: OfficialStateDict = {};
  out['encoder.weight'] = floats(module.encoder.param('weight'));
  if (!(module.encoder instanceof Embedding)) out['encoder.bias'] = floats(module.encoder.param('bias'));
  module.layers.forEach((layer, i) => Object.assign(out, layerToOfficial(fn, layerShape(layer), layerValues(layer), spec, `s4_layers.${i}.`)));
  // LayerNorm: weight, bias; BatchNorm1d adds its running statistics (the batch count is
  // int64 in torch); norm 'none' has no entries.
  module.norms.forEach((norm, i) => {
    if (norm === null) return;
    out[`norms.${i}.weight`] = floats(norm.param('weight'));
    out[`norms.${i}.bias`] = floats(norm.param('bias'));
    if (norm instanceof BatchNorm) {
      out[`norms.${i}.running_mean`] = floats(norm.runningMean);
      out[`norms.${i}.running_var`] = floats(norm.runningVar);
      out[`norms.${i}.num_batches_tracked`] = { shape: [], dtype: 'int64', data: [Math.round(norm.numBatchesTracked.item())] };
    }
  });
  out['decoder.weight'] = floats(module.decoder.weight);
  out['decoder.bias'] = floats(module.decoder.bias!);
  return out;
}

function blockConfig(layer: S4Layer): OfficialBlockConfig {
  return {
    d_model: layer.H,
    d_state: 2 * layer.N2,
    l_max: layer.lMax,
    mode: layer.kernel,
    bidirectional: layer.bidirectional,
    dropout: layer.activationDropout.p,
    transposed: true,
  };
}

/** The official constructor arguments of the module toOfficialStateDict describes. */
export function officialConfig(module: S4Layer | SequenceModel): OfficialBlockConfig | OfficialModelConfig {
  if (module instanceof S4Layer) return blockConfig(module);
  if (!(module instanceof SequenceModel)) throw new TypeError("officialConfig: argument 'module' must be an S4Layer or a SequenceModel");
  if (module.layers.length === 0) throw new RangeError('officialConfig: the model has no layers');
  const { d_model, d_state, l_max, mode, bidirectional, dropout } = blockConfig(module.layers[0]);
  if (module.dInput === null) throw new RangeError('officialConfig: the model has a token embedding; the official example model has a Linear encoder (d_input features)');
  return { d_input: module.dInput, d_output: module.dOutput, d_model, n_layers: module.nLayers, d_state, l_max, mode, bidirectional, dropout, prenorm: module.prenorm, pool: module.pool };
}
