// Histograms of several series over shared bins, overlaid see-through
// (e.g. BatchNorm |γ| after training with several sparsity penalties λ).
import { PlotError } from './errors.js';
import {
  type Box, type LegendEntry, type Scale,
  axisLabel, checkNonEmpty, checkRange, checkSize, document, layout, makeScale, tickBudget, xAxis, yAxis,
} from './frame.js';
import { el, colourOf, num } from './svg.js';
import { formatLinearTicks, formatLogTicks, logTicks, niceTicks } from './ticks.js';

export interface HistogramSeries {
  readonly name: string;
  readonly values: readonly number[];
}

export interface HistogramSpec {
  readonly title: string;
  readonly xLabel: string;
  /** Default 'count'. */
  readonly yLabel?: string;
  readonly series: readonly HistogramSeries[];
  /** Number of bins; default 40. */
  readonly bins?: number;
  /** Binned interval; by default the extent of all finite values. Values outside are left out. */
  readonly range?: readonly [number, number];
  /** Log10 count axis, for the long tails that pruning penalties produce; the y label then says '(log scale)'. */
  readonly logY?: boolean;
  /** Pixels; default 800. */
  readonly width?: number;
  /** Pixels; default 500. */
  readonly height?: number;
}

/** Shared bin edges and, per series, the count in each bin. */
export interface Histogram {
  /** bins + 1 increasing edges; bin i is [edges[i], edges[i+1]), the last one closed. */
  readonly edges: number[];
  readonly counts: number[][];
}

const FILL_OPACITY = 0.3;
// Bottom of a log count axis: below 1 so that a bin holding a single value still shows.
const LOG_FLOOR = 0.5;

/**
 * Bins every series over the same edges, so their shapes compare bin for bin. Non-finite
 * values are ignored; with an explicit range, so are values outside it. A zero-width
 * extent (every value equal) gets a unit-wide interval around it.
 */
export function computeHistogram(series: readonly (readonly number[])[], bins: number, range?: readonly [number, number]): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`computeHistogram: bins must be a positive integer, got ${bins}`);
  if (range !== undefined && !(Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[0] < range[1])) {
    throw new RangeError(`computeHistogram: range must be finite [min, max] with min < max, got [${range[0]}, ${range[1]}]`);
  }
  let [lo, hi] = range ?? [Infinity, -Infinity];
  if (range === undefined) {
    for (const vs of series) for (const v of vs) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!(lo <= hi)) [lo, hi] = [0, 1];
    if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  }
  const w = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * w));
  const counts = series.map((vs) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of vs) {
      if (!Number.isFinite(v) || v < lo || v > hi) continue;
      const b = Math.min(bins - 1, Math.floor((v - lo) / w)); // max lands in the last bin
      c[b] = (c[b] as number) + 1;
    }
    return c;
  });
  return { edges, counts };
}

function checkSpec(chart: string, spec: HistogramSpec): number {
  checkNonEmpty(chart, 'series', spec.series.length);
  const bins = spec.bins ?? 40;
  if (!Number.isInteger(bins) || bins < 1 || bins > 10000) throw new PlotError(chart, 'bins', `must be an integer in [1, 10000], got ${bins}`);
  for (const s of spec.series) {
    if (!s.values.some(Number.isFinite)) throw new PlotError(chart, 'values', `has no finite values (${s.values.length} values)`, { series: s.name });
  }
  return bins;
}

/** The outline of one series' bars as a single closed step path, filled see-through. */
function stepPath(edges: readonly number[], counts: readonly number[], xs: Scale, ys: Scale, base: number, colour: string): string {
  const y = (c: number): number => (ys.log && c < LOG_FLOOR ? base : ys.map(c));
  let d = `M${num(xs.map(edges[0] as number))},${num(base)}`;
  counts.forEach((c, i) => {
    d += ` V${num(y(c))} H${num(xs.map(edges[i + 1] as number))}`;
  });
  d += ` V${num(base)} Z`;
  return el('path', { d, fill: colour, 'fill-opacity': FILL_OPACITY, stroke: colour, 'stroke-width': 1.5, 'stroke-linejoin': 'miter' });
}

/** A histogram chart as SVG text. Throws PlotError on a spec it cannot draw. */
export function histogramPlot(spec: HistogramSpec): string {
  const chart = spec.title;
  const width = checkSize(chart, 'width', spec.width, 800);
  const height = checkSize(chart, 'height', spec.height, 500);
  const bins = checkSpec(chart, spec);
  const range = checkRange(chart, 'range', spec.range);
  const logY = spec.logY ?? false;

  const h = computeHistogram(spec.series.map((s) => s.values), bins, range);
  const lo = h.edges[0] as number;
  const hi = h.edges[bins] as number;
  const maxCount = Math.max(1, ...h.counts.flat());
  const xTicks = niceTicks(lo, hi, tickBudget(width, 90));
  const xLabels = formatLinearTicks(xTicks);
  // Counts are whole numbers: no tick at 2.5 values.
  const yTicks = logY ? logTicks(1, maxCount, tickBudget(height, 60)) : niceTicks(0, maxCount, tickBudget(height, 60), { integer: true });
  const yLabels = logY ? formatLogTicks(yTicks) : formatLinearTicks(yTicks);

  const legend: LegendEntry[] = spec.series.map((s, i) => ({ name: s.name, colour: colourOf(i), kind: 'swatch', opacity: FILL_OPACITY }));
  const frame = { title: spec.title, xLabel: spec.xLabel, yLabel: axisLabel(spec.yLabel ?? 'count', logY), width, height, legend, yTickLabels: yLabels };
  const box: Box = layout(frame);
  // The bins fill the x axis exactly; ticks outside them are dropped by xAxis.
  const xs = makeScale(lo, hi, box.left, box.left + box.width);
  const yTop = yTicks[yTicks.length - 1] as number;
  const ys = makeScale(logY ? LOG_FLOOR : 0, yTop, box.top + box.height, box.top, logY);
  const base = box.top + box.height;

  const axes = yAxis(box, ys, yTicks, yLabels) + xAxis(box, xs, xTicks, xLabels);
  const data = h.counts.map((c, i) => stepPath(h.edges, c, xs, ys, base, colourOf(i))).join('');
  return document(frame, box, axes, data);
}
