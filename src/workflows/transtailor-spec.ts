// What `transtailorRun` is asked to do: the spec (the flags of `slimnet
// transtailor`, or a library caller's object), its defaults and its checks.
// Every check runs before a run directory exists, so a bad value leaves no
// failed run behind; the messages name the flag.
import type { ClassRef } from '../data/index.js';
import { NORMS, type Norm } from '../prune/select.js';
import { validateTransTailor, type TransTailorOptions } from '../prune/transtailor/loop.js';
import { UsageError } from '../util/errors.js';

export interface TransTailorSpec {
  /** The pre-trained source model: a slimnet checkpoint (from `slimnet train` or `slimnet import`). Required, except with resume. */
  source?: string;
  /** The target data set (its train split is the task; its test split is only reported). */
  dataset: string;
  /** Data folder of the target data set (default: its usual location). */
  root?: string;
  /** Only these target classes (names or indices), relabelled 0..k-1 in this order. Default: every class. */
  classes?: readonly ClassRef[];
  /** Largest drop of validation balanced accuracy (pp, 0..100) against the last kept model that keeps a pruned one. Default 1. */
  tau?: number;
  /** Share of the still removable filters removed per iteration, in (0, 1). Default 0.05. */
  pruneShare?: number;
  /** α initialisation: 'ones' (default) or 'random' (the seed's report: destroys the model). */
  alphaInit?: 'ones' | 'random';
  /** α updates per iteration (weights frozen). Default 50. */
  alphaIters?: number;
  /** SGD learning rate of α. Default 0.01. */
  alphaLr?: number;
  /** Batches β is computed on per iteration. Default 10. */
  importanceBatches?: number;
  /** Per-layer normalisation of β before the global ranking: l2 (default, the paper's), l1, max or none. */
  importanceNorm?: Norm;
  /**
   * Fine-tuning epochs, with early stopping on validation balanced accuracy:
   * of the transferred model before pruning, and after each removal (unless
   * finetuneIters is given). Default 10.
   */
  finetuneEpochs?: number;
  /** Epochs without a better validation balanced accuracy before early stopping. Default 3. */
  patience?: number;
  /** Fine-tune each pruned model for this many updates instead of finetuneEpochs (no early stopping). Default: epochs. */
  finetuneIters?: number;
  /** Batch size of training (α, β, fine-tuning). Default 64 (the paper's). */
  batchSize?: number;
  /** Batch size of evaluation. Default 500. */
  evalBatchSize?: number;
  /** Validation split held out of the target's training data (a fraction in (0, 1) or a count >= 1): τ and early stopping read it. Default 0.1. */
  validation?: number;
  /** Share of the target's training split used, in (0, 1]. Default 1. */
  fraction?: number;
  /** Seed of the split, the new head, random α and the shuffling. Default 0. */
  seed?: number;
  /** Stop after this many iterations (default: only τ stops). */
  maxIterations?: number;
  /** Timed runs per model and batch size of the latency measurement. Default 100. */
  latencyRuns?: number;
  /** Root of the run directories. Default './runs'. */
  runsDir?: string;
  /**
   * Resume this version of runs/transtailor/<dataset>-<arch> (CLI --version),
   * an interrupted or failed run, with its own configuration (config.json):
   * runsDir, dataset and source find the run (source gives the architecture;
   * without it, the one `<dataset>-<arch>` family that has the version); any
   * other field given must equal config.json's value, else a UsageError names
   * its flag. A complete run cannot be resumed.
   */
  resume?: number;
}

export const TRANSTAILOR_DEFAULTS = {
  tau: 1,
  pruneShare: 0.05,
  alphaInit: 'ones',
  alphaIters: 50,
  alphaLr: 0.01,
  importanceBatches: 10,
  importanceNorm: 'l2',
  finetuneEpochs: 10,
  patience: 3,
  batchSize: 64,
  evalBatchSize: 500,
  validation: 0.1,
  fraction: 1,
  seed: 0,
  latencyRuns: 100,
  runsDir: './runs',
} as const satisfies Partial<TransTailorSpec>;

/** A spec with every default filled in (what config.json records). */
export type ResolvedTransTailorSpec = TransTailorSpec & { source: string } & { -readonly [K in keyof typeof TRANSTAILOR_DEFAULTS]-?: NonNullable<TransTailorSpec[K]> };

/** Spec fields that find a resumed run; any other given with resume must equal its config.json's value. */
export const TRANSTAILOR_RESUME_FIELDS: ReadonlySet<keyof TransTailorSpec> = new Set<keyof TransTailorSpec>(['resume', 'runsDir', 'dataset', 'source']);

