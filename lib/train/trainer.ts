/**
 * Trainer: the training loop of a SequenceModel (or any Module with forward(x)) on a Task.
 *
 *   const trainer = new Trainer({ model, task, checkpoint: 'run/ckpt.safetensors' });
 *   trainer.on('step', (e) => ...);  trainer.on('eval', (e) => ...);
 *   const result = await trainer.fit();
 *
 * Each epoch visits the training set in batches drawn from (seed, epoch), so a run is
 * repeatable and a resumed run sees the same batches as an uninterrupted one; the batches
 * of a variable-length dataset group sequences of similar length (lib/train/batching.ts),
 * and the model gets their true lengths. A step is
 * forward, loss, backward, optional gradient clipping, optimizer update, schedule update.
 * A non-finite loss (or gradient norm) stops the run with TrainingDivergedError before the
 * parameters change. Checkpoints hold everything the next step depends on (parameters,
 * optimizer moments and counts, schedule position, dropout counters, epoch and batch).
 *
 * With a validation split (task.val), each evaluation scores the validation set instead of
 * the test set, the best one so far (accuracy, or loss without accuracy) is also saved as
 * `bestCheckpoint`, and the test set is scored once, at the end of the run.
 *
 * With `distributed` (a DataParallel, lib/distributed/data_parallel.ts) every rank runs this
 * loop over the same global batches: each takes its part of a batch, the gradients are
 * summed over the ranks before the update, evaluations are split between the ranks, and
 * the decisions (divergence, stop, time limit) come from values every rank shares, so all
 * ranks take the same steps. Only rank 0 writes the log and the checkpoints.
 */
import { EventEmitter } from 'node:events';
import { backend, type DeviceName } from '../backend';
import { noGrad } from '../autograd/tape';
import { Dropout } from '../nn/dropout';
import type { Module, StateValue } from '../nn/module';
import { AdamW } from '../optim/adamw';
import { clipGradNorm } from '../optim/clip';
import { CosineWarmupSchedule } from '../optim/schedule';
import { argmaxChannels } from '../ops/loss';
import { isNonFiniteError } from '../util/errors';
import { expectInteger, expectNumber } from '../util/validate';
import { runScope } from '../tensor/scope';
import { scale } from '../ops/index';
import type { DataParallel } from '../distributed/data_parallel';
import { ProcessGroupError } from '../distributed/process_group';
import { Tensor } from '../tensor/tensor';
import { loadCheckpoint, saveCheckpoint, type CheckpointState, type DropoutState, type ParamValue } from './checkpoint';
import { epochBatches, evalBatches } from './batching';
import { padBatchTo, type Batch, type Dataset } from './data/dataset';
import { removeStaleTemporaries } from './atomic';
import { JsonlLog, LogWriteError } from './log';
import { taskLoss } from './loss';
import { MetricAccumulator, batchAccuracy, scorePredictions, type Metrics } from './metrics';
import { readOptimizerState, restoreOptimizerState } from './optim_state';
import type { Task } from './tasks';

export { epochOrder } from './batching';

export interface TrainableModel extends Module {
  /** `lengths`: the true lengths of a padded batch of sequences (see Batch.lengths). */
  forward(x: Tensor, opts?: { lengths?: ArrayLike<number> }): Tensor;
  /** The kernel length each S4 layer holds (it grows with longer inputs); stored in checkpoints. */
  kernelLengths?(): (number | null)[];
}

export interface TrainerOptions {
  model: TrainableModel;
  task: Task;
  /** Default: AdamW over model.parameterGroups() with the task recipe's lr, weight decay, SSM lr. */
  optimizer?: AdamW;
  /** Default: cosine decay (with the recipe's warm-up) over the whole run; null: constant lr. */
  schedule?: CosineWarmupSchedule | null;
  batchSize?: number;
  epochs?: number;
  /** Stop after this many optimizer updates in total (counting those before a resume). */
  maxSteps?: number;
  /**
   * End the run after the step during which this many seconds of fit() have passed: it then
   * finishes as at its last step (final evaluation, checkpoint); result.timedOut says so.
   */
  timeLimit?: number;
  /** Seed of the shuffling (default 0). */
  seed?: number;
  /** Evaluate on the test split every n steps (default 0: at the end of each epoch). */
  evalEvery?: number;
  /** Evaluate on at most this many test examples (default: all). */
  evalLimit?: number;
  evalBatchSize?: number;
  /** Global gradient-norm clip (default: the recipe's; 0 = off). */
  clipGradNorm?: number;
  /**
   * Score accuracy on training batches too (default true). Classification and per-position
   * tasks download only the predicted indices; regression downloads the output.
   */
  trainAccuracy?: boolean;
  /** JSON Lines log file. */
  logFile?: string;
  /** Append to an existing log (default: append when resuming). */
  appendLog?: boolean;
  /** Checkpoint file, written atomically at each epoch end, at the end, and every checkpointEvery steps. */
  checkpoint?: string;
  checkpointEvery?: number;
  /** With a validation split: where the best checkpoint goes (default: none is written). */
  bestCheckpoint?: string;
  /** JSON-able descriptions stored in checkpoints (e.g. the model options, to rebuild it). */
  info?: Record<string, unknown>;
  /**
   * Data-parallel training over the ranks of a process group (see the class comment);
   * `batchSize` is then the global batch. Its model must be `model`.
   */
  distributed?: DataParallel;
}

