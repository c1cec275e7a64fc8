// What a progressive-replacement study is asked to do (ReplaceStudySpec), its
// defaults (full and --quick), the variants and baselines it compares, and
// the checks that name the flags. Free of engine code: the CLI's option
// declarations read it when the command is only registered (the schedule
// parser it uses is plain string code).
//
// The study (issue 18, seed 001): for each seed, a source model (trainRun on
// the data set with a BatchNorm network); then seed 001's variants, each a
// replaceRun from that source at the same parameter share, changing one
// factor of the base variant at a time; then two baselines at the base
// variant's final size: its architecture trained from scratch, and channel
// pruning (pruneRun) to its MACs. Test accuracy and balanced accuracy, mean ±
// std over the seeds.
//
// Sizing of the full study (measured 2026-12 on this 2-core machine, 1 engine
// thread, another study running on the other core). Speeds, fashion-mnist at
// fraction 0.05 (2,700 training images): resnet20 x0.5 (68,642 params, 7.78 M
// MACs) trains at about 500 images/s; a replace run blending 65 % of the
// parameters (23,586 params, 5.58 M MACs after) at about 660 images/s. The
// default sizes, one seed run end to end (fraction 0.2: 10,800 training
// images; variants base, logit-mse, lsq and both baselines): source (5
// epochs) 119 s; base (6 α values x 1 epoch, its test passes, ONNX check, 10
// latency runs) 149 s; logit-mse 186 s; lsq 155 s; from scratch (11 epochs)
// 158 s; pruning (Taylor, 3 % steps with 30 retraining iterations to the
// base's MACs, then 6 fine-tuning epochs) 303 s. With the other six
// variants at the base's 149 s: about 33 min per seed, 1 h 40 min for three.
import { alphaSequence, parseSchedule } from '../replace/schedule.js';
import { ReplaceError } from '../replace/errors.js';
import { UsageError } from '../util/errors.js';

/** Seed 001's variants: the base, then one factor changed at a time. */
export const REPLACE_STUDY_VARIANTS = ['base', 'linear', 'cosine', 'step', 'noise', 'logit-mse', 'frozen', 'lsq', 'random-init'] as const;
export type ReplaceStudyVariant = (typeof REPLACE_STUDY_VARIANTS)[number];

/** The baselines at the base variant's size. */
export const REPLACE_STUDY_BASELINES = ['scratch', 'prune'] as const;
export type ReplaceStudyBaseline = (typeof REPLACE_STUDY_BASELINES)[number];

export const REPLACE_STUDY_DATASETS = ['fashion-mnist', 'mnist-digits', 'mnist', 'cifar10'] as const;
export const PRUNE_CRITERIA = ['taylor', 'l1'] as const;

/** A replacement study. Undefined fields take their default (REPLACE_STUDY_FULL, or _QUICK with `quick`). */
export interface ReplaceStudySpec {
  /** Root of the run directories (default './runs'). */
  runsDir?: string;
  /** Resume this version of the study (finished members are read, an interrupted one resumes its own run); only runsDir, quick and invocation may be given with it. */
  resume?: number;
  /** The command line report.md names. */
  invocation?: string;
  /** CI mode: a tiny study (REPLACE_STUDY_QUICK). */
  quick?: boolean;
  dataset?: string;
  /** The source model: a zoo architecture (with BatchNorm) at a width multiplier. */
  arch?: string;
  width?: number;
  /** Share of the training split (stratified; a tenth of it held out for validation). */
  fraction?: number;
  sourceEpochs?: number;
  /** Adam learning rate of the source training and of the from-scratch baseline (cosine schedule). */
  sourceLr?: number;
  seeds?: readonly number[];
  /** Share of the source's parameters every variant removes. */
  paramShare?: number;
  /** The base variant's α schedule (replace/schedule.ts); the schedule variants take its number of α values. */
  schedule?: string;
  /** Epochs at each α. */
  patience?: number;
  /** Adam learning rate of the replacement runs and of the pruning's retraining and fine-tuning (constant). */
  lr?: number;
  batchSize?: number;
  /** Std of the noise variant's Gaussian noise on half the training images, in normalised-input units. */
  noiseStd?: number;
  /** The variants run (default: all; --quick: base, logit-mse, frozen). */
  variants?: readonly string[];
  baselines?: readonly string[];
  /** The pruning baseline's criterion and its steps (share of the remaining channels; retraining iterations after each). */
  pruneCriterion?: string;
  pruneStepShare?: number;
  pruneRetrainIters?: number;
  /** A replacement stops its schedule when validation accuracy falls more than this many points below the source's. */
  collapsePp?: number;
  /** Timed runs of each member's latency measurement (replace and prune measure latency). */
  latencyRuns?: number;
}

