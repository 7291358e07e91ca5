/**
 * `s4 train`: trains a task's model with its recipe (flags override it), shows a progress
 * bar, writes a JSONL log and safetensors checkpoints under --out, and resumes from one.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { applyConfig } from './config';
import { backend } from '../backend';
import { AdamW } from '../optim/adamw';
import { S4_INITS, type BidirectionalConvention, type S4Init } from '../nn/s4_layer';
import { buildModel, modelFromCheckpoint, taskFromCheckpoint, type ModelOverrides, type NormKind } from '../train/build';
import type { CheckpointState } from '../train/checkpoint';
import { attachProgress } from '../train/progress';
import { createTask, RECIPES, TASK_NAMES, type Recipe, type Task, type TaskName } from '../train/tasks';
import { Trainer, TrainingDivergedError, type TrainerOptions } from '../train/trainer';
import { applyDevice, int, num, oneOf, pct } from './parse';
import { joinRun, launchIfAsked, loadRunCheckpoint, wrapModel, type DistFlags, type RankContext } from './train_dist';

/** The parsed flags; the layer options keep the names of ModelOverrides. */
interface TrainFlags extends Pick<ModelOverrides, 'norm' | 'init' | 'bidirectional' | 'bidirectionalConvention' | 'channels' | 'nSsm' | 'tieDropout'>, DistFlags {
  task?: TaskName;
  config?: string;
  valSplit?: number;
  maxLength?: number;
  grayscale?: boolean;
  train?: string;
  test?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  ssmLr?: number;
  weightDecay?: number;
  layers?: number;
  dModel?: number;
  dState?: number;
  dropout?: number;
  prenorm?: boolean;
  kernel: 'dplr' | 'diag';
  dtLr?: number;
  clip?: number;
  warmup?: number;
  trainSize?: number;
  testSize?: number;
  length?: number;
  dataDir?: string;
  maxSteps?: number;
  timeLimit?: number;
  evalEvery?: number;
  evalLimit?: number;
  seed: number;
  out?: string;
  checkpointEvery: number;
  resume?: string | boolean;
  progress: boolean;
  json?: boolean;
}

