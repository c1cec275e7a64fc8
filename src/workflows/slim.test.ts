// slimRun in process (the CLI test runs the command in a child process):
// the typed report is what the files say (result.json through the one
// mapping, metrics.jsonl per epoch, the pruned checkpoint's size), progress
// and log reach the observer, an aborted signal returns an interrupted report
// instead of throwing, and spec errors name the field before any run exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, summarize } from '../graph/index.js';
import { setNumThreads } from '../tensor/index.js';
import { tempDir } from '../data/testing.js';
import { UsageError } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { slimResultJson, slimRun, type SlimSpec } from './slim.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const SMALL: SlimSpec = { dataset: 'mnist-digits', fraction: 0.05, arch: 'resnet20', width: 0.25, lambdas: [1e-2], epochs: 1, finetuneEpochs: 1, latencyRuns: 1 };

test('slimRun: the report is what the run directory holds; progress and log reach the observer', async (t) => {
  const runsDir = tempDir(t, 'slimnet-slim-wf-');
  const events: ProgressEvent[] = [];
  const lines: string[] = [];
  const r = await slimRun({ ...SMALL, runsDir }, { onProgress: (e) => events.push(e), onLog: (l) => lines.push(l) });
  assert.equal(r.interrupted, false);
  assert.equal(r.run, join(runsDir, 'slim', 'mnist-digits-resnet20', 'version_0'));
  const o = r.outcome!;
  assert.ok(o);

  // result.json is the report through slimResultJson; base_acc is the test split's accuracy of the λ model.
  const written = JSON.parse(readFileSync(join(r.run, 'result.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(written, JSON.parse(JSON.stringify(slimResultJson(r))));
  assert.equal(written.base_acc, r.perLambda[0]!.testAccuracy);
  assert.equal(written.base_val_acc, r.perLambda[0]!.valAccuracy);

  // Every epoch of the report is a metrics.jsonl row, in order: epoch 0, the sparsity epoch, the fine-tuning epoch.
  const rows = readFileSync(join(r.run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const history = r.perLambda[0]!.history;
  assert.deepEqual(rows.map((x) => [x.phase, x.epoch]), [['sparsity', 0], ['sparsity', 1], ['finetune', 1]]);
  for (const [i, e] of history.entries()) {
    assert.equal(rows[i]!.sparsity, e.sparsity);
    assert.equal(rows[i]!.gamma_mean, e.gammaMean);
    assert.equal(rows[i]!.val_acc, e.valAccuracy);
  }
  assert.equal(history[1]!.valAccuracy, r.perLambda[0]!.valAccuracy);

  // The pruned checkpoint is the model the outcome measures.
  const { model } = loadCheckpoint(o.checkpoint);
  assert.equal(summarize(model.graph).totals.params, o.after.params);
  model.dispose();
  assert.equal(o.channelsRemoved, Math.round(0.5 * o.channelsTotal));
  assert.ok(o.paramsReduction > 1 && o.macsReduction > 1);
  const status = JSON.parse(readFileSync(join(r.run, 'status.json'), 'utf8')) as { status: string; test: { accuracy: number } };
  assert.equal(status.status, 'complete');
  assert.equal(status.test.accuracy, o.after.testAccuracy);

  // One training task per epoch and phase, counted in images, each finished.
  const train = events.filter((e) => e.id === 'sparsity.1e-2.train.0');
  assert.ok(train.length > 1);
  assert.equal(train[train.length - 1]!.done, train[0]!.total);
  assert.equal(train[0]!.unit, 'img');
  assert.ok(events.some((e) => e.id === 'finetune.train.0' && e.done === e.total));
  // The log lines are run.log's.
  assert.ok(lines.some((l) => l.startsWith('run ')));
  const log = readFileSync(join(r.run, 'run.log'), 'utf8');
  for (const l of lines) assert.ok(log.includes(l), l);
});

test('slimRun: an aborted signal returns an interrupted report; spec errors name the field before a run exists', async (t) => {
  const runsDir = tempDir(t, 'slimnet-slim-wf-');
  const stop = new AbortController();
  stop.abort();
  const r = await slimRun({ ...SMALL, runsDir }, { signal: stop.signal });
  assert.equal(r.interrupted, true);
  assert.equal(r.interruptedDuring, 'the sparsity training with λ = 1e-2');
  assert.equal(r.outcome, null);
  assert.deepEqual(r.perLambda, []);
  assert.ok(!existsSync(join(r.run, 'result.json')));
  assert.equal((JSON.parse(readFileSync(join(r.run, 'status.json'), 'utf8')) as { status: string }).status, 'interrupted');

  const other = tempDir(t, 'slimnet-slim-wf-');
  await assert.rejects(slimRun({ ...SMALL, runsDir: other, pruneShare: 1 }), (e: unknown) => e instanceof UsageError && /--prune-share must be in \(0, 1\), got 1/.test(e.message));
  await assert.rejects(slimRun({ ...SMALL, runsDir: other, epochs: 0 }), (e: unknown) => e instanceof UsageError && /--epochs 0 .* needs --checkpoint/.test(e.message));
  await assert.rejects(slimRun({ ...SMALL, runsDir: other, arch: 'lenet5' }), (e: unknown) => e instanceof UsageError && /'lenet5' has no BatchNorm/.test(e.message));
  // A validation split that cannot measure accuracy, a batch beyond any memory: refused before the run exists.
  await assert.rejects(slimRun({ ...SMALL, runsDir: other, validation: 1 }), (e: unknown) => e instanceof UsageError && /^--validation 1 holds out 1 image for 10 classes/.test(e.message));
  await assert.rejects(slimRun({ ...SMALL, runsDir: other, width: 256, batchSize: 100_000 }), (e: unknown) => e instanceof UsageError && /^--batch-size 100000: a training step of resnet20 \(width 256\) needs about/.test(e.message));
  assert.ok(!existsSync(join(other, 'slim')), 'no run directory for a refused spec');
});

test('slimRun from scratch on an image folder: --image-size sets the input, recorded in config and checkpoints; refused where it does not apply', async (t) => {
  const runsDir = tempDir(t, 'slimnet-slim-folder-');
  const root = tempDir(t, 'slimnet-slim-images-');
  const sharp = (await import('sharp')).default;
  const { mkdirSync } = await import('node:fs');
  for (const split of ['train', 'test']) {
    for (const [k, c] of ['a', 'b'].entries()) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < 6; i++) await sharp(Buffer.alloc(20 * 20 * 3, 40 + 120 * k + i), { raw: { width: 20, height: 20, channels: 3 } }).png().toFile(join(root, split, c, `${i}.png`));
    }
  }
  const spec: SlimSpec = { dataset: 'folder', root, imageSize: 16, arch: 'resnet20', width: 0.25, lambdas: [1e-2], epochs: 1, finetuneEpochs: 0, latencyRuns: 1, validation: 0, batchSize: 4 };
  const r = await slimRun({ ...spec, runsDir });
  // The model takes 16 px images (resnet20 is size-agnostic in parameters: check the input node and the data).
  const { model, meta } = loadCheckpoint(join(r.run, 'lambda_1e-2.safetensors'));
  assert.deepEqual(model.graph.inputs[0]!.attrs.shape, [3, 16, 16]);
  assert.equal(meta.imageSize, 16);
  assert.equal(JSON.parse(readFileSync(join(r.run, 'config.json'), 'utf8')).imageSize, 16);
  model.dispose();
  await assert.rejects(slimRun({ ...SMALL, imageSize: 32, runsDir }), (e: unknown) => e instanceof UsageError && /--image-size 32 does not apply to mnist-digits/.test(e.message));
  await assert.rejects(slimRun({ ...SMALL, imageSize: 0, runsDir }), (e: unknown) => e instanceof UsageError && /--image-size must be a whole number/.test(e.message));
});
