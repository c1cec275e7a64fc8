// Training: optimizers (and the one OptimizerSpec → buildOptimizer),
// parameter groups, learning-rate schedules, metrics, early stopping,
// gradient clipping, the Trainer loop, and checkpointing into a Run as a
// trainer callback.
export * from './optim/index.js';
export { LrSchedule, scheduleFactor, validateSchedule, type ScheduleSpec, type ScheduleState, type ScheduleUnit } from './schedules.js';
export { MetricAccumulator, metricsFromCounts, type Metrics } from './metrics.js';
export { EarlyStopping, type EarlyStoppingOptions, type EarlyStoppingStateMeta, type Monitor } from './early-stopping.js';
export { clipGradNorm, gradNorm } from './clip.js';
export {
  Trainer,
  evaluate,
  NonFiniteLossError,
  TrainerStateMismatchError,
  disposeTrainerState,
  type Batch,
  type BatchSource,
  type LossFn,
  type LossTerm,
  type LossContext,
  type StepInput,
  type StepContextFn,
  type AuxiliaryModules,
  type Callback,
  type CallbackResult,
  type StepInfo,
  type ProgressInfo,
  type EpochRecord,
  type TrainSummary,
  type TrainerOptions,
  type FitOptions,
  type EvaluateOptions,
  type TrainerState,
  type TrainerStateMeta,
} from './trainer.js';
export { AuxiliaryModule } from './auxiliary.js';
export { saveTrainerState, loadTrainerState } from './state-file.js';
export { BatchStream } from './stream.js';
export { fineTune, type FineTuneOptions, type FineTuneResult } from './fine-tune.js';
export { Checkpointing, metricsRow, bestValidation, type CheckpointingOptions, type EpochSaved } from './checkpointing.js';
export { DataParallel } from './data-parallel.js';
