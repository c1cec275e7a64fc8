// Knowledge distillation: losses in one registry, feature pairs read by hooks,
// adapters as trainer auxiliary modules, teachers from checkpoints or ONNX.
export * from './losses/index.js';
export { DistillError } from './errors.js';
export { pairFeatures, parsePairs, stageOutputs, type FeaturePair, type Pairing, type PairingMode } from './pairs.js';
export { createAdapters, applyAdapter, adapterName, type Adapter } from './adapters.js';
export { loadTeacher, TeacherRunner, classCount, type Teacher, type TeacherKind } from './teacher.js';
export { Distillation, CachedLogits, agreement, type DistillationOptions, type DistillLossSpec, type ResolvedLoss, type TeacherOutputs, type PairingRecord } from './distiller.js';
import './recovery.js'; // registers the 'distill' recovery and pruning method with src/prune
export { resolveRecoveryOptions, parseRecoveryLosses, DEFAULT_RECOVERY_LOSSES, type ResolvedRecoveryOptions } from './recovery.js';
