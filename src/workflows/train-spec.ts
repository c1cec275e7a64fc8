// The training spec: what a run is configured with (TrainConfig, written as
// config.json), the one list of its options (name, kind, default, derived
// default, help text), value parsing, the derived defaults and validation.
// The CLI generates its flags and reads config files from this list
// (cli/commands/train-options.ts); a library user passes a TrainSpec to
// trainRun. Messages name the option as its flag (--batch-size), which is
// also its kebab-case key in a config file.
import { UsageError } from '../util/errors.js';
import { plural } from '../report/format.js';
import type { ScheduleSpec } from '../train/index.js';
import type { OptimizerSpec } from '../train/optim/spec.js';
import { LR_ALIASES, LR_FAMILIES } from '../train/optim/families.js';
import type { ClassRef } from '../data/classes.js';
import { imageSizeOf } from '../data/folder.js';
import { AUGMENT_PRESETS, NORMALIZE_CHOICES, augmentSteps, evalTransform, parseAugment, trainTransform, type Augment, type DataSpec, type NormalizeChoice, type ResolvedData } from '../data/spec.js';
import { noiseProblem, withNoise, type NoiseSpec } from '../data/augment.js';
import type { Transform } from '../data/transforms.js';
import { RECIPES, applyRecipe, recipesHelp, type RecipeName, type RecipePurpose } from './recipes.js';

export const DATASETS = ['mnist', 'mnist-digits', 'fashion-mnist', 'cifar10', 'cifar100', 'folder'] as const;
export const OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
export const SCHEDULES = ['cosine', 'step', 'multistep', 'exponential', 'constant'] as const;
/** The augmentation presets (--augment also takes a comma list of transforms: data/spec.ts AUGMENT_TRANSFORMS). */
export const AUGMENTS = ['none', 'standard', 'seed002'] as const satisfies readonly (keyof typeof AUGMENT_PRESETS)[];
export const MONITORS = ['val.loss', 'val.accuracy', 'val.balancedAccuracy', 'train.loss', 'train.accuracy'] as const;

/** The resolved configuration of a training run (config.json): every option with its final value. */
export interface TrainConfig {
  dataset: (typeof DATASETS)[number];
  /** Data folder (null: the data set's default location). */
  root: string | null;
  /**
   * Height and width the images of an image folder are resized to (a number
   * for square images); null: 224 for folders, the data set's own size for
   * the others (which are never resized: another size is refused).
   */
  imageSize: number | [number, number] | null;
  /** Only these classes (names or indices), relabelled 0..k-1 in this order; the model gets k outputs. null: every class. */
  classes: ClassRef[] | null;
  arch: string;
  /** Width multiplier of the architecture. */
  width: number;
  /** The named defaults the run was resolved with (recipes.ts); the values it set are recorded in their own keys. */
  recipe: RecipeName;
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  /** Learning rate per layer family (LR_FAMILIES), over lr; null: lr for every parameter. */
  lrByKind: Record<string, number> | null;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: (typeof SCHEDULES)[number];
  /** step: decay every stepSize epochs; multistep: at these epochs; step/multistep/exponential: factor gamma. */
  stepSize: number;
  milestones: number[];
  gamma: number;
  minLrFactor: number;
  warmupEpochs: number;
  labelSmoothing: number;
  /** Max global gradient L2 norm, or null for no clipping. */
  gradClip: number | null;
  /** Early stopping patience in epochs, or null for none. */
  earlyStoppingPatience: number | null;
  /** The epoch metric early stopping watches (lower is better for losses, higher for accuracies). */
  earlyStoppingMonitor: (typeof MONITORS)[number];
  /** An improvement of the monitored metric must exceed this. */
  earlyStoppingMinDelta: number;
  /** Validation samples taken from the training split: a count (>= 1) or a fraction (< 1); 0 for none. */
  validation: number;
  /** Fraction of the training split to use (stratified, seeded). */
  fraction: number;
  /** A preset (AUGMENTS) or a comma list of transforms, applied in that order (data/spec.ts). */
  augment: Augment;
  /** Probability that a training image gets Gaussian noise (after normalisation, data/augment.ts); null: no noise. */
  noiseShare: number | null;
  /** Standard deviation of that noise, in normalised-input units; set exactly when noiseShare is. */
  noiseStd: number | null;
  /** How images are normalised: the data set's mean / std, ImageNet's, or none (data/spec.ts NORMALIZE_CHOICES). */
  normalize: NormalizeChoice;
  seed: number;
}

