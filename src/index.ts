// The `slimnet` package entry: the workflows (the typed functions the CLI
// runs: train, evaluate, prune, slim, latency, export, the studies, the
// pipeline) and what a caller needs around them: models and checkpoints, the
// zoo, the errors, and the Observer a workflow reports through. Each layer has
// its own subpath for the rest (slimnet/tensor, slimnet/graph, slimnet/models,
// slimnet/data, slimnet/train, slimnet/prune, slimnet/export, slimnet/measure,
// slimnet/report, slimnet/runs, slimnet/study, slimnet/workflows).
export * from './workflows/index.js';
export { Model, loadCheckpoint, saveCheckpoint, summarize, type LoadedCheckpoint, type Summary, type SummaryRow } from './graph/index.js';
export { buildArch, archNames, type ArchOptions } from './models/index.js';
export { SlimnetError, UsageError } from './util/errors.js';
export { ProgressTask, type Observer, type ProgressEvent, type ProgressListener, type LogListener } from './util/events.js';
