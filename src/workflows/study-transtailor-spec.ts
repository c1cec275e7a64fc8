// What a TransTailor study is asked to do (TransTailorStudySpec), its defaults
// (full and --quick), and the checks that name the flags. Free of engine
// code: the CLI's option declarations read it when the command is only
// registered.
//
// The study (issue 17): for each seed, a source model trained on the source
// data set (slimnet train's defaults); for each target, the source transferred and fine-tuned (the
// unpruned reference), TransTailor with α = 1 and with random α, and
// fine-tune-then-prune with the Taylor, L1 and random criteria taken to the
// MACs of TransTailor's final model and fine-tuned with the same optimizer,
// early stopping and epoch budget. Balanced accuracy on the target's test
// split, mean ± std over the seeds.
import { UsageError } from '../util/errors.js';

/** One target task: a data set, optionally a subset of its classes. */
export interface StudyTarget {
  /** Short name used in member keys and the report ('digits', 'fashion4'). */
  name: string;
  dataset: string;
  /** Class names or indices (default: every class). */
  classes?: readonly string[];
  /** Share of the target's training split used. */
  fraction: number;
}

/** The baselines' criteria (src/prune criteria registry names). */
export const STUDY_BASELINES = ['taylor', 'l1', 'random'] as const;

/** A TransTailor study. Undefined fields take their default (TRANSTAILOR_STUDY_FULL, or _QUICK with `quick`). */
export interface TransTailorStudySpec {
  /** Root of the run directories (default './runs'). */
  runsDir?: string;
  /** Resume this version of the study (finished members are read, not run again); only runsDir, quick and invocation may be given with it. */
  resume?: number;
  /** The command line report.md names. */
  invocation?: string;
  /** CI mode: a tiny study (TRANSTAILOR_STUDY_QUICK). */
  quick?: boolean;
  /** The source task: a data set and the architecture trained on it (slimnet train, seed002 recipe). */
  sourceDataset?: string;
  arch?: string;
  width?: number;
  sourceEpochs?: number;
  sourceFraction?: number;
  /** Adam learning rate of the source training (slimnet train's defaults otherwise: Adam, cosine schedule, a tenth held out). */
  sourceLr?: number;
  targets?: readonly StudyTarget[];
  seeds?: readonly number[];
  /** TransTailor's settings, shared by every target (transtailorRun's flags). */
  tau?: number;
  pruneShare?: number;
  alphaIters?: number;
  finetuneEpochs?: number;
  patience?: number;
  maxIterations?: number;
  batchSize?: number;
  /** Timed runs of the latency measurement of each TransTailor run. */
  latencyRuns?: number;
}

/** config.json of a study: every value resolved. */
export interface TransTailorStudyConfig {
  quick: boolean;
  sourceDataset: string;
  arch: string;
  width: number;
  sourceEpochs: number;
  sourceFraction: number;
  sourceLr: number;
  targets: StudyTarget[];
  seeds: number[];
  tau: number;
  pruneShare: number;
  alphaIters: number;
  finetuneEpochs: number;
  patience: number;
  maxIterations: number;
  batchSize: number;
  latencyRuns: number;
  baselines: string[];
  /** How the default sizes were chosen. */
  sizing: string;
}

type Sizes = Omit<TransTailorStudyConfig, 'quick' | 'sizing' | 'baselines'>;

/** The four upper-body garments: the Fashion-MNIST classes a classifier confuses most. */
const FASHION_TOPS = ['T-shirt/top', 'Pullover', 'Coat', 'Shirt'];

/** The full study (see SIZING.full). */
export const TRANSTAILOR_STUDY_FULL: Sizes = {
  sourceDataset: 'fashion-mnist',
  arch: 'resnet20',
  width: 0.5,
  sourceEpochs: 8,
  sourceFraction: 0.25,
  sourceLr: 0.001,
  targets: [
    { name: 'digits', dataset: 'mnist-digits', fraction: 0.5 },
    { name: 'fashion-tops', dataset: 'fashion-mnist', classes: FASHION_TOPS, fraction: 0.1 },
  ],
  seeds: [0, 1, 2],
  tau: 1,
  pruneShare: 0.1,
  alphaIters: 50,
  finetuneEpochs: 3,
  patience: 1,
  maxIterations: 10,
  batchSize: 64,
  latencyRuns: 30,
};

/** --quick: every step end to end on a few hundred images (lenet5 at half width, two seeds, two iterations). */
export const TRANSTAILOR_STUDY_QUICK: Sizes = {
  sourceDataset: 'fashion-mnist',
  arch: 'lenet5',
  width: 0.5,
  sourceEpochs: 1,
  sourceFraction: 0.02,
  sourceLr: 0.002,
  targets: [
    { name: 'digits', dataset: 'mnist-digits', fraction: 0.1 },
    { name: 'fashion-tops', dataset: 'fashion-mnist', classes: FASHION_TOPS, fraction: 0.02 },
  ],
  seeds: [0, 1],
  tau: 100,
  pruneShare: 0.2,
  alphaIters: 5,
  finetuneEpochs: 1,
  patience: 0,
  maxIterations: 2,
  batchSize: 32,
  latencyRuns: 3,
};

