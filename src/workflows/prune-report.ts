// What `pruneRun` returns, and how it is written and shown: the typed report
// (camelCase, one meaning per key), its snake_case form for result.json and
// `--json` (one mapping, the keys the files have always had), the per-step
// log line and CSV row, the before/after rows and the accuracy plot.
import type { SpeedupReport } from '../measure/index.js';
import type { FinishResult, ModelStats, PruneResult, StepRecord } from '../prune/index.js';
import type { ChannelRow } from '../report/channels.js';
import { count, ms, pct, plural, pp, times } from '../report/format.js';
import { linePlot, savePlot, type LinePlotSpec, type LineSeries, type PointLabel } from '../report/plot.js';
import { renderTable, type BeforeAfterRow } from '../report/table.js';
import type { SizeChange } from './size-change.js';

/**
 * The split every decision (the floor, the fine-tuning check, the grid and
 * refinement steps) was measured on: the checkpoint's held-out validation
 * split, or the test split when the checkpoint has none.
 */
export type FloorSplit = 'validation' | 'test';

/** Median latency of the base and the pruned model, and base / pruned. */
export interface LatencyPair {
  beforeMs: number;
  afterMs: number;
  /** beforeMs / afterMs (> 1: the pruned model is faster). */
  speedup: number;
}

/** A latency comparison's medians as a LatencyPair. */
export const latencyPair = (x: SpeedupReport): LatencyPair => ({ beforeMs: x.before.median_ms, afterMs: x.after.median_ms, speedup: x.speedup });

/** The optional fine-tuning after pruning; accuracies on the floor's split. */
export interface FinetuneReport {
  epochs: number;
  /** Floor-split accuracy before fine-tuning. */
  beforeAccuracy: number;
  /** Floor-split accuracy after fine-tuning (whether or not it was kept). */
  afterAccuracy: number;
  /** Fine-tuning is kept only if it did not lower the floor-split accuracy. */
  kept: boolean;
}

export interface PruneReport extends SizeChange {
  /** The run directory (runs/prune/<dataset>-<arch>/version_N). */
  run: string;
  version: number;
  /** The pruned model (pruned.safetensors in the run directory). */
  checkpoint: string;
  /** The pruned model as ONNX (pruned.onnx). */
  onnx: string;
  floorSplit: FloorSplit;
  /** Every step of the loop (as steps.jsonl holds them; accuracies on the floor's split). */
  history: StepRecord[];
  /** Steps the loop ran (history.length). */
  steps: number;
  /** The loop's step whose model was kept: the smallest that met the floor (0: the base). */
  keptStep: number;
  stopReason: string;
  /** The grid step in words (null: none ran). */
  snap: string | null;
  /** The MAC refinement in words (null: none ran). */
  refine: string | null;
  finetune: FinetuneReport | null;
  /** The absolute accuracy floor on the floor's split (null: none). */
  floor: number | null;
  /** Accuracy of the base model on the floor's split. */
  baseFloorAccuracy: number;
  /** Accuracy of the final pruned model on the floor's split. */
  prunedFloorAccuracy: number;
  /** Test-split accuracy and balanced accuracy of the base and the final pruned model. */
  baseTestAccuracy: number;
  prunedTestAccuracy: number;
  baseTestBalancedAccuracy: number;
  prunedTestBalancedAccuracy: number;
  /** Test-split accuracy of the pruned architecture trained from scratch (null: not asked for). */
  scratchTestAccuracy: number | null;
  /** onnxruntime (CPU) at batch 1 and 64, slimnet's engine at batch 64. */
  latency: { ortB1: LatencyPair; ortB64: LatencyPair; engineB64: LatencyPair };
  /** Output channels per conv / linear layer, before and after. */
  channels: ChannelRow[];
  /** Stopped by the observer's signal: the best model so far was still saved and measured. */
  interrupted: boolean;
}

