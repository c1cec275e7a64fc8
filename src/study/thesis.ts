// `slimnet study thesis` as a library: the experiment grid of seed 003 run
// on a trained base model (every curve from the same base, on the same
// batches), the rankings derived from it, and Table 4.1. No printing and no
// files: progress goes through hooks, results come back as data
// (src/study/report.ts writes them).
import type { Model } from '../graph/index.js';
import type { Norm, Protocol } from '../prune/index.js';
import type { BatchSource } from '../train/index.js';
import { baseChannels, runCurve, type Curve, type CurvePoint } from './curve.js';
import { FAMILIES, StudyError, familyExperiments, largestIters, thesisGrid, type Experiment, type Family, type GridSettings } from './grid.js';
import { calibrate, planStudy, stepUnits, type StudyPlan } from './plan.js';
import { bestCriterion, rankCriteria, rankIters, rankNorms, rankProtocols, type Ranking } from './ranking.js';
import type { Recipe } from './recipe.js';
import { table41, type Table41, type Table41Hooks, type Table41Options } from './table41.js';

export type Part = Family | 'table';
export const PARTS: readonly Part[] = [...FAMILIES, 'table'];

export interface StudyData {
  /** Shuffled training batches of the recipe's size (scoring, retraining, training from scratch). */
  train: BatchSource;
  /** Where every curve's accuracy is measured. */
  curves: BatchSource;
  /** Where Table 4.1's floor is checked. */
  floor: BatchSource;
  /** Reported only (Table 4.1). */
  test: BatchSource;
  classes: number;
}

/** Table 4.1's own settings; retraining length, rate, scoring and seed are the study's. */
export type TableSettings = Omit<Table41Options, 'retrainIters' | 'lr' | 'scoreBatches' | 'minChannels' | 'seed'>;

export interface ThesisOptions {
  criteria: readonly string[];
  norms: readonly Norm[];
  retrainIters: readonly number[];
  points: number;
  retrainPoints: number;
  /** Criteria of the protocol comparison, or 'best': the best non-random one of the retrain family at the largest N. */
  protocolCriteria: readonly string[] | 'best';
  parts: readonly Part[];
  /** Adam learning rate of every retraining. */
  lr: number;
  scoreBatches: number;
  minChannels: number;
  seed: number;
  table: TableSettings;
  /** Curves a previous, interrupted run finished: not run again. */
  done?: readonly Curve[];
}

export interface ThesisHooks {
  /** Before the first curve; `doneUnits` is the work of curves a resumed run skips (never passed to onWork). */
  onPlan?(plan: StudyPlan, doneUnits: number): void;
  onCurveStart?(e: Experiment, index: number, total: number): void;
  /** Work done, in the plan's units (iteration equivalents). */
  onWork?(units: number): void;
  /** A step of the running curve finished. */
  onStep?(e: Experiment, point: CurvePoint): void;
  onCurve?(curve: Curve, index: number, total: number): void;
  /** A decision worth a line in the log (e.g. which criterion the protocol comparison uses). */
  onNote?(line: string): void;
  table?: Omit<Table41Hooks, 'signal'>;
  /** Aborting stops the work after the current step / iteration (Ctrl-C). */
  signal?: AbortSignal;
}

export interface Rankings {
  criteria: Ranking[];
  norms: Ranking[];
  iters: Ranking[];
  protocols: Ranking[];
}

export interface ThesisResult {
  plan: StudyPlan;
  settings: GridSettings;
  curves: Curve[];
  rankings: Rankings;
  /** The criterion the protocol comparison ran with, and why. */
  protocolCriteria: string[];
  protocolCriteriaReason: string;
  /** Table 4.1 (its models owned by the caller), unless skipped or interrupted before it. */
  table?: Table41;
  interrupted: boolean;
  seconds: number;
}

/** Every ranking the report shows. */
export function rankAll(curves: readonly Curve[], retrainIters: readonly number[]): Rankings {
  return { criteria: rankCriteria(curves), norms: rankNorms(curves), iters: rankIters(curves), protocols: rankProtocols(curves, Math.max(...retrainIters)) };
}

/** The criterion the protocol comparison uses when asked for 'best': the retrain family's winner at the largest N. */
function resolveBest(curves: readonly Curve[], n: number): { criteria: string[]; reason: string } {
  const atN = curves.filter((c) => c.experiment.family === 'retrain' && c.experiment.retrainIters === n);
  const best = bestCriterion(rankCriteria(atN));
  if (!best) return { criteria: ['taylor'], reason: 'taylor (the thesis\' best): the retrain family did not run, so no criterion could be ranked' };
  return { criteria: [best.criterion], reason: `${best.criterion}: best mean rank (${best.meanRank.toFixed(2)}, first in ${best.wins} of ${best.settings} scopes) among the non-random criteria with retraining ${n} iterations` };
}

export function checkOptions(o: ThesisOptions): void {
  if (o.parts.length === 0) throw new StudyError('nothing to run: give at least one part');
  for (const p of o.parts) if (!PARTS.includes(p)) throw new StudyError(`unknown part '${p}' (parts: ${PARTS.join(', ')})`);
  if (o.protocolCriteria !== 'best' && o.protocolCriteria.length === 0) throw new StudyError('the protocol comparison needs a criterion (or best)');
  if (!(Number.isInteger(o.scoreBatches) && o.scoreBatches >= 1)) throw new StudyError(`score batches must be a positive integer, got ${o.scoreBatches}`);
  const t = o.table;
  if (!(t.maxDrop >= 0)) throw new StudyError(`the floor's drop must be >= 0 pp, got ${t.maxDrop}`);
  if (!(t.stepFraction > 0 && t.stepFraction <= 1)) throw new StudyError(`the table's step fraction must be in (0, 1], got ${t.stepFraction}`);
  if (!(Number.isInteger(t.patience) && t.patience >= 0)) throw new StudyError(`the table's patience must be a non-negative integer, got ${t.patience}`);
  if (!(Number.isInteger(t.maxSteps) && t.maxSteps >= 1)) throw new StudyError(`the table's step cap must be a positive integer, got ${t.maxSteps}`);
  if (!(Number.isInteger(t.latencyRuns) && t.latencyRuns >= 1)) throw new StudyError(`latency runs must be a positive integer, got ${t.latencyRuns}`);
}

