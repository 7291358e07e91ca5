/** s4.train: the Trainer, tasks and datasets, metrics, checkpoints and logs. */
export {
  Trainer,
  TrainingDivergedError,
  epochOrder,
  type TrainerOptions,
  type TrainableModel,
  type StepEvent,
  type StepResult,
  type EvalEvent,
  type FitResult,
  sliceBatch,
} from './trainer';
export { createTask, isTaskName, TASK_NAMES, RECIPES, type Task, type TaskName, type TaskOptions, type Recipe } from './tasks';
export { buildModel, modelOptions, modelFromCheckpoint, taskFromCheckpoint, type ModelOverrides } from './build';
export { taskLoss, type TaskKind } from './loss';
export { MetricAccumulator, batchAccuracy, scorePredictions, argmax, type Metrics } from './metrics';
export { JsonlLog, LogWriteError, parseJsonl, type LogIo } from './log';
export { attachProgress } from './progress';
export {
  saveCheckpoint,
  loadCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
  CHECKPOINT_FORMAT,
  type CheckpointState,
  type DropoutState,
  type ParamValue,
} from './checkpoint';
export { encodeSafetensors, decodeSafetensors, CorruptFileError, type F32Tensor, type Safetensors } from './safetensors';
export { writeFileAtomic, removeStaleTemporaries } from './atomic';
export { readOptimizerState, restoreOptimizerState, type ParamMoments, type GroupSettings } from './optim_state';
export { padBatchTo, type Batch, type Dataset } from './data/dataset';
export { parseIdx, readIdxFile, encodeIdx, type IdxArray } from './data/idx';
export {
  loadFashionMnist,
  FashionMnistClassification,
  FashionMnistPixels,
  FMNIST_DIR,
  FMNIST_INSTALL,
  FMNIST_CLASSES,
  type FashionMnist,
  type FashionMnistOptions,
} from './data/fmnist';
export { SineDataset, AddingDataset, CopyDataset, type SyntheticOptions, type CopyOptions } from './data/synthetic';
export { sampleImages, type SampleOptions } from './generate';
