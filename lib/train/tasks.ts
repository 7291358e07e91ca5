/**
 * Named tasks: the datasets, the model's input/output shape and the training recipe that
 * `s4 train --task <name>` uses by default.
 *
 * fmnist follows the official S4 example (example.py): 4 layers, d_model 128, d_state 64,
 * dropout 0.1, post-norm, mean pooling, AdamW lr 0.01 / weight decay 0.01, SSM parameters
 * lr 0.001 without weight decay, batch 64, cosine decay over the run (3 epochs here).
 * The synthetic tasks default to small models that learn within minutes on a CPU.
 *
 * listops, imdb and cifar default to the official S4 LRA experiments
 * (configs/experiment/lra/s4-*.yaml of state-spaces/s4: layers, width, state size, dropout,
 * lr 0.01, weight decay 0.05, SSM lr 0.001, batch, epochs, warm-up, bidirectional; configs/
 * here holds the same as --config files); mnist follows the official example as fmnist;
 * jsonl trains the user's own sequences with a small model. listops, imdb and jsonl have
 * sequences of different lengths: batches are padded and masked (lib/train/batching.ts).
 */
import type { Pooling, SequenceModelOptions } from '../nn/sequence_model';
import type { Dataset } from './data/dataset';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR_PIXELS, CifarClassification, loadCifar } from './data/cifar';
import { FMNIST_PIXELS, FashionMnistClassification, FashionMnistPixels, loadFashionMnist } from './data/fmnist';
import { loadImdb } from './data/imdb';
import { fromJsonl } from './data/jsonl';
import { generateListops, readListopsTsv } from './data/listops';
import type { SequenceDataset } from './data/sequences';
import { holdOut } from './data/split';
import { AddingDataset, CopyDataset, SineDataset } from './data/synthetic';
import type { TaskKind } from './loss';

export const TASK_NAMES = ['fmnist', 'fmnist-gen', 'sine', 'adding', 'copy', 'mnist', 'cifar', 'listops', 'imdb', 'jsonl'] as const;
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
  /** Bidirectional S4 layers (default false). */
  bidirectional?: boolean;
}

