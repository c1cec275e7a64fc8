// What `pruneRun` is asked to do: the spec (the flags of `slimnet prune`, or
// a library caller's object), its defaults, and the checks. Defaults are the
// command line's, so a library call with only a checkpoint does what
// `slimnet prune --checkpoint X` does.
import { NORMS, REDUCES, SCOPES, criterionNames, pruningMethod, pruningMethodNames, type Norm, type PruneOptions, type Protocol, type Reduce, type Scope } from '../prune/index.js';
// Importing src/distill registers the 'distill' recovery and pruning method.
import { DistillError, parseRecoveryLosses, resolveRecoveryOptions, type DistillLossSpec } from '../distill/index.js';
import { UsageError } from '../util/errors.js';
import type { ClassRef } from '../data/classes.js';
import { parseLrByKind } from './train-spec.js';

export interface PruneSpec {
  /** The trained model to prune (a slimnet checkpoint carrying its data provenance). */
  checkpoint: string;
  /** Channel importance (src/prune/criteria.ts): taylor, l1, l2, activation, apoz, bn, random. Default 'taylor'. */
  criterion?: string;
  /** One ranking across layers ('global', default) or per layer ('layer'). */
  scope?: Scope;
  /** Per-layer normalisation of scores before a global ranking. Default 'l2'. */
  norm?: Norm;
  /** How coupled layers' scores combine. Default 'mean'. */
  reduce?: Reduce;
  /** Retraining protocol (a pruning method: seed 003's four, or 'distill'). Default 'retrain'. */
  protocol?: Protocol | 'distill';
  /**
   * Losses of protocol 'distill' (retraining by distillation from the
   * unpruned model): 'kd:temperature=2,at' (the --distill-loss text) or a
   * list. Default kd with the anchors' settings. Resolved to every
   * parameter's value, which config.json records.
   */
  distillLoss?: string | readonly DistillLossSpec[];
  /** Cross-entropy factor of protocol 'distill' (default: the losses' anchor CE weight, 0.1 for kd). */
  distillCeWeight?: number;
  /** Retraining iterations after each step. Default 100. */
  retrainIters?: number;
  /** Adam learning rate of retraining and fine-tuning. Default 1e-4. */
  lr?: number;
  /**
   * Learning rate per layer family over lr in retraining and fine-tuning:
   * 'linear=0.005,conv=0.0005' (the --lr-by-kind text, train's parser) or a
   * mapping; families conv, linear (fc), norm (bn), other; 0 freezes one.
   * Resolved to the mapping, which config.json records. Default: lr everywhere.
   */
  lrByKind?: string | Readonly<Record<string, number>>;
  /** Batch size of scoring, retraining and fine-tuning. Default 100. */
  batchSize?: number;
  /** Batch size of evaluation. Default 500. */
  evalBatchSize?: number;
  /** Channels removed per step (globally, or per layer with scope 'layer'); overrides stepFraction. */
  stepMaps?: number;
  /** Channels removed per step as a share of those still removable. Default 0.05. */
  stepFraction?: number;
  /** Absolute accuracy floor on the floor's split (0..1]. */
  minAccuracy?: number;
  /**
   * Accuracy floor in percentage points under the base model on the floor's
   * split. Default 0.3 (DEFAULT_MAX_DROP) unless minAccuracy is given or
   * noFloor is true: a target or a step limit does not switch the floor off.
   */
  maxDrop?: number;
  /**
   * No accuracy floor at all (`--no-floor`): the loop then stops only at a
   * target or the step limit (one of them is required), and keeps its last step.
   */
  noFloor?: boolean;
  /** Stop once parameters shrank this many times (> 1). */
  targetParamsX?: number;
  /** Stop once MACs shrank this many times (> 1). */
  targetMacsX?: number;
  /** Stop after this many steps (a positive integer). */
  maxSteps?: number;
  /** Steps allowed under the floor before stopping. Default 0. */
  patience?: number;
  /** At the floor, go back to the kept model with half the step. Default false. */
  backtrack?: boolean;
  /** Channel grid of the step after the loop (1: none). Default 1. */
  snapTo?: number;
  /** Retraining iterations of the grid and refinement steps. Default 2000. */
  snapIters?: number;
  /** Grid steps tried at most. Default 3. */
  snapTries?: number;
  /** MAC refinement steps after the grid step (0: none). Default 0. */
  refineSteps?: number;
  /** Only prune these layers. */
  layers?: readonly string[];
  /** Never prune these layers. */
  exclude?: readonly string[];
  /** Channels every layer keeps at least. Default 1. */
  minChannels?: number;
  /** Keep channel counts at multiples of this. Default 1. */
  roundTo?: number;
  /** Weight of a channel's MAC cost in the global ranking. Default 0. */
  macsWeight?: number;
  /** Batches data-driven criteria read per step. Default 10. */
  scoreBatches?: number;
  /** Fine-tuning epochs of the kept model (kept only if not worse on the floor's split). Default 0. */
  finetuneEpochs?: number;
  /**
   * Early stopping of the fine-tuning (finetuneEpochs, and a method whose
   * recovery is 'fine-tune'): stop after this many epochs without a better
   * balanced accuracy on the floor's split, best epoch restored. Default:
   * none (every epoch runs).
   */
  finetunePatience?: number;
  /** Epochs of training the pruned architecture from scratch (0: none). Default 0. */
  fromScratchEpochs?: number;
  /** Timed runs per model and batch size of the latency measurement. Default 100. */
  latencyRuns?: number;
  /** Data set (default: the checkpoint's). */
  dataset?: string;
  /** Data folder (default: the checkpoint's). */
  root?: string;
  /**
   * Only these classes (names or indices), relabelled 0..k-1 in this order;
   * the model must have k outputs. Default: the checkpoint's recorded subset
   * (classSubset) on its own data set, else every class.
   */
  classes?: readonly ClassRef[];
  /** Validation split the floor is checked on, a count or a fraction (default: the checkpoint's own). */
  validation?: number;
  /** Seed of the split and of the pruning (default: the checkpoint's). */
  seed?: number;
  /** Root of the run directories. Default './runs'. */
  runsDir?: string;
}