export interface StepResult {
  loss: number;
  /** Accuracy on the batch (when scored). */
  accuracy?: number;
  score: { correct: number; total: number } | null;
  /** Learning rate of the first group for this update. */
  lr: number;
  /** Gradient norm before clipping (when clipping). */
  gradNorm?: number;
}

/** A data-parallel step's result, with the decisions the ranks share. */
/** What a forward/backward reads back: the loss, the predicted indices, the output (each when needed). */
type Reads = [loss: Float32Array, pred: Float32Array | null, out: Float32Array | null];

/** The unscaled loss, the weight of the backward and the batch's score (when scored). */
interface StepLoss {
  lv: number;
  weight: number;
  score: { correct: number; total: number } | null;
}

interface SharedStepResult extends StepResult {
  /** Some rank was asked to stop. */
  stop: boolean;
  /** Rank 0's clock passed the time limit. */
  timeUp: boolean;
}

export interface StepEvent {
  step: number;
  totalSteps: number;
  epoch: number;
  /** Batches of this epoch done, and the epoch's batch count. */
  batch: number;
  batchesPerEpoch: number;
  loss: number;
  accuracy?: number;
  /** Learning rate of the first group for this update. */
  lr: number;
  gradNorm?: number;
  /** Training examples per second over the recent steps. */
  examplesPerSec: number;
}

export interface EvalEvent {
  step: number;
  epoch: number;
  /** 'val' when the task has a validation split (the test set is then scored at the end only). */
  split: 'test' | 'val';
  metrics: Metrics;
  seconds: number;
}

export interface FitResult {
  step: number;
  epoch: number;
  /** Mean loss/accuracy over the training batches of the last (partial) epoch. */
  train: Metrics;
  /** The last evaluation on the test split. */
  test: Metrics | null;
  /** With a validation split: the last evaluation on it, and the best one with its step. */
  val?: Metrics | null;
  best?: { step: number; epoch: number; metrics: Metrics } | null;
  stopped: boolean;
  /** The run ended at the time limit (timeLimit) before its last step. */
  timedOut?: boolean;
  seconds: number;
}

/**
 * A non-finite loss or gradient norm, or parameters that an op refuses as non-finite (e.g.
 * Lambda = -exp(log) overflowing): the run stopped at `step` without updating the parameters.
 */
export class TrainingDivergedError extends Error {
  constructor(
    readonly step: number,
    readonly epoch: number,
    /** 'loss', 'gradient norm' or 'parameters'. */
    readonly what: string,
    readonly value: number,
    checkpoint: string | null,
    detail?: string,
  ) {
    super(
      `training diverged: the ${what} ${what === 'parameters' ? 'are' : 'is'} ${value} at step ${step} (epoch ${epoch + 1}); ` +
        (what === 'parameters' ? `the update of step ${step - 1} made them so${detail ? ` (${detail})` : ''}` : 'the parameters were not updated') +
        (checkpoint ? `. Last checkpoint: ${checkpoint}` : '') +
        '. Try a lower --lr or gradient clipping (--clip 1).',
    );
    this.name = 'TrainingDivergedError';
  }
}

export declare interface Trainer {
  on(event: 'step', fn: (e: StepEvent) => void): this;
  on(event: 'eval', fn: (e: EvalEvent) => void): this;
  on(event: 'epoch', fn: (e: { epoch: number; step: number; train: Metrics }) => void): this;
  on(event: 'checkpoint', fn: (e: { path: string; step: number }) => void): this;
  on(event: 'start', fn: (e: { step: number; totalSteps: number; batchesPerEpoch: number; resumed: boolean }) => void): this;
}

export class Trainer extends EventEmitter {
  readonly model: TrainableModel;
  readonly task: Task;
  readonly optimizer: AdamW;
  readonly schedule: CosineWarmupSchedule | null;
  readonly batchSize: number;
  readonly epochs: number;
  readonly totalSteps: number;
  readonly batchesPerEpoch: number;
  readonly device: DeviceName;
  /** Optimizer updates done. */
  step = 0;
  /** Epoch in progress (0-based) and the batches of it already trained. */
  epoch = 0;
  batch = 0;
  seed: number;
  private readonly opts: TrainerOptions;
  private readonly clip: number;
  private log: JsonlLog | null = null;
  private stopRequested = false;
  private resumed = false;
  private readonly dp: DataParallel | null;
  /** Data-parallel: the stop every rank agreed on (a request on one rank reaches all at the next step). */
  private stopAgreed = false;
  private lastCheckpoint: string | null = null;
  private lastTest: Metrics | null = null;
  private lastVal: Metrics | null = null;
  private best: { step: number; epoch: number; metrics: Metrics } | null = null;

