// Line charts: curves over epochs, accuracy against sparsity, and so on; with
// point markers, marker-only (scatter) series and labelled points.
import { PlotError } from './errors.js';
import {
  type Box, type LegendEntry, type Scale,
  TICK_SIZE, axisLabel, checkNonEmpty, checkRange, checkSize, document, layout, makeScale, tickBudget, xAxis, yAxis,
} from './frame.js';
import { MARKER_SHAPES, marker, shapeOf, type MarkerShape, type MarkerStyle } from './markers.js';
import { el, colourOf, polyline, text, textWidth } from './svg.js';
import { allIntegers, formatLinearTicks, formatLogTicks, logTicks, niceTicks } from './ticks.js';

export interface LineSeries {
  readonly name: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly dashed?: boolean;
  /**
   * The marker at every finite point: a shape, or 'none'. Default: the
   * series' own shape (one per series, cycling) when it has at most
   * AUTO_MARKER_POINTS points or no line, else none: a point per epoch or
   * per step is a measurement and is marked; a dense curve is not.
   */
  readonly marker?: MarkerShape | 'none';
  /** Markers drawn white inside (e.g. steps that were not kept). */
  readonly hollow?: boolean;
  /** Marker radius in px (default 3.5). */
  readonly markerSize?: number;
  /** false: the points only, no line between them (a scatter). Default true. */
  readonly line?: boolean;
  /** A colour instead of the palette's for the series' position. */
  readonly colour?: string;
}

/** Text next to one point (e.g. 'kept: step 12'). */
export interface PointLabel {
  readonly x: number;
  readonly y: number;
  readonly text: string;
}

/** A horizontal reference line, e.g. an accuracy floor. */
export interface HLine {
  readonly y: number;
  readonly label: string;
}

export interface LinePlotSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  /** Pixels; default 800. */
  readonly width?: number;
  /** Pixels; default 500. */
  readonly height?: number;
  /** Fixed y range; by default the data (and hLines) padded out to nice ticks. */
  readonly yRange?: readonly [number, number];
  /** Fixed x range; by default the data padded out to nice ticks. */
  readonly xRange?: readonly [number, number];
  readonly hLines?: readonly HLine[];
  /** Log10 x axis (all x must then be > 0); the x label then says '(log scale)'. */
  readonly logX?: boolean;
  /**
   * Ticks on whole numbers only (epochs, steps). Default: when every x value
   * is a whole number (on a linear axis), so 3 epochs are not ticked 0.5, 1.0, 1.5.
   */
  readonly xInteger?: boolean;
  /** Labels drawn next to points, on top of the data. */
  readonly labels?: readonly PointLabel[];
}

/** The margin past the end ticks, as a share of the axis. */
const MARGIN = 0.03;

/** Series with at most this many points get markers by default. */
export const AUTO_MARKER_POINTS = 25;

type Point = readonly [number, number];

/**
 * A series split at its non-finite points: each run of finite points is drawn on its own,
 * so a NaN (a diverged epoch, a missing measurement) leaves a gap rather than a fake segment.
 */
function runsOf(chart: string, s: LineSeries, logX: boolean): Point[][] {
  if (s.x.length !== s.y.length) {
    throw new PlotError(chart, 'x/y', `x has ${s.x.length} values but y has ${s.y.length}`, { series: s.name });
  }
  const runs: Point[][] = [];
  let run: Point[] = [];
  for (let i = 0; i < s.x.length; i++) {
    const x = s.x[i] as number;
    const y = s.y[i] as number;
    if (Number.isFinite(x) && Number.isFinite(y)) {
      if (logX && x <= 0) throw new PlotError(chart, 'x', `x[${i}] = ${x} cannot go on a log axis`, { series: s.name });
      run.push([x, y]);
    } else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);
  if (runs.length === 0) throw new PlotError(chart, 'y', `has no finite points (${s.x.length} values, all NaN or infinite)`, { series: s.name });
  return runs;
}

