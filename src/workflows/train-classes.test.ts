// `slimnet train --classes` and `--lr-by-kind` end to end on a sliver of the
// bundled digits: the model gets one output per chosen class, the checkpoint
// records the subset so checkpointData (prune, slim, the studies) takes it
// again, a resume keeps it, a frozen family (lr 0) keeps its initial weights,
// and early stopping watches the validation balanced accuracy. Then prune on
// that checkpoint: its own subset, and an explicit --classes of the wrong size
// refused before any run directory exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model, loadCheckpoint } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { checkpointData, resolveData } from '../data/index.js';
import { tempDir } from '../data/testing.js';
import { RUN_FILES } from '../runs/index.js';
import { UsageError } from '../util/errors.js';
import { trainRun } from './train.js';
import { pruneRun } from './prune.js';
import type { TrainSpec } from './train-spec.js';

test('train --classes 5,3 --lr-by-kind conv=0: two outputs, the subset recorded and taken again; prune uses it', async (t) => {
  const root = tempDir(t, 'slimnet-wf-classes-');
  // Early stopping can only stop here: no epoch improves the balanced accuracy by more than 1 (all of it).
  const spec: TrainSpec = {
    dataset: 'mnist-digits', classes: ['5', '3'], fraction: 0.02, validation: 0.25, width: 0.25, batchSize: 8, epochs: 3, lr: 0.01, lrByKind: { conv: 0 },
    earlyStoppingMonitor: 'val.balancedAccuracy', earlyStoppingPatience: 1, earlyStoppingMinDelta: 1, runsDir: root,
  };
  const lines: string[] = [];
  const r = await trainRun(spec, { onLog: (l) => lines.push(l) });
  assert.equal(r.status, 'early-stopped');
  assert.equal(r.epochsDone, 2, 'epoch 1 sets the best, epoch 2 does not beat it by 1');
  assert.match(r.message ?? '', /no improvement of val\.balancedAccuracy for 1 epoch; restored the weights of epoch 1/);
  assert.ok(lines.some((l) => /2 classes \(5, 3\)/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /lr 0\.01 \(conv 0\)/.test(l)), lines.join('\n'));

  const config = JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(config.classes, ['5', '3']);
  assert.deepEqual(config.lrByKind, { conv: 0 });

  const { model, meta } = loadCheckpoint(r.checkpoints.last);
  const fresh = Model.create(buildArch('lenet5', { inChannels: 1, classes: 2, imageSize: 28, widthMultiplier: 0.25 }), { seed: 0 });
  try {
    assert.equal(model.graph.shape(model.graph.outputs[0]!).at(-1), 2, 'one output per chosen class');
    assert.deepEqual(meta.classes, ['5', '3']);
    assert.deepEqual(meta.classSubset, ['5', '3']);
    // lr 0 on the convolutions: their weights are the initial ones; the linear layers moved.
    const before = new Map(fresh.namedParameters().map(([k, p]) => [k, [...p.data<'float32'>()]]));
    for (const [k, p] of model.namedParameters()) {
      const same = JSON.stringify([...p.data<'float32'>()]) === JSON.stringify(before.get(k));
      assert.equal(same, k.startsWith('conv'), k);
    }
  } finally {
    model.dispose();
    fresh.dispose();
  }

  // The provenance gives the same data back: classes, order and split.
  const again = checkpointData(meta, {}, r.checkpoints.last);
  const direct = resolveData({ dataset: 'mnist-digits', classes: ['5', '3'], fraction: 0.02, validation: 0.25, seed: 0 });
  assert.deepEqual(again.classes, ['5', '3']);
  assert.deepEqual([...again.train.labels()], [...direct.train.labels()]);
  assert.deepEqual([...again.validation!.labels()], [...direct.validation!.labels()]);
  assert.equal(again.test.length, direct.test.length);

  // A resume keeps the subset; another one is refused.
  const resumed = await trainRun({ dataset: 'mnist-digits', runsDir: root, resume: r.version });
  assert.equal(resumed.status, 'already-complete');
  assert.deepEqual(resumed.config.classes, ['5', '3']);
  await assert.rejects(trainRun({ dataset: 'mnist-digits', classes: ['5', '4'], runsDir: root, resume: r.version }), (e: unknown) => e instanceof UsageError && /was trained with --classes \["5","3"\]/.test(e.message));

  // prune: an explicit subset of the wrong size names both counts, before any run directory.
  await assert.rejects(
    pruneRun({ checkpoint: r.checkpoints.last, classes: ['1', '2', '3'], runsDir: root }),
    (e: unknown) => e instanceof UsageError && e.message === `${r.checkpoints.last} has 2 outputs, but --classes 1,2,3 selects 3 classes of mnist-digits: give as many classes as the model has outputs, in the order of its head`,
  );
  assert.equal(existsSync(join(root, 'prune')), false);
  // Its own subset from the checkpoint: the pruned checkpoint records it too.
  const p = await pruneRun({ checkpoint: r.checkpoints.last, protocol: 'none', maxSteps: 1, noFloor: true, scoreBatches: 1, latencyRuns: 1, runsDir: root });
  const pruned = loadCheckpoint(p.checkpoint);
  try {
    assert.deepEqual(pruned.meta.classSubset, ['5', '3']);
    assert.equal(pruned.model.graph.shape(pruned.model.graph.outputs[0]!).at(-1), 2);
  } finally {
    pruned.model.dispose();
  }
});
