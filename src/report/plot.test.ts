import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  PALETTE, PlotError, barPlot, computeHistogram, escapeXml, formatTick, histogramPlot, linePlot, logTicks, niceTicks, savePlot,
  type LinePlotSpec,
} from './plot.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-plot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Well-formed enough for librsvg to render, which is what savePlot needs. */
async function assertRenders(svg: string): Promise<void> {
  assert.ok(svg.startsWith('<svg'), svg.slice(0, 40));
  assert.ok(svg.endsWith('</svg>'));
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  assert.equal((await sharp(png).metadata()).format, 'png');
}

const count = (s: string, sub: string): number => s.split(sub).length - 1;

const expectPlotError = (fn: () => unknown, check: { series?: string; field?: string; re?: RegExp }): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PlotError, `expected a PlotError, got ${String(e)}`);
    if (check.series !== undefined) {
      assert.equal(e.series, check.series);
      assert.ok(e.message.includes(`"${check.series}"`), `message names the series: ${e.message}`);
    }
    if (check.field !== undefined) assert.equal(e.field, check.field);
    if (check.re !== undefined) assert.match(e.message, check.re);
    return true;
  });
};

/** Pixels whose RGB lies within `tol` (per channel) of `hex`. */
async function pixelsNear(png: string, hex: string, tol = 12): Promise<number> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  let n = 0;
  for (let p = 0; p < data.length; p += info.channels) {
    if (Math.abs((data[p] as number) - want[0]) <= tol && Math.abs((data[p + 1] as number) - want[1]) <= tol && Math.abs((data[p + 2] as number) - want[2]) <= tol) n++;
  }
  return n;
}

// ---------------------------------------------------------------- ticks

test('niceTicks: hand-computed values', () => {
  assert.deepEqual(niceTicks(0, 1, 6), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.93, 0.995, 6), [0.92, 0.94, 0.96, 0.98, 1]);
  assert.deepEqual(niceTicks(0.93, 0.995, 10), [0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 1]);
  assert.deepEqual(niceTicks(0, 100, 5), [0, 50, 100]);
  assert.deepEqual(niceTicks(0, 100, 6), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(-3, 120, 8), [-20, 0, 20, 40, 60, 80, 100, 120]);
  assert.deepEqual(niceTicks(0.1, 0.3, 5), [0.1, 0.15, 0.2, 0.25, 0.3]); // 0.15 exactly, no float noise
  assert.deepEqual(niceTicks(1, 9, 5), [0, 5, 10]);
  assert.deepEqual(niceTicks(0, 3e6, 4), [0, 1e6, 2e6, 3e6]);
  // A zero-width interval is widened: ±10% of the value, or ±1 around zero.
  assert.deepEqual(niceTicks(5, 5, 5), [4.5, 5, 5.5]);
  assert.deepEqual(niceTicks(0, 0, 5), [-1, -0.5, 0, 0.5, 1]);
  assert.ok(niceTicks(-1, 1, 5).every((t) => !Object.is(t, -0)), 'no -0 tick');
});

test('niceTicks: always spans the interval within the budget, at a 1/2/5 step', () => {
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let k = 0; k < 500; k++) {
    const scale = 10 ** Math.floor(rnd() * 12 - 6);
    const a = (rnd() - 0.5) * scale;
    const b = a + rnd() * scale;
    const maxTicks = 3 + Math.floor(rnd() * 8);
    const ticks = niceTicks(a, b, maxTicks);
    assert.ok(ticks.length >= 2 && ticks.length <= maxTicks, `${a}..${b} / ${maxTicks}: ${ticks}`);
    const step = (ticks[1] as number) - (ticks[0] as number);
    const slack = 1e-9 * step; // ticks snap to a multiple of the step that the data misses by float noise
    assert.ok((ticks[0] as number) <= a + slack && (ticks.at(-1) as number) >= b - slack, `${a}..${b}: ${ticks}`);
    const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `step ${step}`);
  }
});