/**
 * What trainRun takes: any options of the configuration (the rest get their
 * defaults, some derived from the others), where the runs live, and
 * optionally the version to resume.
 */
export interface TrainSpec extends Partial<TrainConfig> {
  /** Root of the run directories (default './runs'). */
  runsDir?: string;
  /**
   * Resume run version N of this dataset/arch exactly where it stopped, with
   * its own configuration: options given here must agree with it.
   */
  resume?: number;
}

export type OptionKind = 'int' | 'float' | 'string' | 'bool' | 'intList' | 'nullableFloat' | 'nullableInt' | 'imageSize' | 'augment' | 'classList' | 'lrByKind';

/** One option of the configuration. */
export interface TrainOption {
  key: keyof TrainConfig;
  /** The value placeholder of its flag ('<n>'); none for a boolean switch. */
  arg?: string;
  kind: OptionKind;
  desc: string;
  choices?: readonly string[];
  /** A static default, or a function of the other resolved values (documented in `defaultText`). */
  def: unknown;
  derive?: (c: Partial<TrainConfig>) => unknown;
  defaultText?: string;
}

/** The options, in the order of --help and of config.json. */
export const TRAIN_OPTIONS: readonly TrainOption[] = [
  { key: 'dataset', arg: '<name>', kind: 'string', choices: DATASETS, def: 'fashion-mnist', desc: 'data set (fashion-mnist from the Debian package dataset-fashion-mnist; mnist-digits needs no set-up)' },
  { key: 'root', arg: '<dir>', kind: 'string', def: null, defaultText: "the data set's default folder", desc: 'data folder (required for folder; overrides $SLIMNET_*_DIR)' },
  {
    key: 'imageSize',
    arg: '<n|h,w>',
    kind: 'imageSize',
    def: null,
    defaultText: "224 for folder, the data set's own size otherwise",
    desc: 'image folders (--dataset folder): resize every image to N x N pixels (or H,W); the zoo architectures are built for this input. The other data sets have a fixed size (28 for the MNISTs, 32 for CIFAR) and are not resized: another value is refused',
  },
  {
    key: 'classes',
    arg: '<list>',
    kind: 'classList',
    def: null,
    defaultText: 'every class',
    desc: "only these classes, comma-separated names or indices (e.g. Sandal,Sneaker or 5,7), relabelled 0..k-1 in this order in every split; the model gets k outputs, and its checkpoints record the subset (classSubset), so prune, slim and the studies take the same classes from them",
  },
  { key: 'arch', arg: '<name>', kind: 'string', def: 'lenet5', desc: 'zoo architecture (slimnet summary --arch NAME lists them)' },
  { key: 'width', arg: '<x>', kind: 'float', def: 1, desc: "width multiplier on every layer's channel count" },
  { key: 'recipe', arg: '<name>', kind: 'string', choices: RECIPES, def: 'none', desc: `named defaults, under every option given explicitly (recorded in config.json with the values they set): ${recipesHelp()}` },
  { key: 'epochs', arg: '<n>', kind: 'int', def: 10, desc: 'training epochs' },
  { key: 'batchSize', arg: '<n>', kind: 'int', def: 128, desc: 'training batch size' },
  { key: 'evalBatchSize', arg: '<n>', kind: 'int', def: 500, desc: 'batch size for validation and test' },
  { key: 'optimizer', arg: '<name>', kind: 'string', choices: OPTIMIZERS, def: 'adam', desc: 'optimizer' },
  { key: 'lr', arg: '<x>', kind: 'float', def: undefined, derive: (c) => (c.optimizer === 'sgd' ? 0.01 : 1e-3), defaultText: '0.001 for adam/adamw, 0.01 for sgd', desc: 'base learning rate' },
  {
    key: 'lrByKind',
    arg: '<list>',
    kind: 'lrByKind',
    def: null,
    defaultText: '--lr for every layer',
    desc: `learning rate per layer family, comma-separated family=lr pairs over --lr (which the others keep), scaled by the schedule like it: families ${LR_FAMILIES.join(', ')} (fc is linear, bn is norm); e.g. linear=0.005,conv=0.0005 fine-tunes a new head 10x faster than the features (seed 000's transfer setting, with --early-stopping-monitor val.balancedAccuracy --early-stopping-patience N); 0 freezes a family`,
  },
  { key: 'momentum', arg: '<x>', kind: 'float', def: 0.9, desc: 'SGD momentum (sgd only)' },
  { key: 'nesterov', kind: 'bool', def: false, desc: 'Nesterov momentum (sgd only)' },
  { key: 'weightDecay', arg: '<x>', kind: 'float', def: undefined, derive: (c) => (c.optimizer === 'adamw' ? 0.01 : 0), defaultText: '0.01 for adamw, 0 otherwise', desc: 'weight decay (L2 for sgd/adam, decoupled for adamw); BatchNorm parameters and biases are not decayed' },
  { key: 'schedule', arg: '<name>', kind: 'string', choices: SCHEDULES, def: 'cosine', desc: 'learning-rate schedule, advanced once per epoch (cosine anneals to --min-lr-factor over the epochs after warm-up)' },
  { key: 'stepSize', arg: '<n>', kind: 'int', def: undefined, derive: (c) => Math.max(1, Math.round(((c.epochs ?? 10) - (c.warmupEpochs ?? 0)) / 3)), defaultText: 'a third of the epochs after warm-up', desc: 'step schedule: epochs between decays' },
  {
    key: 'milestones',
    arg: '<list>',
    kind: 'intList',
    def: undefined,
    derive: (c) => {
      const n = (c.epochs ?? 10) - (c.warmupEpochs ?? 0);
      return [...new Set([Math.round(n * 0.5), Math.round(n * 0.75)].filter((m) => m >= 1))];
    },
    defaultText: '50% and 75% of the epochs after warm-up',
    desc: 'multistep schedule: comma-separated epochs (counted after warm-up) where the lr is multiplied by gamma',
  },
  { key: 'gamma', arg: '<x>', kind: 'float', def: undefined, derive: (c) => (c.schedule === 'exponential' ? 0.9 : 0.1), defaultText: '0.1; 0.9 for exponential', desc: 'decay factor of step / multistep / exponential schedules' },
  { key: 'minLrFactor', arg: '<x>', kind: 'float', def: 0, desc: 'cosine schedule: final lr as a fraction of the base lr' },
  { key: 'warmupEpochs', arg: '<n>', kind: 'int', def: 0, desc: 'linear warm-up epochs (from 0.1x the lr) before the schedule' },
  { key: 'labelSmoothing', arg: '<x>', kind: 'float', def: 0, desc: 'label smoothing of the training loss, in [0, 1)' },
  { key: 'gradClip', arg: '<x>', kind: 'nullableFloat', def: null, defaultText: 'off', desc: 'clip gradients to this global L2 norm' },
  { key: 'earlyStoppingPatience', arg: '<n>', kind: 'nullableInt', def: null, defaultText: 'off', desc: 'stop after this many epochs without an improvement of the monitored metric and restore the best weights' },
  { key: 'earlyStoppingMonitor', arg: '<metric>', kind: 'string', choices: MONITORS, def: 'val.loss', desc: 'metric early stopping watches: losses must fall, accuracies rise' },
  { key: 'earlyStoppingMinDelta', arg: '<x>', kind: 'float', def: 0, desc: 'smallest change of the monitored metric that counts as an improvement' },
  { key: 'validation', arg: '<n>', kind: 'float', def: 0.1, desc: 'validation samples held out of the training split (stratified, seeded): a count like 5000 or a fraction like 0.1; 0 for none' },
  { key: 'fraction', arg: '<x>', kind: 'float', def: 1, desc: 'use this stratified fraction of the training split (quick runs)' },
  {
    key: 'augment',
    arg: '<mode>',
    kind: 'augment',
    def: 'none',
    desc:
      'training augmentation: a preset or a comma list of transforms, applied in the order given: flip (horizontal, half the images), crop (random crop after zero padding: 2 px for 28 px images, 4 above), ' +
      'jitter (brightness and contrast ±20 %, saturation too on colour images), rotate (±15°), rrc (random resized crop of 80-100 % of the area, back to the image size). ' +
      `Presets: ${Object.entries(AUGMENT_PRESETS)
        .filter(([n]) => n !== 'none')
        .map(([n, l]) => `${n} = ${l.join(',')}`)
        .join('; ')} (seed 002's set, in an order where the colour jitter sees only the image and the fill stays black). Digits are never flipped: the presets skip flip for them`,
  },
  {
    key: 'noiseShare',
    arg: '<p>',
    kind: 'nullableFloat',
    def: null,
    defaultText: 'off',
    desc: "add Gaussian noise to this share of the training images, drawn afresh per image and epoch (seed 001: 0.5, half the images); needs --noise-std. Validation and test images are never noised",
  },
  {
    key: 'noiseStd',
    arg: '<x>',
    kind: 'nullableFloat',
    def: null,
    defaultText: 'off',
    desc: 'standard deviation of that noise, in normalised-input units (added after --normalize, not clamped: 0.1 with the data set\'s normalisation is a tenth of its pixel std); needs --noise-share',
  },
  {
    key: 'normalize',
    arg: '<name>',
    kind: 'string',
    choices: NORMALIZE_CHOICES,
    def: 'dataset',
    desc: "input normalisation: dataset (the data set's own mean/std), imagenet (ImageNet's mean/std, seed 002's choice; grey images take the mean of its three means and stds, 0.449/0.226), none (mean 0, std 1)",
  },
  { key: 'seed', arg: '<n>', kind: 'int', def: 0, desc: 'random seed (initialisation, split, batch order, augmentation)' },
];

