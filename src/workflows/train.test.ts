// trainRun in-process on a small share of the bundled MNIST digits with a
// quarter-width LeNet: the report agrees with the run directory's files, and
// an aborted run resumed with `resume` ends with the same weights, bit for
// bit, as one that ran straight through (SLIMNET_NUM_THREADS=1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../graph/index.js';
import { loadTensors } from '../tensor/index.js';
import { RUN_FILES, readMetrics, type RunStatusFile } from '../runs/index.js';
import { tempDir } from '../data/testing.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { trainRun, trainResultJson } from './train.js';
import { trainConfigKeys, type TrainSpec } from './train-spec.js';
import { listRuns, listTrainVersions } from './runs.js';
import { evaluateRun } from './evaluate.js';

const SMALL: TrainSpec = { dataset: 'mnist-digits', fraction: 0.05, width: 0.25, batchSize: 16 };

const statusOf = (p: string): RunStatusFile => JSON.parse(readFileSync(join(p, RUN_FILES.status), 'utf8')) as RunStatusFile;

function bytesOf(path: string): Map<string, Uint8Array> {
  const { tensors } = loadTensors(path);
  const out = new Map<string, Uint8Array>();
  for (const [k, t] of Object.entries(tensors)) {
    const d = t.data<'float32'>();
    out.set(k, new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)));
    t.dispose();
  }
  return out;
}

test('trainRun: the report is what the run directory holds', async (t) => {
  const root = tempDir(t, 'slimnet-wf-train-');
  const lines: string[] = [];
  const events: ProgressEvent[] = [];
  const r = await trainRun({ ...SMALL, epochs: 1, runsDir: root }, { onLog: (l) => lines.push(l), onProgress: (e) => events.push(e) });
  assert.equal(r.status, 'complete');
  assert.equal(r.interrupted, false);
  assert.equal(r.version, 0);
  assert.equal(r.run, join(root, 'train', 'mnist-digits-lenet5', 'version_0'));
  for (const f of Object.values(RUN_FILES)) assert.ok(existsSync(join(r.run, f)), `${f} written`);
  // config.json is the report's config: every option, derived defaults resolved.
  const config = JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(config, r.config);
  assert.deepEqual(Object.keys(config).sort(), [...trainConfigKeys()].sort());
  assert.equal(r.config.lr, 0.001, 'the adam default');
  // The history is metrics.jsonl in camelCase.
  const rows = readMetrics(r.run);
  assert.equal(r.epochsDone, 1);
  assert.equal(r.history.length, 1);
  assert.deepEqual(r.history[0], {
    epoch: 1,
    lr: rows[0]!.lr,
    trainLoss: rows[0]!.train_loss,
    trainAccuracy: rows[0]!.train_acc,
    valLoss: rows[0]!.val_loss,
    valAccuracy: rows[0]!.val_acc,
    valBalancedAccuracy: rows[0]!.val_balanced_acc,
    seconds: rows[0]!.seconds,
  });
  assert.deepEqual((trainResultJson(r).metrics as unknown[])[0], rows[0], 'the --json rows are the file rows');
  // status.json agrees with the report.
  const s = statusOf(r.run);
  assert.equal(s.status, 'complete');
  assert.equal(s.epochsDone, 1);
  assert.equal(s.bestValAccuracy, r.bestValAccuracy);
  assert.equal(r.bestValAccuracy, rows[0]!.val_acc);
  assert.equal(r.bestEpoch, 1);
  assert.equal(s.test!.accuracy, r.test!.accuracy);
  assert.equal(s.test!.count, 2000);
  assert.equal(s.params, r.params);
  assert.equal(r.params, 206_954);
  assert.equal(r.macs, 987_264);
  assert.equal(r.bestTest, null, 'the best epoch is the last');
  assert.equal(r.resumeCommand, `slimnet train --dataset mnist-digits --arch lenet5 --runs-dir ${root} --version 0`);
  // The log lines went to run.log too.
  const log = readFileSync(join(r.run, RUN_FILES.log), 'utf8');
  for (const l of lines) assert.ok(log.includes(l.trim()), `run.log has '${l.trim().slice(0, 40)}'`);
  assert.ok(lines.some((l) => /test accuracy\s+[\d.]+ %/.test(l)));
  // Progress: one training task over the epoch's images, ending at its total.
  const trainEvents = events.filter((e) => e.id === 'train');
  assert.equal(trainEvents[0]!.done, 0);
  assert.equal(trainEvents.at(-1)!.done, trainEvents.at(-1)!.total);
  assert.ok(events.some((e) => e.id === 'val'));
  // The test figure is last.safetensors' on the test split.
  const ev = await evaluateRun({ checkpoint: r.checkpoints.last });
  assert.equal(ev.accuracy, r.test!.accuracy);
  assert.equal(ev.balancedAccuracy, r.test!.balancedAccuracy);
  assert.equal(ev.perClass.reduce((a, c) => a + c.support, 0), 2000);
  // The listings see it.
  const versions = listTrainVersions({ root, dataset: 'mnist-digits', arch: 'lenet5' }).versions;
  assert.deepEqual(
    versions.map((v) => [v.version, v.status, v.epochsDone, v.bestValAccuracy, v.testAccuracy]),
    [[0, 'complete', 1, r.bestValAccuracy, r.test!.accuracy]],
  );
  const all = listRuns(root);
  assert.equal(all.length, 1);
  assert.equal(all[0]!.command, 'train');
  assert.equal(all[0]!.macs, 987_264);
  // Resuming a complete run does nothing and says so.
  const again = await trainRun({ ...SMALL, runsDir: root, resume: 0 });
  assert.equal(again.status, 'already-complete');
  assert.equal(again.history.length, 1);
});