export const PRUNE_DEFAULTS = {
  criterion: 'taylor',
  scope: 'global',
  norm: 'l2',
  reduce: 'mean',
  protocol: 'retrain',
  retrainIters: 100,
  lr: 1e-4,
  batchSize: 100,
  evalBatchSize: 500,
  stepFraction: 0.05,
  patience: 0,
  snapTo: 1,
  snapIters: 2000,
  refineSteps: 0,
  snapTries: 3,
  minChannels: 1,
  roundTo: 1,
  macsWeight: 0,
  scoreBatches: 10,
  finetuneEpochs: 0,
  fromScratchEpochs: 0,
  latencyRuns: 100,
  runsDir: './runs',
} as const satisfies Partial<PruneSpec>;

/** A spec with every default filled in (what config.json records). */
export type ResolvedPruneSpec = PruneSpec & { -readonly [K in keyof typeof PRUNE_DEFAULTS]-?: NonNullable<PruneSpec[K]> };

/** The maxDrop (pp) applied when a spec names no floor and does not say noFloor. */
export const DEFAULT_MAX_DROP = 0.3;

/** Fills in the defaults and checks every value; UsageErrors name the flag. */
export function resolvePruneSpec(spec: PruneSpec): ResolvedPruneSpec {
  if (typeof spec?.checkpoint !== 'string' || spec.checkpoint === '') throw new UsageError(`--checkpoint is required (the trained model to prune), got ${JSON.stringify(spec?.checkpoint)}`);
  const defined = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as PruneSpec;
  const s: ResolvedPruneSpec = { ...PRUNE_DEFAULTS, ...defined };
  check(s);
  resolveLrByKind(s);
  resolveDistill(s);
  // The floor is what keeps a pruned model useful: a step limit or a target
  // does not switch it off (`--max-steps 5` once kept a 10 % model and called
  // it "the smallest model that met the floor"); only noFloor does.
  if (s.noFloor !== true && s.maxDrop === undefined && s.minAccuracy === undefined) s.maxDrop = DEFAULT_MAX_DROP;
  return s;
}

