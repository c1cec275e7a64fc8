// Grouped bar charts: one group per category, one bar per series in each group
// (e.g. kept channels per layer, before vs after pruning).
import { PlotError } from './errors.js';
import {
  type Box, type LegendEntry, type Scale,
  TICK_SIZE, checkNonEmpty, checkSize, document, layout, makeScale, tickBudget, yAxis,
} from './frame.js';
import { el, colourOf, text, textWidth, truncate } from './svg.js';
import { formatLinearTicks, niceTicks } from './ticks.js';

export interface BarSeries {
  readonly name: string;
  /** One value per category, in the order of `categories`. */
  readonly values: readonly number[];
}

export interface BarPlotSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  readonly series: readonly BarSeries[];
  /** Pixels; default 800. */
  readonly width?: number;
  /** Pixels; default 500. */
  readonly height?: number;
}

const ROTATION = 45; // degrees, for category labels too wide to sit level under their group
const MAX_ROTATED_PX = 140; // longer rotated labels are cut: the plot area matters more
const ROW_PX = TICK_SIZE + 3; // labels closer than this (rotated, perpendicular to the axis) collide

function checkSeries(chart: string, spec: BarPlotSpec): void {
  checkNonEmpty(chart, 'categories', spec.categories.length);
  checkNonEmpty(chart, 'series', spec.series.length);
  for (const s of spec.series) {
    if (s.values.length !== spec.categories.length) {
      throw new PlotError(chart, 'values', `has ${s.values.length} values but there are ${spec.categories.length} categories`, { series: s.name });
    }
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new PlotError(chart, 'values', `value for category "${spec.categories[i]}" is ${v}`, { series: s.name });
    });
  }
}

/** How category labels are laid out: level or rotated, and which ones are shown at all. */
interface LabelPlan {
  readonly rotated: boolean;
  /** Show every `every`-th label: with 200 layers not all names fit, even rotated. */
  readonly every: number;
  readonly labels: readonly string[];
  /** Vertical room the labels need under the axis beyond a level row. */
  readonly extra: number;
  /** Left margin the first label needs, hanging down-left from its group. */
  readonly minLeft: number;
}

function planLabels(categories: readonly string[], groupPx: number): LabelPlan {
  const widest = Math.max(...categories.map((c) => textWidth(c, TICK_SIZE)));
  if (widest <= groupPx * 0.9) return { rotated: false, every: 1, labels: categories, extra: 0, minLeft: 0 };
  const labels = categories.map((c) => truncate(c, MAX_ROTATED_PX, TICK_SIZE));
  const longest = Math.max(...labels.map((c) => textWidth(c, TICK_SIZE)));
  const sin = Math.sin((ROTATION * Math.PI) / 180);
  // Rotated labels are ROW_PX apart along the axis' perpendicular, i.e. ROW_PX / sin apart along it.
  const every = Math.max(1, Math.ceil(ROW_PX / sin / groupPx));
  const first = textWidth(labels[0] ?? '', TICK_SIZE) * Math.cos((ROTATION * Math.PI) / 180);
  return { rotated: true, every, labels, extra: longest * sin, minLeft: first - groupPx / 2 + 6 };
}

function categoryLabels(plan: LabelPlan, box: Box, groupPx: number): string {
  const y = box.top + box.height + 8 + TICK_SIZE;
  let out = '';
  plan.labels.forEach((label, i) => {
    if (i % plan.every !== 0) return;
    const x = box.left + (i + 0.5) * groupPx;
    out += plan.rotated
      ? text(x, y - 4, label, { 'text-anchor': 'end', 'font-size': TICK_SIZE, fill: '#333', transform: `rotate(-${ROTATION} ${x.toFixed(2)} ${(y - 4).toFixed(2)})` })
      : text(x, y, label, { 'text-anchor': 'middle', 'font-size': TICK_SIZE, fill: '#333' });
  });
  return out;
}

function bars(spec: BarPlotSpec, box: Box, ys: Scale, groupPx: number): string {
  const inner = groupPx * 0.8; // 20% of each group is the gap between groups
  const barPx = inner / spec.series.length;
  const base = ys.map(0);
  let out = '';
  spec.series.forEach((s, j) => {
    s.values.forEach((v, i) => {
      const x = box.left + i * groupPx + (groupPx - inner) / 2 + j * barPx;
      const y = ys.map(v);
      out += el('rect', { x, y: Math.min(y, base), width: barPx, height: Math.abs(base - y), fill: colourOf(j) });
    });
  });
  // The zero line, darker than the grid: bars grow from it, possibly both ways.
  out += el('line', { x1: box.left, x2: box.left + box.width, y1: base, y2: base, stroke: '#444', 'stroke-width': 1 });
  return out;
}

/** A grouped bar chart as SVG text. Throws PlotError on a spec it cannot draw. */
export function barPlot(spec: BarPlotSpec): string {
  const chart = spec.title;
  const width = checkSize(chart, 'width', spec.width, 800);
  const height = checkSize(chart, 'height', spec.height, 500);
  checkSeries(chart, spec);

  const all = spec.series.flatMap((s) => s.values);
  // Bars are lengths from zero, so zero is always on the axis.
  const lo = Math.min(0, ...all);
  const hi = Math.max(0, ...all);
  const ticks = niceTicks(lo, hi === lo ? lo + 1 : hi, tickBudget(height, 60));
  const labels = formatLinearTicks(ticks);

  const legend: LegendEntry[] = spec.series.map((s, i) => ({ name: s.name, colour: colourOf(i), kind: 'swatch' }));
  const base = { title: spec.title, xLabel: spec.xLabel, yLabel: spec.yLabel, width, height, legend, yTickLabels: labels };
  // The label plan needs the group width, which needs the layout: lay out once level,
  // then again with room for rotated labels if they turn out to need it.
  const level = layout(base);
  const plan = planLabels(spec.categories, level.width / spec.categories.length);
  const frame = { ...base, bottomExtra: plan.extra, minLeft: plan.minLeft };
  const box = layout(frame);
  const groupPx = box.width / spec.categories.length;
  const ys = makeScale(ticks[0] as number, ticks[ticks.length - 1] as number, box.top + box.height, box.top);

  const axes = yAxis(box, ys, ticks, labels) + categoryLabels(plan, box, groupPx);
  return document(frame, box, axes, bars(spec, box, ys, groupPx));
}
