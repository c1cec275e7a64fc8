// The options of `slimnet train`: one table drives the commander flags, the
// --help text (every option with its default), config files (JSON / YAML,
// camelCase or kebab-case keys) and the resolved config written to
// config.json. Precedence: command-line flag > config file > default; a few
// defaults depend on other options (lr, weight decay, schedule parameters)
// and are resolved here so config.json holds every final value.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../errors.js';

export const DATASETS = ['mnist', 'mnist-digits', 'fashion-mnist', 'cifar10', 'cifar100', 'folder'] as const;
export const OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
export const SCHEDULES = ['cosine', 'step', 'multistep', 'exponential', 'constant'] as const;
export const AUGMENTS = ['none', 'standard'] as const;
export const MONITORS = ['val.loss', 'val.accuracy', 'val.balancedAccuracy', 'train.loss', 'train.accuracy'] as const;

/** The resolved configuration of a training run (config.json). */
export interface TrainConfig {
  dataset: (typeof DATASETS)[number];
  /** Data folder (null: the data set's default location). */
  root: string | null;
  arch: string;
  /** Width multiplier of the architecture. */
  width: number;
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
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
  augment: (typeof AUGMENTS)[number];
  seed: number;
}

type Kind = 'int' | 'float' | 'string' | 'bool' | 'intList' | 'nullableFloat' | 'nullableInt';

interface Spec {
  key: keyof TrainConfig;
  flag: string;
  kind: Kind;
  desc: string;
  choices?: readonly string[];
  /** A static default, or a function of the other resolved values (documented in `defaultText`). */
  def: unknown | ((c: Partial<TrainConfig>) => unknown);
  defaultText?: string;
}