function check(o: ResolvedPruneSpec): void {
  const oneOf = (name: string, v: string, allowed: readonly string[]) => {
    if (!allowed.includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  };
  oneOf('criterion', o.criterion, criterionNames());
  oneOf('scope', o.scope, SCOPES);
  oneOf('norm', o.norm, NORMS);
  oneOf('reduce', o.reduce, REDUCES);
  oneOf('protocol', o.protocol, pruningMethodNames());
  if (o.minAccuracy !== undefined && o.maxDrop !== undefined) throw new UsageError('give either --min-accuracy or --max-drop, not both');
  if (o.noFloor === true && (o.minAccuracy !== undefined || o.maxDrop !== undefined)) throw new UsageError(`--no-floor removes the accuracy floor: give it or ${o.minAccuracy !== undefined ? '--min-accuracy' : '--max-drop'}, not both`);
  if (o.noFloor === true && o.targetParamsX === undefined && o.targetMacsX === undefined && o.maxSteps === undefined) {
    throw new UsageError('--no-floor needs another place to stop: --max-steps N, --target-params-x X or --target-macs-x X (else every channel would go)');
  }
  if (o.minAccuracy !== undefined && !(o.minAccuracy > 0 && o.minAccuracy <= 1)) throw new UsageError(`--min-accuracy is a fraction in (0, 1], e.g. 0.99; got ${o.minAccuracy}`);
  if (o.maxDrop !== undefined && !(o.maxDrop >= 0 && o.maxDrop < 100)) throw new UsageError(`--max-drop is in percentage points, e.g. 0.3; got ${o.maxDrop}`);
  if (!(Number.isInteger(o.refineSteps) && o.refineSteps >= 0)) throw new UsageError(`--refine-steps must be a non-negative integer, got ${o.refineSteps}`);
  if (!(o.macsWeight >= 0)) throw new UsageError(`--macs-weight must be a number >= 0, got ${o.macsWeight}`);
  if (!(Number.isInteger(o.patience) && o.patience >= 0)) throw new UsageError(`--patience must be a non-negative integer, got ${o.patience}`);
  if (!(o.stepFraction > 0 && o.stepFraction <= 1)) throw new UsageError(`--step-fraction must be in (0, 1], got ${o.stepFraction}`);
  if (!(Number.isFinite(o.lr) && o.lr > 0)) throw new UsageError(`--lr must be a positive number (the learning rate of retraining and fine-tuning), got ${o.lr}`);
  for (const [flag, v] of [['target-params-x', o.targetParamsX], ['target-macs-x', o.targetMacsX]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v > 1)) throw new UsageError(`--${flag} is a reduction factor greater than 1 (e.g. 4: four times fewer), got ${v}`);
  }
  const positive: [string, number | undefined][] = [
    ['retrain-iters', o.retrainIters], ['batch-size', o.batchSize], ['eval-batch-size', o.evalBatchSize], ['min-channels', o.minChannels], ['round-to', o.roundTo], ['score-batches', o.scoreBatches],
    ['latency-runs', o.latencyRuns], ['snap-to', o.snapTo], ['snap-iters', o.snapIters], ['snap-tries', o.snapTries], ['step-maps', o.stepMaps], ['max-steps', o.maxSteps],
  ];
  for (const [flag, v] of positive) {
    // stepMaps and maxSteps are optional; absent is fine, but 0 is not "absent".
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
  }
  for (const [flag, v] of [['finetune-epochs', o.finetuneEpochs], ['from-scratch-epochs', o.fromScratchEpochs]] as const) {
    if (!(Number.isInteger(v) && v >= 0)) throw new UsageError(`--${flag} must be a whole number of epochs (0: none), got ${v}`);
  }
  if (o.finetunePatience !== undefined) {
    if (!(Number.isInteger(o.finetunePatience) && o.finetunePatience >= 1)) throw new UsageError(`--finetune-patience must be a positive whole number of epochs, got ${o.finetunePatience}`);
    if (o.finetuneEpochs === 0 && pruningMethod(o.protocol).recovery !== 'fine-tune') throw new UsageError('--finetune-patience stops the fine-tuning early: give its epochs too (--finetune-epochs N)');
  }
  if (o.validation !== undefined && !(o.validation >= 0 && (o.validation < 1 || Number.isInteger(o.validation)))) {
    throw new UsageError(`--validation is a count of images or a fraction in [0, 1) (0: none), got ${o.validation}`);
  }
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new UsageError(`--seed must be an integer, got ${o.seed}`);
  const ref = (c: unknown): boolean => (typeof c === 'string' && c.trim() !== '') || (typeof c === 'number' && Number.isInteger(c) && c >= 0);
  if (o.classes !== undefined && (!Array.isArray(o.classes) || o.classes.length === 0 || !o.classes.every(ref))) throw new UsageError(`--classes must name at least one class (comma-separated names or indices), got ${JSON.stringify(o.classes)}`);
}

