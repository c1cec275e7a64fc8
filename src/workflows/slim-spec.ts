// What a network-slimming run is asked to do (SlimSpec), its defaults, and
// the checks on it. Kept free of engine code: the CLI's option declarations
// read the defaults from here when the command is only registered.
//
// Field names follow the command's flags one to one (pruneShare is
// --prune-share), and the messages name them as flags, so a config file, a
// library call and the command line get the same words.
import { UsageError } from '../util/errors.js';

export const SLIM_OPTIMIZERS = ['sgd', 'adam'] as const;
export const SLIM_AUGMENTS = ['none', 'standard'] as const;
export type SlimOptimizer = (typeof SLIM_OPTIMIZERS)[number];
export type SlimAugment = (typeof SLIM_AUGMENTS)[number];

/**
 * A slimming run. Undefined fields take SLIM_DEFAULTS, or what a checkpoint
 * records (data set, split, seed), or a default derived from other fields
 * (lr from the optimizer, the λ to prune, the fine-tuning lr).
 */
export interface SlimSpec {
  /** Root of the run directories (default './runs'). */
  runsDir?: string;
  /** Start every λ from this trained model instead of fresh weights. */
  checkpoint?: string;
  dataset?: string;
  root?: string;
  /** Image folders from scratch: the size images are resized to (default 224; with a checkpoint, the model's input). */
  imageSize?: number;
  /** Zoo architecture with BatchNorm (default vgg11_bn; not with a checkpoint). */
  arch?: string;
  /** Width multiplier (default 1; not with a checkpoint). */
  width?: number;
  /** Sparsity penalties λ on Σ|γ|; one model is trained per λ. */
  lambdas?: readonly number[];
  /** Sparsity-training epochs per λ (0 with a checkpoint: prune it as it is). */
  epochs?: number;
  batchSize?: number;
  evalBatchSize?: number;
  optimizer?: SlimOptimizer;
  /** Learning rate of the sparsity training, cosine-annealed (default 0.1 for sgd, 1e-3 for adam). */
  lr?: number;
  momentum?: number;
  /** Weight decay of conv / linear weights; BatchNorm parameters and biases get none. */
  weightDecay?: number;
  augment?: SlimAugment;
  /** |γ| below this counts as near zero in the sparsity share. */
  threshold?: number;
  /** Share of the BatchNorm-scaled channels removed by one global |γ| threshold, in (0, 1). */
  pruneShare?: number;
  /** Which λ's model is pruned (default the largest). */
  pruneLambda?: number;
  minChannels?: number;
  /** Channel counts kept at multiples of this. */
  roundTo?: number;
  finetuneEpochs?: number;
  /** Fine-tuning learning rate (default lr / 10). */
  finetuneLr?: number;
  /** Stratified share of the training split (default 1, or the checkpoint's). */
  fraction?: number;
  /** Validation held out of the training split: a count or a fraction; 0 for none (default 0.1, or the checkpoint's). */
  validation?: number;
  /** Initialisation, split and batch order (default 0, or the checkpoint's). */
  seed?: number;
  /** Timed runs per model and batch size of the latency measurement. */
  latencyRuns?: number;
}

export const SLIM_DEFAULTS = {
  runsDir: './runs',
  arch: 'vgg11_bn',
  dataset: 'fashion-mnist',
  lambdas: [0, 1e-4, 1e-2] as readonly number[],
  epochs: 10,
  batchSize: 128,
  evalBatchSize: 500,
  optimizer: 'sgd' as SlimOptimizer,
  momentum: 0.9,
  weightDecay: 1e-4,
  augment: 'none' as SlimAugment,
  threshold: 0.01,
  pruneShare: 0.5,
  minChannels: 1,
  roundTo: 1,
  finetuneEpochs: 5,
  latencyRuns: 100,
  validation: 0.1,
  fraction: 1,
  seed: 0,
  width: 1,
} as const;

type Defaulted = 'runsDir' | 'lambdas' | 'epochs' | 'batchSize' | 'evalBatchSize' | 'optimizer' | 'momentum' | 'weightDecay' | 'augment' | 'threshold' | 'pruneShare' | 'minChannels' | 'roundTo' | 'finetuneEpochs' | 'latencyRuns';

/** The spec with every plain default filled in (the ones a checkpoint decides stay undefined). */
export type SlimSettings = Omit<SlimSpec, Defaulted> & Required<Pick<SlimSpec, Defaulted>>;