test('niceTicks: bad arguments are RangeErrors', () => {
  assert.throws(() => niceTicks(Number.NaN, 1, 5), RangeError);
  assert.throws(() => niceTicks(0, Infinity, 5), RangeError);
  assert.throws(() => niceTicks(2, 1, 5), RangeError);
  assert.throws(() => niceTicks(0, 1, 2), RangeError); // cannot span -1..1 with two ticks
});

test('logTicks: 1-2-5 sequence when it fits, decades otherwise', () => {
  assert.deepEqual(logTicks(1, 30, 8), [1, 2, 5, 10, 20, 50]);
  assert.deepEqual(logTicks(3, 7, 8), [2, 5, 10]);
  assert.deepEqual(logTicks(1e-5, 1, 8), [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1]);
  assert.deepEqual(logTicks(1, 1e9, 5), [1, 1e3, 1e6, 1e9]);
  assert.throws(() => logTicks(0, 1, 5), RangeError);
});

test('formatTick: decimals from the step, exponents for extreme magnitudes', () => {
  assert.equal(formatTick(0.92, 0.02), '0.92');
  assert.equal(formatTick(0.6000000000000001, 0.2), '0.6');
  assert.equal(formatTick(40, 20), '40');
  assert.equal(formatTick(0, 0.2), '0.0');
  assert.equal(formatTick(0, 20), '0');
  assert.equal(formatTick(0, 1e-5), '0');
  assert.equal(formatTick(1e-5, 1e-5), '1e-5');
  assert.equal(formatTick(2.5e6, 5e5), '2.5e+6');
});

// ---------------------------------------------------------------- SVG

test('escapeXml escapes markup characters and drops XML-illegal control characters', () => {
  assert.equal(escapeXml(`a<b> & "c" 'd'\u0001`), 'a&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;');
});

const lineSpec: LinePlotSpec = {
  title: 'Accuracy <vs> epoch & "λ"',
  xLabel: 'epoch',
  yLabel: 'test accuracy',
  series: [
    { name: 'baseline', x: [1, 2, 3, 4], y: [0.93, 0.97, 0.98, 0.995] },
    { name: 'pruned <50%> & "tuned"', x: [1, 2, 3, 4, 5], y: [0.94, 0.96, Number.NaN, 0.98, 0.985], dashed: true },
    { name: 'single', x: [2], y: [0.95] },
  ],
  hLines: [{ y: 0.98, label: 'floor & target' }],
};

test('linePlot: valid SVG with the title, every series name and reference label escaped', async () => {
  const svg = linePlot(lineSpec);
  await assertRenders(svg);
  assert.ok(svg.includes('Accuracy &lt;vs&gt; epoch &amp; &quot;λ&quot;'));
  assert.ok(!svg.includes('<vs>'));
  assert.ok(svg.includes('>baseline<'));
  assert.ok(svg.includes('pruned &lt;50%&gt; &amp; &quot;tuned&quot;'));
  assert.ok(svg.includes('>single<'));
  assert.ok(svg.includes('floor &amp; target'));
  assert.ok(svg.includes('width="800"') && svg.includes('height="500"'), 'default size');
  // NaN breaks the dashed series in two; the one-point series is a marker. Few points: every
  // point is marked, each series with its own shape (circle, square, triangle), in the legend too.
  assert.equal(count(svg, '<polyline'), 3);
  assert.equal(count(svg, '<circle'), 4 + 1);
  assert.equal(count(svg, '<polygon'), 1 + 1, 'the single point is a triangle, and its legend sample');
  assert.equal(count(svg, 'stroke-dasharray="7 5"'), 2);
  // 0.93..0.995 in 500 px: eight ticks, 0.93 to 1.00 in steps of 0.01.
  for (const t of ['0.93', '0.94', '0.98', '1.00']) assert.ok(svg.includes(`>${t}<`), `y tick ${t}`);
  assert.ok(!svg.includes('>0.92<') && !svg.includes('>1.01<'));
});