/** --lr-by-kind as a mapping (in place, so config.json records it), parsed as `slimnet train` parses it. */
function resolveLrByKind(s: ResolvedPruneSpec): void {
  if (s.lrByKind === undefined) return;
  const r = parseLrByKind(s.lrByKind);
  if ('problem' in r) throw new UsageError(`--lr-by-kind ${r.problem}, got ${JSON.stringify(s.lrByKind)}`);
  s.lrByKind = r.value;
}

/**
 * Protocol 'distill': its losses with every parameter filled in (in place, so
 * config.json records each value) and its CE weight. The distillation flags
 * belong to that protocol alone; absent, the spec is left as it was.
 */
function resolveDistill(s: ResolvedPruneSpec): void {
  if (s.protocol !== 'distill') {
    for (const [flag, v] of [['distill-loss', s.distillLoss], ['distill-ce-weight', s.distillCeWeight]] as const) {
      if (v !== undefined) throw new UsageError(`--${flag} applies to --protocol distill, not '${s.protocol}'`);
    }
    return;
  }
  if (s.distillCeWeight !== undefined && !(Number.isFinite(s.distillCeWeight) && s.distillCeWeight >= 0)) throw new UsageError(`--distill-ce-weight must be a number >= 0, got ${s.distillCeWeight}`);
  try {
    const losses = typeof s.distillLoss === 'string' ? parseRecoveryLosses(s.distillLoss) : s.distillLoss;
    const r = resolveRecoveryOptions({ losses, ceWeight: s.distillCeWeight });
    s.distillLoss = r.losses;
    s.distillCeWeight = r.ceWeight;
  } catch (e) {
    throw e instanceof DistillError ? new UsageError(`--distill-loss: ${e.message}`) : e;
  }
}

/** The pruning loop's options from a resolved spec, the floor (absolute accuracy, if any) and the data's seed. */
export function pruneOptions(s: ResolvedPruneSpec, floor: number | undefined, seed: number): PruneOptions {
  return {
    criterion: s.criterion,
    reduce: s.reduce,
    scope: s.scope,
    norm: s.norm,
    protocol: s.protocol,
    amount: s.stepMaps ? { maps: s.stepMaps } : { fraction: s.stepFraction },
    layers: s.layers,
    exclude: s.exclude,
    minChannels: s.minChannels,
    roundTo: s.roundTo,
    macsWeight: s.macsWeight,
    retrainIters: s.retrainIters,
    lr: s.lr,
    ...(s.lrByKind !== undefined ? { lrByKind: s.lrByKind as Readonly<Record<string, number>> } : {}),
    ...(s.finetunePatience !== undefined ? { fineTunePatience: s.finetunePatience } : {}),
    minAccuracy: floor,
    targetParamsX: s.targetParamsX,
    targetMacsX: s.targetMacsX,
    maxSteps: s.maxSteps,
    patience: s.patience,
    backtrack: s.backtrack === true,
    scoreBatches: s.scoreBatches,
    seed,
    // The teacher is the model prune() is given (the unpruned checkpoint).
    ...(s.protocol === 'distill' ? { distill: { losses: s.distillLoss as readonly DistillLossSpec[], ceWeight: s.distillCeWeight } } : {}),
  };
}