export interface Task {
  name: TaskName;
  kind: TaskKind;
  train: Dataset;
  test: Dataset;
  /** Validation split: held out of the training data (--val-split) or given by the data. */
  val?: Dataset;
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
  /** Share of the training set held out for validation, in (0, 1). */
  valSplit?: number;
  /** listops: longest generated sequence (LRA 2000); imdb, jsonl: sequences are truncated to it. */
  maxLength?: number;
  /** cifar: one gray channel instead of three. */
  grayscale?: boolean;
  /** jsonl: the training and test files. */
  trainFile?: string;
  testFile?: string;
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

/** The official LRA S4 recipes (configs/experiment/lra/s4-{listops,imdb,cifar}.yaml). */
const LRA: Recipe = { ...BASE, nLayers: 6, dModel: 256, dState: 4, dropout: 0, lr: 0.01, weightDecay: 0.05, ssmLr: 0.001, bidirectional: true };

const SMALL: Recipe = { ...BASE, nLayers: 2, dModel: 32, dState: 32, dropout: 0, batchSize: 32, epochs: 4, lr: 0.01, ssmLr: 0.001 };

/** The default recipe of each task. */
export const RECIPES: Readonly<Record<TaskName, Readonly<Recipe>>> = {
  fmnist: BASE,
  'fmnist-gen': { ...BASE, dropout: 0, prenorm: true, lr: 0.004, batchSize: 32, epochs: 1, warmupSteps: 100, clip: 1 },
  sine: SMALL,
  adding: { ...SMALL, dModel: 64, epochs: 4 },
  copy: { ...SMALL, dModel: 64, epochs: 3 },
  mnist: BASE,
  cifar: { ...LRA, dModel: 512, dState: 64, dropout: 0.1, batchSize: 50, epochs: 200, warmupSteps: 18000 },
  listops: { ...LRA, batchSize: 32, epochs: 40, warmupSteps: 12000 },
  imdb: { ...LRA, prenorm: true, batchSize: 16, epochs: 32, warmupSteps: 5000 },
  jsonl: { ...SMALL, dModel: 64, epochs: 10 },
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

const BUILDERS: Record<'fmnist' | 'fmnist-gen' | 'sine' | 'adding' | 'copy', (opts: TaskOptions) => TaskParts> = {
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

/** The folder of a task that reads files: --data-dir is required. */
function needDir(task: string, opts: TaskOptions, what: string): string {
  if (!opts.dataDir) throw new Error(`task ${task}: --data-dir is required (${what})`);
  return opts.dataDir;
}

/** Padded batch lengths of the variable-length tasks are multiples of this (see padMultiple). */
export const LENGTH_MULTIPLE = 64;

/**
 * The model's lMax: the longest sequence of any split, rounded up to LENGTH_MULTIPLE, which
 * every split then pads its batches to a multiple of.
 */
function longest(...sets: (SequenceDataset | undefined)[]): number {
  for (const d of sets) if (d) d.padMultiple = LENGTH_MULTIPLE;
  const L = Math.max(...sets.map((d) => (d ? d.maxLength() : 0)));
  return Math.ceil(L / LENGTH_MULTIPLE) * LENGTH_MULTIPLE;
}

/** A sequence dataset's model shape: tokens embedded or features, classes or one value. */
function sequenceModel(ds: SequenceDataset, lMax: number): TaskParts['model'] & { kind: TaskKind } {
  const { input, target } = ds.shape;
  return {
    ...(input.kind === 'tokens' ? { embedding: input.vocab } : { dInput: input.dInput }),
    dOutput: target.kind === 'classify' ? target.classes : 1,
    pool: 'mean',
    lMax,
    kind: target.kind,
  };
}

const MORE_BUILDERS: Record<'mnist' | 'cifar' | 'listops' | 'imdb' | 'jsonl', (opts: TaskOptions) => TaskParts> = {
  mnist: (opts) => {
    const dir = needDir('mnist', opts, 'the folder of the MNIST IDX files');
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      if (!existsSync(join(dir, f)) && !existsSync(join(dir, `${f}.gz`))) throw new Error(`MNIST not found: ${f}[.gz] is missing in ${dir} (expected the four IDX files of http://yann.lecun.com/exdb/mnist/)`);
    }
    return { kind: 'classify', ...fmnistSplits(FashionMnistClassification, opts), model: { dInput: 1, dOutput: 10, pool: 'mean', lMax: FMNIST_PIXELS } };
  },
  cifar: (opts) => {
    const dir = needDir('cifar', opts, 'the folder of the CIFAR-10 binary files');
    const gray = opts.grayscale ?? false;
    return {
      kind: 'classify',
      train: new CifarClassification(loadCifar(dir, 'train', { limit: opts.trainSize }), gray),
      test: new CifarClassification(loadCifar(dir, 'test', { limit: opts.testSize }), gray),
      model: { dInput: gray ? 1 : 3, dOutput: 10, pool: 'mean', lMax: CIFAR_PIXELS },
    };
  },
  listops: (opts) => {
    const maxLength = opts.maxLength ?? 2000;
    let train: SequenceDataset, test: SequenceDataset, val: SequenceDataset | undefined;
    if (opts.dataDir) {
      // The LRA release: its own validation file.
      train = readListopsTsv(join(opts.dataDir, 'basic_train.tsv'), maxLength);
      val = readListopsTsv(join(opts.dataDir, 'basic_val.tsv'), maxLength);
      test = readListopsTsv(join(opts.dataDir, 'basic_test.tsv'), maxLength);
    } else {
      // LRA's sizes: 96000 train, 2000 test; seeds seed and seed + 1.
      const seed = opts.dataSeed ?? 0;
      train = generateListops({ size: opts.trainSize ?? 96000, seed, maxLength });
      test = generateListops({ size: opts.testSize ?? 2000, seed: seed + 1, maxLength });
    }
    const { kind, ...model } = sequenceModel(train, longest(train, test, val));
    return { kind, train, test, ...(val ? { val } : {}), model };
  },
  imdb: (opts) => {
    const dir = needDir('imdb', opts, 'the aclImdb folder');
    const maxLength = opts.maxLength ?? 4096;
    const train = loadImdb(dir, 'train', { maxLength, limit: opts.trainSize });
    const test = loadImdb(dir, 'test', { maxLength, limit: opts.testSize });
    const { kind, ...model } = sequenceModel(train, longest(train, test));
    return { kind, train, test, model };
  },
  jsonl: (opts) => {
    if (!opts.trainFile || !opts.testFile) throw new Error('task jsonl: --train FILE and --test FILE are required (one JSON object a line: {"input": [...], "label": n} or {"text": "...", "label": n})');
    const train = fromJsonl(opts.trainFile, { maxLength: opts.maxLength });
    const test = fromJsonl(opts.testFile, { maxLength: opts.maxLength, like: train.shape });
    const { kind, ...model } = sequenceModel(train, longest(train, test));
    return { kind, train, test, model };
  },
};

/** Builds a task; tasks on files read them (and say what is missing and where to get it). */
export function createTask(name: TaskName, opts: TaskOptions = {}): Task {
  if (!isTaskName(name)) throw new RangeError(`createTask: argument 'name' must be one of ${TASK_NAMES.join(', ')} (got ${String(name)})`);
  if (opts.valSplit !== undefined && !(typeof opts.valSplit === 'number' && opts.valSplit > 0 && opts.valSplit < 1)) {
    throw new RangeError(`createTask: option 'valSplit' must be in (0, 1) (got ${String(opts.valSplit)})`);
  }
  // The data folder belongs to the machine, not to the run: checkpoints must not carry it.
  const { dataDir: _dir, ...options } = opts;
  const parts = name in MORE_BUILDERS ? MORE_BUILDERS[name as keyof typeof MORE_BUILDERS](opts) : BUILDERS[name as keyof typeof BUILDERS](opts);
  if (opts.valSplit !== undefined) {
    const { train, val } = holdOut(parts.train, opts.valSplit);
    parts.train = train;
    parts.val = val;
  }
  return { name, ...parts, recipe: { ...RECIPES[name] }, options };
}
