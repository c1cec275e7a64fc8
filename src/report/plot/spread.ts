// One figure the studies share: a figure per group (a method, a variant) over
// seeds — every seed as a point, the mean as a larger point, ± 1 standard
// deviation as a whisker, the group's label next to its mean — so a reader
// sees at once whether two groups' spreads overlap.
import { PALETTE } from './svg.js';
import type { LinePlotSpec, LineSeries, PointLabel } from './line.js';

export interface SpreadGroup {
  label: string;
  /** One value per seed. */
  values: readonly number[];
  mean: number;
  /** Sample standard deviation; null with one seed (no whisker). */
  std: number | null;
}

/** The plot of `groups` at x = 1, 2, … in order (values as given, e.g. percentages). */
export function seedSpreadPlot(o: { title: string; xLabel: string; yLabel: string; groups: readonly SpreadGroup[] }): LinePlotSpec {
  const seedsX: number[] = [];
  const seedsY: number[] = [];
  const whiskerX: number[] = [];
  const whiskerY: number[] = [];
  o.groups.forEach((g, i) => {
    for (const v of g.values) {
      seedsX.push(i + 1);
      seedsY.push(v);
    }
    if (g.std !== null) {
      whiskerX.push(i + 1, i + 1, NaN);
      whiskerY.push(g.mean - g.std, g.mean + g.std, NaN);
    }
  });
  const series: LineSeries[] = [
    ...(whiskerX.length ? [{ name: 'mean ± 1 std', x: whiskerX, y: whiskerY, marker: 'none' as const, colour: PALETTE[0] as string }] : []),
    { name: 'mean', x: o.groups.map((_, i) => i + 1), y: o.groups.map((g) => g.mean), line: false, marker: 'circle', markerSize: 6, colour: PALETTE[0] as string },
    { name: 'each seed', x: seedsX, y: seedsY, line: false, marker: 'diamond', hollow: true, colour: PALETTE[1] as string },
  ];
  const labels: PointLabel[] = o.groups.map((g, i) => ({ x: i + 1, y: g.mean, text: g.label }));
  return { title: o.title, xLabel: o.xLabel, yLabel: o.yLabel, series, labels, xRange: [0.5, o.groups.length + 0.5], xInteger: true };
}