/** The CLI flag of a spec field (resume is --version). */
export const transtailorFlagOf = (field: string): string => (field === 'resume' ? '--version' : `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);

/** Checks a resuming spec before anything is read: a whole version number and a target data set (the rest is compared with config.json). */
export function checkTransTailorResume(spec: TransTailorSpec): void {
  if (!(Number.isInteger(spec.resume) && spec.resume! >= 0)) throw new UsageError(`--version must be a run version (an integer >= 0), got ${spec.resume}`);
  if (typeof spec.dataset !== 'string' || spec.dataset === '') throw new UsageError(`--dataset is required with --version (the run's target data set), got ${JSON.stringify(spec.dataset)}`);
  if (spec.source !== undefined && (typeof spec.source !== 'string' || spec.source === '')) throw new UsageError(`--source must be a checkpoint path, got ${JSON.stringify(spec.source)}`);
}

const positiveInt = (flag: string, v: number | undefined): void => {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
};

/** Fills in the defaults and checks every value; UsageErrors name the flag. */
export function resolveTransTailorSpec(spec: TransTailorSpec): ResolvedTransTailorSpec {
  if (typeof spec?.source !== 'string' || spec.source === '') throw new UsageError(`--source is required (the pre-trained checkpoint), got ${JSON.stringify(spec?.source)}`);
  if (typeof spec.dataset !== 'string' || spec.dataset === '') throw new UsageError(`--dataset is required (the target data set), got ${JSON.stringify(spec.dataset)}`);
  const defined = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as TransTailorSpec;
  const s: ResolvedTransTailorSpec = { ...TRANSTAILOR_DEFAULTS, ...defined, source: spec.source };
  if (!(Number.isFinite(s.tau) && s.tau >= 0 && s.tau <= 100)) throw new UsageError(`--tau is the largest accepted drop of validation balanced accuracy in percentage points, in [0, 100]; got ${s.tau}`);
  if (!(s.pruneShare > 0 && s.pruneShare < 1)) throw new UsageError(`--prune-share is the share of the remaining filters removed per iteration, in (0, 1) (e.g. 0.05); got ${s.pruneShare}`);
  if (s.alphaInit !== 'ones' && s.alphaInit !== 'random') throw new UsageError(`--alpha-init must be ones or random, got '${String(s.alphaInit)}'`);
  if (!(Number.isInteger(s.alphaIters) && s.alphaIters >= 0)) throw new UsageError(`--alpha-iters must be a whole number >= 0, got ${s.alphaIters}`);
  if (!NORMS.includes(s.importanceNorm)) throw new UsageError(`--importance-norm must be one of ${NORMS.join(', ')}, got '${String(s.importanceNorm)}'`);
  if (!(Number.isFinite(s.alphaLr) && s.alphaLr > 0)) throw new UsageError(`--alpha-lr must be a number > 0, got ${s.alphaLr}`);
  if (!(Number.isInteger(s.finetuneEpochs) && s.finetuneEpochs >= 0)) throw new UsageError(`--finetune-epochs must be a whole number of epochs (0: no fine-tuning of the transferred model), got ${s.finetuneEpochs}`);
  if (!(Number.isInteger(s.patience) && s.patience >= 0)) throw new UsageError(`--patience must be a whole number >= 0, got ${s.patience}`);
  if (s.finetuneIters === undefined && s.finetuneEpochs === 0) throw new UsageError('--finetune-epochs 0 leaves the pruned models without fine-tuning: give --finetune-iters N, or epochs >= 1');
  for (const [flag, v] of [['finetune-iters', s.finetuneIters], ['importance-batches', s.importanceBatches], ['batch-size', s.batchSize], ['eval-batch-size', s.evalBatchSize], ['max-iterations', s.maxIterations], ['latency-runs', s.latencyRuns]] as const) positiveInt(flag, v);
  // τ is decided on held-out validation data, never on the test split: a validation split is required.
  if (!(s.validation > 0 && (s.validation < 1 || Number.isInteger(s.validation)))) throw new UsageError(`--validation is the held-out split τ is checked on: a fraction in (0, 1) or a count >= 1 (the test split is never used for decisions); got ${s.validation}`);
  if (!(s.fraction > 0 && s.fraction <= 1)) throw new UsageError(`--fraction must be in (0, 1], got ${s.fraction}`);
  if (!Number.isInteger(s.seed)) throw new UsageError(`--seed must be an integer, got ${s.seed}`);
  if (s.classes !== undefined && s.classes.length === 0) throw new UsageError('--classes must name at least one class');
  // The loop's own check, so nothing it would refuse gets as far as a run directory.
  validateTransTailor(transtailorOptions(s));
  return s;
}

/** The loop's options from a resolved spec. */
export function transtailorOptions(s: ResolvedTransTailorSpec): TransTailorOptions {
  return {
    tau: s.tau,
    pruneShare: s.pruneShare,
    alphaInit: s.alphaInit,
    alphaIters: s.alphaIters,
    alphaLr: s.alphaLr,
    importanceBatches: s.importanceBatches,
    importanceNorm: s.importanceNorm,
    fineTune: s.finetuneIters !== undefined ? { iters: s.finetuneIters } : { epochs: s.finetuneEpochs, patience: s.patience },
    ...(s.maxIterations !== undefined ? { maxIterations: s.maxIterations } : {}),
    seed: s.seed,
  };
}