test('linePlot: explicit ranges, log x and size', async () => {
  const svg = linePlot({
    title: 'lr sweep', xLabel: 'learning rate', yLabel: 'loss', width: 600, height: 400, logX: true, yRange: [0, 3], xRange: [1e-5, 1],
    series: [{ name: 'loss', x: [1e-5, 1e-4, 1e-3, 1e-2, 1e-1], y: [2, 1.5, 0.7, 0.5, 3.5] }],
  });
  await assertRenders(svg);
  assert.ok(svg.includes('width="600"') && svg.includes('height="400"'));
  for (const t of ['1e-5', '0.001', '0.1', '1']) assert.ok(svg.includes(`>${t}<`), `x tick ${t}`);
  assert.ok(svg.includes('>3.0<') && svg.includes('>0.0<'), 'yRange ends labelled');
});

test('barPlot: valid SVG, a bar per series per category, many categories rotated', async () => {
  const svg = barPlot({
    title: 'Kept channels: before & after', xLabel: 'layer', yLabel: 'channels', categories: ['conv1', 'conv2', '<fc>'],
    series: [{ name: 'before', values: [6, 16, 120] }, { name: 'after "pruned"', values: [4, 9, 50] }],
  });
  await assertRenders(svg);
  assert.ok(svg.includes('Kept channels: before &amp; after'));
  assert.ok(svg.includes('>before<') && svg.includes('after &quot;pruned&quot;') && svg.includes('&lt;fc&gt;'));
  assert.equal(count(svg, `fill="${PALETTE[0]}"`), 3 + 1); // three bars and a legend swatch
  assert.equal(count(svg, `fill="${PALETTE[1]}"`), 3 + 1);
  assert.ok(!svg.includes('rotate(-45'), 'three short labels sit level');

  const layers = Array.from({ length: 60 }, (_, i) => `features.${i}.conv`);
  const many = barPlot({ title: 'many', xLabel: 'layer', yLabel: 'channels', categories: layers, series: [{ name: 'kept', values: layers.map((_, i) => i) }] });
  await assertRenders(many);
  const shown = count(many, 'rotate(-45');
  assert.ok(shown > 0 && shown < 60, `some labels rotated, thinned out: ${shown}`);
});

test('histogramPlot: valid SVG with shared bins, one step outline per series', async () => {
  const svg = histogramPlot({
    title: 'BatchNorm |γ|', xLabel: '|γ|', logY: true,
    series: [{ name: 'λ=1e-5', values: [0.1, 0.2, 0.2, 0.9] }, { name: 'λ=1e-4 <strong>', values: [0.01, 0.02, 0.5, Number.NaN] }],
  });
  await assertRenders(svg);
  assert.ok(svg.includes('BatchNorm |γ|') && svg.includes('>count (log scale)<'), 'default y label, saying the axis is logarithmic');
  assert.ok(svg.includes('λ=1e-5') && svg.includes('λ=1e-4 &lt;strong&gt;'));
  assert.equal(count(svg, '<path'), 2);
  assert.ok(svg.includes('fill-opacity="0.3"'));
});

