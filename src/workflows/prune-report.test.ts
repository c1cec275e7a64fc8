// The prune report's pieces that need no model: the stop line (true with a
// floor, without one, when no step met it, when none ran), the grid and
// refinement steps as plot points (shares against the base model), and the
// accuracy plot's spec (every step marked, the kept model starred and
// labelled, grid and refinement points kept vs not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StepRecord } from '../prune/index.js';
import { linePlot } from '../report/plot.js';
import { accuracyPlot, finishPoints, keptLine, type FinishPoint } from './prune-report.js';

/** A loop step on a base with groups conv1 (8 channels) and conv2 (16), all removable. */
function step(step: number, from: number, channels: { conv1: number; conv2: number }, accuracy: number, floor = 0.5): StepRecord {
  const removed = 8 - channels.conv1 + (16 - channels.conv2);
  return {
    step, from, layers: '', removed, share_removed: removed / 24, params: 1, macs: 1, params_x: 1, macs_x: 1,
    accuracy, balanced_accuracy: accuracy - 0.01, meets_floor: accuracy >= floor, seconds: 0, channels,
  };
}

const BASE = { params: 100, macs: 100, accuracy: 0.9, balanced_accuracy: 0.89 };

test('keptLine: true in every case', () => {
  const h = [step(1, 0, { conv1: 6, conv2: 14 }, 0.8), step(2, 1, { conv1: 4, conv2: 12 }, 0.4)];
  assert.equal(keptLine({ history: h, bestStep: 1 }, 0.5), 'kept step 1, the smallest model that met the floor (50 %)');
  assert.equal(keptLine({ history: h, bestStep: 0 }, 0.85), 'kept the base model: no step met the floor (85 %)');
  assert.equal(keptLine({ history: h, bestStep: 2 }, undefined), 'kept step 2, the last one (no accuracy floor)');
  assert.equal(keptLine({ history: [], bestStep: 0 }, 0.5), 'kept the base model (no step ran)');
});

test('finishPoints: grid and refinement shares counted against the base model, as the loop counts them', () => {
  const base = { sizes: { conv1: 8, conv2: 16 }, removable: 24 };
  // The loop's own records agree with the recount.
  const loop = step(3, 2, { conv1: 5, conv2: 9 }, 0.7);
  const recount = finishPoints({ refine: { model: null, attempts: [{ record: loop, kept: true }] } }, base)[0]!;
  assert.equal(recount.shareRemoved, loop.share_removed);
  // A grid step's record counts from the model it started at (here share 0.1 of that one): the plot needs the base's.
  const grid = { ...step(1, 0, { conv1: 4, conv2: 8 }, 0.6), share_removed: 0.1 };
  const pts = finishPoints(
    {
      snap: { model: null, limits: {}, attempts: [{ from: 3, record: grid, kept: false }, { from: 2, kept: true }] },
      refine: { model: null, attempts: [{ record: step(1, 0, { conv1: 4, conv2: 6 }, 0.55), kept: true }, { record: step(2, 1, { conv1: 2, conv2: 6 }, 0.3), kept: false }] },
    },
    base,
  );
  assert.deepEqual(
    pts.map((p) => [p.phase, p.shareRemoved, p.accuracy, p.kept]),
    [
      ['grid', 12 / 24, 0.6, false],
      ['refine', 14 / 24, 0.55, true],
      ['refine', 16 / 24, 0.3, false],
    ],
    'an attempt already on the grid (no record) is no point',
  );
});

test('accuracyPlot: every step marked, backtracked steps hollow, grid and refinement points, the kept model starred and labelled', () => {
  // Step 2 fell under the floor and was undone (backtracking): step 3 went on from step 1.
  const history = [step(1, 0, { conv1: 6, conv2: 14 }, 0.8), step(2, 1, { conv1: 2, conv2: 10 }, 0.3), step(3, 1, { conv1: 5, conv2: 12 }, 0.7)];
  const finish: FinishPoint[] = [
    { phase: 'grid', shareRemoved: 0.5, accuracy: 0.6, kept: true },
    { phase: 'refine', shareRemoved: 0.625, accuracy: 0.625, kept: true },
    { phase: 'refine', shareRemoved: 0.75, accuracy: 0.25, kept: false },
  ];
  const spec = accuracyPlot(BASE, { history, bestStep: 3 }, 0.5, 'validation', finish);
  const by = new Map(spec.series.map((s) => [s.name, s]));
  const acc = by.get('accuracy')!;
  assert.deepEqual(acc.x, [0, (2 + 2) / 24 * 100, (3 + 4) / 24 * 100], 'the path: base, step 1, step 3');
  assert.deepEqual(acc.y, [90, 80, 70]);
  assert.equal(acc.marker, 'circle', 'every step of the path is marked');
  const undone = by.get('steps undone (backtracking)')!;
  assert.deepEqual([undone.y, undone.line, undone.hollow], [[30], false, true]);
  assert.deepEqual([by.get('grid step')!.x, by.get('grid step')!.hollow], [[50], false]);
  assert.deepEqual([by.get('1 refinement step kept')!.y, by.get('refinement, under the floor')!.y], [[62.5], [25]]);
  // The kept model is the last kept refinement step, not the loop's step 3.
  const kept = by.get('kept model')!;
  assert.deepEqual([kept.x, kept.y, kept.marker, kept.line], [[62.5], [62.5], 'star', false]);
  assert.deepEqual(spec.labels, [{ x: 62.5, y: 62.5, text: 'kept: refinement 1' }]);
  assert.deepEqual(spec.hLines, [{ y: 50, label: 'floor' }]);
  // It draws: markers on the path, a star, the label.
  const svg = linePlot(spec);
  assert.ok(svg.includes('>kept: refinement 1<') && svg.includes('<polygon'));

  // Without grid or refinement, the loop's kept step carries the star; no floor: no floor line.
  const plain = accuracyPlot(BASE, { history, bestStep: 3 }, undefined, 'test');
  assert.deepEqual(plain.labels, [{ x: (7 / 24) * 100, y: 70, text: 'kept: step 3' }]);
  assert.deepEqual(plain.hLines, []);
  assert.ok(!plain.series.some((s) => s.name.startsWith('grid') || s.name.includes('refinement')));
  assert.deepEqual(accuracyPlot(BASE, { history: [], bestStep: 0 }, 0.5, 'validation').labels, [{ x: 0, y: 90, text: 'kept: base model' }]);
});