export function slimSettings(spec: SlimSpec): SlimSettings {
  const d = SLIM_DEFAULTS;
  return {
    ...spec,
    runsDir: spec.runsDir ?? d.runsDir,
    lambdas: spec.lambdas ?? d.lambdas,
    epochs: spec.epochs ?? d.epochs,
    batchSize: spec.batchSize ?? d.batchSize,
    evalBatchSize: spec.evalBatchSize ?? d.evalBatchSize,
    optimizer: spec.optimizer ?? d.optimizer,
    momentum: spec.momentum ?? d.momentum,
    weightDecay: spec.weightDecay ?? d.weightDecay,
    augment: spec.augment ?? d.augment,
    threshold: spec.threshold ?? d.threshold,
    pruneShare: spec.pruneShare ?? d.pruneShare,
    minChannels: spec.minChannels ?? d.minChannels,
    roundTo: spec.roundTo ?? d.roundTo,
    finetuneEpochs: spec.finetuneEpochs ?? d.finetuneEpochs,
    latencyRuns: spec.latencyRuns ?? d.latencyRuns,
  };
}

/** Checks the spec before anything is loaded or written; the messages name the flag and the value. */
export function checkSlimSpec(s: SlimSettings): void {
  const positiveInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`${name} must be a positive integer, got ${v}`);
  };
  if (!s.lambdas.length) throw new UsageError('--lambdas needs at least one value');
  for (const l of s.lambdas) if (!(l >= 0)) throw new UsageError(`--lambdas: every λ must be >= 0, got ${l}`);
  if (new Set(s.lambdas).size !== s.lambdas.length) throw new UsageError(`--lambdas lists a value twice: ${s.lambdas.join(',')}`);
  if (!(Number.isInteger(s.epochs) && s.epochs >= 0)) throw new UsageError(`--epochs must be a non-negative integer, got ${s.epochs}`);
  if (s.epochs === 0 && s.checkpoint === undefined) throw new UsageError('--epochs 0 prunes a model as it is: it needs --checkpoint');
  if (!(SLIM_OPTIMIZERS as readonly string[]).includes(s.optimizer)) throw new UsageError(`--optimizer must be one of ${SLIM_OPTIMIZERS.join(', ')}, got '${s.optimizer}'`);
  if (!(SLIM_AUGMENTS as readonly string[]).includes(s.augment)) throw new UsageError(`--augment must be one of ${SLIM_AUGMENTS.join(', ')}, got '${s.augment}'`);
  positiveInt('--batch-size', s.batchSize);
  positiveInt('--eval-batch-size', s.evalBatchSize);
  positiveInt('--min-channels', s.minChannels);
  positiveInt('--round-to', s.roundTo);
  positiveInt('--latency-runs', s.latencyRuns);
  if (!(Number.isInteger(s.finetuneEpochs) && s.finetuneEpochs >= 0)) throw new UsageError(`--finetune-epochs must be a non-negative integer, got ${s.finetuneEpochs}`);
  for (const [flag, v] of [['--lr', s.lr], ['--finetune-lr', s.finetuneLr]] as const) if (v !== undefined && !(v > 0)) throw new UsageError(`${flag} must be > 0, got ${v}`);
  if (!(s.momentum >= 0 && s.momentum < 1)) throw new UsageError(`--momentum must be in [0, 1), got ${s.momentum}`);
  if (!(s.weightDecay >= 0)) throw new UsageError(`--weight-decay must be >= 0, got ${s.weightDecay}`);
  if (!(s.threshold > 0)) throw new UsageError(`--threshold must be > 0, got ${s.threshold}`);
  if (!(s.pruneShare > 0 && s.pruneShare < 1)) throw new UsageError(`--prune-share must be in (0, 1), got ${s.pruneShare}`);
  if (s.pruneLambda !== undefined && !s.lambdas.includes(s.pruneLambda)) throw new UsageError(`--prune-lambda ${s.pruneLambda} is not one of --lambdas ${s.lambdas.join(',')}`);
  if (s.fraction !== undefined && !(s.fraction > 0 && s.fraction <= 1)) throw new UsageError(`--fraction must be in (0, 1], got ${s.fraction}`);
  if (s.validation !== undefined && !(s.validation >= 0)) throw new UsageError(`--validation must be >= 0, got ${s.validation}`);
  if (s.width !== undefined && !(s.width > 0)) throw new UsageError(`--width must be > 0, got ${s.width}`);
  if (s.checkpoint !== undefined) {
    const clash = (['arch', 'width'] as const).filter((k) => s[k] !== undefined);
    if (clash.length) throw new UsageError(`${clash.map((k) => `--${k}`).join(' and ')} cannot be used with --checkpoint: the checkpoint holds the model`);
  }
}