test('trainRun: an aborted run returns an interrupted report; resume ends with the same weights as an uninterrupted run', async (t) => {
  const root = tempDir(t, 'slimnet-wf-train-');
  const spec: TrainSpec = { ...SMALL, epochs: 2, runsDir: root };
  const straight = await trainRun(spec);
  assert.equal(straight.status, 'complete');

  const controller = new AbortController();
  const cut = await trainRun(spec, {
    signal: controller.signal,
    // Abort in the middle of the first epoch.
    onProgress: (e) => {
      if (e.id === 'train' && e.done >= 5 * 16) controller.abort();
    },
  });
  assert.equal(cut.status, 'interrupted');
  assert.equal(cut.interrupted, true);
  assert.equal(cut.version, 1);
  assert.equal(cut.epochsDone, 0);
  assert.equal(cut.test, null);
  assert.equal(statusOf(cut.run).status, 'interrupted');
  assert.match(statusOf(cut.run).message!, /interrupted at epoch 1, step 5 of \d+/);
  assert.match(String(loadCheckpoint(cut.checkpoints.last).meta.note), /interrupted at epoch 1, step 5/);

  // A contradicting option is refused, naming the flag.
  await assert.rejects(trainRun({ ...spec, lr: 0.01, resume: 1 }), (e: unknown) => e instanceof UsageError && /--lr/.test(e.message));
  await assert.rejects(trainRun({ ...spec, resume: 7 }), (e: unknown) => e instanceof UsageError && /no run version 7/.test(e.message));

  const lines: string[] = [];
  const resumed = await trainRun({ ...spec, resume: 1 }, { onLog: (l) => lines.push(l) });
  assert.equal(resumed.status, 'complete');
  assert.equal(resumed.version, 1);
  assert.ok(lines.some((l) => /resuming version 1 at epoch 1\/2 \(step 6 of/.test(l)));
  const strip = (h: typeof straight.history) => h.map((r) => ({ ...r, seconds: 0 }));
  assert.deepEqual(strip(resumed.history), strip(straight.history), 'the same epochs');
  assert.equal(resumed.test!.accuracy, straight.test!.accuracy);
  for (const f of [RUN_FILES.last, RUN_FILES.best]) {
    const a = bytesOf(join(straight.run, f));
    const b = bytesOf(join(resumed.run, f));
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, v] of a) assert.ok(Buffer.from(v).equals(Buffer.from(b.get(k)!)), `${f}: '${k}' is bit-identical`);
  }
});

test('trainRun: specs are checked and a non-finite loss stops with a SlimnetError, keeping the initial weights', async (t) => {
  const root = tempDir(t, 'slimnet-wf-train-');
  await assert.rejects(trainRun({ ...SMALL, epochs: 0, runsDir: root }), (e: unknown) => e instanceof UsageError && /--epochs must be >= 1, got 0/.test(e.message));
  await assert.rejects(trainRun({ ...SMALL, batchSize: 'x' as unknown as number, runsDir: root }), (e: unknown) => e instanceof UsageError && /batch-size must be an integer/.test(e.message));
  await assert.rejects(trainRun({ ...SMALL, learningRate: 1 } as TrainSpec, {}), (e: unknown) => e instanceof UsageError && /unknown option 'learningRate'/.test(e.message));
  await assert.rejects(trainRun({ ...SMALL, arch: 'nope', runsDir: root }), (e: unknown) => e instanceof UsageError && /unknown architecture 'nope'/.test(e.message));
  assert.equal(listRuns(root).length, 0, 'no run directory for a bad spec');

  await assert.rejects(trainRun({ ...SMALL, epochs: 1, optimizer: 'sgd', lr: 1e30, runsDir: root }), (e: unknown) => e instanceof Error && e.name === 'TrainingStoppedError' && /the loss became (NaN|-?Infinity) at epoch 1/.test(e.message));
  const p = join(root, 'train', 'mnist-digits-lenet5', 'version_0');
  assert.equal(statusOf(p).status, 'failed');
  assert.match(readFileSync(join(p, RUN_FILES.log), 'utf8'), /error: training stopped/);
  const { model, meta } = loadCheckpoint(join(p, RUN_FILES.last));
  assert.equal(meta.epoch, 0);
  for (const [, w] of model.namedTensors()) assert.ok(w.data<'float32'>().every(Number.isFinite));
  model.dispose();
});

