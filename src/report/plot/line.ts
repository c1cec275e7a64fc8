// Line charts: curves over epochs, accuracy against sparsity, and so on.
import { PlotError } from './errors.js';
import {
  type Box, type LegendEntry, type Scale,
  checkNonEmpty, checkRange, checkSize, document, layout, makeScale, tickBudget, xAxis, yAxis,
} from './frame.js';
import { el, colourOf, polyline, text } from './svg.js';
import { formatLinearTicks, formatLogTicks, logTicks, niceTicks } from './ticks.js';

export interface LineSeries {
  readonly name: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly dashed?: boolean;
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
  /** Log10 x axis (all x must then be > 0). */
  readonly logX?: boolean;
}

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
function axisTicks(dataLo: number, dataHi: number, fixed: readonly [number, number] | undefined, log: boolean, budget: number): { ticks: number[]; labels: string[]; lo: number; hi: number } {
  const [lo, hi] = fixed ?? [dataLo, dataHi];
  const ticks = log ? logTicks(lo, hi, budget) : niceTicks(lo, hi, budget);
  const labels = log ? formatLogTicks(ticks) : formatLinearTicks(ticks);
  if (fixed !== undefined) return { ticks, labels, lo: fixed[0], hi: fixed[1] };
  return { ticks, labels, lo: ticks[0] as number, hi: ticks[ticks.length - 1] as number };
}

function drawSeries(runs: readonly Point[][], colour: string, dashed: boolean, xs: Scale, ys: Scale): string {
  let out = '';
  for (const run of runs) {
    const px = run.map(([x, y]): Point => [xs.map(x), ys.map(y)]);
    if (px.length === 1) {
      const [cx, cy] = px[0] as Point;
      out += el('circle', { cx, cy, r: 4, fill: colour });
    } else {
      out += polyline(px, { stroke: colour, 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-linecap': 'round', 'stroke-dasharray': dashed ? '7 5' : undefined });
    }
  }
  return out;
}

function drawHLines(lines: readonly HLine[], box: Box, ys: Scale): string {
  let out = '';
  for (const h of lines) {
    const y = ys.map(h.y);
    out += el('line', { x1: box.left, x2: box.left + box.width, y1: y, y2: y, stroke: '#555', 'stroke-width': 1.5, 'stroke-dasharray': '4 4' });
    out += text(box.left + box.width - 6, y - 5, h.label, { 'text-anchor': 'end', 'font-size': 11, fill: '#555' });
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

  const runs = spec.series.map((s) => runsOf(chart, s, logX));
  const points = runs.flat(2);
  const [x0, x1] = extent(points.map(([x]) => x));
  // Reference lines count towards the y extent: a floor the curves never reach should still show.
  const [y0, y1] = extent([...points.map(([, y]) => y), ...hLines.map((h) => h.y)]);
  const xa = axisTicks(x0, x1, xRange, logX, tickBudget(width, 90));
  const ya = axisTicks(y0, y1, yRange, false, tickBudget(height, 60));

  const legend: LegendEntry[] = spec.series.map((s, i) => ({ name: s.name, colour: colourOf(i), kind: s.dashed === true ? 'dashed' : 'line' }));
  const frame = { title: spec.title, xLabel: spec.xLabel, yLabel: spec.yLabel, width, height, legend, yTickLabels: ya.labels };
  const box = layout(frame);
  const xs = makeScale(xa.lo, xa.hi, box.left, box.left + box.width, logX);
  const ys = makeScale(ya.lo, ya.hi, box.top + box.height, box.top);

  const axes = yAxis(box, ys, ya.ticks, ya.labels) + xAxis(box, xs, xa.ticks, xa.labels);
  const data = drawHLines(hLines, box, ys) + runs.map((r, i) => drawSeries(r, colourOf(i), spec.series[i]?.dashed === true, xs, ys)).join('');
  return document(frame, box, axes, data);
}
