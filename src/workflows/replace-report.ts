// What a replacement run shows: the per-epoch rows with their α (epochs.csv),
// the seed's figures (training and validation accuracy and loss across
// epochs, coloured by α), the before/after table and result.json.
import type { MetricsRow } from '../runs/index.js';
import { linePlot, savePlot, type HLine, type LinePlotSpec, type LineSeries } from '../report/plot.js';
import { renderTable } from '../report/table.js';
import { count, pctText } from '../report/format.js';
import { trainResultJson, type TrainReport } from './train.js';
import type { ReplaceConfig } from './replace-spec.js';
import type { LatencyPair } from './prune-report.js';

/** One completed epoch with the α it trained at. */
export interface ReplaceEpoch extends MetricsRow {
  /** The shared α; in per-layer mode the mean over the replaced convs (one number for epochs.csv and the α-coloured plots). */
  alpha: number;
  /** Per-layer mode: each replaced conv's α. */
  alphas?: Record<string, number>;
}


/** One model of the final table. */
export interface ModelFigures {
  params: number;
  macs: number;
  /** On the test split. */
  accuracy: number;
  balancedAccuracy: number;
}

/** The finished model: the originals removed (α = 0) or the branches merged into them (α > 0). */
export interface ReplaceFinal extends ModelFigures {
  checkpoint: string;
  onnx: string;
  onnxMaxAbsDiff: number;
  /** α of the kept weights; 0: the 1×1 branches alone (per-layer mode: the mean of `alphas`). */
  alpha: number;
  /** Per-layer mode: each conv's α (0: the branch alone; > 0: merged at that α). */
  alphas?: Record<string, number>;
  /** Some branch was merged into its k×k kernel (some α > 0). */
  merged: boolean;
  /** Median onnxruntime latency of the original (before) and the final model (after), batch 1 and 64. */
  latency: { ortB1: LatencyPair; ortB64: LatencyPair };
}

/** Why and where the schedule stopped early: validation accuracy under the original's minus --collapse-pp. */
export interface Collapse {
  /** 1-based epoch whose validation accuracy fell under the bound, and its α. */
  epoch: number;
  alpha: number;
  valAccuracy: number;
  /** The last epoch within the bound (0: none, the original weights at α = 1) and its α. */
  keptEpoch: number;
  keptAlpha: number;
  /** Per-layer mode: each conv's α at the collapsed epoch and in the kept weights (alpha and keptAlpha are their means). */
  alphas?: Record<string, number>;
  keptAlphas?: Record<string, number>;
}

export interface ReplaceReport extends TrainReport<ReplaceConfig> {
  selection: { convs: string[]; paramsBefore: number; paramsAfter: number; share: number };
  /** The original model: validation accuracy (what the collapse bound is measured from) and its test figures. */
  original: ModelFigures & { valAccuracy: number };
  /** Validation accuracy under which the schedule stops. */
  collapseBound: number;
  collapse: Collapse | null;
  /** Every completed epoch with its α. */
  epochs: ReplaceEpoch[];
  /** The finished model; null when the run did not reach the end (interrupted), and on the ranks other than 0 of a data-parallel run (rank 0 finishes it). */
  final: ReplaceFinal | null;
  /** Forward passes of the original model as the logit-mse teacher in this call (null with --loss ce). */
  teacherForwards: number | null;
  /** PNG figures in the run directory. */
  plots: string[];
}

/** epochs.csv: the metrics rows with α. */
export const EPOCH_CSV_HEADERS = ['epoch', 'alpha', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'val_balanced_acc', 'lr', 'seconds'] as const;
export const epochCsvRows = (rows: readonly ReplaceEpoch[]): unknown[][] => rows.map((r) => EPOCH_CSV_HEADERS.map((k) => r[k]));

/** #1f77b4 (α = 1) to #d62728 (α = 0), linear in RGB. */
function alphaColour(alpha: number): string {
  const from = [0x1f, 0x77, 0xb4];
  const to = [0xd6, 0x27, 0x28];
  return `#${from.map((f, i) => Math.round(to[i]! + (f - to[i]!) * alpha).toString(16).padStart(2, '0')).join('')}`;
}

/** Runs of consecutive epochs at one α, at most `max` groups (more α values are grouped in equal runs of epochs). */
function alphaGroups(rows: readonly ReplaceEpoch[], max = 8): { label: string; alpha: number; rows: ReplaceEpoch[] }[] {
  const runs: ReplaceEpoch[][] = [];
  for (const r of rows) {
    const last = runs[runs.length - 1];
    if (last && last[0]!.alpha === r.alpha) last.push(r);
    else runs.push([r]);
  }
  const per = Math.ceil(runs.length / max);
  const groups: ReplaceEpoch[][][] = [];
  for (let i = 0; i < runs.length; i += per) groups.push(runs.slice(i, i + per));
  const a = (x: number): string => String(+x.toPrecision(3));
  return groups.map((g) => {
    const first = g[0]![0]!.alpha;
    const last = g[g.length - 1]![0]!.alpha;
    return { label: first === last ? `α ${a(first)}` : `α ${a(first)}…${a(last)}`, alpha: (first + last) / 2, rows: g.flat() };
  });
}

