// Structured pruning: dependency groups, physical channel removal, criteria,
// selection (scope and normalisation), and the loop's parts: scoring policies,
// the controller, recovery strategies and pruning methods (the protocols are
// presets of them).
export { channelRules, repeatEach, type ChannelRule, type Layout, type PropagateContext, type SliceContext, type SliceResult } from './channels.js';
export { DependencyGraph, PruneError, type ChannelGroup, type DependencyOptions } from './dependency.js';
export { removeChannels, type RemovalResult } from './remove.js';
export { criterion, criterionNames, defineCriterion, scoreChannels, REDUCES, type Criterion, type CriterionScores, type Contributions, type Reduce, type ScoreContext } from './criteria.js';
export { selectChannels, SCOPES, NORMS, type Scope, type Norm, type SelectOptions } from './select.js';
export { prune, measure, PROTOCOLS, type Protocol, type PruneOptions, type DistillRecoveryOptions, type PruneData, type PruneResult, type StepRecord, type ModelStats, type PruneHooks } from './protocol.js';
export { everyStep, atStart, runCriterion, remapContributions, type Scoring, type ScoringFactory, type ScoringOptions, type ScoreRequest } from './scoring.js';
export { PruneController, validateController, type ControllerOptions, type Verdict, type StepMeasure } from './controller.js';
export { defineRecovery, recovery, recoveryNames, validateRecovery, layerParameters, retrainIterations, fineTuneIfNotWorse, type Recovery, type RecoveryContext, type RetrainSetup, type FineTuneOptions, type FineTuneResult } from './recovery.js';
export { definePruningMethod, pruningMethod, pruningMethodNames, type PruningMethod } from './methods.js';
export { bnL1Term, bnGammas, sparsity, slimPrune, batchNormNodes, hasBatchNorm, type SlimPruneOptions, type SlimPruneResult, type ChannelConfig } from './slimming.js';
export { snapToGrid, snapSearch, gridGroups, gridLimits, gridTarget, SnapCandidates, type SnapCandidate, type SnapOptions, type SnapResult, type SnapAttempt, type SnapSearchResult } from './snap.js';
export { refineMacs, type RefineOptions, type RefineAttempt, type RefineResult } from './refine.js';
export { channelCosts } from './cost.js';
export { finishPruning, type FinishOptions, type FinishHooks, type FinishResult } from './finish.js';
export { attachAlpha, trainAlpha, alphaImportance, alphaContributions, alphaValues, foldAlpha, type AlphaGroup, type AlphaModel, type AttachAlphaOptions, type TrainAlphaOptions, type TrainAlphaResult, type AlphaImportance } from './transtailor/alpha.js';
export { transtailor, validateTransTailor, PAPER_OPTIMIZER, type TransTailorData, type TransTailorOptions, type TransTailorIteration, type TransTailorResult, type TransTailorHooks } from './transtailor/loop.js';
