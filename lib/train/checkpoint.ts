/**
 * Training checkpoints as safetensors files (see safetensors.ts), written atomically.
 *
 * Tensors: `model.<parameter>` (complex64 parameters as F32 with a trailing dimension of 2:
 * interleaved re, im), `optim.<parameter>.exp_avg` and `.exp_avg_sq` (AdamW's moments, one
 * value per float of the parameter). Metadata (strings; JSON where structured): format,
 * step, epoch, batch (index within the epoch), seed (of the shuffling), dropout (seed and
 * mask counter of each dropout module: its random state), optimizer (type, hyper-parameters,
 * group learning rates and per-parameter step counts), schedule (its step), task, model
 * (the options to rebuild the model), recipe, complex (names of complex parameters).
 */
import { readFileNamed } from '../util/files';
import type { DType } from '../tensor/tensor';
import { writeFileAtomic } from './atomic';
import type { ParamMoments } from './optim_state';
import { CorruptFileError, decodeSafetensors, encodeSafetensors, type F32Tensor } from './safetensors';

export const CHECKPOINT_FORMAT = 's4-cuda/checkpoint/1';

export interface ParamValue {
  shape: number[];
  dtype: DType;
  /** Floats (interleaved re, im for complex64). */
  data: Float32Array;
}

export interface OptimizerMeta {
  type: 'AdamW';
  betas: [number, number];
  eps: number;
  groups: { names: string[]; lr: number; initialLr: number; weightDecay: number }[];
}

export interface DropoutState {
  seed: number;
  step: number;
}

export interface CheckpointState {
  /** Optimizer updates done. */
  step: number;
  /** Epoch in progress (0-based) and the number of its batches already trained. */
  epoch: number;
  batch: number;
  /** Seed of the shuffling. */
  seed: number;
  params: Record<string, ParamValue>;
  moments: Record<string, ParamMoments>;
  optimizer?: OptimizerMeta;
  scheduleStep: number;
  /** Dropout mask streams by module name: the seed and the count of masks drawn. */
  dropout: Record<string, DropoutState>;
  /** Free-form JSON-able descriptions (task, model options, recipe...). */
  info: Record<string, unknown>;
}

/** Encodes a checkpoint as safetensors bytes. */
export function encodeCheckpoint(state: CheckpointState): Buffer {
  const tensors: Record<string, F32Tensor> = {};
  const complex: string[] = [];
  for (const [name, p] of Object.entries(state.params)) {
    const shape = p.dtype === 'complex64' ? [...p.shape, 2] : [...p.shape];
    if (p.dtype === 'complex64') complex.push(name);
    tensors[`model.${name}`] = { shape, data: p.data };
  }
  const steps: Record<string, number> = {};
  for (const [name, st] of Object.entries(state.moments)) {
    tensors[`optim.${name}.exp_avg`] = { shape: [st.m.length], data: st.m };
    tensors[`optim.${name}.exp_avg_sq`] = { shape: [st.v.length], data: st.v };
    steps[name] = st.step;
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    step: String(state.step),
    epoch: String(state.epoch),
    batch: String(state.batch),
    seed: String(state.seed),
    schedule: JSON.stringify({ step: state.scheduleStep }),
    dropout: JSON.stringify(state.dropout),
    optimizer: JSON.stringify({ ...(state.optimizer ?? {}), steps }),
    complex: JSON.stringify(complex),
  };
  for (const [k, v] of Object.entries(state.info)) metadata[`info.${k}`] = JSON.stringify(v);
  return encodeSafetensors(tensors, metadata);
}

/** Writes a checkpoint atomically (temporary file, fsync, rename). */
export function saveCheckpoint(path: string, state: CheckpointState): void {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError("saveCheckpoint: argument 'path' must be a file path");
  writeFileAtomic(path, encodeCheckpoint(state));
}