const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** The flag (and kebab-case config key) of an option: 'batchSize' → '--batch-size'. */
export function flagOf(key: string): string {
  return `--${kebab(key)}`;
}

/** The config keys, in table order. */
export function trainConfigKeys(): (keyof TrainConfig)[] {
  return TRAIN_OPTIONS.map((s) => s.key);
}

const OPTION_BY_NAME = new Map<string, TrainOption>(TRAIN_OPTIONS.flatMap((s) => [[s.key, s] as const, [kebab(s.key), s] as const]));

/** The option a name refers to: camelCase, kebab-case or snake_case ('batchSize', 'batch-size', 'batch_size'). */
export function trainOption(name: string): TrainOption | undefined {
  return OPTION_BY_NAME.get(name) ?? OPTION_BY_NAME.get(name.replace(/_/g, '-'));
}

/**
 * An image size: a whole number N (also the text 'N'), or a height and width
 * ('H,W' or [H, W]); a square pair reads as N, so 32 and 32,32 are one value.
 */
function parseImageSize(v: unknown): { value: number | [number, number] } | { problem: string } {
  const parts = typeof v === 'number' ? [v] : Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((x) => x.trim()) : [];
  const nums = parts.map((x: unknown) => (typeof x === 'number' ? x : typeof x === 'string' && x !== '' ? Number(x) : NaN));
  const problem = { problem: 'must be a whole number of pixels N or a height and width H,W (e.g. 32 or 32,48), each from 1 to 4096' };
  if ((Array.isArray(v) ? nums.length !== 2 : nums.length > 2) || nums.length === 0) return problem; // a list is [H, W]
  const hw: [number, number] = [nums[0]!, nums[nums.length - 1]!];
  try {
    imageSizeOf({ imageSize: hw }); // the folder loader's own limits
  } catch {
    return problem;
  }
  return { value: hw[0] === hw[1] ? hw[0] : hw };
}