/** config.json of a study: every value resolved. */
export interface ReplaceStudyConfig {
  quick: boolean;
  dataset: string;
  arch: string;
  width: number;
  fraction: number;
  sourceEpochs: number;
  sourceLr: number;
  seeds: number[];
  paramShare: number;
  schedule: string;
  patience: number;
  lr: number;
  batchSize: number;
  noiseStd: number;
  variants: ReplaceStudyVariant[];
  baselines: ReplaceStudyBaseline[];
  pruneCriterion: string;
  pruneStepShare: number;
  pruneRetrainIters: number;
  collapsePp: number;
  latencyRuns: number;
  /** How the default sizes were chosen. */
  sizing: string;
}

type Sizes = Omit<ReplaceStudyConfig, 'quick' | 'sizing'>;

/** The full study (see the sizing note at the top). */
export const REPLACE_STUDY_FULL: Sizes = {
  dataset: 'fashion-mnist',
  arch: 'resnet20',
  width: 0.5,
  fraction: 0.2,
  sourceEpochs: 5,
  sourceLr: 0.001,
  seeds: [0, 1, 2],
  paramShare: 0.65,
  // α 0.6, 0.36, 0.216, 0.13, 0.078, then 0: six values (seed 001's rate 0.05 would take 59 epochs per variant).
  schedule: 'exp:0.4',
  patience: 1,
  lr: 0.001,
  batchSize: 128,
  // After normalisation a pixel has std 1 over the data set: noise of std 0.5 is a quarter of the pixel variance, visible but not hiding the garment.
  noiseStd: 0.5,
  variants: [...REPLACE_STUDY_VARIANTS],
  baselines: [...REPLACE_STUDY_BASELINES],
  pruneCriterion: 'taylor',
  pruneStepShare: 0.03,
  pruneRetrainIters: 30,
  collapsePp: 10,
  latencyRuns: 10,
};

/** --quick: every kind of member end to end on a few hundred bundled digits (resnet20 x0.25, two α values, two seeds). */
export const REPLACE_STUDY_QUICK: Sizes = {
  dataset: 'mnist-digits',
  arch: 'resnet20',
  width: 0.25,
  fraction: 0.05,
  sourceEpochs: 3,
  sourceLr: 0.01,
  seeds: [0, 1],
  paramShare: 0.65,
  // α 0.2, then 0.
  schedule: 'exp:0.8',
  patience: 1,
  lr: 0.001,
  batchSize: 16,
  noiseStd: 0.5,
  variants: ['base', 'logit-mse', 'frozen'],
  baselines: [...REPLACE_STUDY_BASELINES],
  pruneCriterion: 'l1',
  pruneStepShare: 0.03,
  pruneRetrainIters: 5,
  collapsePp: 100,
  latencyRuns: 2,
};

const SIZING = {
  full: 'resnet20 x0.5 on 20 % of Fashion-MNIST (10,800 training images), 1 engine thread on this 2-core machine, one seed measured: source (5 epochs) 119 s, base variant (6 α values x 1 epoch) 149 s, logit-mse 186 s, lsq 155 s, from scratch (11 epochs) 158 s, pruning to the base\'s MACs with 6 fine-tuning epochs 303 s; with the other six variants at the base\'s time about 33 min per seed, 1 h 40 min for three seeds',
  quick: 'CI size: resnet20 x0.25 on 5 % of the bundled digits (360 training images), 3 source epochs, 2 α values, 3 variants and both baselines, two seeds',
};

/** Spec fields a resumed study accepts; the rest would contradict its config.json. */
export const REPLACE_STUDY_RESUME_FIELDS: ReadonlySet<keyof ReplaceStudySpec> = new Set<keyof ReplaceStudySpec>(['resume', 'runsDir', 'quick', 'invocation']);

