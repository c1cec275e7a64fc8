// What thesisStudyRun returns (camelCase, one meaning per key), the one
// mapping onto the snake_case summary `slimnet study thesis --json` prints
// (keys as they have always been), and the log's text for the plan and
// Table 4.1.
import { join } from 'node:path';
import { count, pctText, plural, times } from '../report/format.js';
import { humanCount } from '../graph/index.js';
import { renderTable } from '../report/table.js';
import { STUDY_FILES, duration, type Curve, type Rankings, type StudyPlan, type Table41 } from '../study/index.js';

/** Table 4.1 without its models (they are saved as pruned.safetensors and scratch.safetensors). */
export type Table41Record = Omit<Table41, 'pruned' | 'scratch'>;

export type ThesisStudyStatus =
  /** The grid and Table 4.1 ran to the end. */
  | 'complete'
  /** The observer's signal stopped it; `stoppedIn` says where, a resume goes on from the finished curves. */
  | 'interrupted'
  /** dryRun: the grid and its time estimate only; nothing trained, no run directory. */
  | 'planned'
  /** A resume of a version that had already finished: nothing ran. */
  | 'already-complete';

export interface ThesisStudyBase {
  /** Where the base came from ('checkpoint …', 'base.safetensors, trained by this run …'). */
  source: string;
  params: number;
  macs: number;
  /** On the test split. */
  testAccuracy: number;
  testBalancedAccuracy: number;
  /** On the floor split (the validation split, else the test split). */
  floorAccuracy: number;
}

export interface ThesisStudyReport {
  status: ThesisStudyStatus;
  interrupted: boolean;
  /** Where an interruption stopped the study: while planning (before the run directory existed), training the base, the grid or Table 4.1; null otherwise. */
  stoppedIn: 'plan' | 'base' | 'grid' | 'table' | null;
  /** The run directory, its version and report.md (null for a dry run). */
  run: string | null;
  version: number | null;
  report: string | null;
  /** Null only for 'already-complete' (nothing was loaded). */
  dataset: string | null;
  /** The split the curves and the floor are measured on. */
  floorSplit: 'validation' | 'test' | null;
  plan: StudyPlan | null;
  base: ThesisStudyBase | null;
  /** Every curve of the grid, finished ones of a resumed run included. */
  curves: Curve[];
  rankings: Rankings | null;
  /** The criteria the protocol comparison ran with, and why. */
  protocolCriteria: string[];
  protocolCriteriaReason: string;
  /** Null when not asked for, or stopped before it. */
  table: Table41Record | null;
  /** Seconds the grid and Table 4.1 took in this call. */
  seconds: number;
  /** Files written into the run directory. */
  files: string[];
  /** The command that resumes an interrupted study, else null. */
  resumeCommand: string | null;
}

/** The `--json` line: Table 4.1 in numbers (test accuracies; the floor split's on the side). */
export function thesisSummaryJson(r: ThesisStudyReport): Record<string, unknown> {
  if (r.status === 'already-complete') return { run: r.run, version: r.version, status: 'complete', report: r.report };
  const t = r.table;
  const row = (m: 'base' | 'pruned' | 'scratch') => t?.rows.find((x) => x.model === m);
  return {
    run: r.run,
    version: r.version,
    report: r.run && join(r.run, STUDY_FILES.report),
    dataset: r.dataset,
    floor_split: r.floorSplit,
    curves: r.curves.length,
    steps: r.curves.reduce((a, c) => a + c.points.length - 1, 0),
    seconds: r.seconds,
    interrupted: r.interrupted,
    protocol_criteria: r.protocolCriteria,
    floor: t?.floor ?? null,
    kept_step: t?.keptStep ?? null,
    snap: t?.snap ? { to: t.snap.to, iters: t.snap.iters, kept: t.snap.kept, from: t.snap.from, tries: t.snap.tries, layers: t.snap.step.layers, floor_acc: t.snap.step.accuracy } : null,
    refine: t?.refine ? t.refine.map((x) => ({ layers: x.step.layers, floor_acc: x.step.accuracy, kept: x.kept })) : null,
    channels: t?.channels ?? null,
    base_test_acc: r.base?.testAccuracy ?? null,
    pruned_test_acc: row('pruned')?.testAccuracy ?? null,
    scratch_test_acc: row('scratch')?.testAccuracy ?? null,
    pruned_loss_pp: row('pruned')?.testLossPp ?? null,
    scratch_loss_pp: row('scratch')?.testLossPp ?? null,
    base_floor_acc: r.base?.floorAccuracy ?? null,
    pruned_floor_acc: row('pruned')?.floorAccuracy ?? null,
    params_x: row('pruned')?.paramsReduction ?? null,
    macs_x: row('pruned')?.macsReduction ?? null,
    speedup_ort_b1: row('pruned')?.speedupB1 ?? null,
    speedup_ort_b64: row('pruned')?.speedupB64 ?? null,
  };
}

