// pruneRun in-process on a tiny LeNet trained here on a sliver of the bundled
// digits: the report is checked against the run directory it wrote, against
// the pruned checkpoint, and against evaluations made here independently;
// then an aborted signal, a bad spec and the default floor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DataLoader, evalTransform, resolveData, type ResolvedData } from '../data/index.js';
import { tempDir } from '../data/testing.js';
import { Model, loadCheckpoint, saveCheckpoint, summarize } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { channelTable } from '../report/channels.js';
import { Trainer, buildOptimizer, evaluate } from '../train/index.js';
import { UsageError } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { DEFAULT_MAX_DROP, pruneResultJson, pruneRun, resolvePruneSpec, type PruneSpec } from './prune.js';

const DATA = { dataset: 'mnist-digits', validation: 0.25, fraction: 0.1, seed: 0 } as const;

/** A lenet5 at a quarter width trained one epoch on 600 digits (200 held out), saved with its provenance. */
async function trainedCheckpoint(dir: string): Promise<{ path: string; data: ResolvedData }> {
  const data = resolveData(DATA);
  const model = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  const loader = new DataLoader(data.train, { batchSize: 32, shuffle: true, seed: 1, transform: evalTransform(data.norm) });
  try {
    await new Trainer({ model, optimizer: buildOptimizer(model, { type: 'adam', lr: 1e-3 }) }).fit(loader, { epochs: 1 });
    const path = join(dir, 'base.safetensors');
    saveCheckpoint(path, model, { ...DATA, command: 'train', arch: 'lenet5', normalize: data.norm });
    return { path, data };
  } finally {
    model.dispose();
    await loader.close();
  }
}

async function accuracy(path: string, split: 'validation' | 'test', data: ResolvedData): Promise<number> {
  const { model } = loadCheckpoint(path);
  const loader = new DataLoader(split === 'validation' ? data.validation! : data.test, { batchSize: 500, transform: evalTransform(data.norm) });
  try {
    model.eval();
    return (await evaluate(model, loader, data.classes.length)).accuracy;
  } finally {
    model.dispose();
    await loader.close();
  }
}

/** Two steps whatever the accuracy (noFloor): the tests below check what the steps leave, not where a floor stops them. */
const SMALL: Omit<PruneSpec, 'checkpoint' | 'runsDir'> = { criterion: 'taylor', retrainIters: 3, scoreBatches: 2, stepFraction: 0.2, maxSteps: 2, noFloor: true, latencyRuns: 2 };

