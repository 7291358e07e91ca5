/**
 * Named tasks: the datasets, the model's input/output shape and the training recipe that
 * `s4 train --task <name>` uses by default.
 *
 * fmnist follows the official S4 example (example.py): 4 layers, d_model 128, d_state 64,
 * dropout 0.1, post-norm, mean pooling, AdamW lr 0.01 / weight decay 0.01, SSM parameters
 * lr 0.001 without weight decay, batch 64, cosine decay over the run (3 epochs here).
 * The synthetic tasks default to small models that learn within minutes on a CPU.
 */
import type { Pooling, SequenceModelOptions } from '../nn/sequence_model';
import type { Dataset } from './data/dataset';
import { FMNIST_PIXELS, FashionMnistClassification, FashionMnistPixels, loadFashionMnist } from './data/fmnist';
import { AddingDataset, CopyDataset, SineDataset } from './data/synthetic';
import type { TaskKind } from './loss';

export const TASK_NAMES = ['fmnist', 'fmnist-gen', 'sine', 'adding', 'copy'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** Model size and optimization settings. */
export interface Recipe {
  nLayers: number;
  dModel: number;
  dState: number;
  dropout: number;
  prenorm: boolean;
  lr: number;
  weightDecay: number;
  ssmLr: number;
  batchSize: number;
  epochs: number;
  warmupSteps: number;
  /** Global gradient-norm clip (0: off). */
  clip: number;
}

export interface Task {
  name: TaskName;
  kind: TaskKind;
  train: Dataset;
  test: Dataset;
  /** The shape part of the model options (input, output, pooling, length). */
  model: Pick<SequenceModelOptions, 'dInput' | 'embedding' | 'dOutput' | 'lMax'> & { pool: Pooling };
  /** Regression accuracy threshold |prediction - target| < tolerance. */
  tolerance?: number;
  recipe: Recipe;
  /** The task's options without dataDir (stored in checkpoints to rebuild the task). */
  options: TaskOptions;
}

export interface TaskOptions {
  /** Fashion-MNIST folder. */
  dataDir?: string;
  /** Examples of the training split (Fashion-MNIST: the first n; synthetic: how many). */
  trainSize?: number;
  /** Examples of the test split. */
  testSize?: number;
  /** Sequence length of sine and adding; the delay of copy. */
  length?: number;
  /** Seed of the synthetic data (the test split uses seed + 1). */
  dataSeed?: number;
}

const BASE: Recipe = {
  nLayers: 4,
  dModel: 128,
  dState: 64,
  dropout: 0.1,
  prenorm: false,
  lr: 0.01,
  weightDecay: 0.01,
  ssmLr: 0.001,
  batchSize: 64,
  epochs: 3,
  warmupSteps: 0,
  clip: 0,
};

const SMALL: Recipe = { ...BASE, nLayers: 2, dModel: 32, dState: 32, dropout: 0, batchSize: 32, epochs: 4, lr: 0.01, ssmLr: 0.001 };

/** The default recipe of each task. */
export const RECIPES: Readonly<Record<TaskName, Readonly<Recipe>>> = {
  fmnist: BASE,
  'fmnist-gen': { ...BASE, dropout: 0, prenorm: true, lr: 0.004, batchSize: 32, epochs: 1, warmupSteps: 100, clip: 1 },
  sine: SMALL,
  adding: { ...SMALL, dModel: 64, epochs: 4 },
  copy: { ...SMALL, dModel: 64, epochs: 3 },
};

export function isTaskName(v: unknown): v is TaskName {
  return typeof v === 'string' && (TASK_NAMES as readonly string[]).includes(v);
}

/** Builds a task; Fashion-MNIST tasks read the IDX files (and say how to install them). */
export function createTask(name: TaskName, opts: TaskOptions = {}): Task {
  if (!isTaskName(name)) throw new RangeError(`createTask: argument 'name' must be one of ${TASK_NAMES.join(', ')} (got ${String(name)})`);
  const seed = opts.dataSeed ?? 0;
  // The data folder belongs to the machine, not to the run: checkpoints must not carry it.
  const { dataDir: _dir, ...options } = opts;
  switch (name) {
    case 'fmnist': {
      const train = new FashionMnistClassification(loadFashionMnist('train', { dir: opts.dataDir, limit: opts.trainSize }));
      const test = new FashionMnistClassification(loadFashionMnist('test', { dir: opts.dataDir, limit: opts.testSize }));
      return { name, kind: 'classify', train, test, model: { dInput: 1, dOutput: 10, pool: 'mean', lMax: FMNIST_PIXELS }, recipe: { ...RECIPES[name] }, options };
    }
    case 'fmnist-gen': {
      const train = new FashionMnistPixels(loadFashionMnist('train', { dir: opts.dataDir, limit: opts.trainSize }));
      const test = new FashionMnistPixels(loadFashionMnist('test', { dir: opts.dataDir, limit: opts.testSize ?? 1000 }));
      return {
        name,
        kind: 'sequence',
        train,
        test,
        model: { dInput: 1, dOutput: 256, pool: 'none', lMax: FMNIST_PIXELS },
        recipe: { ...RECIPES[name] },
        options,
      };
    }
    case 'sine': {
      const length = opts.length ?? 128;
      const train = new SineDataset({ size: opts.trainSize ?? 2048, length, seed });
      const test = new SineDataset({ size: opts.testSize ?? 256, length, seed: seed + 1 });
      return { name, kind: 'regress', train, test, model: { dInput: 1, dOutput: 1, pool: 'none', lMax: length }, recipe: { ...RECIPES[name] }, options };
    }
    case 'adding': {
      const length = opts.length ?? 100;
      const train = new AddingDataset({ size: opts.trainSize ?? 8192, length, seed });
      const test = new AddingDataset({ size: opts.testSize ?? 512, length, seed: seed + 1 });
      return {
        name,
        kind: 'regress',
        train,
        test,
        model: { dInput: 2, dOutput: 1, pool: 'last', lMax: length },
        tolerance: 0.04,
        recipe: { ...RECIPES[name] },
        options,
      };
    }
    case 'copy': {
      const delay = opts.length ?? 32;
      const train = new CopyDataset({ size: opts.trainSize ?? 4096, delay, seed });
      const test = new CopyDataset({ size: opts.testSize ?? 512, delay, seed: seed + 1 });
      return {
        name,
        kind: 'sequence',
        train,
        test,
        model: { embedding: train.vocab, dOutput: train.vocab, pool: 'none', lMax: train.length },
        recipe: { ...RECIPES[name] },
        options,
      };
    }
  }
}