/**
 * A class list: 'Sandal,Sneaker' or '5,7' (names or indices, resolved against
 * the data set by classes.ts when the data is loaded), or a list of names and
 * whole numbers from a config file.
 */
function parseClassList(v: unknown): { value: ClassRef[] } | { problem: string } {
  const parts: unknown[] | undefined = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((x) => x.trim()) : typeof v === 'number' ? [v] : undefined;
  const ok = (x: unknown): x is ClassRef => (typeof x === 'string' && x.trim() !== '') || (typeof x === 'number' && Number.isInteger(x) && x >= 0);
  if (!parts || parts.length === 0 || !parts.every(ok)) return { problem: 'must be a comma-separated list of class names or indices (e.g. Sandal,Sneaker or 5,7)' };
  return { value: parts.map((x) => (typeof x === 'string' ? x.trim() : x)) };
}

/**
 * Learning rates by layer family: 'linear=0.005,conv=0.0005', or a mapping
 * from a config file. Unknown families, a family named twice (also through
 * its alias: fc and linear) and rates that are not numbers >= 0 are refused.
 * The one parser of --lr-by-kind (train, prune).
 */
export function parseLrByKind(v: unknown): { value: Record<string, number> } | { problem: string } {
  const form = `must be comma-separated family=lr pairs (e.g. linear=0.005,conv=0.0005), families ${LR_FAMILIES.join(', ')}`;
  let pairs: [string, unknown][];
  if (typeof v === 'string') {
    const items = v.split(',').map((x) => x.trim());
    if (items.some((x) => !/^[^=]+=[^=]+$/.test(x))) return { problem: form };
    pairs = items.map((x) => x.split('=').map((y) => y.trim()) as [string, string]);
  } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) pairs = Object.entries(v);
  else return { problem: form };
  if (pairs.length === 0) return { problem: form };
  const out: Record<string, number> = {};
  const seen = new Map<string, string>();
  for (const [key, raw] of pairs) {
    if (!(LR_FAMILIES as readonly string[]).includes(key)) return { problem: `${form}: unknown family '${key}'` };
    const lr = typeof raw === 'number' ? raw : typeof raw === 'string' && raw !== '' ? Number(raw) : NaN;
    if (!(Number.isFinite(lr) && lr >= 0)) return { problem: `${form}: the lr of '${key}' must be a number >= 0, got ${JSON.stringify(raw)}` };
    const family: string = LR_ALIASES[key as keyof typeof LR_ALIASES] ?? key;
    const first = seen.get(family);
    if (first !== undefined) return { problem: `${form}: names ${family} twice${first === key ? '' : ` (as ${first} and ${key})`}` };
    seen.set(family, key);
    out[key] = lr;
  }
  return { value: out };
}