export const replaceStudyDefaults = (quick: boolean | undefined): Sizes => (quick ? REPLACE_STUDY_QUICK : REPLACE_STUDY_FULL);

/** 'sourceEpochs' -> '--source-epochs'. */
export const replaceStudyFlag = (field: string): string => `--${field.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;

/** The α values of a schedule string, with a UsageError naming --schedule. */
export function scheduleAlphas(schedule: string): number[] {
  try {
    return alphaSequence(parseSchedule(schedule));
  } catch (e) {
    if (e instanceof ReplaceError) throw new UsageError(`--schedule: ${e.message}`);
    throw e;
  }
}

/** The resolved configuration of a new study: the given fields over the defaults, checked (UsageErrors name the flag). */
export function resolveReplaceStudy(spec: ReplaceStudySpec): ReplaceStudyConfig {
  const quick = spec.quick === true;
  const d = replaceStudyDefaults(quick);
  const pick = <K extends keyof Sizes>(k: K): Sizes[K] => ((spec as Partial<Sizes>)[k] ?? d[k]) as Sizes[K];
  const c: ReplaceStudyConfig = {
    quick,
    dataset: pick('dataset'),
    arch: pick('arch'),
    width: pick('width'),
    fraction: pick('fraction'),
    sourceEpochs: pick('sourceEpochs'),
    sourceLr: pick('sourceLr'),
    seeds: [...pick('seeds')],
    paramShare: pick('paramShare'),
    schedule: pick('schedule'),
    patience: pick('patience'),
    lr: pick('lr'),
    batchSize: pick('batchSize'),
    noiseStd: pick('noiseStd'),
    variants: [...pick('variants')] as ReplaceStudyVariant[],
    baselines: [...pick('baselines')] as ReplaceStudyBaseline[],
    pruneCriterion: pick('pruneCriterion'),
    pruneStepShare: pick('pruneStepShare'),
    pruneRetrainIters: pick('pruneRetrainIters'),
    collapsePp: pick('collapsePp'),
    latencyRuns: pick('latencyRuns'),
    sizing: '',
  };
  const sized = (Object.keys(d) as (keyof Sizes)[]).every((k) => JSON.stringify(c[k]) === JSON.stringify(d[k]));
  c.sizing = sized ? SIZING[quick ? 'quick' : 'full'] : `not the default sizes; the defaults were sized as: ${SIZING[quick ? 'quick' : 'full']}`;
  checkReplaceStudy(c);
  return c;
}

/** The checks that need no engine code (the architecture's name is the workflow's). */
export function checkReplaceStudy(c: ReplaceStudyConfig): void {
  const need = (ok: boolean, message: string): void => {
    if (!ok) throw new UsageError(message);
  };
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  const oneOf = (flag: string, values: readonly string[], known: readonly string[]): void => {
    const bad = values.filter((v) => !known.includes(v));
    need(bad.length === 0, `${flag}: unknown ${bad.map((b) => `'${b}'`).join(', ')} (known: ${known.join(', ')})`);
    need(new Set(values).size === values.length, `${flag} names one twice: ${values.join(',')}`);
  };
  need((REPLACE_STUDY_DATASETS as readonly string[]).includes(c.dataset), `--dataset must be one of ${REPLACE_STUDY_DATASETS.join(', ')}, got '${c.dataset}'`);
  need(Number.isFinite(c.width) && c.width > 0, `--width must be > 0, got ${c.width}`);
  need(c.fraction > 0 && c.fraction <= 1, `--fraction must be in (0, 1], got ${c.fraction}`);
  need(int(c.sourceEpochs, 1), `--source-epochs must be an integer >= 1, got ${c.sourceEpochs}`);
  need(Number.isFinite(c.sourceLr) && c.sourceLr > 0, `--source-lr must be > 0, got ${c.sourceLr}`);
  need(c.seeds.length > 0 && c.seeds.every((s) => int(s, 0)), `--seeds must be a comma list of integers >= 0 (e.g. 0,1,2), got '${c.seeds.join(',')}'`);
  need(new Set(c.seeds).size === c.seeds.length, `--seeds lists a seed twice: '${c.seeds.join(',')}'`);
  need(c.paramShare > 0 && c.paramShare < 1, `--param-share must be in (0, 1), got ${c.paramShare}`);
  scheduleAlphas(c.schedule);
  need(int(c.patience, 1), `--patience must be an integer >= 1, got ${c.patience}`);
  need(Number.isFinite(c.lr) && c.lr > 0, `--lr must be > 0, got ${c.lr}`);
  need(int(c.batchSize, 1), `--batch-size must be an integer >= 1, got ${c.batchSize}`);
  need(Number.isFinite(c.noiseStd) && c.noiseStd > 0, `--noise-std must be > 0, got ${c.noiseStd}`);
  oneOf('--variants', c.variants, REPLACE_STUDY_VARIANTS);
  need(c.variants.includes('base'), `--variants must include 'base': every other variant and both baselines are compared with it, got '${c.variants.join(',')}'`);
  oneOf('--baselines', c.baselines, REPLACE_STUDY_BASELINES);
  need((PRUNE_CRITERIA as readonly string[]).includes(c.pruneCriterion), `--prune-criterion must be one of ${PRUNE_CRITERIA.join(', ')}, got '${c.pruneCriterion}'`);
  need(c.pruneStepShare > 0 && c.pruneStepShare < 1, `--prune-step-share must be in (0, 1), got ${c.pruneStepShare}`);
  need(int(c.pruneRetrainIters, 1), `--prune-retrain-iters must be an integer >= 1, got ${c.pruneRetrainIters}`);
  need(Number.isFinite(c.collapsePp) && c.collapsePp >= 0 && c.collapsePp <= 100, `--collapse-pp must be in [0, 100] percentage points, got ${c.collapsePp}`);
  need(int(c.latencyRuns, 1), `--latency-runs must be an integer >= 1, got ${c.latencyRuns}`);
}

/** What a variant changes in the base variant's replacement (the replaceRun options that differ between members). */
export interface VariantOptions {
  alphaSchedule: string;
  patience: number;
  loss: 'ce' | 'logit-mse';
  freezeOriginal: boolean;
  branchInit: 'centre' | 'lsq' | 'random';
  noiseShare?: number;
  noiseStd?: number;
}

/**
 * The variant's replacement options. The schedule variants keep the base's
 * epoch budget: linear and cosine step through as many α values as the base
 * schedule; step takes half as many values (linear spacing, rounded to two
 * decimals) held twice as long, the seed's coarse steps.
 */
export function variantOptions(v: ReplaceStudyVariant, c: Pick<ReplaceStudyConfig, 'schedule' | 'patience' | 'noiseStd'>): VariantOptions {
  const base: VariantOptions = { alphaSchedule: c.schedule, patience: c.patience, loss: 'ce', freezeOriginal: false, branchInit: 'centre' };
  const n = scheduleAlphas(c.schedule).length;
  switch (v) {
    case 'base':
      return base;
    case 'linear':
    case 'cosine':
      return { ...base, alphaSchedule: `${v}:${n}` };
    case 'step': {
      const k = Math.ceil(n / 2);
      const values = Array.from({ length: k }, (_, i) => (i + 1 === k ? 0 : +(1 - (i + 1) / k).toFixed(2)));
      return { ...base, alphaSchedule: `step:${values.join(',')}`, patience: 2 * c.patience };
    }
    case 'noise':
      return { ...base, noiseShare: 0.5, noiseStd: c.noiseStd };
    case 'logit-mse':
      return { ...base, loss: 'logit-mse' };
    case 'frozen':
      return { ...base, freezeOriginal: true };
    case 'lsq':
      return { ...base, branchInit: 'lsq' };
    case 'random-init':
      return { ...base, branchInit: 'random' };
  }
}

/** What a variant changes, in words (the table's labels). */
export const VARIANT_LABELS: Record<ReplaceStudyVariant | ReplaceStudyBaseline | 'source', string> = {
  source: 'source model (unreplaced)',
  base: 'base (exp schedule, CE, trainable, centre init)',
  linear: 'linear schedule',
  cosine: 'cosine schedule',
  step: 'step schedule (coarse steps, longer each)',
  noise: 'Gaussian noise on half the images',
  'logit-mse': 'logit regression instead of CE',
  frozen: 'frozen originals',
  lsq: 'branch init: least squares',
  'random-init': 'branch init: random',
  scratch: 'baseline: base architecture from scratch',
  prune: 'baseline: channel pruning to equal MACs',
};
