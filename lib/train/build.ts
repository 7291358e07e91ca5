/**
 * Builds the model of a task from its recipe (plus overrides), and rebuilds a model from the
 * options stored in a checkpoint.
 */
import type { DeviceName } from '../backend';
import { SequenceModel, type SequenceModelOptions } from '../nn/sequence_model';
import type { S4Kernel } from '../nn/s4_layer';
import type { CheckpointState } from './checkpoint';
import { createTask, isTaskName, type Recipe, type Task, type TaskOptions } from './tasks';

export interface ModelOverrides extends Partial<Pick<Recipe, 'nLayers' | 'dModel' | 'dState' | 'dropout' | 'prenorm' | 'bidirectional'>> {
  kernel?: S4Kernel;
  seed?: number;
  device?: DeviceName;
}

/** The SequenceModel options of a task: its shape, the recipe's size, then the overrides. */
export function modelOptions(task: Task, o: ModelOverrides = {}): SequenceModelOptions {
  const r = task.recipe;
  return {
    ...task.model,
    nLayers: o.nLayers ?? r.nLayers,
    dModel: o.dModel ?? r.dModel,
    dState: o.dState ?? r.dState,
    dropout: o.dropout ?? r.dropout,
    prenorm: o.prenorm ?? r.prenorm,
    ...((o.bidirectional ?? r.bidirectional) ? { bidirectional: true } : {}),
    kernel: o.kernel ?? 'dplr',
    seed: o.seed ?? 0,
  };
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
  const model = new SequenceModel({ ...o, device });
  try {
    model.loadStateDict(state.params);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
