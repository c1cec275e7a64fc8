// The `slimnet` package entry: the workflows (the typed functions the CLI
// runs: train, evaluate, prune, slim, latency, export, the studies, the
// pipeline) and what a caller needs around them: models and checkpoints, the
// zoo, the errors, and the Observer a workflow reports through. Each layer has
// its own subpath for the rest (slimnet/tensor, slimnet/graph, slimnet/models,
// slimnet/data, slimnet/train, slimnet/prune, slimnet/export, slimnet/measure,
// slimnet/report, slimnet/runs, slimnet/study, slimnet/workflows, slimnet/distill,
// slimnet/explain, slimnet/replace).
export * from './workflows/index.js';
export { Model, loadCheckpoint, saveCheckpoint, summarize, type LoadedCheckpoint, type Summary, type SummaryRow } from './graph/index.js';
export { buildArch, archNames, type ArchOptions } from './models/index.js';
// Every error slimnet throws on purpose extends SlimnetError; the common ones by name.
export { SlimnetError, UsageError } from './util/errors.js';
export { FileSystemError } from './util/fs-errors.js';
export { GraphError } from './graph/index.js';
export { DataError } from './data/index.js';
export { NonFiniteLossError, TrainerStateMismatchError } from './train/index.js';
export { PruneError } from './prune/index.js';
export { DistillError } from './distill/index.js';
export { ExplainError } from './explain/index.js';
export { ReplaceError } from './replace/index.js';
export { DistributedError } from './util/errors.js';
export { StudyError } from './study/index.js';
export { LatencyError } from './measure/index.js';
export { PlotError } from './report/index.js';
export { RunFileError } from './runs/index.js';
export { ProgressTask, type Observer, type ProgressEvent, type ProgressListener, type LogListener } from './util/events.js';
