// pruneRun in-process on a tiny LeNet trained here on a sliver of the bundled
// digits: the report is checked against the run directory it wrote, against
// the pruned checkpoint, and against evaluations made here independently;
// then an aborted signal, a bad spec and the default floor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

const SMALL: Omit<PruneSpec, 'checkpoint' | 'runsDir'> = { criterion: 'taylor', retrainIters: 3, scoreBatches: 2, stepFraction: 0.2, maxSteps: 2, latencyRuns: 2 };

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
  assert.equal(r.floor, null, 'maxSteps given: no default floor');
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

test('resolvePruneSpec: the default floor applies only without a floor, target or step limit', () => {
  assert.equal(resolvePruneSpec({ checkpoint: 'a' }).maxDrop, DEFAULT_MAX_DROP);
  assert.equal(resolvePruneSpec({ checkpoint: 'a', maxSteps: 3 }).maxDrop, undefined);
  assert.equal(resolvePruneSpec({ checkpoint: 'a', minAccuracy: 0.9 }).maxDrop, undefined);
  assert.equal(resolvePruneSpec({ checkpoint: 'a', targetMacsX: 4 }).maxDrop, undefined);
  const s = resolvePruneSpec({ checkpoint: 'a', criterion: undefined });
  assert.equal(s.criterion, 'taylor', 'undefined fields take the defaults');
  assert.equal(s.retrainIters, 100);
});
