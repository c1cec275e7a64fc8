// trainRun in-process on a small share of the bundled MNIST digits with a
// quarter-width LeNet: the report agrees with the run directory's files, and
// an aborted run resumed with `resume` ends with the same weights, bit for
// bit, as one that ran straight through (SLIMNET_NUM_THREADS=1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadCheckpoint, summarize } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { DataError, checkpointData, readProvenance } from '../data/index.js';
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

/** An image folder of 32 x 32 PNGs: `classes` per split, 4 images each (a class's images a shade of grey of their own). */
async function imageFolder(root: string, classes: { train: readonly string[]; test: readonly string[] }): Promise<void> {
  for (const split of ['train', 'test'] as const) {
    for (const c of classes[split]) {
      mkdirSync(join(root, split, c), { recursive: true });
      const shade = 40 + 60 * (c.charCodeAt(0) - 97);
      for (let i = 0; i < 4; i++) await sharp(Buffer.alloc(32 * 32 * 3, shade + i), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(root, split, c, `${i}.png`));
    }
  }
}

test('trainRun: an image folder at --image-size 32 builds a 32 px LeNet, records the size and logs the data set warnings', async (t) => {
  const dir = tempDir(t, 'slimnet-wf-train-folder-');
  const root = join(dir, 'images');
  // test/ lacks class b: a warning, not an error.
  await imageFolder(root, { train: ['a', 'b'], test: ['a'] });
  const lines: string[] = [];
  const spec: TrainSpec = { dataset: 'folder', root, arch: 'lenet5', imageSize: 32, epochs: 1, batchSize: 4, evalBatchSize: 4, validation: 0, runsDir: dir };
  const r = await trainRun(spec, { onLog: (l) => lines.push(l) });
  assert.equal(r.status, 'complete');
  // LeNet on 3 x 32 x 32 with 2 classes, by hand: conv1 3*32*25+32, conv2 32*64*25+64, fc1 (64*8*8)*1024+1024, fc2 1024*2+2.
  const hand = 3 * 32 * 25 + 32 + (32 * 64 * 25 + 64) + (64 * 8 * 8 * 1024 + 1024) + (1024 * 2 + 2);
  assert.equal(r.params, hand);
  assert.equal(r.params, summarize(buildArch('lenet5', { inChannels: 3, classes: 2, imageSize: 32 })).totals.params);
  assert.ok(summarize(buildArch('lenet5', { inChannels: 3, classes: 2, imageSize: 224 })).totals.params > 200e6, 'what the 224 px default would have built');
  assert.ok(lines.some((l) => /\[3, 32, 32\] per sample/.test(l)));
  // Recorded in config.json and in the checkpoints' provenance; later commands rebuild the same 32 px data.
  assert.equal((JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as { imageSize: unknown }).imageSize, 32);
  const { model, meta } = loadCheckpoint(r.checkpoints.best);
  model.dispose();
  assert.equal(readProvenance(meta, 'best').imageSize, 32);
  assert.deepEqual(checkpointData(meta, {}, 'best').train.sampleShape, [3, 32, 32]);
  const ev = await evaluateRun({ checkpoint: r.checkpoints.last });
  assert.equal(ev.count, 4);
  assert.equal(ev.accuracy, r.test!.accuracy);
  // The test split's missing class is a warning line, through onLog and in run.log.
  const warning = /^warning: .*no images of class 'b'/;
  assert.ok(lines.some((l) => warning.test(l)), lines.join('\n'));
  assert.ok(readFileSync(join(r.run, RUN_FILES.log), 'utf8').split('\n').some((l) => warning.test(l)), 'in run.log');
  // Resuming with another size is refused naming the flag.
  await assert.rejects(trainRun({ ...spec, imageSize: 28, resume: r.version }), (e: unknown) => e instanceof UsageError && /--image-size 32/.test(e.message));
});

test('trainRun: a test class that train/ lacks is a DataError before any run exists; --image-size on data of a fixed size', async (t) => {
  const dir = tempDir(t, 'slimnet-wf-train-folder-');
  const root = join(dir, 'images');
  await imageFolder(root, { train: ['a', 'b'], test: ['a', 'b', 'c'] });
  await assert.rejects(trainRun({ dataset: 'folder', root, arch: 'lenet5', imageSize: 32, epochs: 1, batchSize: 4, validation: 0, runsDir: dir }), (e: unknown) => e instanceof DataError && /class 'c' has no folder in/.test(e.message));
  // The digits are 28 x 28 and never resized: another size is refused naming the flag, their own is accepted.
  await assert.rejects(trainRun({ ...SMALL, imageSize: 32, runsDir: dir }), (e: unknown) => e instanceof UsageError && /^--image-size 32 does not apply to mnist-digits: its images are 28x28/.test(e.message));
  await assert.rejects(trainRun({ ...SMALL, imageSize: [28, 32], runsDir: dir }), (e: unknown) => e instanceof UsageError && /^--image-size 28,32 does not apply/.test(e.message));
  await assert.rejects(trainRun({ ...SMALL, imageSize: 0, runsDir: dir }), (e: unknown) => e instanceof UsageError && /image-size must be a whole number of pixels/.test(e.message));
  assert.equal(existsSync(join(dir, 'train')), false, 'no run directory');
  const own = await trainRun({ ...SMALL, imageSize: 28, epochs: 1, runsDir: dir });
  assert.equal(own.config.imageSize, 28);
  const { model, meta } = loadCheckpoint(own.checkpoints.last);
  model.dispose();
  assert.equal(meta.imageSize, null, 'not resized');
});

test('trainRun --noise-share / --noise-std: recorded in config.json, the same noise on a rerun, other weights than without noise', async (t) => {
  const root = tempDir(t, 'slimnet-wf-train-noise-');
  const spec: TrainSpec = { ...SMALL, fraction: 0.02, epochs: 1, noiseShare: 0.5, noiseStd: 0.5 };
  const a = await trainRun({ ...spec, runsDir: join(root, 'a') });
  const b = await trainRun({ ...spec, runsDir: join(root, 'b') });
  const clean = await trainRun({ ...SMALL, fraction: 0.02, epochs: 1, runsDir: join(root, 'c') });
  const config = JSON.parse(readFileSync(join(a.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.deepEqual([config.noiseShare, config.noiseStd], [0.5, 0.5]);
  const [wa, wb, wc] = [a, b, clean].map((r) => bytesOf(r.checkpoints.last));
  assert.deepEqual(wa, wb, 'seeded noise repeats');
  assert.notDeepEqual(wa, wc, 'the noise reaches the training batches');
});