/** The grid's settings for a model (its prunable layers) and the options. */
export function thesisSettings(model: Model, o: ThesisOptions): GridSettings {
  return {
    layers: [...baseChannels(model)].map(([name, channels]) => ({ name, channels })),
    criteria: o.criteria,
    norms: o.norms,
    retrainIters: o.retrainIters,
    points: o.points,
    retrainPoints: o.retrainPoints,
    // 'best' is resolved once the retrain family ran; a stand-in counts the same work.
    protocolCriteria: o.protocolCriteria === 'best' ? ['taylor'] : o.protocolCriteria,
    minChannels: o.minChannels,
  };
}

/**
 * The work of the grid, calibrated on `model`: the base, or an untrained
 * model of the same architecture (the time per iteration does not depend on
 * the weights), so the estimate can be printed before the base is trained.
 */
export async function planThesis(model: Model, data: Pick<StudyData, 'train' | 'curves' | 'classes'>, o: ThesisOptions): Promise<StudyPlan> {
  checkOptions(o);
  const cal = await calibrate(model, data.train, data.curves, data.classes, 3);
  return planStudy(thesisGrid(thesisSettings(model, o), FAMILIES.filter((f) => o.parts.includes(f))), cal, o.scoreBatches);
}

/** The plan's work already done by the finished curves a resumed run skips. */
export function doneUnits(plan: StudyPlan, done: readonly Curve[], scoreBatches: number): number {
  const ids = new Set(done.filter((c) => c.complete).map((c) => c.experiment.id));
  return plan.experiments.filter((e) => ids.has(e.id)).reduce((a, e) => a + stepUnits(e, plan.calibration, scoreBatches) * e.maxSteps, 0);
}

/** Runs the grid and Table 4.1 on `base`; `plan` (from planThesis) saves calibrating again. */
export async function runThesisStudy(base: Model, data: StudyData, o: ThesisOptions, hooks: ThesisHooks = {}, plan?: StudyPlan): Promise<ThesisResult> {
  checkOptions(o);
  const t0 = performance.now();
  const settings = thesisSettings(base, o);
  const families = FAMILIES.filter((f) => o.parts.includes(f));
  plan ??= await planThesis(base, data, o);
  const cal = plan.calibration;
  const done = new Map((o.done ?? []).filter((c) => c.complete).map((c) => [c.experiment.id, c]));
  hooks.onPlan?.(plan, doneUnits(plan, o.done ?? [], o.scoreBatches));

  const curves: Curve[] = [];
  let protocolCriteria = [...settings.protocolCriteria];
  let reason = !families.includes('protocols') ? 'not run' : o.protocolCriteria === 'best' ? '' : 'given';
  let interrupted = false;
  let index = 0;
  const n = largestIters(settings);
  const stop = () => hooks.signal?.aborted === true;

  for (const family of families) {
    if (interrupted) break;
    if (family === 'protocols' && o.protocolCriteria === 'best') {
      ({ criteria: protocolCriteria, reason } = resolveBest(curves, n));
      hooks.onNote?.(`protocol comparison with ${reason}`);
    }
    const experiments = familyExperiments({ ...settings, protocolCriteria }, family);
    for (const e of experiments) {
      index++;
      const units = stepUnits(e, cal, o.scoreBatches);
      const previous = done.get(e.id);
      if (previous) {
        curves.push(previous);
        hooks.onCurve?.(previous, index, plan.curves);
        continue;
      }
      if (stop()) {
        interrupted = true;
        break;
      }
      hooks.onCurveStart?.(e, index, plan.curves);
      const curve = await runCurve(
        base,
        { train: data.train, eval: data.curves, classes: data.classes },
        e,
        { lr: o.lr, scoreBatches: o.scoreBatches, minChannels: o.minChannels, seed: o.seed },
        {
          onRetrain: () => hooks.onWork?.(1),
          onStep: (p) => {
            hooks.onWork?.(units - e.retrainIters);
            hooks.onStep?.(e, p);
          },
          signal: hooks.signal,
        },
      );
      // A curve that ran out of maps early leaves its planned steps' work undone.
      const skipped = e.maxSteps - (curve.points.length - 1);
      if (curve.complete && skipped > 0) hooks.onWork?.(units * skipped);
      curves.push(curve);
      hooks.onCurve?.(curve, index, plan.curves);
      if (!curve.complete) {
        interrupted = true;
        break;
      }
    }
  }

  let table: Table41 | undefined;
  if (!interrupted && o.parts.includes('table')) {
    const t = o.table;
    table = await table41(
      base,
      { train: data.train, floor: data.floor, test: data.test, classes: data.classes },
      { ...t, retrainIters: n, lr: o.lr, scoreBatches: o.scoreBatches, minChannels: o.minChannels, seed: o.seed },
      { ...hooks.table, signal: hooks.signal },
    );
    interrupted = stop();
  }
  return {
    plan,
    settings: { ...settings, protocolCriteria },
    curves,
    rankings: rankAll(curves, settings.retrainIters),
    protocolCriteria,
    protocolCriteriaReason: reason,
    table,
    interrupted,
    seconds: (performance.now() - t0) / 1000,
  };
}