function recipeTable(): string {
  const rows = TASK_NAMES.map((name) => {
    const r = RECIPES[name];
    return `  ${name.padEnd(10)} layers ${r.nLayers}, d_model ${r.dModel}, d_state ${r.dState}, dropout ${r.dropout}, ${r.prenorm ? 'pre' : 'post'}-norm, lr ${r.lr}, ssm lr ${r.ssmLr}, wd ${r.weightDecay}, batch ${r.batchSize}, epochs ${r.epochs}`;
  });
  return `\nTask defaults (the flags above override them):\n${rows.join('\n')}\n\n` +
    'Tasks: fmnist (Fashion-MNIST classification, pixels as a sequence of 784), fmnist-gen (next-pixel\n' +
    'prediction over 256 values, for `s4 generate`), sine (forecasting), adding (the adding problem),\n' +
    'copy (copying memory). Fashion-MNIST: `sudo apt-get install dataset-fashion-mnist`.\n' +
    'mnist and cifar (--data-dir: the IDX files; the CIFAR-10 binary files, --grayscale for one channel),\n' +
    'listops (LRA ListOps, generated from --seed, or the LRA TSV files in --data-dir), imdb (--data-dir:\n' +
    'aclImdb, byte level), jsonl (--train FILE --test FILE: your own sequences, one JSON object a line,\n' +
    '{"input": [..] | [[..]], "label": n} or {"text": "..", "label": n}; any lengths).\n' +
    '--config FILE reads flags from JSON ({"d-model": 128}); the command line wins. configs/ holds the\n' +
    'official LRA S4 settings for listops, imdb and cifar.\n\n' +
    'Examples:\n  s4 train --task sine                     # about a minute on 2 CPU cores\n' +
    '  s4 train --task fmnist                   # the official S4 example recipe (GPU)\n' +
    '  s4 train --task fmnist --resume          # continue from runs/fmnist/checkpoint.safetensors\n' +
    '  s4 train --config configs/listops.json   # LRA ListOps, the official S4 recipe (GPU)\n' +
    '  s4 train --task jsonl --train train.jsonl --test test.jsonl --val-split 0.1\n';
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train an S4 model on a task (progress bar, JSONL log, resumable safetensors checkpoints)')
    .option('--task <name>', `task: ${TASK_NAMES.join(' | ')}`, oneOf(TASK_NAMES))
    .option('--config <file>', 'JSON file of flags ({"d-model": 128, ...}); flags on the command line win')
    .option('--epochs <n>', 'epochs', int(1))
    .option('--batch-size <n>', 'batch size', int(1))
    .option('--lr <x>', 'learning rate', num(0))
    .option('--ssm-lr <x>', 'learning rate of the SSM parameters (A, B, dt)', num(0))
    .option('--dt-lr <x>', 'learning rate of dt alone (default: the SSM learning rate)', num(0))
    .option('--weight-decay <x>', 'AdamW weight decay (not applied to SSM parameters)', num(0))
    .option('--layers <n>', 'S4 layers', int(1))
    .option('--d-model <n>', 'channels H', int(1))
    .option('--d-state <n>', 'state size N (even)', int(2))
    .option('--dropout <x>', 'dropout rate', num(0, 0.99))
    .option('--prenorm', 'normalize before each block (default: after, as the official example)')
    .option('--norm <kind>', 'block norm: layer (LayerNorm over channels) | batch (BatchNorm over batch and length, per channel) | none (default layer)', oneOf(['layer', 'batch', 'none'] as const))
    .option('--no-prenorm', 'normalize after each block (for tasks whose default is pre-norm)')
    .option('--bidirectional', 'bidirectional S4 layers (the official LRA setting)')
    .option('--no-bidirectional', 'causal S4 layers (for tasks whose default is bidirectional)')
    .option('--kernel <kind>', 'S4 kernel: dplr (S4) | diag (S4D)', oneOf(['dplr', 'diag'] as const), 'dplr')
    .option('--init <name>', `initialization of A, B: ${S4_INITS.join(' | ')} (default legs; lin, inv, legt, diag-*: --kernel diag)`, oneOf(S4_INITS))
    .option('--bidirectional-convention <c>', "official (backward kernel from lag 1) | lag0", oneOf(['official', 'lag0'] as const))
    .option('--channels <n>', 'output channels per SSM (the output linear takes channels * d_model)', int(1))
    .option('--n-ssm <n>', 'independent (A, B, P) copies per layer, a divisor of d_model (default d_model)', int(1))
    .option('--tie-dropout', 'one dropout mask value per example and channel, shared over the sequence (nn.Dropout1d)')
    .option('--clip <x>', 'clip the global gradient norm (0: off)', num(0))
    .option('--warmup <n>', 'linear warm-up steps before the cosine decay', int(0))
    .option('--train-size <n>', 'training examples (Fashion-MNIST: the first n)', int(1))
    .option('--test-size <n>', 'test examples', int(1))
    .option('--length <n>', 'sequence length (sine, adding) or delay (copy)', int(2))
    .option('--data-dir <path>', 'data folder: Fashion-MNIST (default /usr/share/datasets/fashion-mnist), MNIST, CIFAR-10, aclImdb, ListOps TSV')
    .option('--max-length <n>', 'listops: longest generated sequence (default 2000); imdb (default 4096), jsonl: truncate to n', int(6))
    .option('--grayscale', 'cifar: one gray channel instead of RGB')
    .option('--train <file>', 'jsonl: the training file')
    .option('--test <file>', 'jsonl: the test file')
    .option('--val-split <x>', 'hold out this share of the training set for validation each epoch (best checkpoint kept; test scored at the end)', num(0.0001, 0.9999))
    .option('--max-steps <n>', 'stop after this many steps in total', int(1))
    .option('--time-limit <s>', 'end the run after the step that passes s seconds of training (then evaluate and save as at the end)', num(0))
    .option('--eval-every <n>', 'evaluate every n steps (default: each epoch)', int(1))
    .option('--eval-limit <n>', 'evaluate on at most n test examples', int(1))
    .option('--seed <n>', 'seed of the initialization and the shuffling', int(0), 0)
    .option('--out <dir>', 'folder for checkpoint.safetensors and log.jsonl (default runs/<task>)')
    .option('--checkpoint-every <n>', 'also checkpoint every n steps (0: at epoch ends only)', int(0), 0)
    .option('--resume [checkpoint]', 'continue a run (default <out>/checkpoint.safetensors)')
    .option('--device <d>', 'cpu | cuda (default: cuda when usable)', oneOf(['cpu', 'cuda'] as const))
    .option('--gpus <n>', 'data-parallel over n GPUs of this machine: one process each, gradients through NCCL; --batch-size is the global batch', int(1))
    .option('--procs <n>', 'data-parallel over n processes without a GPU each (CPU, or sharing one GPU); gradients through TCP', int(1))
    .option('--master-port <p>', 'port of the ranks\' rendezvous (default: a free one; MASTER_PORT under torchrun or Slurm)', int(1))
    .option('--dist-backend <b>', 'how ranks exchange gradients: auto (NCCL for CUDA models when libnccl loads) | nccl | tcp', oneOf(['auto', 'nccl', 'tcp'] as const))
    .option('--bucket-mb <x>', 'data parallel: size of a gradient bucket in MiB (default 25)', num(0))
    .option('--no-grad-overlap', 'data parallel: all-reduce the gradient buckets after the backward pass, not during it as each one is complete')
    .option('--no-progress', 'no progress bar (print one line per evaluation)')
    .option('--json', 'print the final result as JSON')
    .addHelpText('after', recipeTable())
    .action(async (flags: TrainFlags, cmd: Command) => {
      if (flags.config) applyConfig(cmd, flags.config);
      const f = cmd.opts<TrainFlags>();
      if (!f.task) throw new Error(`--task is required (${TASK_NAMES.join(' | ')}), on the command line or as "task" in --config`);
      if (await launchIfAsked(f)) return;
      const rank = await joinRun(f);
      try {
        await runTrain(f as TrainFlags & { task: TaskName }, rank);
      } catch (err) {
        // This rank cannot go on: the others must not wait for it.
        rank?.group.abort(err instanceof Error ? err.message : String(err));
        throw err;
      } finally {
        await rank?.group.close();
      }
    });
}