/** The grid and the time estimate, before anything runs. */
export function planLines(plan: StudyPlan, baseIterations: number, table: boolean): string[] {
  const cal = plan.calibration;
  const base = baseIterations > 0 ? `, plus about ${duration((baseIterations * cal.iterMs) / 1000)} to train the base` : '';
  if (plan.curves === 0) return [`grid: no curves in these --parts${table ? '; Table 4.1 only' : ''}${base ? ` (${base.slice(2)})` : ''}`];
  return [
    `grid: ${plural(plan.curves, 'curve')}, ${count(plan.steps)} pruning ${plan.steps === 1 ? 'step' : 'steps'}, ${count(plan.retrainIterations)} retraining ${plan.retrainIterations === 1 ? 'iteration' : 'iterations'} (${plan.families.map((f) => `${f.family} ${plural(f.curves, 'curve')} / ${plural(f.steps, 'step')}`).join(', ')})`,
    `estimate: at most ${duration(plan.estimatedSeconds)} for the grid at the base model's speed (${cal.iterMs.toFixed(1)} ms per training iteration, ${cal.evalMs.toFixed(0)} ms per curve evaluation; pruned models are faster and the ETA adapts)${base}${table ? ', plus Table 4.1 (pruning to the floor, training from scratch, latency)' : ''}`,
  ];
}

/** A difference with its sign: +0.150, −0.020, 0.000. */
const signed = (x: number, digits: number): string => {
  const t = Math.abs(x).toFixed(digits);
  return Number(t) === 0 ? t : `${x > 0 ? '+' : '−'}${t}`;
};

/** Table 4.1 as the log shows it. */
export function table41Text(t: Table41Record, floorSplit: string): string {
  const names = { base: 'base', pruned: 'pruned', scratch: 'from scratch' } as const;
  const snap = t.snap ? `; grid step to multiples of ${t.snap.to} (${t.snap.step.layers}): ${pctText(t.snap.step.accuracy)} %, ${t.snap.kept ? 'kept' : 'under the floor, not kept'}` : '';
  const refine = t.refine?.length ? `; MAC refinement: ${t.refine.map((r) => `${r.step.layers} ${pctText(r.step.accuracy)} %${r.kept ? '' : ' (not kept)'}`).join(', ')}` : '';
  const title = `\nTable 4.1 (accuracy on the test split; floor ${pctText(t.floor, 3)} % on the ${floorSplit} split, kept step ${t.keptStep}${snap}${refine}):`;
  const table = renderTable(
    ['model', 'test acc %', 'loss pp', `${floorSplit} acc %`, 'params', 'params ×', 'MACs', 'MACs ×', 'ort b1 ms', 'b1 ×', 'ort b64 ms', 'b64 ×'],
    // Accuracies with two decimals, the loss with its sign, counts as 3.27M, factors with ×.
    t.rows.map((r) => [names[r.model], pctText(r.testAccuracy), signed(r.testLossPp, 3), pctText(r.floorAccuracy), humanCount(r.params), times(r.paramsReduction), humanCount(r.macs), times(r.macsReduction), r.ortB1Ms.toFixed(3), times(r.speedupB1), r.ortB64Ms.toFixed(2), times(r.speedupB64)]),
    { align: ['left', ...Array.from({ length: 11 }, () => 'right' as const)] },
  );
  return `${title}\n${table}`;
}

/** A one-line account of a finished curve (run.log). */
export function curveLine(c: Curve, i: number, n: number, describe: (e: Curve['experiment']) => string): string {
  const last = c.points[c.points.length - 1]!;
  return `curve ${i}/${n} ${describe(c.experiment)}: ${plural(c.points.length - 1, 'step')}, ${pctText(last.share, 1)} % removed, accuracy ${pctText(c.points[0]!.accuracy)} -> ${pctText(last.accuracy)} %, ${duration(c.seconds)}`;
}
