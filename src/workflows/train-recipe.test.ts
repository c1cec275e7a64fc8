// trainRun with `recipe: 'seed002'` on a small share of the bundled digits:
// config.json records the recipe and every value it resolved to, and a run
// interrupted and resumed with `resume` goes on with those values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readProvenance } from '../data/index.js';
import { loadCheckpoint } from '../graph/index.js';
import { RUN_FILES } from '../runs/index.js';
import { tempDir } from '../data/testing.js';
import { trainRun } from './train.js';
import { trainConfigKeys, type TrainSpec } from './train-spec.js';

const SMALL: TrainSpec = { dataset: 'mnist-digits', fraction: 0.05, width: 0.25, batchSize: 16, recipe: 'seed002' };

test('trainRun with the seed002 recipe: config.json records it and its values; a resumed run keeps them', async (t) => {
  const root = tempDir(t, 'slimnet-wf-recipe-');
  const controller = new AbortController();
  const first = await trainRun({ ...SMALL, epochs: 2, runsDir: root }, { signal: controller.signal, onProgress: (e) => void (e.id === 'train' && e.done >= 3 * 16 && controller.abort()) });
  assert.equal(first.status, 'interrupted');
  const config = JSON.parse(readFileSync(join(first.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(config).sort(), [...trainConfigKeys()].sort());
  const expected = { recipe: 'seed002', optimizer: 'sgd', lr: 0.5, momentum: 0.9, schedule: 'cosine', warmupEpochs: 1, labelSmoothing: 0.1, weightDecay: 5e-4, augment: 'seed002', normalize: 'imagenet', validation: 0.1, epochs: 2 };
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(config[k], v, k);
  assert.deepEqual(first.config, config);
  // Resumed without the recipe flag: the run's own values.
  const resumed = await trainRun({ dataset: 'mnist-digits', arch: 'lenet5', runsDir: root, resume: first.version });
  assert.equal(resumed.status, 'complete');
  assert.deepEqual(resumed.config, config);
  assert.deepEqual(JSON.parse(readFileSync(join(resumed.run, RUN_FILES.config), 'utf8')), config);
  assert.equal(resumed.history.length, 2);
  assert.ok(resumed.history[0]!.lr < resumed.history[1]!.lr, `warm-up then the base lr: ${resumed.history.map((h) => h.lr).join(', ')}`);
});

// The normalisation reaches the data (and so the checkpoint's provenance)
// once trainRun resolves its data with trainDataSpec(config): see the report.
test('trainRun with --normalize imagenet normalises with ImageNet statistics (recorded in the checkpoint)', async (t) => {
  const root = tempDir(t, 'slimnet-wf-recipe-');
  const r = await trainRun({ ...SMALL, recipe: 'none', normalize: 'imagenet', epochs: 1, runsDir: root });
  const { model, meta } = loadCheckpoint(r.checkpoints.last);
  model.dispose();
  assert.deepEqual(readProvenance(meta, r.checkpoints.last).normalize, { mean: [0.449], std: [0.226] });
});