/** The snake_case record of result.json and `--json` (keys and meanings as they have always been: base_acc is the floor split's). */
export function pruneResultJson(r: PruneReport): Record<string, unknown> {
  return {
    run: r.run,
    version: r.version,
    checkpoint: r.checkpoint,
    onnx: r.onnx,
    eval_split: r.floorSplit,
    steps: r.steps,
    kept_step: r.keptStep,
    stop_reason: r.stopReason,
    snap: r.snap,
    refine: r.refine,
    finetune: r.finetune && { epochs: r.finetune.epochs, before_acc: r.finetune.beforeAccuracy, after_acc: r.finetune.afterAccuracy, kept: r.finetune.kept },
    floor: r.floor,
    base_acc: r.baseFloorAccuracy,
    pruned_acc: r.prunedFloorAccuracy,
    base_test_acc: r.baseTestAccuracy,
    pruned_test_acc: r.prunedTestAccuracy,
    base_test_balanced_acc: r.baseTestBalancedAccuracy,
    pruned_test_balanced_acc: r.prunedTestBalancedAccuracy,
    scratch_test_acc: r.scratchTestAccuracy,
    params_before: r.paramsBefore,
    params_after: r.paramsAfter,
    macs_before: r.macsBefore,
    macs_after: r.macsAfter,
    params_x: r.paramsX,
    macs_x: r.macsX,
    speedup_ort_b1: r.latency.ortB1.speedup,
    speedup_ort_b64: r.latency.ortB64.speedup,
    speedup_engine_b64: r.latency.engineB64.speedup,
    latency_ms: { ort_b1: [r.latency.ortB1.beforeMs, r.latency.ortB1.afterMs], ort_b64: [r.latency.ortB64.beforeMs, r.latency.ortB64.afterMs] },
    channels: Object.fromEntries(r.channels.map((c) => [c.layer, [c.before, c.after]])),
  };
}

/** The rows of the table that ends a prune run. */
export function pruneComparisonRows(r: PruneReport): BeforeAfterRow[] {
  const lat = (label: string, p: LatencyPair): BeforeAfterRow => ({ label, before: ms(p.beforeMs), after: ms(p.afterMs), change: times(p.speedup) });
  return [
    { label: 'parameters', before: r.paramsBefore, after: r.paramsAfter, change: times(r.paramsX) },
    { label: 'MACs / sample', before: r.macsBefore, after: r.macsAfter, change: times(r.macsX) },
    // Without a validation split the floor's split is the test split: one row.
    ...(r.floorSplit === 'validation' ? [{ label: 'validation accuracy %', before: pct(r.baseFloorAccuracy), after: pct(r.prunedFloorAccuracy), change: pp(r.prunedFloorAccuracy, r.baseFloorAccuracy) }] : []),
    { label: 'test accuracy %', before: pct(r.baseTestAccuracy), after: pct(r.prunedTestAccuracy), change: pp(r.prunedTestAccuracy, r.baseTestAccuracy) },
    { label: 'test balanced accuracy %', before: pct(r.baseTestBalancedAccuracy), after: pct(r.prunedTestBalancedAccuracy), change: pp(r.prunedTestBalancedAccuracy, r.baseTestBalancedAccuracy) },
    lat('onnxruntime latency b1', r.latency.ortB1),
    lat('onnxruntime latency b64', r.latency.ortB64),
    lat('slimnet latency b64', r.latency.engineB64),
    ...(r.scratchTestAccuracy !== null ? [{ label: 'from scratch: test accuracy %', before: '', after: pct(r.scratchTestAccuracy), change: pp(r.scratchTestAccuracy, r.baseTestAccuracy) }] : []),
  ];
}

