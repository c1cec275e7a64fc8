// What every chart shares: size checks, the layout of the plot area, scales, axes with
// grid lines, the legend, and the SVG document around it all.
import { PlotError } from './errors.js';
import { marker, type MarkerStyle } from './markers.js';
import { el, escapeXml, num, text, textWidth, truncate } from './svg.js';

export const FONT_FAMILY = 'sans-serif'; // generic: resolved by fontconfig to whatever is installed
export const TITLE_SIZE = 16;
export const LABEL_SIZE = 13;
export const TICK_SIZE = 11;
export const LEGEND_SIZE = 12;
const LEGEND_ROW = 18;
const LEGEND_SAMPLE = 22; // length of the line or swatch drawn before each legend name
export const CLIP_ID = 'plot-area';
// The clip reaches a little past the frame so that a curve lying on the edge of the domain
// (the minimum loss, a marker at the last epoch) is not cut in half: the largest marker
// (a star, 1.5 × its size) fits.
const CLIP_PAD = 9;

/** Where the data goes, in pixels. */
export interface Box {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** Maps data values to pixels along one axis. */
export interface Scale {
  readonly lo: number;
  readonly hi: number;
  readonly log: boolean;
  map(v: number): number;
}

/** Linear (or log10) map of [lo, hi] onto [p0, p1]; p1 < p0 for a y axis that grows upwards. */
export function makeScale(lo: number, hi: number, p0: number, p1: number, log = false): Scale {
  const f = log ? Math.log10 : (v: number): number => v;
  const a = f(lo);
  const k = (p1 - p0) / (f(hi) - a);
  return { lo, hi, log, map: (v) => p0 + (f(v) - a) * k };
}

export interface LegendEntry {
  readonly name: string;
  readonly colour: string;
  /** How the sample is drawn: a line (solid or dashed), a filled swatch for bars, or only the marker (points without a line). */
  readonly kind: 'line' | 'dashed' | 'swatch' | 'marker';
  /** Swatch fill opacity (histograms are drawn see-through). */
  readonly opacity?: number;
  /** The series' point marker, drawn in the middle of the sample. */
  readonly marker?: MarkerStyle;
}

/**
 * An axis label that says when its axis is logarithmic: a reader who misses
 * the uneven ticks would read a factor of ten as a step. Labels that already
 * say 'log' are left alone.
 */
export function axisLabel(label: string, log: boolean): string {
  return log && label !== '' && !/\blog/i.test(label) ? `${label} (log scale)` : label;
}

/** The pieces of a chart that are not data. */
export interface FrameSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width: number;
  readonly height: number;
  readonly legend: readonly LegendEntry[];
  /** Longest y tick label, which decides the left margin. */
  readonly yTickLabels: readonly string[];
  /** Extra room under the plot area (rotated category labels). */
  readonly bottomExtra?: number;
  /** Least left margin (a rotated first category label hangs out to the left). */
  readonly minLeft?: number;
}

/** A width or height from a spec: default when absent, else a finite size we can draw in. */
export function checkSize(chart: string, field: 'width' | 'height', v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 100 || v > 10000) throw new PlotError(chart, field, `must be a number of pixels in [100, 10000], got ${v}`);
  return Math.round(v);
}

/** An explicit axis range: finite, increasing, and positive on a log axis. */
export function checkRange(chart: string, field: string, r: readonly [number, number] | undefined, log = false): readonly [number, number] | undefined {
  if (r === undefined) return undefined;
  const [lo, hi] = r;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) throw new PlotError(chart, field, `must be [min, max] with finite min < max, got [${lo}, ${hi}]`);
  if (log && lo <= 0) throw new PlotError(chart, field, `must be positive on a log axis, got [${lo}, ${hi}]`);
  return r;
}

/** The chart's series list must not be empty. */
export function checkNonEmpty(chart: string, field: string, n: number): void {
  if (n === 0) throw new PlotError(chart, field, 'is empty: nothing to draw');
}

/** How many ticks fit along an axis of this many pixels (about one per `spacing` px). */
export function tickBudget(pixels: number, spacing: number): number {
  return Math.max(3, Math.min(10, Math.round(pixels / spacing)));
}

function legendWidth(spec: FrameSpec): number {
  const longest = Math.max(...spec.legend.map((e) => textWidth(e.name, LEGEND_SIZE)));
  return Math.min(LEGEND_SAMPLE + 8 + longest, spec.width * 0.3);
}

/** The plot area: margins for the title, axis labels, tick labels and the legend on the right. */
export function layout(spec: FrameSpec): Box {
  const top = spec.title === '' ? 16 : 44;
  const yTicks = Math.max(0, ...spec.yTickLabels.map((l) => textWidth(l, TICK_SIZE)));
  const left = Math.max((spec.yLabel === '' ? 10 : 30) + yTicks + 10, spec.minLeft ?? 0);
  const right = legendWidth(spec) + 30;
  const bottom = (spec.xLabel === '' ? 28 : 48) + (spec.bottomExtra ?? 0);
  return { left, top, width: Math.max(20, spec.width - left - right), height: Math.max(20, spec.height - top - bottom) };
}