function int(source: string, meta: Record<string, string>, key: string): number {
  const v = meta[key];
  if (v === undefined || !/^\d+$/.test(v)) throw new CorruptFileError(source, `metadata '${key}' must be a non-negative integer (got ${String(v)})`);
  return Number(v);
}

function json<T>(source: string, meta: Record<string, string>, key: string, fallback?: T): T {
  const v = meta[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new CorruptFileError(source, `metadata '${key}' is missing`);
  }
  try {
    return JSON.parse(v) as T;
  } catch {
    throw new CorruptFileError(source, `metadata '${key}' is not valid JSON`);
  }
}

function dropoutStates(source: string, d: Record<string, DropoutState>): Record<string, DropoutState> {
  if (d === null || typeof d !== 'object') throw new CorruptFileError(source, "metadata 'dropout' must be an object");
  for (const [n, s] of Object.entries(d)) {
    if (!s || !Number.isInteger(s.seed) || !Number.isInteger(s.step) || s.step < 0) throw new CorruptFileError(source, `dropout state of '${n}' must be { seed, step } integers`);
  }
  return d;
}

/** Decodes checkpoint bytes; anything truncated, corrupt or foreign throws CorruptFileError. */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): CheckpointState {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CorruptFileError(source, `metadata 'format' is ${JSON.stringify(metadata.format ?? null)}, expected '${CHECKPOINT_FORMAT}'`);
  }
  const complex = new Set(json<string[]>(source, metadata, 'complex'));
  const optimizer = json<OptimizerMeta & { steps: Record<string, number> }>(source, metadata, 'optimizer');
  const steps = optimizer.steps ?? {};
  const params: Record<string, ParamValue> = {};
  const moments: Record<string, ParamMoments> = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith('model.')) {
      const name = key.slice(6);
      if (complex.has(name)) {
        if (t.shape[t.shape.length - 1] !== 2) throw new CorruptFileError(source, `complex tensor '${key}' must end in a dimension of 2`);
        params[name] = { shape: t.shape.slice(0, -1), dtype: 'complex64', data: t.data };
      } else {
        params[name] = { shape: t.shape, dtype: 'float32', data: t.data };
      }
    } else if (key.startsWith('optim.')) {
      const m = /^optim\.(.+)\.(exp_avg|exp_avg_sq)$/.exec(key);
      if (!m) throw new CorruptFileError(source, `unexpected tensor '${key}'`);
      const name = m[1];
      const step = steps[name];
      if (!Number.isInteger(step) || step < 1) throw new CorruptFileError(source, `optimizer step count of '${name}' is missing`);
      const entry = (moments[name] ??= { step, m: new Float32Array(0), v: new Float32Array(0) });
      if (m[2] === 'exp_avg') entry.m = t.data;
      else entry.v = t.data;
    } else {
      throw new CorruptFileError(source, `unexpected tensor '${key}'`);
    }
  }
  for (const [name, st] of Object.entries(moments)) {
    if (st.m.length === 0 || st.m.length !== st.v.length) throw new CorruptFileError(source, `optimizer moments of '${name}' are incomplete`);
  }
  const info: Record<string, unknown> = {};
  for (const k of Object.keys(metadata)) if (k.startsWith('info.')) info[k.slice(5)] = json(source, metadata, k);
  const { steps: _s, ...optMeta } = optimizer;
  return {
    step: int(source, metadata, 'step'),
    epoch: int(source, metadata, 'epoch'),
    batch: int(source, metadata, 'batch'),
    seed: int(source, metadata, 'seed'),
    params,
    moments,
    optimizer: 'type' in optMeta ? (optMeta as OptimizerMeta) : undefined,
    scheduleStep: json<{ step: number }>(source, metadata, 'schedule').step,
    dropout: dropoutStates(source, json<Record<string, DropoutState>>(source, metadata, 'dropout')),
    info,
  };
}

/** Reads and validates a checkpoint file. */
export function loadCheckpoint(path: string): CheckpointState {
  return decodeCheckpoint(readFileNamed('loadCheckpoint', path), path);
}