const SIZING = {
  full:
    'measured 2026-12-01 on this 2-core machine with 1 engine thread while other jobs shared the CPU: 35 min of member time for the whole default study (3 seeds): ' +
    'a source (13,500 Fashion-MNIST images x 8 epochs, resnet20 x0.5) 2.8-3.3 min; per target and seed a TransTailor run 0.7-1.7 min (digits: 2-3 kept iterations before τ; garments: 0-2), ' +
    'random α 0.5-2.4 min, a baseline 0.2-1.1 min. The prune share is 0.1 (the loop\'s default 0.05) and 10 iterations at most, so TransTailor reaches its τ limit within that time',
  quick: 'CI size: lenet5 x0.5, 1 source epoch on 2 % of Fashion-MNIST, 10 % of the digits and 2 % of the garments, two TransTailor iterations with τ 100 (every iteration kept), two seeds: about a minute with one thread',
};

/** Spec fields a resumed study accepts; the rest would contradict its config.json. */
export const TRANSTAILOR_STUDY_RESUME_FIELDS: ReadonlySet<keyof TransTailorStudySpec> = new Set<keyof TransTailorStudySpec>(['resume', 'runsDir', 'quick', 'invocation']);

export const transtailorStudyDefaults = (quick: boolean | undefined): Sizes => (quick ? TRANSTAILOR_STUDY_QUICK : TRANSTAILOR_STUDY_FULL);

/** The resolved configuration of a new study: the given fields over the defaults, checked (UsageErrors name the flag). */
export function resolveTransTailorStudy(spec: TransTailorStudySpec): TransTailorStudyConfig {
  const quick = spec.quick === true;
  const d = transtailorStudyDefaults(quick);
  const pick = <K extends keyof Sizes>(k: K): Sizes[K] => ((spec as Partial<Sizes>)[k] ?? d[k]) as Sizes[K];
  const c: TransTailorStudyConfig = {
    quick,
    sourceDataset: pick('sourceDataset'),
    arch: pick('arch'),
    width: pick('width'),
    sourceEpochs: pick('sourceEpochs'),
    sourceFraction: pick('sourceFraction'),
    sourceLr: pick('sourceLr'),
    targets: pick('targets').map((t) => ({ ...t, ...(t.classes ? { classes: [...t.classes] } : {}) })),
    seeds: [...pick('seeds')],
    tau: pick('tau'),
    pruneShare: pick('pruneShare'),
    alphaIters: pick('alphaIters'),
    finetuneEpochs: pick('finetuneEpochs'),
    patience: pick('patience'),
    maxIterations: pick('maxIterations'),
    batchSize: pick('batchSize'),
    latencyRuns: pick('latencyRuns'),
    baselines: [...STUDY_BASELINES],
    sizing: '',
  };
  const sized = (Object.keys(d) as (keyof Sizes)[]).every((k) => JSON.stringify(c[k]) === JSON.stringify(d[k]));
  c.sizing = sized ? SIZING[quick ? 'quick' : 'full'] : `not the default sizes; the defaults were sized as: ${SIZING[quick ? 'quick' : 'full']}`;
  checkTransTailorStudy(c);
  return c;
}

/** The checks that need no engine code (data set and architecture names are the workflow's). */
export function checkTransTailorStudy(c: TransTailorStudyConfig): void {
  const need = (ok: boolean, message: string): void => {
    if (!ok) throw new UsageError(message);
  };
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  need(Number.isFinite(c.width) && c.width > 0, `--width must be > 0, got ${c.width}`);
  need(int(c.sourceEpochs, 1), `--source-epochs must be an integer >= 1, got ${c.sourceEpochs}`);
  need(c.sourceFraction > 0 && c.sourceFraction <= 1, `--source-fraction must be in (0, 1], got ${c.sourceFraction}`);
  need(Number.isFinite(c.sourceLr) && c.sourceLr > 0, `--source-lr must be > 0, got ${c.sourceLr}`);
  need(c.targets.length > 0, '--targets must name at least one target');
  for (const t of c.targets) {
    need(/^[a-z0-9][a-z0-9-]*$/.test(t.name), `target name must be lower-case letters, digits and '-', got '${t.name}'`);
    need(t.fraction > 0 && t.fraction <= 1, `target '${t.name}': fraction must be in (0, 1], got ${t.fraction}`);
    need(t.classes === undefined || t.classes.length >= 2, `target '${t.name}': a class subset needs at least two classes`);
  }
  need(new Set(c.targets.map((t) => t.name)).size === c.targets.length, `--targets names a target twice: ${c.targets.map((t) => t.name).join(', ')}`);
  need(c.seeds.length > 0 && c.seeds.every((s) => int(s, 0)), `--seeds must be a comma list of integers >= 0 (e.g. 0,1,2), got '${c.seeds.join(',')}'`);
  need(new Set(c.seeds).size === c.seeds.length, `--seeds lists a seed twice: '${c.seeds.join(',')}'`);
  need(Number.isFinite(c.tau) && c.tau >= 0 && c.tau <= 100, `--tau must be in [0, 100] percentage points, got ${c.tau}`);
  need(c.pruneShare > 0 && c.pruneShare < 1, `--prune-share must be in (0, 1), got ${c.pruneShare}`);
  need(int(c.alphaIters, 0), `--alpha-iters must be an integer >= 0, got ${c.alphaIters}`);
  need(int(c.finetuneEpochs, 1), `--finetune-epochs must be an integer >= 1, got ${c.finetuneEpochs}`);
  need(int(c.patience, 0), `--patience must be an integer >= 0, got ${c.patience}`);
  need(int(c.maxIterations, 1), `--max-iterations must be an integer >= 1, got ${c.maxIterations}`);
  need(int(c.batchSize, 1), `--batch-size must be an integer >= 1, got ${c.batchSize}`);
  need(int(c.latencyRuns, 1), `--latency-runs must be an integer >= 1, got ${c.latencyRuns}`);
}

/** 'sourceEpochs' -> '--source-epochs'. */
export const studyFlagOf = (field: string): string => `--${field.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;
