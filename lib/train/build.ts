/**
 * Builds the model of a task from its recipe (plus overrides), and rebuilds a model from the
 * options stored in a checkpoint.
 */
import type { DeviceName } from '../backend';
import { SequenceModel, type SequenceModelOptions } from '../nn/sequence_model';
import type { NormKind } from '../nn/block';

export type { NormKind };
import type { BidirectionalConvention, S4Init, S4Kernel } from '../nn/s4_layer';
import type { CheckpointState } from './checkpoint';
import { createTask, isTaskName, type Recipe, type Task, type TaskOptions } from './tasks';

export interface ModelOverrides extends Partial<Pick<Recipe, 'nLayers' | 'dModel' | 'dState' | 'dropout' | 'prenorm' | 'bidirectional'>> {
  kernel?: S4Kernel;
  /** The norm of each block (default 'layer'). */
  norm?: NormKind;
  init?: S4Init;
  bidirectional?: boolean;
  bidirectionalConvention?: BidirectionalConvention;
  /** Output channels per SSM. */
  channels?: number;
  /** Independent (A, B, P) copies per layer. */
  nSsm?: number;
  tieDropout?: boolean;
  seed?: number;
  device?: DeviceName;
}

/** The SequenceModel options of a task: its shape, the recipe's size, then the overrides. */
export function modelOptions(task: Task, o: ModelOverrides = {}): SequenceModelOptions {
  const r = task.recipe;
  const bidirectional = o.bidirectional ?? r.bidirectional ?? false;
  return {
    ...task.model,
    nLayers: o.nLayers ?? r.nLayers,
    dModel: o.dModel ?? r.dModel,
    dState: o.dState ?? r.dState,
    dropout: o.dropout ?? r.dropout,
    prenorm: o.prenorm ?? r.prenorm,
    ...(bidirectional ? { bidirectional: true } : {}),
    kernel: o.kernel ?? 'dplr',
    norm: o.norm ?? 'layer',
    seed: o.seed ?? 0,
    // Options left at their defaults stay out, so the stored options only name what was chosen.
    ...defined({
      init: o.init,
      bidirectional: o.bidirectional,
      // Stored explicitly: checkpoints without it predate the official convention (below).
      bidirectionalConvention: bidirectional ? (o.bidirectionalConvention ?? 'official') : undefined,
      channels: o.channels,
      nSsm: o.nSsm,
      tieDropout: o.tieDropout,
    }),
  };
}

/** The entries of o that are not undefined. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A SequenceModel for a task (see modelOptions). */
export function buildModel(task: Task, o: ModelOverrides = {}): { model: SequenceModel; options: SequenceModelOptions } {
  const options = modelOptions(task, o);
  return { model: new SequenceModel({ ...options, device: o.device }), options };
}

/** The task a checkpoint was trained on (its stored options, with overrides such as dataDir). */
export function taskFromCheckpoint(state: CheckpointState, overrides: TaskOptions = {}): Task {
  const t = state.info.task as { name?: unknown; options?: TaskOptions } | undefined;
  if (!t || !isTaskName(t.name)) throw new Error("the checkpoint does not say which task it was trained on (metadata 'info.task')");
  return createTask(t.name, { ...(t.options ?? {}), ...overrides });
}

/** The model a checkpoint holds: rebuilt from its stored options, parameters loaded. */
export function modelFromCheckpoint(state: CheckpointState, device?: DeviceName): SequenceModel {
  const o = state.info.model as SequenceModelOptions | undefined;
  if (!o || typeof o !== 'object') throw new Error("the checkpoint does not hold the model options (metadata 'info.model'); it was not written by `s4 train`");
  // A checkpoint from before the official bidirectional convention holds a model trained
  // with the lag-0 backward kernel: rebuild it so.
  const legacy = o.bidirectional === true && o.bidirectionalConvention === undefined;
  const model = new SequenceModel({ ...o, ...(legacy ? { bidirectionalConvention: 'lag0' as const } : {}), device });
  try {
    // C~ is stored for the length each layer held when saved (longer inputs grow it).
    const lengths = state.info.kernelLengths;
    if (lengths !== undefined) model.setKernelLengths(lengths as (number | null)[]);
    model.loadStateDict(state.params);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