/** An option's value parsed, or what is wrong with it ('must be an integer'). */
function parseValue(s: TrainOption, v: unknown): { value: unknown } | { problem: string } {
  if (v === null && (s.kind === 'nullableFloat' || s.kind === 'nullableInt' || s.kind === 'imageSize' || s.kind === 'classList' || s.kind === 'lrByKind' || s.key === 'root')) return { value: null };
  switch (s.kind) {
    case 'classList':
      return parseClassList(v);
    case 'lrByKind':
      return parseLrByKind(v);
    case 'imageSize':
      return parseImageSize(v);
    case 'int':
    case 'nullableInt':
    case 'float':
    case 'nullableFloat': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) return { problem: `must be ${s.kind.endsWith('Int') || s.kind === 'int' ? 'an integer' : 'a number'}` };
      if ((s.kind === 'int' || s.kind === 'nullableInt') && !Number.isInteger(n)) return { problem: 'must be an integer' };
      return { value: n };
    }
    case 'bool':
      if (typeof v === 'boolean') return { value: v };
      if (v === 'true' || v === 'false') return { value: v === 'true' };
      return { problem: 'must be true or false' };
    case 'intList': {
      const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').filter((x) => x.trim() !== '') : typeof v === 'number' ? [v] : undefined;
      const out = parts?.map((x: unknown) => (typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x.trim()) : NaN));
      if (!out || out.some((x) => !Number.isInteger(x))) return { problem: 'must be a comma-separated list of integers (e.g. 5,8)' };
      return { value: out };
    }
    case 'augment': {
      if (typeof v !== 'string') return { problem: 'must be a string' };
      return parseAugment(v);
    }
    case 'string': {
      if (typeof v !== 'string') return { problem: 'must be a string' };
      if (s.choices && !s.choices.includes(v)) return { problem: `must be one of ${s.choices.join(', ')}` };
      return { value: v };
    }
  }
}

/**
 * Parses one option's value from a config file or a spec; `where` ('config
 * file x.yaml', 'train spec') prefixes the error, which names the option.
 */
export function parseOptionValue(s: TrainOption, v: unknown, where: string): unknown {
  const r = parseValue(s, v);
  if ('problem' in r) throw new UsageError(`${where}: ${kebab(s.key)} ${r.problem}, got ${JSON.stringify(v)}`);
  return r.value;
}

/** Parses a flag's text; the error (a UsageError) names the flag and the text: "--epochs must be an integer, got '1.5'". */
export function parseFlagValue(s: TrainOption, text: string): unknown {
  const r = parseValue(s, text);
  if ('problem' in r) throw new UsageError(`${flagOf(s.key)} ${r.problem}, got '${text}'`);
  return r.value;
}

/** The configuration options a spec gives (defined values only), parsed and checked; unknown keys are errors. */
export function givenOptions(spec: TrainSpec, where = 'train spec'): Partial<TrainConfig> {
  const out: Partial<Record<keyof TrainConfig, unknown>> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'runsDir' || k === 'resume' || v === undefined) continue;
    const s = OPTION_BY_NAME.get(k);
    if (!s || s.key !== k) throw new UsageError(`${where}: unknown option '${k}' (known: ${trainConfigKeys().join(', ')})`);
    out[s.key] = parseOptionValue(s, v, where);
  }
  return out as Partial<TrainConfig>;
}

/**
 * The final configuration: each given option as given, the others the
 * recipe's value (given.recipe: recipes.ts applyRecipe) or else their
 * (possibly derived) default; validated. `purpose` 'distill' takes the
 * recipe's distillation values (no label smoothing).
 */