function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Ticks and the domain they imply: the explicit range if given, else the span of nice ticks. */
function axisTicks(dataLo: number, dataHi: number, fixed: readonly [number, number] | undefined, log: boolean, budget: number, integer = false): { ticks: number[]; labels: string[]; lo: number; hi: number } {
  const [lo, hi] = fixed ?? [dataLo, dataHi];
  const ticks = log ? logTicks(lo, hi, budget) : niceTicks(lo, hi, budget, { integer });
  const labels = log ? formatLogTicks(ticks) : formatLinearTicks(ticks);
  if (fixed !== undefined) return { ticks, labels, lo: fixed[0], hi: fixed[1] };
  // A small margin past the end ticks, so points on them (the first epoch, 100 %) are not drawn on the frame.
  const first = ticks[0] as number;
  const last = ticks[ticks.length - 1] as number;
  if (log) {
    const k = 10 ** (MARGIN * Math.log10(last / first));
    return { ticks, labels, lo: first / k, hi: last * k };
  }
  const pad = MARGIN * (last - first);
  return { ticks, labels, lo: first - pad, hi: last + pad };
}

/** How one series is drawn: its colour, whether it has a line, and its marker (if any). */
interface SeriesStyle {
  readonly colour: string;
  readonly line: boolean;
  readonly dashed: boolean;
  readonly marker: MarkerStyle | undefined;
}

function styleOf(chart: string, s: LineSeries, i: number, points: number): SeriesStyle {
  const colour = s.colour ?? colourOf(i);
  const line = s.line !== false;
  if (s.marker !== undefined && s.marker !== 'none' && !MARKER_SHAPES.includes(s.marker)) {
    throw new PlotError(chart, 'marker', `must be one of ${MARKER_SHAPES.join(', ')} or 'none', got '${String(s.marker)}'`, { series: s.name });
  }
  if (s.markerSize !== undefined && !(Number.isFinite(s.markerSize) && s.markerSize > 0 && s.markerSize <= 20)) throw new PlotError(chart, 'markerSize', `must be a number of pixels in (0, 20], got ${s.markerSize}`, { series: s.name });
  if (!line && s.marker === 'none') throw new PlotError(chart, 'marker', "is 'none' and line is false: nothing would be drawn", { series: s.name });
  const shape = s.marker === 'none' ? undefined : (s.marker ?? (!line || points <= AUTO_MARKER_POINTS ? shapeOf(i) : undefined));
  return { colour, line, dashed: s.dashed === true, marker: shape && { shape, colour, hollow: s.hollow === true, ...(s.markerSize !== undefined ? { size: s.markerSize } : {}) } };
}