  constructor(opts: TrainerOptions) {
    super();
    const fn = 'Trainer';
    if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: argument 'opts' must be an object with 'model' and 'task'`);
    if (!opts.model || typeof opts.model.forward !== 'function' || typeof opts.model.namedParameters !== 'function') {
      throw new TypeError(`${fn}: option 'model' must be a Module with forward(x)`);
    }
    if (!opts.task || !opts.task.train || !opts.task.test || !opts.task.recipe) throw new TypeError(`${fn}: option 'task' must be a Task (see createTask)`);
    this.dp = opts.distributed ?? null;
    if (this.dp && this.dp.model !== opts.model) throw new TypeError(`${fn}: option 'distributed' must be a DataParallel of option 'model'`);
    // Only rank 0 writes files; the other ranks run the same loop without them.
    this.opts = this.dp && this.dp.rank !== 0 ? { ...opts, logFile: undefined, checkpoint: undefined, bestCheckpoint: undefined } : opts;
    this.model = opts.model;
    this.task = opts.task;
    const r = opts.task.recipe;
    this.batchSize = expectInteger(fn, 'batchSize', opts.batchSize ?? r.batchSize, 1);
    this.epochs = expectInteger(fn, 'epochs', opts.epochs ?? r.epochs, 1);
    this.seed = expectInteger(fn, 'seed', opts.seed ?? 0, 0, 2 ** 32 - 1);
    this.clip = expectNumber(fn, 'clipGradNorm', opts.clipGradNorm ?? r.clip, 0);
    if (opts.maxSteps !== undefined) expectInteger(fn, 'maxSteps', opts.maxSteps, 1, Number.MAX_SAFE_INTEGER);
    if (opts.timeLimit !== undefined) expectNumber(fn, 'timeLimit', opts.timeLimit, 0);
    if (opts.evalEvery !== undefined) expectInteger(fn, 'evalEvery', opts.evalEvery, 0);
    if (opts.evalLimit !== undefined) expectInteger(fn, 'evalLimit', opts.evalLimit, 1);
    if (opts.evalBatchSize !== undefined) expectInteger(fn, 'evalBatchSize', opts.evalBatchSize, 1);
    if (opts.checkpointEvery !== undefined) expectInteger(fn, 'checkpointEvery', opts.checkpointEvery, 0);
    this.batchesPerEpoch = Math.ceil(this.task.train.size / this.batchSize);
    this.totalSteps = Math.min(this.epochs * this.batchesPerEpoch, opts.maxSteps ?? Infinity);
    this.device = this.model.device ?? backend();
    this.optimizer =
      opts.optimizer ?? new AdamW(this.model.parameterGroups({ lr: r.lr, weightDecay: r.weightDecay, ssmLr: r.ssmLr, dtLr: r.dtLr }), { weightDecay: r.weightDecay });
    if (!(this.optimizer instanceof AdamW)) throw new TypeError(`${fn}: option 'optimizer' must be an AdamW`);
    // Cosine over the whole run, as the official example (its scheduler spans all epochs).
    this.schedule =
      opts.schedule === undefined
        ? new CosineWarmupSchedule(this.optimizer, { totalSteps: this.epochs * this.batchesPerEpoch, warmupSteps: Math.min(r.warmupSteps, this.epochs * this.batchesPerEpoch) })
        : opts.schedule;
  }

  /**
   * Asks fit() to stop after the current step (it then saves a checkpoint and returns). In a
   * data-parallel run every rank stops after the step in which any rank was asked.
   */
  stop(): void {
    this.stopRequested = true;
  }

  /** Whether the loop ends now: a local request, or in a data-parallel run the agreed one. */
  private stopping(): boolean {
    return this.dp ? this.stopAgreed : this.stopRequested;
  }

  /** One optimizer update on a batch; returns its loss and (if scored) accuracy. */
  trainStep(batch: Batch): StepResult {
    const res = this.forwardBackward(batch, () => 1);
    this.checkLoss(res.lv);
    const { lr, gradNorm } = this.applyUpdate();
    const accuracy = res.score && res.score.total > 0 ? res.score.correct / res.score.total : undefined;
    return { loss: res.lv, accuracy, score: res.score, lr, gradNorm };
  }

  /**
   * Forward, loss and backward of a batch in training mode, the loss scaled by
   * `weightOf(output)` before the backward (0: no backward, no score). The backward is
   * queued before anything is read: on CUDA the host then issues it while the GPU still
   * runs the forward pass, and one wait (the loss) covers both. A non-finite loss is left to
   * the caller, which drops the gradients before any update. Returns the unscaled loss, the
   * weight and the batch's score (when scored).
   */
  private forwardBackward(batch: Batch, weightOf: (out: Tensor) => number): StepLoss {
    const run = this.runForwardBackward(batch, weightOf, false);
    return this.scoreRun(batch, run, run.reads as Reads);
  }

  /**
   * forwardBackward of a data-parallel step: the values are read by asynchronous downloads
   * queued before the backward pass. With NCCL the backward pass queues gradient all-reduces
   * on the stream (DataParallel's overlap), and a synchronous read after it would hold the
   * JS thread until they complete, where the process group's watch could not end them if a
   * rank died.
   */
  private async forwardBackwardShared(batch: Batch, weightOf: (out: Tensor) => number): Promise<StepLoss> {
    const run = this.runForwardBackward(batch, weightOf, true);
    return this.scoreRun(batch, run, await run.reads);
  }

  /** The forward, loss and backward (see forwardBackward), reading the loss, predictions and output now or later. */
  private runForwardBackward(batch: Batch, weightOf: (out: Tensor) => number, later: boolean): { weight: number; outShape: readonly number[]; reads: Reads | Promise<Reads> } {
    this.model.train();
    const scored = this.opts.trainAccuracy ?? true;
    const byIndex = this.predictsIndices();
    try {
      return runScope(() => {
        const x = Tensor.fromFloats(batch.x, batch.xShape, 'float32', this.device);
        const out = this.model.forward(x, batch.lengths ? { lengths: batch.lengths } : undefined);
        const loss = taskLoss(this.task.kind, out, batch, this.device);
        const weight = weightOf(out);
        const pred = scored && byIndex && weight > 0 ? argmaxChannels(out) : null;
        const whole = scored && !byIndex && weight > 0 ? out : null;
        let reads: Promise<Reads> | null = null;
        if (later) {
          reads = Promise.all([loss.data(), pred ? pred.data() : null, whole ? whole.data() : null]);
          reads.catch(() => {}); // awaited by the caller, unless the backward throws
        }
        if (weight === 1) loss.backward();
        else if (weight > 0) scale(loss, weight).backward();
        if (reads) return { weight, outShape: out.shape, reads };
        const lv = loss.item();
        const keepScore = weight > 0 && Number.isFinite(lv);
        return { weight, outShape: out.shape, reads: [Float32Array.of(lv), keepScore && pred ? pred.dataSync() : null, keepScore && whole ? whole.dataSync() : null] as Reads };
      }, Tensor);
    } catch (err) {
      throw this.forwardFailure(err);
    }
  }

  /** The loss, weight and score of a forward/backward run whose values have been read. */
  private scoreRun(batch: Batch, res: { weight: number; outShape: readonly number[] }, [loss, predData, outData]: Reads): StepLoss {
    const lv = loss[0];
    if (res.weight === 0 || !Number.isFinite(lv)) return { lv, weight: res.weight, score: null };
    const score = predData
      ? scorePredictions(this.task.kind, predData, batch)
      : outData
        ? batchAccuracy(this.task.kind, outData, res.outShape, batch, this.task.tolerance)
        : null;
    return { lv, weight: res.weight, score };
  }

  /**
   * One data-parallel update on the global batch `idx` (see the class comment): this rank's
   * part, its loss weighted by its share of the batch's loss terms, the statistics and stop
   * decisions summed over the ranks, then the gradients, and the same update on every rank.
   * A rank whose part is empty (a last batch smaller than the world) runs one example with
   * weight 0, so that its dropout counters advance as the others'.
   */
  private async trainStepDistributed(idx: number[], deadline: number): Promise<SharedStepResult> {
    const dp = this.dp!;
    this.model.train();
    const { start, count } = dp.shard(idx.length);
    const mine = count > 0 ? idx.slice(start, start + count) : idx.slice(0, 1);
    const batch = this.partOfBatch(idx, mine, count > 0 ? start : 0);
    dp.setBatchOffset(count > 0 ? start : 0);
    const local = await this.forwardBackwardShared(batch, (out) => (count > 0 ? this.lossShare(out, batch, mine, idx) : 0));
    const score = local.score;
    // The gradient buckets the backward pass has not started yet start now, before the
    // statistics' collective: the ranks' collectives then come in one order, whichever
    // buckets each backward pass started (none on a rank without examples).
    const gradients = dp.allReduceGradients();
    const stats = dp.group.allReduce(
      Float64Array.of(
        local.weight === 0 ? 0 : local.weight * local.lv,
        score?.correct ?? 0,
        score?.total ?? 0,
        score ? 1 : 0,
        this.stopRequested ? 1 : 0,
        dp.rank === 0 && Date.now() >= deadline ? 1 : 0,
      ),
    );
    const [, shared] = await Promise.all([gradients, stats]);
    const lv = shared[0];
    this.checkLoss(lv);
    const { lr, gradNorm } = this.applyUpdate();
    await dp.broadcastBuffers();
    const total = { correct: shared[1], total: shared[2] };
    const scoredAnywhere = shared[3] > 0;
    return {
      loss: lv,
      accuracy: scoredAnywhere && total.total > 0 ? total.correct / total.total : undefined,
      score: scoredAnywhere ? total : null,
      lr,
      gradNorm,
      stop: shared[4] > 0,
      timeUp: shared[5] > 0,
    };
  }

  /**
   * This rank's examples `mine` (from `start` on) of the global batch `idx`, padded as the
   * whole batch is, so that the dropout masks (indexed by position in the padded tensor) are
   * the whole batch's. Only this part is read where the dataset tells the batch's padded
   * length (batchLength); otherwise the whole batch is read and its rows taken.
   */
  private partOfBatch(idx: number[], mine: number[], start: number): Batch {
    const ds = this.task.train;
    if (!ds.lengths) return ds.batch(mine);
    const padded = ds.batchLength ? padBatchTo(ds.batch(mine), ds.batchLength(idx)) : null;
    return padded ?? sliceBatch(ds.batch(idx), start, mine.length);
  }

  /**
   * This rank's share of the loss terms of the global batch `idx` (its part `mine`): the
   * examples' share, or for a per-position loss over padded sequences the share of valid
   * positions (taskLoss averages over them). The shares of all ranks add up to 1, and the
   * summed weighted gradients equal the gradient of the whole batch's loss.
   */
  private lossShare(out: Tensor, batch: Batch, mine: number[], idx: number[]): number {
    const lengths = this.task.train.lengths;
    if (!(batch.lengths && out.rank === 3 && this.task.kind !== 'classify' && lengths)) return mine.length / idx.length;
    let part = 0;
    let all = 0;
    for (const i of mine) part += lengths[i];
    for (const i of idx) all += lengths[i];
    return part / all;
  }

  /**
   * The error to throw for a failed forward/backward (its gradients dropped). Ops refuse
   * non-finite values with a RangeError coded S4_NON_FINITE (lib/util/errors.ts): after an
   * update that is divergence, not a bug, and is reported as such.
   */
  private forwardFailure(err: unknown): unknown {
    this.optimizer.zeroGrad();
    if (this.step > 0 && isNonFiniteError(err)) {
      const bad = this.nonFiniteParameter();
      return new TrainingDivergedError(this.step + 1, this.epoch, 'parameters', bad ? bad.value : Infinity, this.lastCheckpoint, bad ? `'${bad.name}' holds ${bad.value}` : err.message);
    }
    return err;
  }

  /** A non-finite loss stops the run before the update (its gradients dropped). */
  private checkLoss(lv: number): void {
    if (Number.isFinite(lv)) return;
    this.optimizer.zeroGrad();
    throw new TrainingDivergedError(this.step + 1, this.epoch, 'loss', lv, this.lastCheckpoint);
  }

  /** Clipping (a non-finite norm stops the run), the optimizer update and the schedule step. */
  private applyUpdate(): { lr: number; gradNorm?: number } {
    let gradNorm: number | undefined;
    if (this.clip > 0) {
      gradNorm = clipGradNorm(this.model.parameters(), this.clip);
      if (!Number.isFinite(gradNorm)) {
        this.optimizer.zeroGrad();
        throw new TrainingDivergedError(this.step + 1, this.epoch, 'gradient norm', gradNorm, this.lastCheckpoint);
      }
    }
    const lr = this.optimizer.paramGroups[0]?.lr ?? 0;
    this.optimizer.step();
    this.optimizer.zeroGrad();
    this.schedule?.step();
    return { lr, gradNorm };
  }

  /**
   * Whether accuracy comes from predicted class indices (classification, per-position
   * prediction): argmaxChannels on the device, and only [B, L] indices cross to the host
   * instead of the whole [B, C, L] output.
   */
  private predictsIndices(): boolean {
    return this.task.kind === 'classify' || this.task.kind === 'sequence';
  }

  /** The first parameter holding a NaN or infinity, with that value (null when all are finite). */
  private nonFiniteParameter(): { name: string; value: number } | null {
    for (const [name, t] of this.model.namedParameters()) {
      const d = t.dataSync();
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return { name, value: d[i] };
    }
    return null;
  }

  /** Loss and accuracy on a dataset (default the test split), without dropout or gradients. */
  evaluate(dataset: Dataset = this.task.test, opts: { limit?: number; batchSize?: number } = {}): Metrics {
    return this.scoreBatches(dataset, opts, 0, 1).result();
  }

  /** evaluate() split between the ranks of a data-parallel run: every rank gets the whole dataset's metrics. */
  async evaluateDistributed(dataset: Dataset = this.task.test, opts: { limit?: number; batchSize?: number } = {}): Promise<Metrics> {
    if (!this.dp) return this.evaluate(dataset, opts);
    const mine = this.scoreBatches(dataset, opts, this.dp.rank, this.dp.worldSize);
    const all = new MetricAccumulator(this.task.kind, this.task.tolerance);
    all.addSums(await this.dp.group.allReduce(mine.sums()));
    return all.result();
  }

  /** The metrics of evaluation batches first, first + every, ... in eval mode. */
  private scoreBatches(dataset: Dataset, opts: { limit?: number; batchSize?: number }, first: number, every: number): MetricAccumulator {
    const n = Math.min(dataset.size, opts.limit ?? this.opts.evalLimit ?? dataset.size);
    const bs = opts.batchSize ?? this.opts.evalBatchSize ?? this.batchSize;
    const acc = new MetricAccumulator(this.task.kind, this.task.tolerance);
    const byIndex = this.predictsIndices();
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      const batches = evalBatches(dataset, n, bs);
      for (let i = first; i < batches.length; i += every) this.evalBatch(dataset, batches[i], acc, byIndex);
    } finally {
      this.model.train(wasTraining);
    }
    return acc;
  }

  private evalBatch(dataset: Dataset, idx: number[], acc: MetricAccumulator, byIndex: boolean): void {
    const batch = dataset.batch(idx);
    noGrad(() =>
      runScope(() => {
        const x = Tensor.fromFloats(batch.x, batch.xShape, 'float32', this.device);
        const out = this.model.forward(x, batch.lengths ? { lengths: batch.lengths } : undefined);
        const lossT = taskLoss(this.task.kind, out, batch, this.device);
        const pred = byIndex ? argmaxChannels(out) : null;
        const loss = lossT.item();
        if (pred) acc.addPredictions(loss, pred.dataSync(), batch);
        else acc.addBatch(loss, out.dataSync(), out.shape, batch);
      }, Tensor),
    );
  }

  /**
   * Runs the remaining steps of the run; see the class comment. Temporary checkpoint files
   * that a killed run left are removed first. A log line that cannot be written (a full
   * disk) stops the run with LogWriteError, after a checkpoint of the steps done.
   */
  async fit(): Promise<FitResult> {
    if (this.opts.checkpoint) removeStaleTemporaries(this.opts.checkpoint);
    try {
      return await this.runSteps();
    } catch (err) {
      if (err instanceof LogWriteError && this.opts.checkpoint) {
        this.log = null; // the checkpoint is written without its log line
        this.save();
      }
      // A failure of this rank alone: the others must not wait for it. (Divergence is seen
      // by every rank at once; a group error came from the others.)
      if (this.dp && !(err instanceof ProcessGroupError) && !(err instanceof TrainingDivergedError && err.what !== 'parameters')) {
        this.dp.group.abort(err instanceof Error ? err.message : String(err));
      }
      throw err;
    }
  }

  private async runSteps(): Promise<FitResult> {
    const t0 = Date.now();
    const o = this.opts;
    if (o.logFile && !this.log) this.log = new JsonlLog(o.logFile, { append: o.appendLog ?? this.resumed });
    const evalEvery = o.evalEvery ?? 0;
    const ckEvery = o.checkpointEvery ?? 0;
    this.stopRequested = false;
    this.stopAgreed = false;
    let timedOut = false;
    const deadline = o.timeLimit !== undefined ? t0 + 1000 * o.timeLimit : Infinity;
    this.emit('start', { step: this.step, totalSteps: this.totalSteps, batchesPerEpoch: this.batchesPerEpoch, resumed: this.resumed });
    this.log?.write({
      type: 'start',
      step: this.step,
      totalSteps: this.totalSteps,
      resumed: this.resumed,
      task: this.task.name,
      batchSize: this.batchSize,
      epochs: this.epochs,
      seed: this.seed,
      device: this.device,
      ...(this.dp ? { worldSize: this.dp.worldSize, transport: this.dp.backend } : {}),
      parameters: this.model.parameterCount(),
      info: o.info ?? {},
    });
    const trainAcc = new MetricAccumulator(this.task.kind, this.task.tolerance);
    const recent: { t: number; n: number }[] = [];
    let evaluatedAt = -1;
    let lastTrain: Metrics = trainAcc.result();
    const val = this.task.val ?? null;
    const scoreSplit = async (split: 'test' | 'val'): Promise<Metrics> => {
      const te = Date.now();
      const metrics = await this.evaluateDistributed(split === 'val' ? val! : this.task.test);
      const ev: EvalEvent = { step: this.step, epoch: this.epoch, split, metrics, seconds: (Date.now() - te) / 1000 };
      this.emit('eval', ev);
      this.log?.write({ type: 'eval', ...ev, ...metrics, metrics: undefined });
      return metrics;
    };
    const runEval = async (): Promise<void> => {
      evaluatedAt = this.step;
      if (!val) {
        this.lastTest = await scoreSplit('test');
        return;
      }
      const metrics = await scoreSplit('val');
      this.lastVal = metrics;
      if (this.best === null || isBetter(metrics, this.best.metrics)) {
        this.best = { step: this.step, epoch: this.epoch, metrics };
        if (o.bestCheckpoint) {
          // Written directly: the resumable checkpoint (lastCheckpoint) stays the last one.
          saveCheckpoint(o.bestCheckpoint, this.state());
          this.emit('checkpoint', { path: o.bestCheckpoint, step: this.step });
          this.log?.write({ type: 'checkpoint', path: o.bestCheckpoint, step: this.step, best: true });
        }
      }
    };
    while (this.step < this.totalSteps && this.epoch < this.epochs && !this.stopping() && !timedOut) {
      const batches = epochBatches(this.task.train, this.batchSize, this.seed, this.epoch);
      while (this.batch < this.batchesPerEpoch && this.step < this.totalSteps && !this.stopping() && !timedOut) {
        const idx = batches[this.batch];
        let res: StepResult;
        try {
          if (this.dp) {
            const shared = await this.trainStepDistributed(idx, deadline);
            if (shared.stop) this.stopAgreed = true;
            if (shared.timeUp) timedOut = true;
            res = shared;
          } else res = this.trainStep(this.task.train.batch(idx));
        } catch (err) {
          if (err instanceof TrainingDivergedError) this.log?.write({ type: 'diverged', step: err.step, epoch: this.epoch, what: err.what, value: err.value });
          throw err;
        }
        this.step++;
        this.batch++;
        trainAcc.add(res.loss, idx.length);
        trainAcc.addScore(res.score);
        const now = Date.now();
        recent.push({ t: now, n: idx.length });
        if (recent.length > 20) recent.shift();
        const span = (now - (recent.length > 1 ? recent[0].t : t0)) / 1000;
        const examples = recent.slice(recent.length > 1 ? 1 : 0).reduce((a, r) => a + r.n, 0);
        const e: StepEvent = {
          step: this.step,
          totalSteps: this.totalSteps,
          epoch: this.epoch,
          batch: this.batch,
          batchesPerEpoch: this.batchesPerEpoch,
          loss: res.loss,
          accuracy: res.accuracy,
          lr: res.lr,
          gradNorm: res.gradNorm,
          examplesPerSec: span > 0 ? examples / span : 0,
        };
        this.emit('step', e);
        this.log?.write({ type: 'step', ...e });
        if (ckEvery > 0 && this.step % ckEvery === 0) this.saveCheckpointFile();
        if (evalEvery > 0 && this.step % evalEvery === 0) await runEval();
        if (!this.dp && Date.now() >= deadline) timedOut = true;
        if (this.step >= this.totalSteps) timedOut = false;
        // Let timers, signals and the progress bar run between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (this.batch >= this.batchesPerEpoch) {
        const train = trainAcc.result();
        lastTrain = train;
        this.epoch++;
        this.batch = 0;
        this.emit('epoch', { epoch: this.epoch, step: this.step, train });
        this.log?.write({ type: 'epoch', epoch: this.epoch, step: this.step, ...train });
        trainAcc.reset();
        if (evalEvery === 0) await runEval();
        if (o.checkpoint) this.saveCheckpointFile();
      }
    }
    const stopped = this.stopping();
    if (evaluatedAt !== this.step && !stopped) await runEval();
    if (o.checkpoint) this.saveCheckpointFile();
    // With a validation split the test set is scored once, by the model as the run ends.
    if (val && !stopped) this.lastTest = await scoreSplit('test');
    const result: FitResult = {
      step: this.step,
      epoch: this.epoch,
      train: trainAcc.result().count > 0 ? trainAcc.result() : lastTrain,
      test: this.lastTest,
      ...(val ? { val: this.lastVal, best: this.best } : {}),
      stopped,
      ...(timedOut ? { timedOut } : {}),
      seconds: (Date.now() - t0) / 1000,
    };
    this.log?.write({ type: 'end', step: this.step, epoch: this.epoch, stopped: result.stopped, seconds: result.seconds, test: result.test });
    return result;
  }

  /** Everything the next step depends on, as a checkpoint. */
  state(): CheckpointState {
    const params: Record<string, ParamValue> = {};
    // Buffers (BatchNorm's running statistics) travel with the parameters, as in a state dict.
    for (const [n, t] of this.model.namedState()) params[n] = { shape: [...t.shape], dtype: t.dtype, data: t.dataSync() };
    const dropout: Record<string, DropoutState> = {};
    for (const [n, m] of this.model.namedModules()) if (m instanceof Dropout) dropout[n] = { seed: m.seed, step: m.step };
    return {
      step: this.step,
      epoch: this.epoch,
      batch: this.batch,
      seed: this.seed,
      params,
      moments: readOptimizerState(this.optimizer),
      optimizer: {
        type: 'AdamW',
        betas: [this.optimizer.beta1, this.optimizer.beta2],
        eps: this.optimizer.eps,
        groups: this.optimizer.paramGroups.map((g) => ({ names: [...g.names], lr: g.lr, initialLr: g.initialLr, weightDecay: g.weightDecay })),
      },
      scheduleStep: this.schedule?.stepCount ?? 0,
      dropout,
      info: {
        task: { name: this.task.name, options: this.task.options },
        batchSize: this.batchSize,
        epochs: this.epochs,
        ...(this.best ? { best: this.best } : {}),
        ...(this.opts.info ?? {}),
        ...(this.model.kernelLengths ? { kernelLengths: this.model.kernelLengths() } : {}),
      },
    };
  }

  /** Writes a checkpoint (default: the `checkpoint` option's path); returns the path. */
  save(path?: string): string {
    const p = path ?? this.opts.checkpoint;
    if (!p) throw new TypeError("Trainer.save: argument 'path' is required (no 'checkpoint' option was given)");
    saveCheckpoint(p, this.state());
    this.lastCheckpoint = p;
    this.emit('checkpoint', { path: p, step: this.step });
    this.log?.write({ type: 'checkpoint', path: p, step: this.step });
    return p;
  }

  private saveCheckpointFile(): void {
    this.save();
  }

  /**
   * Restores a checkpoint (a path or a decoded state) into the model, optimizer, schedule,
   * dropout counters and loop position; fit() then continues with the next step.
   */
  resume(from: string | CheckpointState): void {
    const fn = 'Trainer.resume';
    const st = typeof from === 'string' ? loadCheckpoint(from) : from;
    const bs = st.info.batchSize;
    if (bs !== undefined && bs !== this.batchSize) throw new RangeError(`${fn}: the checkpoint was trained with batchSize ${String(bs)}; resume with the same (got ${this.batchSize})`);
    const task = st.info.task as { name?: string } | undefined;
    if (task?.name !== undefined && task.name !== this.task.name) throw new RangeError(`${fn}: the checkpoint is of task '${task.name}', not '${this.task.name}'`);
    if (st.batch > this.batchesPerEpoch) throw new RangeError(`${fn}: the checkpoint's batch ${st.batch} is beyond the ${this.batchesPerEpoch} batches of an epoch`);
    const modules = new Map(this.model.namedModules());
    for (const n of Object.keys(st.dropout)) {
      if (!(modules.get(n) instanceof Dropout)) throw new RangeError(`${fn}: the checkpoint has dropout state for '${n}', which the model does not have`);
    }
    this.model.loadStateDict(st.params as Record<string, StateValue>);
    restoreOptimizerState(this.optimizer, st.moments, st.optimizer?.groups);
    if (this.schedule) {
      if (this.schedule.stepCount > st.scheduleStep) throw new Error(`${fn}: the schedule has already advanced past the checkpoint; resume with a fresh Trainer`);
      while (this.schedule.stepCount < st.scheduleStep) this.schedule.step();
    }
    for (const [n, s] of Object.entries(st.dropout)) {
      (modules.get(n) as Dropout).restoreStream(s.seed, s.step);
    }
    this.step = st.step;
    this.epoch = st.epoch;
    this.batch = st.batch;
    this.seed = st.seed;
    const best = st.info.best as Trainer['best'] | undefined;
    if (best && typeof best === 'object' && typeof best.step === 'number' && best.metrics) this.best = best;
    this.resumed = true;
    if (typeof from === 'string') this.lastCheckpoint = from;
  }
}

/** Examples [start, start + n) of a batch (every field's first dimension is the batch). */
export function sliceBatch(batch: Batch, start: number, n: number): Batch {
  const B = batch.xShape[0];
  if (start === 0 && n === B) return batch;
  const rows = <T extends Float32Array | Uint8Array | Int32Array>(a: T): T => {
    const per = a.length / B;
    return a.slice(start * per, (start + n) * per) as T;
  };
  const shape = (s: number[]): number[] => (s[0] === B ? [n, ...s.slice(1)] : [(s[0] / B) * n, ...s.slice(1)]);
  return {
    x: rows(batch.x),
    xShape: shape(batch.xShape),
    y: rows(batch.y),
    yShape: shape(batch.yShape),
    ...(batch.mask ? { mask: rows(batch.mask) } : {}),
    ...(batch.lengths ? { lengths: rows(batch.lengths) } : {}),
  };
}

/** Whether validation metrics a beat b: higher accuracy, or lower loss when there is none. */
function isBetter(a: Metrics, b: Metrics): boolean {
  if (a.accuracy !== undefined && b.accuracy !== undefined) return a.accuracy > b.accuracy || (a.accuracy === b.accuracy && a.loss < b.loss);
  return a.loss < b.loss;
}