/** Flags that belong to one task: given with another, they would be ignored in silence. */
const TASK_FLAGS: [keyof TrainFlags, string, readonly TaskName[]][] = [
  ['train', '--train', ['jsonl']],
  ['test', '--test', ['jsonl']],
  ['grayscale', '--grayscale', ['cifar']],
  ['maxLength', '--max-length', ['listops', 'imdb', 'jsonl']],
];

async function runTrain(f: TrainFlags & { task: TaskName }, rank: RankContext | null): Promise<void> {
  // Rank 0 speaks for a data-parallel run; the other ranks report only errors.
  const leader = !rank || rank.group.rank === 0;
  for (const [key, flag, tasks] of TASK_FLAGS) {
    if (f[key] !== undefined && f[key] !== false && !tasks.includes(f.task)) throw new Error(`${flag} applies to --task ${tasks.join(' | ')}, not ${f.task}`);
  }
  applyDevice(f.device);
  const out = f.out ?? join('runs', f.task);
  const ckPath = join(out, 'checkpoint.safetensors');
  const bestPath = join(out, 'best.safetensors');
  const resumePath = f.resume === undefined || f.resume === false ? null : f.resume === true ? ckPath : f.resume;

  // Per branch: the task and the Trainer options (and, resuming, the checkpoint to restore);
  // the Trainer is made once below.
  const common = {
    maxSteps: f.maxSteps,
    timeLimit: f.timeLimit,
    evalEvery: f.evalEvery,
    evalLimit: f.evalLimit,
    logFile: join(out, 'log.jsonl'),
    checkpoint: ckPath,
    checkpointEvery: f.checkpointEvery,
    bestCheckpoint: bestPath,
  };
  let task: Task;
  let options: TrainerOptions;
  let state: CheckpointState | null = null;
  let norm: NormKind;
  if (resumePath) {
    // Everything that shapes the run comes from the checkpoint; flags may only extend it.
    state = await loadRunCheckpoint(resumePath, rank);
    task = taskFromCheckpoint(state, {
      ...(f.dataDir ? { dataDir: f.dataDir } : {}),
      ...(f.train ? { trainFile: f.train } : {}),
      ...(f.test ? { testFile: f.test } : {}),
    });
    if (task.name !== f.task) throw new Error(`${resumePath} is a checkpoint of task '${task.name}', not '${f.task}'`);
    const stored = (state.info.model ?? {}) as { norm?: NormKind };
    if (f.norm !== undefined && f.norm !== (stored.norm ?? 'layer')) {
      throw new Error(`${resumePath} was trained with --norm ${stored.norm ?? 'layer'}; a resumed run keeps it (got --norm ${f.norm})`);
    }
    norm = stored.norm ?? 'layer';
    const run = (state.info.run ?? {}) as { recipe?: Recipe };
    const recipe = run.recipe ?? task.recipe;
    const model = modelFromCheckpoint(state);
    options = {
      ...common,
      model,
      task: { ...task, recipe },
      optimizer: new AdamW(model.parameterGroups({ lr: recipe.lr, weightDecay: recipe.weightDecay, ssmLr: recipe.ssmLr, dtLr: recipe.dtLr }), { weightDecay: recipe.weightDecay }),
      epochs: f.epochs ?? recipe.epochs,
      batchSize: recipe.batchSize,
      info: { model: state.info.model, run: { recipe } },
    };
  } else {
    task = createTask(f.task, {
      dataDir: f.dataDir,
      trainSize: f.trainSize,
      testSize: f.testSize,
      length: f.length,
      dataSeed: f.seed,
      valSplit: f.valSplit,
      maxLength: f.maxLength,
      grayscale: f.grayscale,
      trainFile: f.train,
      testFile: f.test,
    });
    const r = task.recipe;
    const recipe: Recipe = {
      nLayers: f.layers ?? r.nLayers,
      dModel: f.dModel ?? r.dModel,
      dState: f.dState ?? r.dState,
      dropout: f.dropout ?? r.dropout,
      prenorm: f.prenorm ?? r.prenorm,
      lr: f.lr ?? r.lr,
      weightDecay: f.weightDecay ?? r.weightDecay,
      ssmLr: f.ssmLr ?? Math.min(r.ssmLr, f.lr ?? r.lr),
      ...(f.dtLr !== undefined ? { dtLr: f.dtLr } : {}),
      batchSize: f.batchSize ?? r.batchSize,
      epochs: f.epochs ?? r.epochs,
      warmupSteps: f.warmup ?? r.warmupSteps,
      clip: f.clip ?? r.clip,
      bidirectional: f.bidirectional ?? r.bidirectional ?? false,
    };
    task = { ...task, recipe };
    if (f.bidirectionalConvention !== undefined && !recipe.bidirectional) throw new Error('--bidirectional-convention needs --bidirectional');
    const built = buildModel(task, {
      kernel: f.kernel,
      norm: f.norm,
      seed: f.seed,
      init: f.init,
      bidirectional: f.bidirectional,
      bidirectionalConvention: f.bidirectionalConvention,
      channels: f.channels,
      nSsm: f.nSsm,
      tieDropout: f.tieDropout,
    });
    norm = built.options.norm ?? 'layer';
    options = { ...common, model: built.model, task, seed: f.seed, info: { model: built.options, run: { recipe } } };
  }
  if (rank) options.distributed = await wrapModel(options.model, rank);
  const trainer = new Trainer(options);
  if (state) {
    trainer.resume(state);
    if (leader) console.error(`resuming ${task.name} from ${resumePath} at step ${trainer.step} (epoch ${trainer.epoch + 1}, batch ${trainer.batch})`);
  }
  const r = trainer.task.recipe;
  if (leader)
    console.error(
    `task ${task.name}: ${task.train.size} train${task.val ? ` / ${task.val.size} validation` : ''} / ${task.test.size} test examples; model ${trainer.model.parameterCount()} parameters ` +
      `(${r.nLayers} layers, d_model ${r.dModel}, d_state ${r.dState}, ${norm} norm); ${trainer.epochs} epochs of ${trainer.batchesPerEpoch} steps, batch ${trainer.batchSize}; backend ${backend()}` +
      (rank ? `; ${rank.group.worldSize} ranks, gradients through ${options.distributed!.backend}${options.distributed!.overlap ? '' : ' after the backward pass'}` : ''),
  );
  const close = f.progress && leader ? attachProgress(trainer) : null;
  if (!f.progress && leader) {
    trainer.on('eval', (e) => console.error(`step ${e.step}/${trainer.totalSteps}: ${e.split} loss ${e.metrics.loss.toFixed(4)}${e.metrics.accuracy !== undefined ? `, accuracy ${pct(e.metrics.accuracy)}` : ''}`));
  }
  // SIGINT (Ctrl-C) and SIGTERM (a scheduler or `kill`) both stop after the current step
  // and save; a second signal quits at once, without a checkpoint.
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) process.exit(signal === 'SIGTERM' ? 143 : 130);
    console.error(`\n${signal}: stopping after this step (a second signal quits without a checkpoint)`);
    trainer.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A rank started by `--gpus` / `--procs` stops as on SIGTERM when its launcher dies.
  const onOrphaned = (): void => onSignal('SIGTERM');
  if (rank && process.send) process.on('disconnect', onOrphaned);
  try {
    const res = await trainer.fit();
    close?.();
    const test = res.test;
    if (!leader) {
      // The run's result is rank 0's to print.
    } else if (f.json) {
      console.log(JSON.stringify({ task: task.name, ...res, checkpoint: ckPath, log: join(out, 'log.jsonl') }));
    } else {
      console.log(
        `${res.stopped ? 'stopped' : res.timedOut ? 'time limit reached' : 'done'} at step ${res.step} in ${res.seconds.toFixed(1)} s: ` +
          `train loss ${res.train.loss.toFixed(4)}${res.train.accuracy !== undefined ? ` (accuracy ${pct(res.train.accuracy)})` : ''}` +
          (test ? `, test loss ${test.loss.toFixed(4)}${test.accuracy !== undefined ? `, test accuracy ${pct(test.accuracy)}` : ''}` : ''),
      );
      if (res.best) {
        const b = res.best.metrics;
        console.log(`best validation at step ${res.best.step}: loss ${b.loss.toFixed(4)}${b.accuracy !== undefined ? `, accuracy ${pct(b.accuracy)}` : ''} (${bestPath})`);
      }
      console.log(`checkpoint ${ckPath}, log ${join(out, 'log.jsonl')}`);
      if (res.stopped) console.log(`resume with: s4 train --task ${task.name} --out ${out} --resume`);
    }
  } catch (err) {
    close?.();
    if (err instanceof TrainingDivergedError) {
      console.error(`s4 train: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('disconnect', onOrphaned);
    options.distributed?.close();
    trainer.model.dispose();
    trainer.optimizer.dispose();
  }
}
