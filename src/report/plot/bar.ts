// Grouped bar charts: one group per category, one bar per series in each group
// (e.g. kept channels per layer, before vs after pruning).
import { PlotError } from './errors.js';
import {
  type Box, type LegendEntry, type Scale,
  TICK_SIZE, checkNonEmpty, checkSize, document, layout, makeScale, tickBudget, yAxis,
} from './frame.js';
import { el, colourOf, text, textWidth, truncateMiddle } from './svg.js';
import { allIntegers, formatLinearTicks, niceTicks } from './ticks.js';

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
// Rotated labels may take this share of the chart's height (and at most MAX_ROTATED_PX):
// the plot area matters more. Longer ones first get a smaller font, then lose their middle.
const ROTATED_SHARE = 0.3;
const MAX_ROTATED_PX = 240;
const MIN_FONT = 9; // px: smaller is hard to read in a PNG at 100 %
const MAX_LINES = 3; // a level label may wrap onto this many lines
const WRAP_AFTER = /(?<=[.+_\-/:])/; // layer names break after their separators

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

/** How category labels are laid out: level (perhaps wrapped) or rotated, and which ones are shown at all. */
interface LabelPlan {
  readonly rotated: boolean;
  /** Show every `every`-th label: with 200 layers not all names fit, even rotated. */
  readonly every: number;
  /** Each label's lines (one line when rotated). */
  readonly labels: readonly (readonly string[])[];
  readonly fontSize: number;
  /** Vertical room the labels need under the axis beyond a level row. */
  readonly extra: number;
  /** Left margin the first label needs, hanging down-left from its group. */
  readonly minLeft: number;
}

/** `label` broken after its separators into lines of at most `maxPx`, or null when it takes more than MAX_LINES (or a part alone is too wide). */
function wrap(label: string, maxPx: number, fontSize: number): string[] | null {
  const lines: string[] = [];
  for (const part of label.split(WRAP_AFTER)) {
    if (textWidth(part, fontSize) > maxPx) return null;
    const last = lines.length - 1;
    if (last >= 0 && textWidth(lines[last]! + part, fontSize) <= maxPx) lines[last] += part;
    else lines.push(part);
  }
  return lines.length <= MAX_LINES ? lines : null;
}

/**
 * Level labels when every one fits under its group (wrapped after '.', '+',
 * '_' ... onto up to three lines if need be); else rotated, in a smaller font
 * if that makes the longest fit its share of the height, and only then cut in
 * the middle. Nothing is clipped by the image's edges: the layout makes room
 * below and to the left.
 */
function planLabels(categories: readonly string[], groupPx: number, height: number): LabelPlan {
  const fit = groupPx * 0.9;
  const wrapped = categories.map((c) => wrap(c, fit, TICK_SIZE));
  if (wrapped.every((w) => w !== null)) {
    const lines = Math.max(...wrapped.map((w) => w!.length));
    return { rotated: false, every: 1, labels: wrapped as string[][], fontSize: TICK_SIZE, extra: (lines - 1) * (TICK_SIZE + 2), minLeft: 0 };
  }
  const room = Math.min(MAX_ROTATED_PX, height * ROTATED_SHARE);
  const widest = Math.max(...categories.map((c) => textWidth(c, TICK_SIZE)));
  const fontSize = Math.max(MIN_FONT, Math.min(TICK_SIZE, Math.floor((TICK_SIZE * room) / widest)));
  const labels = categories.map((c) => [truncateMiddle(c, room, fontSize)]);
  const longest = Math.max(...labels.map(([c]) => textWidth(c!, fontSize)));
  const sin = Math.sin((ROTATION * Math.PI) / 180);
  // Rotated labels are one row apart along the axis' perpendicular, i.e. row / sin apart along it.
  const every = Math.max(1, Math.ceil((fontSize + 3) / sin / groupPx));
  const first = textWidth(labels[0]![0]!, fontSize) * Math.cos((ROTATION * Math.PI) / 180);
  return { rotated: true, every, labels, fontSize, extra: longest * sin, minLeft: first - groupPx / 2 + 10 };
}

function categoryLabels(plan: LabelPlan, box: Box, groupPx: number): string {
  const y = box.top + box.height + 8 + plan.fontSize;
  const attrs = { 'font-size': plan.fontSize, fill: '#333' };
  let out = '';
  plan.labels.forEach((lines, i) => {
    if (i % plan.every !== 0) return;
    const x = box.left + (i + 0.5) * groupPx;
    if (plan.rotated) out += text(x, y - 4, lines[0]!, { ...attrs, 'text-anchor': 'end', transform: `rotate(-${ROTATION} ${x.toFixed(2)} ${(y - 4).toFixed(2)})` });
    else lines.forEach((line, k) => (out += text(x, y + k * (plan.fontSize + 2), line, { ...attrs, 'text-anchor': 'middle' })));
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
  // Counted things (channels per layer) tick on whole numbers.
  const ticks = niceTicks(lo, hi === lo ? lo + 1 : hi, tickBudget(height, 60), { integer: allIntegers(all) });
  const labels = formatLinearTicks(ticks);

  const legend: LegendEntry[] = spec.series.map((s, i) => ({ name: s.name, colour: colourOf(i), kind: 'swatch' }));
  const base = { title: spec.title, xLabel: spec.xLabel, yLabel: spec.yLabel, width, height, legend, yTickLabels: labels };
  // The label plan needs the group width, which needs the layout: lay out once level,
  // then again with room for rotated labels if they turn out to need it.
  const level = layout(base);
  const plan = planLabels(spec.categories, level.width / spec.categories.length, height);
  const frame = { ...base, bottomExtra: plan.extra, minLeft: plan.minLeft };
  const box = layout(frame);
  const groupPx = box.width / spec.categories.length;
  const ys = makeScale(ticks[0] as number, ticks[ticks.length - 1] as number, box.top + box.height, box.top);

  const axes = yAxis(box, ys, ticks, labels) + categoryLabels(plan, box, groupPx);
  return document(frame, box, axes, bars(spec, box, ys, groupPx));
}
