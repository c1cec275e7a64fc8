// A study's resolved configuration (config.json): every default decided
// (--quick, the data set, the checkpoint), checked, and turned into the
// options of the study feature (src/study) and the settings table of
// report.md. A resumed study reads it back as it was written.
import type { DatasetName, DataOverrides } from '../data/index.js';
import { loadDataset, readProvenance } from '../data/index.js';
import { ortChannelBlock } from '../measure/index.js';
import { NORMS, criterionNames, type Norm } from '../prune/index.js';
import { PARTS, type Curve, type Part, type Recipe, type ThesisOptions } from '../study/index.js';
import { UsageError } from '../util/errors.js';
import { plural } from '../report/format.js';
import { THESIS_STUDY_DEFAULTS as D, type ThesisStudySpec } from './study-thesis-spec.js';

/** The resolved configuration (config.json): everything a resumed run needs. */
export interface StudyConfig {
  /** The base model to study, or null: train a lenet5 here. */
  checkpoint: string | null;
  /** With a checkpoint: overrides of its data settings; without: the data settings themselves. */
  data: DataOverrides & { dataset: string };
  arch: string;
  width: number;
  recipe: Recipe;
  criteria: string[];
  norms: Norm[];
  retrainIters: number[];
  points: number;
  retrainPoints: number;
  protocolCriteria: string[] | 'best';
  parts: Part[];
  scoreBatches: number;
  curveSamples: number;
  evalBatchSize: number;
  table: { criterion: string; maxDrop: number; stepFraction: number; patience: number; backtrack: boolean; maxSteps: number; snapTo: number; snapIters: number; snapTries: number; refineSteps: number; latencyRuns: number };
  seed: number;
  quick: boolean;
}

/** The configuration of a new study; `ckptMeta` is the checkpoint's metadata when one is studied. */
export function resolveStudyConfig(o: ThesisStudySpec, ckptMeta: Record<string, unknown> | undefined): StudyConfig {
  const q = o.quick === true;
  const pick = <T>(given: T | undefined, full: T, quick: T): T => given ?? (q ? quick : full);
  const p = ckptMeta ? readProvenance(ckptMeta, `checkpoint ${o.checkpoint}`) : undefined;
  const dataset = o.dataset ?? p?.dataset ?? D.dataset;
  const seed = o.seed ?? p?.seed ?? 0;
  let data: StudyConfig['data'];
  if (ckptMeta) {
    if (o.width !== undefined) throw new UsageError('--width sets the width of a base trained here; it cannot change a --checkpoint');
    data = { dataset, ...(o.root !== undefined && { root: o.root }), ...(o.seed !== undefined && { seed: o.seed }), ...(o.validation !== undefined && { validation: o.validation }), ...(o.fraction !== undefined && { fraction: o.fraction }) };
  } else {
    const fraction = pick(o.fraction, 1, 0.05);
    if (!(fraction > 0 && fraction <= 1)) throw new UsageError(`--fraction must be in (0, 1], got ${fraction}`);
    // The thesis held out 5,000 of MNIST's 60,000; the 8,000 bundled digits can spare a fifth.
    const trainCount = Math.round(loadDataset(dataset as DatasetName, 'train', o.root !== undefined ? { root: o.root } : {}).length * fraction);
    const validation = o.validation ?? (q ? 0.2 : Math.min(5000, Math.floor(trainCount / 5)));
    data = { dataset, root: o.root, seed, validation, fraction };
  }
  const iterations = o.iterations ?? (q ? 100 : dataset === 'mnist-digits' ? 3000 : 10_000);
  const protocolCriteria = o.protocolCriteria ?? D.protocolCriteria;
  return {
    checkpoint: o.checkpoint ?? null,
    data,
    arch: 'lenet5',
    width: pick(o.width, 1, 0.25),
    recipe: { iterations, batchSize: pick(o.batchSize, 100, 32), lr: pick(o.lr, 1e-4, 1e-3) },
    criteria: [...(o.criteria ?? D.criteria)],
    norms: [...(o.norms ?? D.norms)] as Norm[],
    retrainIters: [...pick(o.retrainIters, [10, 50, 100], [1, 2, 3])],
    points: pick(o.points, 16, 2),
    retrainPoints: pick(o.retrainPoints, 10, 2),
    protocolCriteria: protocolCriteria === 'best' || (protocolCriteria.length === 1 && protocolCriteria[0] === 'best') ? 'best' : [...protocolCriteria],
    parts: [...(o.parts ?? D.parts)] as Part[],
    scoreBatches: pick(o.scoreBatches, 10, 2),
    curveSamples: pick(o.curveSamples, 1000, 100),
    evalBatchSize: o.evalBatchSize ?? D.evalBatchSize,
    table: {
      criterion: o.tableCriterion ?? D.tableCriterion,
      maxDrop: pick(o.maxDrop, 0.3, 5),
      stepFraction: pick(o.tableStepFraction, 0.05, 0.25),
      patience: pick(o.tablePatience, 2, 1),
      backtrack: o.tableBacktrack ?? D.tableBacktrack,
      maxSteps: pick(o.tableMaxSteps, 200, 3),
      snapTo: o.tableSnapTo ?? ortChannelBlock(),
      snapIters: pick(o.tableSnapIters, 2000, 3),
      snapTries: o.tableSnapTries ?? D.tableSnapTries,
      refineSteps: pick(o.tableRefineSteps, 6, 1),
      latencyRuns: pick(o.latencyRuns, 100, 3),
    },
    seed,
    quick: q,
  };
}