/** The log line of one step of the loop. */
export function stepLine(r: StepRecord, split: FloorSplit): string {
  return (
    `${r.from !== r.step - 1 ? `(back to step ${r.from}, half the step) ` : ''}step ${r.step}: -${r.removed} channels (${r.layers}); ${pct(r.share_removed, 1)} % removed, ${count(r.params)} params (${times(r.params_x)}), ` +
    `${count(r.macs)} MACs (${times(r.macs_x)}), ${split} acc ${pct(r.accuracy)} % (balanced ${pct(r.balanced_accuracy)} %)${r.meets_floor ? '' : ' < floor'}, ${r.seconds.toFixed(1)}s`
  );
}

/** The table of every step. */
export function stepsTable(history: readonly StepRecord[], split: FloorSplit): string {
  const headers = ['step', 'removed', 'share %', 'params', 'MACs', 'params ×', 'MACs ×', `${split} acc %`, 'bal acc %', 'time'];
  return renderTable(
    headers,
    history.map((r) => [r.step, r.removed, pct(r.share_removed, 1), r.params, r.macs, times(r.params_x), times(r.macs_x), pct(r.accuracy), pct(r.balanced_accuracy), `${r.seconds.toFixed(1)}s`]),
  );
}

/** steps.csv: its header and one line per step (the layers field JSON-quoted). */
export const STEPS_CSV_HEADER = 'step,from,layers,removed,share_removed,params,macs,params_x,macs_x,accuracy,balanced_accuracy,meets_floor,seconds';
export function stepCsvLine(r: StepRecord): string {
  return [r.step, r.from, JSON.stringify(r.layers), r.removed, r.share_removed, r.params, r.macs, r.params_x, r.macs_x, r.accuracy, r.balanced_accuracy, r.meets_floor, r.seconds].join(',');
}

/**
 * What the loop's end kept, in words that are true in every case: with a
 * floor, the smallest model that met it (or the base, when no step did);
 * without one, simply the last step.
 */
export function keptLine(r: Pick<PruneResult, 'history' | 'bestStep'>, floor: number | undefined): string {
  if (r.history.length === 0) return 'kept the base model (no step ran)';
  if (floor === undefined) return `kept step ${r.bestStep}, the last one (no accuracy floor)`;
  if (r.bestStep === 0) return `kept the base model: no step met the floor (${pct(floor, 3)} %)`;
  return `kept step ${r.bestStep}, the smallest model that met the floor (${pct(floor, 3)} %)`;
}

/** A step after the loop (the grid step or a refinement step) as the accuracy plot shows it. */
export interface FinishPoint {
  phase: 'grid' | 'refine';
  /** Share of the base model's removable channels gone (as StepRecord.share_removed). */
  shareRemoved: number;
  /** On the floor's split. */
  accuracy: number;
  kept: boolean;
}

/** The base model's channel groups: every channel of each (by name) and the removable ones in all. */
export interface BaseChannels {
  sizes: Readonly<Record<string, number>>;
  removable: number;
}

/**
 * The grid and refinement steps as plot points. Their records count shares
 * and factors from the model each started from, so the share is recomputed
 * from the channels each left against the base model's.
 */
export function finishPoints(fin: Pick<FinishResult, 'snap' | 'refine'>, base: BaseChannels): FinishPoint[] {
  const share = (channels: Readonly<Record<string, number>>): number =>
    Object.entries(base.sizes).reduce((n, [g, size]) => n + (size - (channels[g] ?? size)), 0) / base.removable;
  return [
    ...(fin.snap?.attempts ?? []).flatMap((a) => (a.record ? [{ phase: 'grid' as const, shareRemoved: share(a.record.channels), accuracy: a.record.accuracy, kept: a.kept }] : [])),
    ...(fin.refine?.attempts ?? []).map((a) => ({ phase: 'refine' as const, shareRemoved: share(a.record.channels), accuracy: a.record.accuracy, kept: a.kept })),
  ];
}

/**
 * accuracy.png: accuracy vs share of channels removed, every step marked.
 * The line follows the path that led to the kept model and on past it;
 * steps undone by backtracking are hollow points; the grid step and the
 * refinement steps are their own points (filled: kept, hollow: under the
 * floor); the model the run kept is a star with a label.
 */