export function resolveTrainConfig(given: Partial<TrainConfig>, purpose: RecipePurpose = 'baseline'): TrainConfig {
  const withRecipe = applyRecipe(given, purpose, TRAIN_OPTIONS.find((s) => s.key === 'epochs')!.def as number);
  const out: Partial<Record<keyof TrainConfig, unknown>> = {};
  const derived: TrainOption[] = [];
  for (const s of TRAIN_OPTIONS) {
    if (withRecipe[s.key] !== undefined) out[s.key] = withRecipe[s.key];
    else if (s.derive) derived.push(s);
    else out[s.key] = s.def;
  }
  // Derived defaults see every given and static value (the lr sees the optimizer, ...).
  for (const s of derived) out[s.key] = s.derive!(out as Partial<TrainConfig>);
  const config = out as TrainConfig;
  validateTrainConfig(config);
  return config;
}

/** Checks a resolved configuration; the messages name the flag and the value. */
export function validateTrainConfig(c: TrainConfig): void {
  const need = (ok: boolean, msg: string): void => {
    if (!ok) throw new UsageError(msg);
  };
  need(c.epochs >= 1, `--epochs must be >= 1, got ${c.epochs}`);
  need(c.batchSize >= 1, `--batch-size must be >= 1, got ${c.batchSize}`);
  need(c.evalBatchSize >= 1, `--eval-batch-size must be >= 1, got ${c.evalBatchSize}`);
  need(c.width > 0, `--width must be > 0, got ${c.width}`);
  need((RECIPES as readonly string[]).includes(c.recipe), `--recipe must be one of ${RECIPES.join(', ')}, got '${c.recipe}'`);
  need((NORMALIZE_CHOICES as readonly string[]).includes(c.normalize), `--normalize must be one of ${NORMALIZE_CHOICES.join(', ')}, got '${c.normalize}'`);
  augmentSteps(c.augment, c.dataset); // a UsageError naming --augment
  need(c.lr > 0, `--lr must be > 0, got ${c.lr}`);
  need(c.momentum >= 0, `--momentum must be >= 0, got ${c.momentum}`);
  need(c.weightDecay >= 0, `--weight-decay must be >= 0, got ${c.weightDecay}`);
  need(c.warmupEpochs >= 0 && c.warmupEpochs < c.epochs, `--warmup-epochs must be in [0, epochs), got ${c.warmupEpochs}`);
  need(c.labelSmoothing >= 0 && c.labelSmoothing < 1, `--label-smoothing must be in [0, 1), got ${c.labelSmoothing}`);
  need(c.gradClip === null || c.gradClip > 0, `--grad-clip must be > 0, got ${c.gradClip}`);
  need(c.earlyStoppingPatience === null || c.earlyStoppingPatience >= 1, `--early-stopping-patience must be >= 1, got ${c.earlyStoppingPatience}`);
  need(c.earlyStoppingPatience === null || c.validation > 0 || c.earlyStoppingMonitor.startsWith('train.'), `--early-stopping-patience on ${c.earlyStoppingMonitor} needs a validation split (--validation > 0)`);
  need((MONITORS as readonly string[]).includes(c.earlyStoppingMonitor), `--early-stopping-monitor must be one of ${MONITORS.join(', ')}, got '${c.earlyStoppingMonitor}'`);
  need(Number.isFinite(c.earlyStoppingMinDelta) && c.earlyStoppingMinDelta >= 0, `--early-stopping-min-delta must be >= 0, got ${c.earlyStoppingMinDelta}`);
  need(c.validation >= 0 && (c.validation < 1 || Number.isInteger(c.validation)), `--validation must be a count or a fraction in [0, 1), got ${c.validation}`);
  need(c.fraction > 0 && c.fraction <= 1, `--fraction must be in (0, 1], got ${c.fraction}`);
  need(c.stepSize >= 1, `--step-size must be >= 1, got ${c.stepSize}`);
  need(c.gamma > 0, `--gamma must be > 0, got ${c.gamma}`);
  need(c.minLrFactor >= 0 && c.minLrFactor <= 1, `--min-lr-factor must be in [0, 1], got ${c.minLrFactor}`);
  need(c.nesterov === false || (c.optimizer === 'sgd' && c.momentum > 0), `--nesterov needs --optimizer sgd and --momentum > 0`);
  if (c.schedule === 'multistep') need(c.milestones.length > 0 && c.milestones.every((m, i) => m >= 0 && (i === 0 || m > c.milestones[i - 1]!)), `--milestones must be increasing epochs, got ${c.milestones.join(',')}`);
  need(c.dataset !== 'folder' || c.root !== null, `--dataset folder needs --root DIR`);
  for (const [key, v] of [['classes', c.classes], ['lrByKind', c.lrByKind]] as const) {
    const r = v === null || v === undefined ? null : key === 'classes' ? parseClassList(v) : parseLrByKind(v);
    need(r === null || !('problem' in r), `${flagOf(key)} ${r && 'problem' in r ? r.problem : ''}, got ${JSON.stringify(v)}`);
  }
  const noise = noiseProblemOf(c);
  need(noise === null, noise ?? '');
  need(c.imageSize === null || !('problem' in parseImageSize(c.imageSize)), `--image-size must be a whole number of pixels N or H,W, got ${JSON.stringify(c.imageSize)}`);
}