const SPECS: Spec[] = [
  { key: 'dataset', flag: '--dataset <name>', kind: 'string', choices: DATASETS, def: 'fashion-mnist', desc: 'data set (fashion-mnist from the Debian package dataset-fashion-mnist; mnist-digits needs no set-up)' },
  { key: 'root', flag: '--root <dir>', kind: 'string', def: null, defaultText: "the data set's default folder", desc: 'data folder (required for folder; overrides $SLIMNET_*_DIR)' },
  { key: 'arch', flag: '--arch <name>', kind: 'string', def: 'lenet5', desc: 'zoo architecture (slimnet summary --arch NAME lists them)' },
  { key: 'width', flag: '--width <x>', kind: 'float', def: 1, desc: "width multiplier on every layer's channel count" },
  { key: 'epochs', flag: '--epochs <n>', kind: 'int', def: 10, desc: 'training epochs' },
  { key: 'batchSize', flag: '--batch-size <n>', kind: 'int', def: 128, desc: 'training batch size' },
  { key: 'evalBatchSize', flag: '--eval-batch-size <n>', kind: 'int', def: 500, desc: 'batch size for validation and test' },
  { key: 'optimizer', flag: '--optimizer <name>', kind: 'string', choices: OPTIMIZERS, def: 'adam', desc: 'optimizer' },
  { key: 'lr', flag: '--lr <x>', kind: 'float', def: (c: Partial<TrainConfig>) => (c.optimizer === 'sgd' ? 0.01 : 1e-3), defaultText: '0.001 for adam/adamw, 0.01 for sgd', desc: 'base learning rate' },
  { key: 'momentum', flag: '--momentum <x>', kind: 'float', def: 0.9, desc: 'SGD momentum (sgd only)' },
  { key: 'nesterov', flag: '--nesterov', kind: 'bool', def: false, desc: 'Nesterov momentum (sgd only)' },
  { key: 'weightDecay', flag: '--weight-decay <x>', kind: 'float', def: (c: Partial<TrainConfig>) => (c.optimizer === 'adamw' ? 0.01 : 0), defaultText: '0.01 for adamw, 0 otherwise', desc: 'weight decay (L2 for sgd/adam, decoupled for adamw); BatchNorm parameters and biases are not decayed' },
  { key: 'schedule', flag: '--schedule <name>', kind: 'string', choices: SCHEDULES, def: 'cosine', desc: 'learning-rate schedule, advanced once per epoch (cosine anneals to --min-lr-factor over the epochs after warm-up)' },
  { key: 'stepSize', flag: '--step-size <n>', kind: 'int', def: (c: Partial<TrainConfig>) => Math.max(1, Math.round(((c.epochs ?? 10) - (c.warmupEpochs ?? 0)) / 3)), defaultText: 'a third of the epochs after warm-up', desc: 'step schedule: epochs between decays' },
  { key: 'milestones', flag: '--milestones <list>', kind: 'intList', def: (c: Partial<TrainConfig>) => { const n = (c.epochs ?? 10) - (c.warmupEpochs ?? 0); return [...new Set([Math.round(n * 0.5), Math.round(n * 0.75)].filter((m) => m >= 1))]; }, defaultText: '50% and 75% of the epochs after warm-up', desc: 'multistep schedule: comma-separated epochs (counted after warm-up) where the lr is multiplied by gamma' },
  { key: 'gamma', flag: '--gamma <x>', kind: 'float', def: (c: Partial<TrainConfig>) => (c.schedule === 'exponential' ? 0.9 : 0.1), defaultText: '0.1; 0.9 for exponential', desc: 'decay factor of step / multistep / exponential schedules' },
  { key: 'minLrFactor', flag: '--min-lr-factor <x>', kind: 'float', def: 0, desc: 'cosine schedule: final lr as a fraction of the base lr' },
  { key: 'warmupEpochs', flag: '--warmup-epochs <n>', kind: 'int', def: 0, desc: 'linear warm-up epochs (from 0.1x the lr) before the schedule' },
  { key: 'labelSmoothing', flag: '--label-smoothing <x>', kind: 'float', def: 0, desc: 'label smoothing of the training loss, in [0, 1)' },
  { key: 'gradClip', flag: '--grad-clip <x>', kind: 'nullableFloat', def: null, defaultText: 'off', desc: 'clip gradients to this global L2 norm' },
  { key: 'earlyStoppingPatience', flag: '--early-stopping-patience <n>', kind: 'nullableInt', def: null, defaultText: 'off', desc: 'stop after this many epochs without an improvement of the monitored metric and restore the best weights' },
  { key: 'earlyStoppingMonitor', flag: '--early-stopping-monitor <metric>', kind: 'string', choices: MONITORS, def: 'val.loss', desc: 'metric early stopping watches: losses must fall, accuracies rise' },
  { key: 'earlyStoppingMinDelta', flag: '--early-stopping-min-delta <x>', kind: 'float', def: 0, desc: 'smallest change of the monitored metric that counts as an improvement' },
  { key: 'validation', flag: '--validation <n>', kind: 'float', def: 0.1, desc: 'validation samples held out of the training split (stratified, seeded): a count like 5000 or a fraction like 0.1; 0 for none' },
  { key: 'fraction', flag: '--fraction <x>', kind: 'float', def: 1, desc: 'use this stratified fraction of the training split (quick runs)' },
  { key: 'augment', flag: '--augment <mode>', kind: 'string', choices: AUGMENTS, def: 'none', desc: 'training augmentation: standard = random crop (padding 2 for 28 px, 4 for 32 px) and, except for digits, horizontal flips' },
  { key: 'seed', flag: '--seed <n>', kind: 'int', def: 0, desc: 'random seed (initialisation, split, batch order, augmentation)' },
];

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** The flags that are not part of a run's configuration. */
export interface TrainMetaOptions {
  config?: string;
  runsDir: string;
  showVersions?: boolean;
  version?: number;
  json?: boolean;
}