test('trainRun: a set-up failure (data folder, validation split, memory) leaves no run directory', async (t) => {
  const root = tempDir(t, 'slimnet-wf-train-');
  const missing = join(root, 'no-such-folder');
  await assert.rejects(trainRun({ ...SMALL, dataset: 'folder', root: missing, runsDir: root }), (e: unknown) => e instanceof Error && e.message.includes(missing));
  // One image cannot measure accuracy (it is 0 or 100 %): refused, naming the option and the classes.
  await assert.rejects(trainRun({ ...SMALL, validation: 1, runsDir: root }), (e: unknown) => e instanceof UsageError && /^--validation 1 holds out 1 image for 10 classes/.test(e.message));
  await assert.rejects(trainRun({ ...SMALL, validation: 0.01, runsDir: root }), (e: unknown) => e instanceof UsageError && /^--validation 0\.01 holds out 4 images for 10 classes/.test(e.message));
  // A batch far beyond any machine's memory is refused before a weight is allocated.
  const t0 = performance.now();
  await assert.rejects(trainRun({ ...SMALL, width: 64, batchSize: 100_000, runsDir: root }), (e: unknown) => e instanceof UsageError && /^--batch-size 100000: a training step of lenet5 \(width 64\) needs about [\d.]+ GiB/.test(e.message));
  assert.ok(performance.now() - t0 < 5000, 'refused at once');
  assert.equal(existsSync(join(root, 'train')), false, 'no run directory, not even an empty one');
  assert.equal(listRuns(root).length, 0);
});

test('trainRun: a corrupt config.json stops a resume with the file named', async (t) => {
  const root = tempDir(t, 'slimnet-wf-train-');
  const p = join(root, 'train', 'mnist-digits-lenet5', 'version_0');
  mkdirSync(p, { recursive: true });
  writeFileSync(join(p, RUN_FILES.config), '{"epochs": 2,');
  await assert.rejects(trainRun({ dataset: 'mnist-digits', runsDir: root, resume: 0 }), (e: unknown) => e instanceof SlimnetError && e.message.startsWith(`${join(p, RUN_FILES.config)}: not valid JSON`));
});

test('trainRun: a larger epochs extends a complete run; the weights equal a run trained that long from the start', async (t) => {
  const root = tempDir(t, 'slimnet-wf-train-');
  const straight = await trainRun({ ...SMALL, epochs: 2, runsDir: root });
  const short = await trainRun({ ...SMALL, epochs: 1, runsDir: root });
  assert.equal(short.status, 'complete');
  await assert.rejects(trainRun({ ...SMALL, epochs: 1, lr: 0.01, runsDir: root, resume: short.version }), (e: unknown) => e instanceof UsageError && /--lr/.test(e.message));
  const lines: string[] = [];
  const longer = await trainRun({ ...SMALL, epochs: 2, runsDir: root, resume: short.version }, { onLog: (l) => lines.push(l) });
  assert.equal(longer.status, 'complete');
  assert.equal(longer.epochsDone, 2);
  assert.ok(lines.some((l) => /extending version 1 from 1 epoch to 2 \(the cosine schedule re-planned over the new total\); resuming version 1 at epoch 2\/2/.test(l)), lines.join('\n'));
  // The cosine over 2 epochs starts at the same lr as the one over 1: re-planned, the 1 + 1 epochs are the 2-epoch run's.
  const strip = (h: typeof straight.history) => h.map((r) => ({ ...r, seconds: 0 }));
  assert.deepEqual(strip(longer.history), strip(straight.history));
  for (const f of [RUN_FILES.last, RUN_FILES.best]) {
    const a = bytesOf(join(straight.run, f));
    const b = bytesOf(join(longer.run, f));
    for (const [k, v] of a) assert.ok(Buffer.from(v).equals(Buffer.from(b.get(k)!)), `${f}: '${k}' is bit-identical`);
  }
  // Recorded: config.json has the new epochs, status.json the extension.
  assert.equal((JSON.parse(readFileSync(join(longer.run, RUN_FILES.config), 'utf8')) as { epochs: number }).epochs, 2);
  const s = statusOf(longer.run);
  assert.equal(s.epochs, 2);
  assert.deepEqual(s.extensions?.map(({ fromEpochs, toEpochs, atEpoch }) => ({ fromEpochs, toEpochs, atEpoch })), [{ fromEpochs: 1, toEpochs: 2, atEpoch: 1 }]);
  // Fewer epochs than configured is no extension.
  await assert.rejects(trainRun({ ...SMALL, epochs: 1, runsDir: root, resume: short.version }), (e: unknown) => e instanceof UsageError && /--epochs can only grow/.test(e.message));
});