/** What is wrong with a configuration's noise options (naming the flags), or null. */
function noiseProblemOf(c: Pick<TrainConfig, 'noiseShare' | 'noiseStd'>): string | null {
  const share = c.noiseShare ?? null;
  const std = c.noiseStd ?? null;
  if (share === null && std === null) return null;
  if (std === null) return `--noise-share ${share} needs --noise-std (the noise's standard deviation, in normalised-input units)`;
  if (share === null) return `--noise-std ${std} needs --noise-share (the share of training images that get noise, e.g. 0.5)`;
  return noiseProblem({ share, std }, { share: '--noise-share', std: '--noise-std' });
}

/** The training noise a configuration asks for (data/augment.ts withNoise), or null. */
export function noiseOf(c: Pick<TrainConfig, 'noiseShare' | 'noiseStd'>): NoiseSpec | null {
  return c.noiseShare !== null && c.noiseShare !== undefined && c.noiseStd !== null && c.noiseStd !== undefined ? { share: c.noiseShare, std: c.noiseStd } : null;
}

/**
 * The transforms of a configuration's loaders: training images get the
 * augmentation, the normalisation and then the noise; validation and test
 * images only the normalisation (they are never noised).
 */
export function loaderTransforms(c: TrainConfig, data: Pick<ResolvedData, 'train' | 'norm'>): { train: Transform; eval: Transform } {
  return { train: withNoise(trainTransform(c.dataset, data.train, c.augment, data.norm), noiseOf(c)), eval: evalTransform(data.norm) };
}

/** An image size as its flag's text: 32, or 32,48. */
export function imageSizeText(size: number | readonly [number, number]): string {
  return typeof size === 'number' ? String(size) : size.join(',');
}

/** [height, width] of an image size. */
export function imageSizePair(size: number | readonly [number, number]): [number, number] {
  return typeof size === 'number' ? [size, size] : [size[0], size[1]];
}

/**
 * Only image folders are resized: another data set's images keep their size,
 * so an --image-size other than theirs is refused (naming the flag and the
 * size they have); their own size is accepted and changes nothing.
 */
export function checkImageSize(c: Pick<TrainConfig, 'dataset' | 'imageSize'>, sampleShape: readonly number[]): void {
  if (c.imageSize === null || c.dataset === 'folder') return;
  const [h, w] = imageSizePair(c.imageSize);
  if (h === sampleShape[1] && w === sampleShape[2]) return;
  const own = sampleShape[1] === sampleShape[2] ? String(sampleShape[1]) : `${sampleShape[1]},${sampleShape[2]}`;
  throw new UsageError(
    `--image-size ${imageSizeText(c.imageSize)} does not apply to ${c.dataset}: its images are ${sampleShape[1]}x${sampleShape[2]} and only image folders (--dataset folder) are resized; omit --image-size (or give ${own})`,
  );
}

/** What a resume found: the configuration to go on with, and whether it extends the run. */
export interface ResumedConfig {
  config: TrainConfig;
  /** The epochs the run was configured for before this call raised them (--epochs above the saved value); null otherwise. */
  extendedFrom: number | null;
}

/**
 * The configuration a resumed run goes on with: its saved one (options added
 * since it was saved take their old default), after checking that the given
 * options agree with it. One option may differ: a larger --epochs extends
 * the run (also a complete one) to that many epochs in all; the cosine
 * schedule is then re-planned over the new total (scheduleOf), the others
 * continue as configured. A run that early stopping ended is not extended.
 */