function parseValue(s: Spec, v: unknown, where: string): unknown {
  const bad = (what: string): never => {
    throw new UsageError(`${where}: ${kebab(s.key)} ${what}, got ${JSON.stringify(v)}`);
  };
  if (v === null && (s.kind === 'nullableFloat' || s.kind === 'nullableInt' || s.key === 'root')) return null;
  switch (s.kind) {
    case 'int':
    case 'nullableInt':
    case 'float':
    case 'nullableFloat': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) bad('must be a number');
      if ((s.kind === 'int' || s.kind === 'nullableInt') && !Number.isInteger(n)) bad('must be an integer');
      return n;
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      return bad('must be true or false');
    case 'intList': {
      const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').filter((x) => x.trim() !== '') : typeof v === 'number' ? [v] : bad('must be a list of integers');
      const out = parts.map((x) => (typeof x === 'number' ? x : Number(String(x).trim())));
      if (out.some((x) => !Number.isInteger(x))) bad('must be a list of integers');
      return out;
    }
    case 'string': {
      if (typeof v !== 'string') bad('must be a string');
      if (s.choices && !s.choices.includes(v as string)) bad(`must be one of ${s.choices.join(', ')}`);
      return v;
    }
  }
}

/** Registers the run options on the train command. */
export function addTrainOptions(cmd: Command): Command {
  for (const s of SPECS) {
    const o = new Option(s.flag, s.desc);
    if (s.choices) o.choices(s.choices);
    if (s.kind !== 'bool' && s.kind !== 'string') o.argParser((v: string) => parseValue(s, v, 'command line'));
    if (typeof s.def === 'function' || s.defaultText !== undefined) {
      o.description = `${s.desc} (default: ${s.defaultText})`;
    } else o.default(s.def, JSON.stringify(s.def) === undefined ? String(s.def) : Array.isArray(s.def) ? s.def.join(',') : String(s.def));
    cmd.addOption(o);
  }
  return cmd;
}

/** Reads a JSON or YAML config file into { camelCaseKey: value }, rejecting unknown keys. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  const ext = extname(path).toLowerCase();
  try {
    raw = ext === '.json' ? JSON.parse(text) : parseYaml(text); // YAML is a superset of JSON
  } catch (e) {
    throw new UsageError(`config file ${path} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`config file ${path} must hold a mapping of option names to values`);
  const known = new Map<string, Spec>();
  for (const s of SPECS) {
    known.set(s.key, s);
    known.set(kebab(s.key), s);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const s = known.get(k) ?? known.get(k.replace(/_/g, '-'));
    if (!s) throw new UsageError(`config file ${path}: unknown option '${k}' (known: ${SPECS.map((x) => kebab(x.key)).join(', ')})`);
    out[s.key] = parseValue(s, v, `config file ${path}`);
  }
  return out;
}

/**
 * The final configuration: each option from the command line if given there,
 * else from the config file, else its (possibly derived) default.
 */
export function resolveTrainConfig(cmd: Command, fileValues: Record<string, unknown>): { config: TrainConfig; fromCli: Set<keyof TrainConfig> } {
  const opts = cmd.opts<Record<string, unknown>>();
  const out: Partial<Record<keyof TrainConfig, unknown>> = {};
  const fromCli = new Set<keyof TrainConfig>();
  const derived: Spec[] = [];
  for (const s of SPECS) {
    if (cmd.getOptionValueSource(s.key) === 'cli') {
      out[s.key] = opts[s.key];
      fromCli.add(s.key);
    } else if (s.key in fileValues) out[s.key] = fileValues[s.key];
    else if (typeof s.def === 'function') derived.push(s);
    else out[s.key] = s.def;
  }
  for (const s of derived) out[s.key] = (s.def as (c: Partial<TrainConfig>) => unknown)(out as Partial<TrainConfig>);
  const config = out as TrainConfig;
  validateConfig(config);
  return { config, fromCli };
}

export function validateConfig(c: TrainConfig): void {
  const need = (ok: boolean, msg: string) => {
    if (!ok) throw new UsageError(msg);
  };
  need(c.epochs >= 1, `--epochs must be >= 1, got ${c.epochs}`);
  need(c.batchSize >= 1 && c.evalBatchSize >= 1, `batch sizes must be >= 1`);
  need(c.width > 0, `--width must be > 0, got ${c.width}`);
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
}

/** The config keys, in table order. */
export function trainConfigKeys(): (keyof TrainConfig)[] {
  return SPECS.map((s) => s.key);
}

export function flagOf(key: string): string {
  return `--${kebab(key)}`;
}
