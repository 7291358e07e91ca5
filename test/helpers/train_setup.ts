/** A small, fully seeded training run (sine task, dropout on) shared by the trainer tests and their child process. */
import * as s4 from '../../lib/index';

export const RUN = { trainSize: 48, length: 16, batchSize: 16, epochs: 4 };

export function makeTrainer(opts: { modelSeed?: number; checkpoint?: string; checkpointEvery?: number; logFile?: string; maxSteps?: number; epochs?: number } = {}): s4.Trainer {
  const task = s4.train.createTask('sine', { trainSize: RUN.trainSize, testSize: 16, length: RUN.length });
  const { model, options } = s4.train.buildModel(task, { nLayers: 2, dModel: 8, dState: 8, dropout: 0.1, seed: opts.modelSeed ?? 1 });
  return new s4.Trainer({
    model,
    task,
    batchSize: RUN.batchSize,
    epochs: opts.epochs ?? RUN.epochs,
    maxSteps: opts.maxSteps,
    seed: 5,
    checkpoint: opts.checkpoint,
    checkpointEvery: opts.checkpointEvery,
    logFile: opts.logFile,
    info: { model: options },
  });
}