test('computeHistogram: shared edges, max in the last bin, out-of-range and NaN ignored', () => {
  const h = computeHistogram([[0, 0.25, 0.5, 1, 1], [0.75, Number.NaN]], 2);
  assert.deepEqual(h.edges, [0, 0.5, 1]);
  assert.deepEqual(h.counts, [[2, 3], [0, 1]]);
  const r = computeHistogram([[-1, 0, 0.5, 2]], 4, [0, 1]);
  assert.deepEqual(r.edges, [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(r.counts, [[1, 0, 1, 0]]);
  assert.deepEqual(computeHistogram([[3, 3]], 1).edges, [2.5, 3.5]);
});

// ---------------------------------------------------------------- markers, integer ticks, log labels, long labels (issue 13, item 9)

/** The text of every <text> element (unescaped enough for plain labels). */
const texts = (svg: string): string[] => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
/** The y axis' tick labels (right-aligned, in the tick font). */
const yTickLabels = (svg: string): string[] => [...svg.matchAll(/<text[^>]*text-anchor="end" font-size="11"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
/** The x axis' tick labels (centred, in the tick font). */
const xTickLabels = (svg: string): string[] => [...svg.matchAll(/<text[^>]*text-anchor="middle" font-size="11"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

test('linePlot: every point of a per-epoch series is marked; marker none, scatter-only and hollow series', () => {
  const svg = linePlot({
    title: 'epochs', xLabel: 'epoch', yLabel: 'accuracy',
    series: [
      // Epoch 0 has no training accuracy: with one epoch the series is one point, which must still show.
      { name: 'train', x: [0, 1], y: [Number.NaN, 0.6] },
      { name: 'val', x: [0, 1, 2, 3], y: [0.1, 0.7, 0.8, 0.85], marker: 'circle' },
      { name: 'plain', x: [0, 1, 2, 3], y: [0.2, 0.3, 0.4, 0.5], marker: 'none' },
      { name: 'undone', x: [1, 2], y: [0.3, 0.2], line: false, marker: 'diamond', hollow: true, colour: '#123456' },
    ],
  });
  // train: one circle (its default shape) + legend; val: 4 circles + legend; plain: none.
  assert.equal(count(svg, '<circle'), 2 + 5);
  // Three lines: val, plain, and no line for the one-point train or the scatter-only series.
  assert.equal(count(svg, '<polyline'), 2);
  // The hollow diamonds: white inside, the series colour around; two points and the legend sample.
  assert.equal(count(svg, 'fill="#ffffff" stroke="#123456"'), 3);
  // A scatter-only series has no line sample in the legend.
  assert.equal(count(svg, 'stroke="#123456" stroke-width="2.5"'), 0);
  // Dense curves get no markers unless asked.
  const dense = linePlot({ title: 'dense', xLabel: '', yLabel: '', series: [{ name: 'd', x: Array.from({ length: 200 }, (_, i) => i), y: Array.from({ length: 200 }, (_, i) => Math.sin(i)) }] });
  assert.equal(count(dense, '<circle'), 0);
  expectPlotError(() => linePlot({ ...lineSpec, series: [{ name: 'nothing', x: [1], y: [1], line: false, marker: 'none' }] }), { series: 'nothing', field: 'marker' });
});

test('linePlot: point labels sit inside the plot area, on top of the data', () => {
  const svg = linePlot({ title: 'kept', xLabel: '', yLabel: '', series: [{ name: 'a', x: [0, 50, 100], y: [90, 80, 70] }], labels: [{ x: 100, y: 70, text: 'kept: step 12' }] });
  const m = [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*>kept: step 12<\/text>/g)];
  assert.equal(m.length, 2, 'the label and its white halo');
  const frame = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/.exec(svg)!.slice(1).map(Number) as [number, number, number, number];
  const x = Number(m[0]![1]);
  // The point is on the right edge: the label goes to its left, and stays inside the frame.
  assert.ok(x >= frame[0] && x + 'kept: step 12'.length * 11 * 0.6 <= frame[0] + frame[2] + 0.5, `label at x ${x}, frame ${frame}`);
  assert.ok(svg.lastIndexOf('kept: step 12') > svg.lastIndexOf('<polyline'), 'drawn after the curve');
});

test('integer axes: epochs and steps tick on whole numbers, other data as before', () => {
  assert.deepEqual(niceTicks(0, 3, 8, { integer: true }), [0, 1, 2, 3]);
  assert.deepEqual(niceTicks(0, 1, 9, { integer: true }), [0, 1]);
  assert.deepEqual(niceTicks(2, 2, 5, { integer: true }), [1, 2, 3]);
  assert.deepEqual(niceTicks(0, 40, 9, { integer: true }), niceTicks(0, 40, 9), 'wide ranges are unchanged');
  const epochs = linePlot({ title: 'e', xLabel: 'epoch', yLabel: '', series: [{ name: 'a', x: [0, 1, 2, 3], y: [1, 2, 3, 4] }] });
  assert.deepEqual(xTickLabels(epochs), ['0', '1', '2', '3'], 'no half epochs');
  // A fractional x keeps fractional ticks; xInteger forces whole ones.
  assert.ok(xTickLabels(linePlot({ title: 'f', xLabel: '', yLabel: '', series: [{ name: 'a', x: [0, 0.5, 1], y: [1, 2, 3] }] })).includes('0.2'));
  assert.deepEqual(xTickLabels(linePlot({ title: 'f', xLabel: '', yLabel: '', xInteger: true, series: [{ name: 'a', x: [0, 0.5, 3], y: [1, 2, 3] }] })), ['0', '1', '2', '3']);
  // Bars of channel counts and histogram counts: whole numbers on the value axis.
  assert.deepEqual(yTickLabels(barPlot({ title: 'b', xLabel: '', yLabel: '', categories: ['conv1', 'conv2'], series: [{ name: 'after', values: [1, 3] }] })), ['0', '1', '2', '3']);
  assert.deepEqual(yTickLabels(histogramPlot({ title: 'h', xLabel: '', series: [{ name: 's', values: [0.1, 0.2, 0.2, 0.9] }], bins: 4 })), ['0', '1', '2', '3']);
});

test('log axes say so in their label', () => {
  const svg = linePlot({ title: 'lr', xLabel: 'learning rate', yLabel: 'loss', logX: true, series: [{ name: 'l', x: [1e-4, 1e-3, 1e-2], y: [1, 0.5, 2] }] });
  assert.ok(texts(svg).includes('learning rate (log scale)'));
  assert.ok(texts(linePlot({ title: 'lr', xLabel: 'log10 lr', yLabel: '', logX: true, series: [{ name: 'l', x: [1, 10], y: [1, 2] }] })).includes('log10 lr'), 'a label that says log already is kept');
  assert.ok(texts(linePlot({ title: 'lin', xLabel: 'epoch', yLabel: '', series: [{ name: 'l', x: [1, 10], y: [1, 2] }] })).includes('epoch'));
  assert.ok(texts(histogramPlot({ title: 'h', xLabel: '|γ|', yLabel: 'channels', logY: true, series: [{ name: 's', values: [1, 2] }] })).includes('channels (log scale)'));
});

test('barPlot: long layer names are wrapped or rotated to fit, never cut at the end or off the image', () => {
  const height = 500;
  // Level, wrapped after the dots: a few medium names.
  const wrapped = barPlot({ title: 'w', xLabel: 'layer', yLabel: '', width: 400, categories: ['features.0.conv', 'features.3.conv', 'classifier.fc'], series: [{ name: 'a', values: [1, 2, 3] }] });
  assert.ok(!wrapped.includes('rotate(-45'));
  assert.ok(texts(wrapped).includes('features.0.') && texts(wrapped).includes('conv'), texts(wrapped).join('|'));
  // Rotated: twelve resnet layer names keep their whole text.
  const names = ['conv1', ...['1', '2', '3'].flatMap((s) => ['0', '1', '2'].map((b) => `layer${s}.${b}.conv1`)), 'layer2.0.shortcut', 'layer3.0.shortcut', 'fc'];
  const rotated = barPlot({ title: 'r', xLabel: 'layer', yLabel: '', height, categories: names, series: [{ name: 'a', values: names.map((_, i) => i) }] });
  assert.ok(rotated.includes('rotate(-45'));
  for (const n of names) assert.ok(texts(rotated).includes(n), `${n} shown whole`);
  // Far too long: cut in the middle (both ends stay), and still inside the image.
  const long = 'conv1+layer1.0.conv2+layer1.1.conv2+layer1.2.conv2';
  const svg = barPlot({ title: 'l', xLabel: 'layer', yLabel: '', height, categories: [long, 'fc'], width: 300, series: [{ name: 'a', values: [1, 2] }] });
  const label = texts(svg).find((t) => t.startsWith('conv1+'))!;
  assert.ok(label.includes('…') && label.endsWith('conv2'), label);
  for (const m of svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)" font-size="([\d.]+)"[^>]*text-anchor="end" transform="rotate\(-45[^>]*>([^<]*)</g)) {
    const [x, y, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const reach = m[4]!.length * size * 0.6 * Math.SQRT1_2;
    assert.ok(x - reach >= 0 && y + reach <= height - 20, `'${m[4]}' at (${x}, ${y}) reaches (${x - reach}, ${y + reach})`);
  }
});

// ---------------------------------------------------------------- errors

test('PlotError: mismatched x/y lengths name the series', () => {
  expectPlotError(() => linePlot({ ...lineSpec, series: [{ name: 'short y', x: [1, 2, 3], y: [1, 2] }] }), { series: 'short y', re: /x has 3 values but y has 2/ });
});

test('PlotError: an empty series list', () => {
  expectPlotError(() => linePlot({ ...lineSpec, series: [] }), { field: 'series', re: /"Accuracy <vs> epoch/ });
  expectPlotError(() => barPlot({ title: 'b', xLabel: '', yLabel: '', categories: ['a'], series: [] }), { field: 'series' });
  expectPlotError(() => histogramPlot({ title: 'h', xLabel: '', series: [] }), { field: 'series' });
});

test('PlotError: a series with no finite points names the series', () => {
  expectPlotError(() => linePlot({ ...lineSpec, series: [lineSpec.series[0]!, { name: 'diverged', x: [1, 2], y: [Number.NaN, Infinity] }] }), { series: 'diverged', re: /no finite points/ });
  expectPlotError(() => histogramPlot({ title: 'h', xLabel: '', series: [{ name: 'all nan', values: [Number.NaN] }] }), { series: 'all nan' });
});

test('PlotError: values/categories mismatch names the series', () => {
  expectPlotError(
    () => barPlot({ title: 'b', xLabel: '', yLabel: '', categories: ['a', 'b', 'c'], series: [{ name: 'ok', values: [1, 2, 3] }, { name: 'after', values: [1, 2] }] }),
    { series: 'after', field: 'values', re: /2 values but there are 3 categories/ },
  );
  expectPlotError(() => barPlot({ title: 'b', xLabel: '', yLabel: '', categories: ['a'], series: [{ name: 'nan', values: [Number.NaN] }] }), { series: 'nan' });
});

test('PlotError: bad ranges, sizes, bins and log-axis values', () => {
  expectPlotError(() => linePlot({ ...lineSpec, yRange: [1, 0] }), { field: 'yRange' });
  expectPlotError(() => linePlot({ ...lineSpec, width: 10 }), { field: 'width' });
  expectPlotError(() => linePlot({ ...lineSpec, logX: true, series: [{ name: 'from zero', x: [0, 1], y: [1, 2] }] }), { series: 'from zero', field: 'x' });
  expectPlotError(() => histogramPlot({ title: 'h', xLabel: '', bins: 0, series: [{ name: 's', values: [1] }] }), { field: 'bins' });
});

// ---------------------------------------------------------------- savePlot

test('savePlot: PNG of the requested size, not blank, with the series colour; no temp files left', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'line.png');
  await savePlot(linePlot({ title: 'one curve', xLabel: 'x', yLabel: 'y', width: 640, height: 400, series: [{ name: 's', x: [0, 1, 2, 3], y: [0, 1, 0, 1] }] }), path);
  const meta = await sharp(path).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, 640);
  assert.equal(meta.height, 400);
  const stats = await sharp(path).stats();
  assert.ok(stats.channels.some((c) => c.stdev > 0), 'not a blank image');
  assert.ok((await pixelsNear(path, PALETTE[0]!)) > 200, 'the series colour is drawn');
  assert.equal(await pixelsNear(path, PALETTE[1]!), 0, 'no second series colour');
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['line.png']);

  // Bars are solid fills: the exact palette colours appear.
  const bars = join(dir, 'bars.png');
  await savePlot(barPlot({ title: 'bars', xLabel: '', yLabel: '', categories: ['a', 'b'], series: [{ name: 'p', values: [1, 2] }, { name: 'q', values: [2, 1] }] }), bars);
  assert.ok((await pixelsNear(bars, PALETTE[0]!, 0)) > 1000);
  assert.ok((await pixelsNear(bars, PALETTE[1]!, 0)) > 1000);
});

test('savePlot: .svg writes the text; other extensions are refused', async (t) => {
  const dir = tempDir(t);
  const svg = histogramPlot({ title: 'h', xLabel: 'v', series: [{ name: 's', values: [1, 2, 3] }] });
  await savePlot(svg, join(dir, 'h.svg'));
  assert.equal(readFileSync(join(dir, 'h.svg'), 'utf8'), svg);
  await assert.rejects(savePlot(svg, join(dir, 'h.jpg')), (e: unknown) => e instanceof PlotError && e.field === 'path');
  await assert.rejects(savePlot('<svg', join(dir, 'bad.png')), (e: unknown) => e instanceof PlotError && e.field === 'svg');
  assert.deepEqual(readdirSync(dir), ['h.svg']);
});

function fontsInstalled(): boolean | undefined {
  try {
    return execFileSync('fc-list', { encoding: 'utf8' }).trim() !== '';
  } catch {
    return undefined; // no fc-list: cannot tell, so try rendering anyway
  }
}

test('savePlot: text is rendered (needs a font fontconfig can find)', { skip: fontsInstalled() === false ? 'no fonts installed (fc-list is empty)' : false }, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'text.png');
  // Only a title and axis labels, no ticks in the band we look at: dark pixels there are glyphs.
  await savePlot(linePlot({ title: 'TITLE TEXT RENDERS', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 1], y: [0, 1] }] }), path);
  const band = await sharp(path).extract({ left: 250, top: 8, width: 300, height: 28 }).greyscale().raw().toBuffer();
  const dark = band.filter((v) => v < 100).length;
  assert.ok(dark > 50, `title glyphs drawn (${dark} dark pixels)`);
});

test('seedSpreadPlot: each seed a point at its group, the mean, a ± 1 std whisker (none with one seed), the label at the mean', async () => {
  const { seedSpreadPlot } = await import('./plot.js');
  const spec = seedSpreadPlot({ title: 't', xLabel: 'x', yLabel: 'y', groups: [{ label: 'a', values: [1, 3], mean: 2, std: Math.SQRT2 }, { label: 'b', values: [5], mean: 5, std: null }] });
  const by = (name: string) => spec.series.find((s) => s.name === name)!;
  assert.deepEqual([by('each seed').x, by('each seed').y], [[1, 1, 2], [1, 3, 5]]);
  assert.deepEqual([by('mean').x, by('mean').y], [[1, 2], [2, 5]]);
  assert.deepEqual(by('mean ± 1 std').x.map(String), ['1', '1', 'NaN']);
  assert.deepEqual(by('mean ± 1 std').y.slice(0, 2), [2 - Math.SQRT2, 2 + Math.SQRT2]);
  assert.deepEqual(spec.labels, [{ x: 1, y: 2, text: 'a' }, { x: 2, y: 5, text: 'b' }]);
  assert.deepEqual(spec.xRange, [0.5, 2.5]);
});
