// The grid step: which groups go onto the channel grid, how far, from which
// kept models, and the retraining that keeps its best evaluation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, Model, type Graph } from '../graph/index.js';
import { signSource as source } from '../train/testing.js';
import { SnapCandidates, gridGroups, gridLimits, gridTarget, snapToGrid } from './snap.js';
import { prune, type PruneOptions, type StepRecord } from './protocol.js';

/** LeNet's shape: two convolutions, then two fully connected layers. */
function convNet(c1 = 4, c2 = 3, fc1 = 5): Graph {
  const b = new GraphBuilder('tiny');
  const x = b.relu(b.conv2d(b.input([1, 6, 6]), c1, 3, { padding: 1, name: 'c1' }));
  const y = b.relu(b.conv2d(x, c2, 3, { name: 'c2' }));
  return b.build(b.linear(b.relu(b.linear(b.flatten(y), fc1, { name: 'fc1' })), 2, { name: 'fc2' }));
}

test('gridGroups: the groups convolutions make, not the fully connected ones; only prunable ones', () => {
  assert.deepEqual([...gridGroups(convNet())].sort(), ['c1', 'c2']);
  assert.deepEqual([...gridGroups(convNet(), { exclude: ['c1'] })], ['c2']);
  assert.deepEqual([...gridGroups(convNet(), { layers: ['c1', 'fc1'] })], ['c1']);
});

test('gridLimits: a blocked group goes down to its multiple; one under a block may keep one block; gridTarget cuts only what exceeds', () => {
  const grid = new Set(['conv1', 'conv2']);
  const limits = gridLimits({ conv1: 14, conv2: 18, fc1: 20 }, grid, 16);
  assert.deepEqual(limits, { conv1: 16, conv2: 16 });
  assert.deepEqual(gridLimits({ conv1: 16, conv2: 33 }, grid, 16), { conv1: 16, conv2: 32 });
  // The smallest model loses two maps of conv2 and keeps fc1; a larger one goes to the same shape with fc1 as it is.
  assert.deepEqual(gridTarget({ conv1: 14, conv2: 18, fc1: 20 }, limits), { conv2: 16 });
  assert.deepEqual(gridTarget({ conv1: 18, conv2: 34, fc1: 39 }, limits), { conv1: 16, conv2: 16 });
  assert.deepEqual(gridTarget({ conv1: 16, conv2: 16, fc1: 27 }, limits), {});
});

test('SnapCandidates: holds kept models within the window, picks the smallest first, then larger ones spaced by their shape on the grid', (t) => {
  const model = Model.create(convNet(), { seed: 0 });
  t.after(() => model.dispose());
  const c = new SnapCandidates(4);
  t.after(() => c.dispose());
  const kept = (step: number, params: number, channels: Record<string, number>) => c.onKept(step, model, { step, params, channels } as unknown as StepRecord);
  kept(1, 1000, { conv1: 32, conv2: 64, fc1: 500 });
  kept(2, 240, { conv1: 18, conv2: 34, fc1: 39 }); // step 1 is over 4x step 2's parameters: let go
  kept(3, 200, { conv1: 17, conv2: 27, fc1: 27 });
  kept(4, 150, { conv1: 17, conv2: 27, fc1: 25 });
  kept(5, 100, { conv1: 14, conv2: 18, fc1: 20 });
  assert.deepEqual(c.smallest, { conv1: 14, conv2: 18, fc1: 20 });
  const limits = { conv1: 16, conv2: 16 };
  // Shapes on the grid: step 5 → 14+16+20 = 50, step 4 → 16+16+25 = 57, step 3 → 59, step 2 → 71.
  // Spacing 1.15: 57 < 57.5 is skipped, 59 taken, then 71 ≥ 67.9 taken. Spacing 1.2: only 71 ≥ 60.
  const picks = c.pick(limits, 3, 1.15);
  assert.deepEqual(
    picks.map((p) => [p.step, p.target]),
    [
      [5, { conv2: 16 }],
      [3, { conv1: 16, conv2: 16 }],
      [2, { conv1: 16, conv2: 16 }],
    ],
  );
  assert.deepEqual(
    c.pick(limits, 2, 1.2).map((p) => p.step),
    [5, 2],
  );
  // Candidates are clones: the loop's model can go on changing or be freed.
  assert.notEqual(picks[0]!.model, model);
});

test('the grid step takes the named groups to their counts and keeps the best of its evaluations', async (t) => {
  const model = Model.create(convNet(6, 5, 8), { seed: 1 });
  t.after(() => model.dispose());
  const data = { train: source(4, 16, 21), eval: source(2, 32, 22), classes: 2 };
  const base: PruneOptions = { criterion: 'l1', scope: 'global', norm: 'none', amount: { maps: 1 }, protocol: 'retrain', lr: 3e-2, minAccuracy: 0 };
  const r = await snapToGrid(model, { c1: 4, c2: 4 }, data, base, { iters: 4, checks: 4 });
  t.after(() => r.model?.dispose());
  assert.ok(r.model && r.record);
  assert.deepEqual(r.record.channels, { c1: 4, c2: 4, fc1: 8 });
  assert.equal(r.record.layers, 'c1:-2 c2:-1');
  // Independent truth: the same step with 1, 2, 3 and 4 plain retraining iterations (same data order, same
  // optimiser path) gives the accuracies the checks saw; the grid step's model has the best of them.
  const seen: number[] = [];
  for (let n = 1; n <= 4; n++) {
    const p = await prune(model, data, { ...base, target: { c1: 4, c2: 4 }, retrainIters: n, maxSteps: 1 });
    seen.push(p.history[0]!.accuracy);
    p.best.dispose();
  }
  assert.notEqual(seen[3], Math.max(...seen), 'the last iterate is not the best here, so keeping the last would fail');
  assert.equal(r.record.accuracy, Math.max(...seen));
  // Nothing to cut: no step.
  const none = await snapToGrid(model, {}, data, base, { iters: 4 });
  assert.equal(none.model, null);
  assert.equal(none.record, undefined);
});