export function resumedConfig(savedFile: Partial<TrainConfig>, given: Partial<TrainConfig>, version: number, progress: { epochsDone: number; complete: boolean } = { epochsDone: 0, complete: false }): ResumedConfig {
  // Runs saved before an option existed resume with its default (and a given value is compared with that).
  const defaults: Pick<TrainConfig, 'earlyStoppingMonitor' | 'earlyStoppingMinDelta' | 'imageSize' | 'recipe' | 'normalize' | 'classes' | 'lrByKind' | 'noiseShare' | 'noiseStd'> = {
    earlyStoppingMonitor: 'val.loss',
    earlyStoppingMinDelta: 0,
    imageSize: null,
    recipe: 'none',
    normalize: 'dataset',
    classes: null,
    lrByKind: null,
    noiseShare: null,
    noiseStd: null,
  };
  const saved: Partial<TrainConfig> = { ...savedFile }; // in the file's order (config.json is rewritten from it on an extension)
  for (const [k, v] of Object.entries(defaults) as [keyof TrainConfig, unknown][]) if (saved[k] === undefined) Object.assign(saved, { [k]: v });
  const conflicts = trainConfigKeys().filter((k) => given[k] !== undefined && JSON.stringify(given[k]) !== JSON.stringify(saved[k]));
  const extending = conflicts.includes('epochs') && given.epochs! > (saved.epochs ?? 0);
  const refused = conflicts.filter((k) => !(k === 'epochs' && extending));
  if (refused.length) {
    const fewer = refused.includes('epochs') ? ` (--epochs can only grow: a larger value extends the run)` : '';
    throw new UsageError(
      `version ${version} was trained with ${refused.map((k) => `${flagOf(k)} ${JSON.stringify(saved[k])}`).join(', ')}; --version resumes a run with its own configuration (drop ${refused.map(flagOf).join(', ')} or start a new run without --version)${fewer}`,
    );
  }
  if (extending && progress.complete && progress.epochsDone < (saved.epochs ?? 0)) {
    throw new UsageError(`version ${version} was ended by early stopping after ${plural(progress.epochsDone, 'epoch')} of ${saved.epochs}; extending it would train past that decision: start a new run with --epochs ${given.epochs}`);
  }
  const config = { ...saved, ...(extending ? { epochs: given.epochs! } : {}) } as TrainConfig;
  validateTrainConfig(config);
  return { config, extendedFrom: extending ? saved.epochs! : null };
}

/**
 * A validation split must be able to say something: fewer images than
 * classes (`--validation 1` is one image, whose accuracy is 0 or 100 %) is
 * refused, naming the option; 0 means none. `held` is what the split came
 * to (a fraction is rounded, stratified).
 */
export function checkValidationSplit(validation: number, held: { validation: number; classes: number }): void {
  if (validation === 0 || held.validation >= held.classes) return;
  throw new UsageError(
    `--validation ${validation} holds out ${plural(held.validation, 'image')} for ${held.classes} classes: too few to measure accuracy on ` +
      `(at least one image per class: a count of ${held.classes} or more, a fraction such as 0.1, or 0 for no validation split)`,
  );
}

/**
 * The data a configuration names, as resolveData takes it: the split, the
 * share, the normalisation choice, the class subset, and the image size
 * (image folders only: checkImageSize refuses it elsewhere).
 */
export function trainDataSpec(c: TrainConfig): DataSpec {
  return {
    dataset: c.dataset,
    root: c.root,
    validation: c.validation,
    fraction: c.fraction,
    seed: c.seed,
    normalize: c.normalize,
    ...(c.dataset === 'folder' && c.imageSize !== null ? { imageSize: c.imageSize } : {}),
    ...(c.classes !== null ? { classes: c.classes } : {}),
  };
}

/** The learning-rate schedule of a configuration, advanced once per epoch. */
export function scheduleOf(c: TrainConfig): ScheduleSpec {
  const warm = c.warmupEpochs > 0 ? { warmup: c.warmupEpochs } : {};
  switch (c.schedule) {
    case 'cosine':
      return { type: 'cosine', length: Math.max(1, c.epochs - c.warmupEpochs), minFactor: c.minLrFactor, unit: 'epoch', ...warm };
    case 'step':
      return { type: 'step', stepSize: c.stepSize, gamma: c.gamma, unit: 'epoch', ...warm };
    case 'multistep':
      return { type: 'multistep', milestones: c.milestones, gamma: c.gamma, unit: 'epoch', ...warm };
    case 'exponential':
      return { type: 'exponential', gamma: c.gamma, unit: 'epoch', ...warm };
    case 'constant':
      return { type: 'constant', unit: 'epoch', ...warm };
  }
}

/** The optimizer of a configuration (BatchNorm parameters and biases are not decayed). */
export function optimizerOf(c: TrainConfig): OptimizerSpec {
  return { type: c.optimizer, lr: c.lr, momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay, noDecayOnNormAndBias: true, ...(c.lrByKind !== null ? { lrByKind: c.lrByKind } : {}) };
}
