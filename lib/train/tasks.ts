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
  /** Learning rate of dt alone (the official `lr` dict's dt entry); absent: dt takes ssmLr. */
  dtLr?: number;
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

/** What a task's builder gives: all of the task but its name, recipe and options. */
type TaskParts = Omit<Task, 'name' | 'recipe' | 'options'>;

/** The train and test splits of Fashion-MNIST as `Data` (the test split: testLimit images unless testSize says). */
function fmnistSplits<D>(Data: new (images: ReturnType<typeof loadFashionMnist>) => D, opts: TaskOptions, testLimit?: number): { train: D; test: D } {
  return {
    train: new Data(loadFashionMnist('train', { dir: opts.dataDir, limit: opts.trainSize })),
    test: new Data(loadFashionMnist('test', { dir: opts.dataDir, limit: opts.testSize ?? testLimit })),
  };
}

/** Train and test splits of a synthetic dataset: seeds seed and seed + 1, default sizes. */
function syntheticSplits<D>(make: (size: number, seed: number) => D, opts: TaskOptions, trainSize: number, testSize: number): { train: D; test: D } {
  const seed = opts.dataSeed ?? 0;
  return { train: make(opts.trainSize ?? trainSize, seed), test: make(opts.testSize ?? testSize, seed + 1) };
}

const BUILDERS: Record<TaskName, (opts: TaskOptions) => TaskParts> = {
  fmnist: (opts) => ({
    kind: 'classify',
    ...fmnistSplits(FashionMnistClassification, opts),
    model: { dInput: 1, dOutput: 10, pool: 'mean', lMax: FMNIST_PIXELS },
  }),
  'fmnist-gen': (opts) => ({
    kind: 'sequence',
    ...fmnistSplits(FashionMnistPixels, opts, 1000),
    model: { dInput: 1, dOutput: 256, pool: 'none', lMax: FMNIST_PIXELS },
  }),
  sine: (opts) => {
    const length = opts.length ?? 128;
    const splits = syntheticSplits((size, seed) => new SineDataset({ size, length, seed }), opts, 2048, 256);
    return { kind: 'regress', ...splits, model: { dInput: 1, dOutput: 1, pool: 'none', lMax: length } };
  },
  adding: (opts) => {
    const length = opts.length ?? 100;
    const splits = syntheticSplits((size, seed) => new AddingDataset({ size, length, seed }), opts, 8192, 512);
    return { kind: 'regress', ...splits, model: { dInput: 2, dOutput: 1, pool: 'last', lMax: length }, tolerance: 0.04 };
  },
  copy: (opts) => {
    const delay = opts.length ?? 32;
    const splits = syntheticSplits((size, seed) => new CopyDataset({ size, delay, seed }), opts, 4096, 512);
    const { vocab, length } = splits.train;
    return { kind: 'sequence', ...splits, model: { embedding: vocab, dOutput: vocab, pool: 'none', lMax: length } };
  },
};

/** Builds a task; Fashion-MNIST tasks read the IDX files (and say how to install them). */
export function createTask(name: TaskName, opts: TaskOptions = {}): Task {
  if (!isTaskName(name)) throw new RangeError(`createTask: argument 'name' must be one of ${TASK_NAMES.join(', ')} (got ${String(name)})`);
  // The data folder belongs to the machine, not to the run: checkpoints must not carry it.
  const { dataDir: _dir, ...options } = opts;
  return { name, ...BUILDERS[name](opts), recipe: { ...RECIPES[name] }, options };
}