function drawSeries(runs: readonly Point[][], st: SeriesStyle, xs: Scale, ys: Scale): string {
  let out = '';
  for (const run of runs) {
    const px = run.map(([x, y]): Point => [xs.map(x), ys.map(y)]);
    if (st.line && px.length > 1) out += polyline(px, { stroke: st.colour, 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-linecap': 'round', 'stroke-dasharray': st.dashed ? '7 5' : undefined });
    // A lone point of a series without markers still shows (as a dot), or a one-epoch curve would vanish.
    const m = st.marker ?? (px.length === 1 ? { shape: 'circle' as const, colour: st.colour } : undefined);
    if (m) for (const [cx, cy] of px) out += marker(cx, cy, m);
  }
  return out;
}

/** Point labels: beside the point, on a white halo so grid lines and curves do not run through the text; kept inside the plot area. */
function drawLabels(labels: readonly PointLabel[], box: Box, xs: Scale, ys: Scale): string {
  let out = '';
  for (const l of labels) {
    const px = xs.map(l.x);
    const py = ys.map(l.y);
    const w = textWidth(l.text, TICK_SIZE);
    // Right of the point unless that runs past the frame; above it unless that leaves the frame.
    const right = px + 10 + w <= box.left + box.width;
    const x = right ? px + 10 : Math.max(box.left + 2, px - 10 - w);
    const y = py - 10 - TICK_SIZE * 0.3 < box.top + TICK_SIZE ? py + 10 + TICK_SIZE : py - 10;
    const attrs = { 'font-size': TICK_SIZE, 'font-weight': 'bold', fill: '#111' };
    out += text(x, y, l.text, { ...attrs, stroke: '#ffffff', 'stroke-width': 3, 'stroke-linejoin': 'round' });
    out += text(x, y, l.text, attrs);
  }
  return out;
}

function drawHLines(lines: readonly HLine[], box: Box, ys: Scale): string {
  let out = '';
  for (const h of lines) {
    const y = ys.map(h.y);
    out += el('line', { x1: box.left, x2: box.left + box.width, y1: y, y2: y, stroke: '#555', 'stroke-width': 1.5, 'stroke-dasharray': '4 4' });
    // Under the line at its left end: a pruning curve starts just above its floor and ends at it on the
    // right, so above the line on either end is where its points are.
    out += text(box.left + 16, y + 14, h.label, { 'text-anchor': 'start', 'font-size': 11, fill: '#555' });
  }
  return out;
}

/** A line chart as SVG text. Throws PlotError on a spec it cannot draw. */
export function linePlot(spec: LinePlotSpec): string {
  const chart = spec.title;
  const width = checkSize(chart, 'width', spec.width, 800);
  const height = checkSize(chart, 'height', spec.height, 500);
  const logX = spec.logX ?? false;
  const xRange = checkRange(chart, 'xRange', spec.xRange, logX);
  const yRange = checkRange(chart, 'yRange', spec.yRange);
  checkNonEmpty(chart, 'series', spec.series.length);
  const hLines = spec.hLines ?? [];
  hLines.forEach((h, i) => {
    if (!Number.isFinite(h.y)) throw new PlotError(chart, `hLines[${i}]`, `y must be finite, got ${h.y} ("${h.label}")`);
  });

  const labels = spec.labels ?? [];
  labels.forEach((l, i) => {
    if (!Number.isFinite(l.x) || !Number.isFinite(l.y)) throw new PlotError(chart, `labels[${i}]`, `x and y must be finite, got (${l.x}, ${l.y}) ("${l.text}")`);
  });

  const runs = spec.series.map((s) => runsOf(chart, s, logX));
  const styles = spec.series.map((s, i) => styleOf(chart, s, i, runs[i]!.reduce((n, r) => n + r.length, 0)));
  const points = runs.flat(2);
  const [x0, x1] = extent(points.map(([x]) => x));
  // Reference lines count towards the y extent: a floor the curves never reach should still show.
  const [y0, y1] = extent([...points.map(([, y]) => y), ...hLines.map((h) => h.y)]);
  const xInteger = !logX && (spec.xInteger ?? allIntegers(points.map(([x]) => x)));
  const xa = axisTicks(x0, x1, xRange, logX, tickBudget(width, 90), xInteger);
  const ya = axisTicks(y0, y1, yRange, false, tickBudget(height, 60));

  const legend: LegendEntry[] = spec.series.map((s, i) => {
    const st = styles[i]!;
    return { name: s.name, colour: st.colour, kind: !st.line ? 'marker' : st.dashed ? 'dashed' : 'line', ...(st.marker ? { marker: st.marker } : {}) };
  });
  const frame = { title: spec.title, xLabel: axisLabel(spec.xLabel, logX), yLabel: spec.yLabel, width, height, legend, yTickLabels: ya.labels };
  const box = layout(frame);
  const xs = makeScale(xa.lo, xa.hi, box.left, box.left + box.width, logX);
  const ys = makeScale(ya.lo, ya.hi, box.top + box.height, box.top);

  const axes = yAxis(box, ys, ya.ticks, ya.labels) + xAxis(box, xs, xa.ticks, xa.labels);
  const data = drawHLines(hLines, box, ys) + runs.map((r, i) => drawSeries(r, styles[i]!, xs, ys)).join('') + drawLabels(labels, box, xs, ys);
  return document(frame, box, axes, data);
}
