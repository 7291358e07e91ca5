/**
 * Our checkpoint format (lib/train/checkpoint.ts) <-> official state_dicts: an imported
 * official model becomes a checkpoint that `s4 eval` / `s4 generate` load (model options in
 * info.model, parameters under our names, no optimizer state), and a checkpoint's model
 * becomes the official state_dict and config.
 */
import type { SequenceModel, SequenceModelOptions } from '../nn/sequence_model';
import type { CheckpointState, ParamValue } from '../train/checkpoint';
import { isTaskName, TASK_NAMES } from '../train/tasks';

/** The options that rebuild `model` (what modelFromCheckpoint reads from info.model). */
export function sequenceModelOptions(model: SequenceModel): SequenceModelOptions {
  const first = model.layers[0];
  if (!first) throw new RangeError('the model has no layers');
  return {
    dInput: model.dInput ?? undefined,
    embedding: model.vocab ?? undefined,
    dModel: model.dModel,
    nLayers: model.nLayers,
    dState: 2 * first.N2,
    dOutput: model.dOutput,
    prenorm: model.prenorm,
    pool: model.pool,
    dropout: first.activationDropout.p,
    kernel: first.kernel,
    lMax: first.lMax ?? undefined,
    bidirectional: first.bidirectional,
  };
}

export interface ImportInfo {
  /** The file the parameters came from and what it was. */
  source: { file: string; format: string; config: unknown; epoch?: unknown; globalStep?: unknown };
  /** A task name of `s4 train`, so that `s4 eval` / `s4 generate` can use the checkpoint. */
  task?: string;
}

/** A checkpoint holding `model` (no optimizer state), for saveCheckpoint. */
export function checkpointOf(model: SequenceModel, info: ImportInfo): CheckpointState {
  const params: Record<string, ParamValue> = {};
  for (const [n, t] of model.namedParameters()) params[n] = { shape: [...t.shape], dtype: t.dtype, data: t.dataSync() };
  const extra: Record<string, unknown> = { model: sequenceModelOptions(model), imported: info.source };
  if (info.task !== undefined) {
    if (!isTaskName(info.task)) throw new RangeError(`--task must be one of ${TASK_NAMES.join(', ')} (got '${info.task}')`);
    extra.task = { name: info.task, options: {} };
  }
  const int = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);
  return {
    step: int(info.source.globalStep),
    epoch: int(info.source.epoch),
    batch: 0,
    seed: 0,
    params,
    moments: {},
    scheduleStep: 0,
    dropout: {},
    info: extra,
  };
}