/** Checks a resolved configuration; the messages name the flag and the value. */
export function checkStudyConfig(c: StudyConfig): void {
  const known = criterionNames();
  const oneOf = (flag: string, values: readonly string[], allowed: readonly string[]) => {
    for (const v of values) if (!allowed.includes(v)) throw new UsageError(`--${flag}: '${v}' is not one of ${allowed.join(', ')}`);
  };
  oneOf('criteria', c.criteria, known);
  oneOf('norms', c.norms, NORMS);
  oneOf('parts', c.parts, PARTS);
  if (c.protocolCriteria !== 'best') oneOf('protocol-criteria', c.protocolCriteria, known);
  oneOf('table-criterion', [c.table.criterion], known);
  const posInt: [string, number][] = [
    ['iterations', c.recipe.iterations],
    ['batch-size', c.recipe.batchSize],
    ['points', c.points],
    ['retrain-points', c.retrainPoints],
    ['score-batches', c.scoreBatches],
    ['curve-samples', c.curveSamples],
    ['eval-batch-size', c.evalBatchSize],
    ['table-max-steps', c.table.maxSteps],
    ['table-snap-to', c.table.snapTo],
    ['table-snap-iters', c.table.snapIters],
    ['table-snap-tries', c.table.snapTries],
    ['table-refine-steps', c.table.refineSteps],
    ['latency-runs', c.table.latencyRuns],
    ...c.retrainIters.map((n): [string, number] => ['retrain-iters', n]),
  ];
  for (const [flag, v] of posInt) if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
  if (!(Number.isInteger(c.table.patience) && c.table.patience >= 0)) throw new UsageError(`--table-patience must be a non-negative integer, got ${c.table.patience}`);
  if (!(c.recipe.lr > 0)) throw new UsageError(`--lr must be > 0, got ${c.recipe.lr}`);
  if (!(c.width > 0)) throw new UsageError(`--width must be > 0, got ${c.width}`);
  if (!(c.table.maxDrop >= 0 && c.table.maxDrop < 100)) throw new UsageError(`--max-drop is in percentage points, e.g. 0.3; got ${c.table.maxDrop}`);
  if (!(c.table.stepFraction > 0 && c.table.stepFraction <= 1)) throw new UsageError(`--table-step-fraction must be in (0, 1], got ${c.table.stepFraction}`);
}

/** A configuration saved by an older version, with the settings it ran without. */
export function savedStudyConfig(saved: StudyConfig): StudyConfig {
  // Studies saved before the grid step existed ran without it.
  return { ...saved, table: { ...saved.table, snapTo: saved.table.snapTo ?? 1, snapIters: saved.table.snapIters ?? 1000, snapTries: saved.table.snapTries ?? 1, refineSteps: saved.table.refineSteps ?? 0 } };
}

/** The study feature's options for a configuration; `done`: curves a resumed run keeps. */
export function thesisOptions(c: StudyConfig, done: readonly Curve[]): ThesisOptions {
  return {
    criteria: c.criteria,
    norms: c.norms,
    retrainIters: c.retrainIters,
    points: c.points,
    retrainPoints: c.retrainPoints,
    protocolCriteria: c.protocolCriteria,
    parts: c.parts,
    lr: c.recipe.lr,
    scoreBatches: c.scoreBatches,
    minChannels: 1,
    seed: c.seed,
    table: { criterion: c.table.criterion, norm: 'l2', protocol: 'retrain', maxDrop: c.table.maxDrop, stepFraction: c.table.stepFraction, patience: c.table.patience, backtrack: c.table.backtrack, maxSteps: c.table.maxSteps, snapTo: c.table.snapTo, snapIters: c.table.snapIters, snapTries: c.table.snapTries, refineSteps: c.table.refineSteps, latencyRuns: c.table.latencyRuns, recipe: c.recipe },
    done,
  };
}

/** The options as report.md lists them. */
export function optionsForReport(c: StudyConfig): Record<string, unknown> {
  const t = c.table;
  return {
    criteria: c.criteria,
    normalisations: c.norms,
    'retraining iterations': c.retrainIters,
    'steps per curve (none / retrain)': `${c.points} / ${c.retrainPoints}`,
    retraining: `Adam lr ${c.recipe.lr}, batch ${c.recipe.batchSize}`,
    'score batches': c.scoreBatches,
    'Table 4.1': `${t.criterion}, global, l2, retrain ${Math.max(...c.retrainIters)}, ${t.stepFraction * 100} % of the removable maps per step, floor ${t.maxDrop} pp (patience ${plural(t.patience, 'step')}${t.backtrack ? ', then back to the kept model with half the step' : ''}), at most ${plural(t.maxSteps, 'step')}${t.snapTo > 1 ? `, then every convolution down to its multiple of ${t.snapTo} (${plural(t.snapIters, 'retraining iteration')}, kept if it meets the floor; up to ${plural(t.snapTries, 'starting model')})` : ''}${t.refineSteps > 0 ? `, then up to ${plural(t.refineSteps, 'MAC refinement step')}` : ''}`,
    seed: c.seed,
    quick: c.quick,
  };
}