test('pruneRun: the report matches the run directory, the pruned checkpoint and independent evaluations', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-workflow-');
  const { path: base, data } = await trainedCheckpoint(dir);
  const events: ProgressEvent[] = [];
  const lines: string[] = [];
  const r = await pruneRun({ ...SMALL, checkpoint: base, snapTo: 2, snapIters: 2, finetuneEpochs: 1, runsDir: dir }, { onProgress: (e) => events.push(e), onLog: (l) => lines.push(l) });

  assert.equal(r.interrupted, false);
  assert.equal(r.floorSplit, 'validation');
  assert.equal(r.run, join(dir, 'prune', 'mnist-digits-lenet5', 'version_0'));
  assert.equal(r.steps, 2);
  assert.equal(r.history.length, 2);
  assert.equal(r.floor, null, 'noFloor: no floor');
  assert.ok(lines.includes(`stopped: 2 steps done; kept step 2, the last one (no accuracy floor)`), lines.join('\n'));
  // Files: every one the command has always written, and result.json is the report's snake_case form.
  for (const f of ['config.json', 'status.json', 'run.log', 'steps.csv', 'steps.jsonl', 'channels.csv', 'pruned.safetensors', 'pruned.onnx', 'result.json', 'accuracy.png', 'channels.png']) assert.ok(existsSync(join(r.run, f)), f);
  assert.deepEqual(JSON.parse(readFileSync(join(r.run, 'result.json'), 'utf8')), JSON.parse(JSON.stringify(pruneResultJson(r))));
  assert.deepEqual(readFileSync(join(r.run, 'steps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)), JSON.parse(JSON.stringify(r.history)));
  assert.equal(readFileSync(join(r.run, 'steps.csv'), 'utf8').trim().split('\n').length, 3);
  assert.equal(readFileSync(join(r.run, 'run.log'), 'utf8'), lines.map((l) => `${l}\n`).join(''), 'run.log holds exactly the logged lines');
  const status = JSON.parse(readFileSync(join(r.run, 'status.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(status.status, 'complete');
  assert.equal(status.params, r.paramsAfter);
  assert.equal(JSON.parse(readFileSync(join(r.run, 'config.json'), 'utf8')).maxSteps, 2);

  // The pruned checkpoint is what the report says.
  const pruned = loadCheckpoint(r.checkpoint);
  const original = loadCheckpoint(base);
  assert.equal(summarize(pruned.model.graph).totals.params, r.paramsAfter);
  assert.equal(summarize(original.model.graph).totals.params, r.paramsBefore);
  assert.equal(r.paramsX, r.paramsBefore / r.paramsAfter);
  assert.ok(r.paramsX > 1.2, `paramsX ${r.paramsX}`);
  assert.deepEqual(r.channels, channelTable(original.model.graph, pruned.model.graph));
  assert.equal(pruned.meta.prunedFrom, base);
  pruned.model.dispose();
  original.model.dispose();
  // The grid step took the convolutions onto even counts.
  if (r.snap?.startsWith('onto')) for (const c of r.channels.filter((x) => x.layer.startsWith('conv'))) assert.equal(c.after % 2, 0, c.layer);

  // Which split each accuracy is on: measured here independently.
  assert.equal(r.baseFloorAccuracy, await accuracy(base, 'validation', data));
  assert.equal(r.prunedFloorAccuracy, await accuracy(r.checkpoint, 'validation', data));
  assert.equal(r.baseTestAccuracy, await accuracy(base, 'test', data));
  assert.equal(r.prunedTestAccuracy, await accuracy(r.checkpoint, 'test', data));
  // Fine-tuning is kept only if it did not lower the floor split's accuracy.
  assert.equal(r.finetune?.epochs, 1);
  assert.equal(r.finetune!.kept, r.finetune!.afterAccuracy >= r.finetune!.beforeAccuracy);
  assert.equal(r.prunedFloorAccuracy, Math.max(r.finetune!.beforeAccuracy, r.finetune!.afterAccuracy));

  // Progress: retraining per step, the grid step and fine-tuning, each task counted to its total.
  const ids = new Set(events.map((e) => e.id));
  assert.ok(ids.has('prune.retrain') && ids.has('prune.finetune'), [...ids].join(', '));
  const ft = events.filter((e) => e.id === 'prune.finetune');
  assert.equal(ft.at(-1)!.done, ft.at(-1)!.total);
  assert.ok(events.some((e) => e.id === 'prune.retrain' && e.label === 'step 1 retrain' && e.done === 3 && e.total === 3));
  assert.ok(lines.some((l) => /onnxruntime latency b64/.test(l)), 'the before/after table is logged');
});

test('pruneRun: an aborted signal stops before the first step; the model is still saved and reported, status interrupted', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-workflow-');
  const { path: base } = await trainedCheckpoint(dir);
  const stop = new AbortController();
  stop.abort();
  const r = await pruneRun({ ...SMALL, checkpoint: base, snapTo: 2, finetuneEpochs: 1, runsDir: dir }, { signal: stop.signal });
  assert.equal(r.interrupted, true);
  assert.equal(r.steps, 0);
  assert.equal(r.snap, null, 'no grid step after an interruption');
  assert.equal(r.paramsAfter, r.paramsBefore);
  assert.ok(existsSync(r.checkpoint) && existsSync(r.onnx));
  assert.equal(JSON.parse(readFileSync(join(r.run, 'status.json'), 'utf8')).status, 'interrupted');
});

test('pruneRun: a bad spec is a UsageError naming the flag, before any run directory exists', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-workflow-');
  await assert.rejects(pruneRun({ checkpoint: join(dir, 'x.safetensors'), criterion: 'magic', runsDir: dir }), (e: unknown) => e instanceof UsageError && /--criterion must be one of/.test(e.message));
  await assert.rejects(pruneRun({ checkpoint: join(dir, 'x.safetensors'), maxDrop: 0.3, minAccuracy: 0.9, runsDir: dir }), UsageError);
  await assert.rejects(pruneRun({ checkpoint: join(dir, 'x.safetensors'), snapIters: 0, runsDir: dir }), /--snap-iters must be a positive integer/);
  assert.deepEqual(readdirSync(dir), []);
});

test('resolvePruneSpec: the default floor applies unless a floor is given or noFloor removes it; a step limit or target does not', () => {
  assert.equal(resolvePruneSpec({ checkpoint: 'a' }).maxDrop, DEFAULT_MAX_DROP);
  assert.equal(resolvePruneSpec({ checkpoint: 'a', maxSteps: 3 }).maxDrop, DEFAULT_MAX_DROP, 'issue 13: --max-steps once switched the floor off');
  assert.equal(resolvePruneSpec({ checkpoint: 'a', targetMacsX: 4 }).maxDrop, DEFAULT_MAX_DROP);
  assert.equal(resolvePruneSpec({ checkpoint: 'a', minAccuracy: 0.9 }).maxDrop, undefined);
  assert.equal(resolvePruneSpec({ checkpoint: 'a', maxDrop: 1 }).maxDrop, 1);
  assert.equal(resolvePruneSpec({ checkpoint: 'a', noFloor: true, maxSteps: 3 }).maxDrop, undefined);
  assert.throws(() => resolvePruneSpec({ checkpoint: 'a', noFloor: true }), (e: unknown) => e instanceof UsageError && /--no-floor needs another place to stop: --max-steps/.test(e.message));
  assert.throws(() => resolvePruneSpec({ checkpoint: 'a', noFloor: true, maxSteps: 3, maxDrop: 1 }), /give it or --max-drop, not both/);
  const s = resolvePruneSpec({ checkpoint: 'a', criterion: undefined });
  assert.equal(s.criterion, 'taylor', 'undefined fields take the defaults');
  assert.equal(s.retrainIters, 100);
});

test('resolvePruneSpec: every bad value is a UsageError naming its flag, in words', () => {
  const cases: [Partial<PruneSpec>, RegExp][] = [
    [{ criterion: 'tayler' }, /^--criterion must be one of .*taylor.*, got 'tayler'$/],
    [{ stepFraction: 1.5 }, /^--step-fraction must be in \(0, 1\], got 1\.5$/],
    [{ stepMaps: 0 }, /^--step-maps must be a positive integer, got 0$/],
    [{ lr: 0 }, /^--lr must be a positive number .*got 0$/],
    [{ lr: -1 }, /^--lr must be a positive number .*got -1$/],
    [{ lr: Number.NaN }, /^--lr must be a positive number/],
    [{ finetuneEpochs: -1 }, /^--finetune-epochs must be a whole number of epochs \(0: none\), got -1$/],
    [{ fromScratchEpochs: 1.5 }, /^--from-scratch-epochs must be a whole number/],
    [{ targetParamsX: 0.5 }, /^--target-params-x is a reduction factor greater than 1 .*got 0\.5$/],
    [{ targetMacsX: 1 }, /^--target-macs-x is a reduction factor greater than 1/],
    [{ maxSteps: 0 }, /^--max-steps must be a positive integer, got 0$/],
    [{ maxSteps: -1 }, /^--max-steps must be a positive integer, got -1$/],
    [{ evalBatchSize: 0 }, /^--eval-batch-size must be a positive integer, got 0$/],
    [{ batchSize: 2.5 }, /^--batch-size must be a positive integer/],
    [{ validation: 1.5 }, /^--validation is a count of images or a fraction in \[0, 1\) \(0: none\), got 1\.5$/],
    [{ validation: -1 }, /^--validation/],
    [{ seed: 0.5 }, /^--seed must be an integer, got 0\.5$/],
    [{ patience: -1 }, /^--patience/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(() => resolvePruneSpec({ checkpoint: 'a', ...spec }), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(spec));
  }
});

test('pruneRun: a step limit keeps the default floor; the kept model meets it and the stop line says so truly', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-workflow-');
  const { path: base } = await trainedCheckpoint(dir);
  const lines: string[] = [];
  // Big steps: the second one (40 % of the channels gone) is unlikely to keep the accuracy; either way the line must be true.
  const r = await pruneRun({ criterion: 'l1', protocol: 'none', stepFraction: 0.4, maxSteps: 2, latencyRuns: 1, checkpoint: base, runsDir: dir }, { onLog: (l) => lines.push(l) });
  assert.ok(Math.abs(r.floor! - (r.baseFloorAccuracy - DEFAULT_MAX_DROP / 100)) < 1e-12, `floor ${r.floor}`);
  assert.ok(r.prunedFloorAccuracy >= r.floor!, `kept ${r.prunedFloorAccuracy} under the floor ${r.floor}`);
  const stop = lines.find((l) => l.startsWith('stopped: '))!;
  if (r.keptStep === 0) assert.match(stop, /kept the base model: no step met the floor/);
  else {
    assert.ok(r.history[r.keptStep - 1]!.meets_floor);
    assert.match(stop, new RegExp(`kept step ${r.keptStep}, the smallest model that met the floor`));
  }
  assert.ok(lines.some((l) => /floor [\d.]+ %, at most 2 steps/.test(l)), 'the settings line names the floor and the step limit');
});

test('pruneRun: image folders are resized to the model input, and the data set’s warnings are logged', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-folder-');
  const root = join(dir, 'images');
  // train/ has classes a and b; test/ lacks b: a warning, not an error. Images are 40 x 36: not the model's 28 x 28, nor 224.
  for (const [split, classes] of [['train', ['a', 'b']], ['test', ['a']]] as const) {
    for (const c of classes) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < 4; i++) {
        const raw = Buffer.alloc(40 * 36 * 3, c === 'a' ? 40 + i : 200 - i);
        await sharp(raw, { raw: { width: 40, height: 36, channels: 3 } }).png().toFile(join(root, split, c, `${i}.png`));
      }
    }
  }
  const model = Model.create(buildArch('lenet5', { inChannels: 3, classes: 2, widthMultiplier: 0.25 }), { seed: 0 });
  const ckpt = join(dir, 'folder.safetensors');
  saveCheckpoint(ckpt, model, { dataset: 'folder', root, validation: 0, seed: 0, command: 'train', arch: 'lenet5' });
  model.dispose();
  const lines: string[] = [];
  const r = await pruneRun({ criterion: 'l1', protocol: 'none', stepMaps: 1, maxSteps: 1, noFloor: true, batchSize: 4, evalBatchSize: 4, latencyRuns: 1, checkpoint: ckpt, runsDir: dir }, { onLog: (l) => lines.push(l) });
  assert.equal(r.steps, 1);
  assert.equal(r.floorSplit, 'test');
  assert.ok(lines.some((l) => /^warning: .*no images of class 'b'/.test(l)), lines.filter((l) => l.startsWith('warning')).join('\n'));
  assert.equal(readFileSync(join(r.run, 'run.log'), 'utf8').match(/no images of class 'b'/g)?.length, 1, 'said once, in run.log too');
});