export function accuracyPlot(base: ModelStats, result: Pick<PruneResult, 'history' | 'bestStep'>, floor: number | undefined, split: FloorSplit, finish: readonly FinishPoint[] = []): LinePlotSpec {
  const { history, bestStep } = result;
  const byStep = new Map(history.map((h) => [h.step, h]));
  const onPathSteps = new Set<number>();
  for (let s = history.at(-1)?.step ?? 0; s > 0; s = byStep.get(s)!.from) onPathSteps.add(s);
  const onPath = history.filter((h) => onPathSteps.has(h.step));
  const undone = history.filter((h) => !onPathSteps.has(h.step));
  const x = [0, ...onPath.map((h) => h.share_removed * 100)];
  const points = (name: string, pts: readonly { x: number; y: number }[], marker: 'circle' | 'square' | 'diamond', hollow: boolean, colour: string): LineSeries[] =>
    pts.length ? [{ name, x: pts.map((p) => p.x), y: pts.map((p) => p.y), line: false, marker, hollow, colour }] : [];
  const grid = finish.filter((f) => f.phase === 'grid');
  const refine = finish.filter((f) => f.phase === 'refine');
  const at = (f: FinishPoint) => ({ x: f.shareRemoved * 100, y: f.accuracy * 100 });
  // The model kept in the end: the last kept refinement step, else the kept grid step, else the loop's.
  const lastKept = [...refine].reverse().find((f) => f.kept) ?? grid.find((f) => f.kept);
  const keptRecord = byStep.get(bestStep);
  const kept = lastKept
    ? { ...at(lastKept), label: lastKept.phase === 'grid' ? 'kept: grid step' : `kept: refinement ${refine.indexOf(lastKept) + 1}` }
    : { x: (keptRecord?.share_removed ?? 0) * 100, y: (keptRecord?.accuracy ?? base.accuracy) * 100, label: bestStep === 0 ? 'kept: base model' : `kept: step ${bestStep}` };
  const labels: PointLabel[] = [{ x: kept.x, y: kept.y, text: kept.label }];
  return {
    title: `Accuracy vs share of channels removed`,
    xLabel: 'removable channels removed (%)',
    yLabel: `${split} accuracy (%)`,
    series: [
      { name: 'accuracy', x, y: [base.accuracy * 100, ...onPath.map((h) => h.accuracy * 100)], marker: 'circle', colour: '#1f77b4' },
      { name: 'balanced accuracy', x, y: [base.balanced_accuracy * 100, ...onPath.map((h) => h.balanced_accuracy * 100)], dashed: true, marker: 'none', colour: '#ff7f0e' },
      ...points('steps undone (backtracking)', undone.map((h) => ({ x: h.share_removed * 100, y: h.accuracy * 100 })), 'circle', true, '#7f7f7f'),
      ...points('grid step', grid.filter((f) => f.kept).map(at), 'square', false, '#2ca02c'),
      ...points('grid step, under the floor', grid.filter((f) => !f.kept).map(at), 'square', true, '#2ca02c'),
      ...points(plural(refine.filter((f) => f.kept).length, 'refinement step') + ' kept', refine.filter((f) => f.kept).map(at), 'diamond', false, '#9467bd'),
      ...points('refinement, under the floor', refine.filter((f) => !f.kept).map(at), 'diamond', true, '#9467bd'),
      { name: 'kept model', x: [kept.x], y: [kept.y], line: false, marker: 'star', markerSize: 6, colour: '#d62728' },
    ],
    hLines: floor !== undefined ? [{ y: floor * 100, label: 'floor' }] : [],
    labels,
  };
}

/** Writes accuracyPlot(...) to `path` (accuracy.png). */
export async function saveAccuracyPlot(path: string, ...args: Parameters<typeof accuracyPlot>): Promise<void> {
  await savePlot(linePlot(accuracyPlot(...args)), path);
}