/** The seed's figure: training (solid) and validation (dashed) curves across epochs, one colour per α (group). */
export function alphaPlot(rows: readonly ReplaceEpoch[], what: 'accuracy' | 'loss', hLines: HLine[] = []): LinePlotSpec {
  const metric = (r: ReplaceEpoch, split: 'train' | 'val'): number =>
    split === 'train' ? (what === 'accuracy' ? r.train_acc * 100 : r.train_loss) : what === 'accuracy' ? (r.val_acc ?? NaN) * 100 : (r.val_loss ?? NaN);
  // Grey lines join the epochs across α values; the coloured points say which α each epoch trained at.
  const x = rows.map((r) => r.epoch);
  const series: LineSeries[] = [
    { name: 'train', x, y: rows.map((r) => metric(r, 'train')), colour: '#b0b0b0', marker: 'none' },
    { name: 'val', x, y: rows.map((r) => metric(r, 'val')), colour: '#b0b0b0', dashed: true, marker: 'none' },
  ];
  for (const g of alphaGroups(rows)) {
    const colour = alphaColour(g.alpha);
    const x = g.rows.map((r) => r.epoch);
    series.push(
      { name: `train, ${g.label}`, x, y: g.rows.map((r) => metric(r, 'train')), colour, marker: 'circle' },
      { name: `val, ${g.label}`, x, y: g.rows.map((r) => metric(r, 'val')), colour, dashed: true, marker: 'square', hollow: true },
    );
  }
  return {
    title: `Progressive replacement: ${what} across epochs, by α`,
    xLabel: 'epoch',
    yLabel: what === 'accuracy' ? 'accuracy (%)' : 'loss',
    series,
    ...(hLines.length ? { hLines } : {}),
  };
}

/** accuracy.png and loss.png; returns their paths. */
export async function savePlots(rows: readonly ReplaceEpoch[], file: (name: string) => string, o: { originalVal: number; bound: number }): Promise<string[]> {
  if (!rows.length) return [];
  const acc = file('accuracy.png');
  const loss = file('loss.png');
  await savePlot(linePlot(alphaPlot(rows, 'accuracy', [{ y: o.originalVal * 100, label: 'original (val)' }, { y: o.bound * 100, label: 'collapse bound' }])), acc);
  await savePlot(linePlot(alphaPlot(rows, 'loss')), loss);
  return [acc, loss];
}

/** The final model's row name: α = 0, merged at the shared α, or per layer how many convs are branches alone and how many merged. */
function finalLabel(final: ReplaceFinal): string {
  if (final.alphas) {
    const a = Object.values(final.alphas);
    const alone = a.filter((x) => x === 0).length;
    return alone === a.length ? 'replaced (α = 0)' : `replaced (per layer: ${alone} at α = 0, ${a.length - alone} merged)`;
  }
  return final.merged ? `replaced (merged at α ${+final.alpha.toPrecision(4)})` : 'replaced (α = 0)';
}

/** The before/after table of the log. */
export function finalTable(original: ModelFigures, final: ReplaceFinal): string {
  const ms = (x: number): string => `${x.toFixed(3)} ms`;
  const headers = ['model', 'params', 'MACs', 'test acc %', 'test bal acc %', 'ort b1', 'ort b64'];
  return renderTable(
    headers,
    [
      ['original', count(original.params), count(original.macs), pctText(original.accuracy), pctText(original.balancedAccuracy), ms(final.latency.ortB1.beforeMs), ms(final.latency.ortB64.beforeMs)],
      [finalLabel(final), count(final.params), count(final.macs), pctText(final.accuracy), pctText(final.balancedAccuracy), ms(final.latency.ortB1.afterMs), ms(final.latency.ortB64.afterMs)],
      ['ratio', `${(original.params / final.params).toFixed(2)}x fewer`, `${(original.macs / final.macs).toFixed(2)}x fewer`, '', '', `${final.latency.ortB1.speedup.toFixed(2)}x faster`, `${final.latency.ortB64.speedup.toFixed(2)}x faster`],
    ],
    { align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'] },
  );
}

/** result.json and `--json`: the training result plus the replacement's. */
export function replaceResultJson(r: ReplaceReport): Record<string, unknown> {
  return {
    ...trainResultJson(r),
    selection: r.selection,
    original: r.original,
    collapseBound: r.collapseBound,
    collapse: r.collapse,
    epochs: r.epochs,
    final: r.final,
    teacherForwards: r.teacherForwards,
    plots: r.plots,
  };
}