/** Horizontal grid lines and labels for the y ticks (those inside the scale's domain). */
export function yAxis(box: Box, scale: Scale, ticks: readonly number[], labels: readonly string[]): string {
  let out = '';
  ticks.forEach((t, i) => {
    if (!inDomain(scale, t)) return;
    const y = scale.map(t);
    out += el('line', { x1: box.left, x2: box.left + box.width, y1: y, y2: y, stroke: '#e3e3e3', 'stroke-width': 1 });
    out += el('line', { x1: box.left - 5, x2: box.left, y1: y, y2: y, stroke: '#444', 'stroke-width': 1 });
    out += text(box.left - 8, y + TICK_SIZE * 0.35, labels[i] ?? '', { 'text-anchor': 'end', 'font-size': TICK_SIZE, fill: '#333' });
  });
  return out;
}

/** Vertical grid lines and labels for the x ticks (those inside the scale's domain). */
export function xAxis(box: Box, scale: Scale, ticks: readonly number[], labels: readonly string[]): string {
  let out = '';
  const bottom = box.top + box.height;
  ticks.forEach((t, i) => {
    if (!inDomain(scale, t)) return;
    const x = scale.map(t);
    out += el('line', { x1: x, x2: x, y1: box.top, y2: bottom, stroke: '#e3e3e3', 'stroke-width': 1 });
    out += el('line', { x1: x, x2: x, y1: bottom, y2: bottom + 5, stroke: '#444', 'stroke-width': 1 });
    out += text(x, bottom + 8 + TICK_SIZE, labels[i] ?? '', { 'text-anchor': 'middle', 'font-size': TICK_SIZE, fill: '#333' });
  });
  return out;
}

/** Whether a tick lies in the domain, forgiving float noise at the ends. */
export function inDomain(scale: Scale, v: number): boolean {
  const eps = 1e-9 * (Math.abs(scale.hi - scale.lo) || 1);
  return v >= scale.lo - eps && v <= scale.hi + eps;
}

function legend(spec: FrameSpec, box: Box): string {
  const x = box.left + box.width + 16;
  const maxName = legendWidth(spec) - LEGEND_SAMPLE - 8;
  let out = '';
  spec.legend.forEach((e, i) => {
    const y = box.top + 8 + i * LEGEND_ROW;
    if (e.kind === 'swatch') {
      out += el('rect', { x, y: y - 6, width: LEGEND_SAMPLE - 6, height: 12, fill: e.colour, 'fill-opacity': e.opacity, stroke: e.colour });
    } else if (e.kind !== 'marker') {
      out += el('line', { x1: x, x2: x + LEGEND_SAMPLE - 4, y1: y, y2: y, stroke: e.colour, 'stroke-width': 2.5, 'stroke-dasharray': e.kind === 'dashed' ? '6 4' : undefined });
    }
    if (e.marker) out += marker(x + (LEGEND_SAMPLE - 4) / 2, y, e.marker);
    out += text(x + LEGEND_SAMPLE + 4, y + LEGEND_SIZE * 0.35, truncate(e.name, maxName, LEGEND_SIZE), { 'font-size': LEGEND_SIZE, fill: '#222' });
  });
  return out;
}

/**
 * The whole document: white background (a PNG should not come out transparent), title,
 * axis labels, legend, axes from the caller, data clipped to the plot area so an explicit
 * range cuts curves at the frame instead of drawing over the margins, and the frame on top.
 */
export function document(spec: FrameSpec, box: Box, axes: string, data: string): string {
  const { width, height } = spec;
  const cx = box.left + box.width / 2;
  const cy = box.top + box.height / 2;
  const parts = [
    el('title', {}, escapeXml(spec.title)),
    el('defs', {}, el('clipPath', { id: CLIP_ID }, el('rect', { x: box.left - CLIP_PAD, y: box.top - CLIP_PAD, width: box.width + 2 * CLIP_PAD, height: box.height + 2 * CLIP_PAD }))),
    el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    spec.title === '' ? '' : text(width / 2, 28, spec.title, { 'text-anchor': 'middle', 'font-size': TITLE_SIZE, 'font-weight': 'bold', fill: '#111' }),
    axes,
    el('g', { 'clip-path': `url(#${CLIP_ID})` }, data),
    el('rect', { x: box.left, y: box.top, width: box.width, height: box.height, fill: 'none', stroke: '#444', 'stroke-width': 1 }),
    spec.xLabel === '' ? '' : text(cx, height - 14, spec.xLabel, { 'text-anchor': 'middle', 'font-size': LABEL_SIZE, fill: '#111' }),
    spec.yLabel === '' ? '' : text(18, cy, spec.yLabel, { 'text-anchor': 'middle', 'font-size': LABEL_SIZE, fill: '#111', transform: `rotate(-90 18 ${num(cy)})` }),
    legend(spec, box),
  ];
  return el('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': FONT_FAMILY }, parts.join(''));
}
