// Workflows: typed in-process functions that take a spec and return a typed
// report. The CLI is parse → spec → call → render over these; a library user
// calls them directly and gets exactly what the CLI gets.
export { slimRun, slimResultJson, SLIM_DEFAULTS, type SlimSpec, type SlimConfig, type SlimReport, type SlimOutcome, type SlimLambdaReport, type SlimEpoch } from './slim.js';
export { pruneRun, resolvePruneSpec, pruneResultJson, pruneComparisonRows, PRUNE_DEFAULTS, DEFAULT_MAX_DROP, type PruneSpec, type ResolvedPruneSpec, type PruneReport, type FinetuneReport, type FloorSplit, type LatencyPair } from './prune.js';
export { latencyRun, latencyJson, renderLatency, maxLatencyThreads, type LatencySpec, type LatencyReport, type LatencyRow } from './latency.js';
export { exportRun, VERIFY_TOLERANCE, type ExportSpec, type ExportReport } from './export.js';
export { trainRun, runTraining, trainResultJson, resumeCommand, epochSummary, exportFinal, TrainingStoppedError, type TrainReport, type TrainOutcome, type EpochSummary, type TrainRunSpec, type TrainPlan, type TrainExtension } from './train.js';
export { distillRun, type DistillSpec, type DistillConfig, type DistillReport } from './distill.js';
export { TRAIN_OPTIONS, resolveTrainConfig, validateTrainConfig, trainConfigKeys, checkValidationSplit, type TrainSpec, type TrainConfig, type TrainOption } from './train-spec.js';
export { trainDataSpec } from './train-spec.js';
export { RECIPES, recipeDefaults, applyRecipe, scaledWarmup, type RecipeName, type RecipePurpose } from './recipes.js';
export { availableMemory, checkTrainingMemory, optimizerMoments, type AvailableMemory, type MemoryCheck, type MemoryVerdict } from './train-memory.js';
export { evaluateRun, evalResultJson, type EvalSpec, type EvalReport, type ClassRow } from './evaluate.js';
export { demoRun, checkDemoSpec, type DemoSpec, type DemoReport, type DemoEpoch } from './demo.js';
export { sizeChange, type SizeChange } from './size-change.js';
export { listRuns, listTrainVersions, type RunRow, type TrainVersionRow, type DisplayStatus } from './runs.js';
export { thesisStudyRun, thesisSummaryJson, THESIS_STUDY_DEFAULTS, type ThesisStudySpec, type ThesisStudyReport, type ThesisStudyStatus, type Table41Record, type StudyConfig } from './study-thesis.js';
export { pipelineRun, pipelineResultJson, pipelinePruneSpec, resolvePipelineSpec, type PipelineSpec, type ResolvedPipelineSpec, type PipelineReport } from './pipeline.js';
export { importRun, defaultImportOut, IMPORT_TOLERANCE, type ImportSpec, type ImportReport } from './import.js';
export { distillStudyRun, distillStudyJson, plannedMembers, meanStd, beyondSpread, methodRows, SPREAD_RULE, DISTILL_STUDY_FILES, DISTILL_STUDY_DATASETS, DISTILL_STUDY_FULL, DISTILL_STUDY_QUICK, type DistillStudySpec, type DistillStudyConfig, type DistillStudyReport, type DistillStudyStatus, type MemberResult, type MethodRow, type Spread } from './study-distill.js';
export { explainRun, resolveExplainSpec, parseMethodParams, parseTarget, summariseFaithfulness, DEFAULT_EXPLAIN_METHODS, EXPLAIN_DEFAULTS, type ExplainSpec, type ResolvedExplainSpec, type ExplainReport, type ExplainModelInfo, type ExplainMethodInfo, type ExplainFiles, type FaithfulnessRow, type FaithfulnessSummary } from './explain.js';
export { transtailorRun, transtailorResultJson, resolveTransTailorSpec, TRANSTAILOR_DEFAULTS, ITERATIONS_CSV_HEADER, type TransTailorSpec, type ResolvedTransTailorSpec, type TransTailorReport } from './transtailor.js';
export { transtailorStudyRun, transtailorStudyJson, TRANSTAILOR_STUDY_FULL, TRANSTAILOR_STUDY_QUICK, TRANSTAILOR_STUDY_FILES, type TransTailorStudySpec, type TransTailorStudyConfig, type TransTailorStudyReport, type StudyMember, type StudyRow, type StudyTarget } from './study-transtailor.js';
export { replaceRun, replaceResultJson, type ReplaceSpec, type ReplaceConfig, type ReplaceReport } from './replace.js';
export { replaceStudyRun, replaceStudyJson, REPLACE_STUDY_FULL, REPLACE_STUDY_QUICK, REPLACE_STUDY_FILES, type ReplaceStudySpec, type ReplaceStudyConfig, type ReplaceStudyReport, type ReplaceStudyMember, type ReplaceStudyRow } from './study-replace.js';
