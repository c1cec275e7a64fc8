// transtailorRun in-process: a lenet5 (width 0.25) trained one epoch on 5 %
// of the bundled digits by trainRun is the source; the target is three of the
// digit classes. The report is checked against the run directory, the final
// checkpoint (evaluated here independently) and its ONNX file run in
// onnxruntime; then bad input (before any run directory exists), an
// aborted signal, and a run interrupted after iteration 1 and resumed
// (--version), compared with the same run uninterrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader, evalTransform, readProvenance, resolveData } from '../data/index.js';
import { tempDir } from '../data/testing.js';
import { Model, loadCheckpoint, saveCheckpoint, summarize } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { setNumThreads } from '../tensor/index.js';
import { evaluate } from '../train/index.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { trainRun } from './train.js';
import type { TransTailorIteration } from '../prune/transtailor/loop.js';
import { transtailorResultJson, transtailorRun, type TransTailorSpec } from './transtailor.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

let sourcePath: Promise<string> | undefined;
/** The source: trained once for the whole file, in a temporary folder removed after the last test. */
function source(): Promise<string> {
  if (!sourcePath) {
    const dir = mkdtempSync(join(tmpdir(), 'slimnet-tt-source-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    sourcePath = trainRun({ dataset: 'mnist-digits', arch: 'lenet5', fraction: 0.05, width: 0.25, batchSize: 16, epochs: 1, runsDir: dir }).then((r) => r.checkpoints.last);
  }
  return sourcePath;
}

const TINY: Omit<TransTailorSpec, 'source' | 'runsDir'> = {
  dataset: 'mnist-digits', classes: ['0', '1', '2'], fraction: 0.05, tau: 100, pruneShare: 0.2, alphaIters: 2, importanceBatches: 1,
  finetuneEpochs: 1, patience: 0, maxIterations: 2, batchSize: 16, latencyRuns: 2,
};

test('transtailorRun: files, complete records, a smaller final model with provenance, its ONNX matches', async (t) => {
  const src = await source();
  const dir = tempDir(t, 'slimnet-tt-');
  const lines: string[] = [];
  const events: ProgressEvent[] = [];
  const r = await transtailorRun({ ...TINY, source: src, runsDir: dir }, { onLog: (l) => lines.push(l), onProgress: (e) => events.push(e) });

  assert.equal(r.interrupted, false);
  assert.equal(r.run, join(dir, 'transtailor', 'mnist-digits-lenet5', 'version_0'));
  assert.deepEqual(r.classes, ['0', '1', '2']);
  for (const f of ['config.json', 'status.json', 'run.log', 'iterations.jsonl', 'iterations.csv', 'finetuned.safetensors', 'kept.safetensors', 'final.safetensors', 'final.onnx', 'accuracy.png', 'channels.png', 'result.json']) assert.ok(existsSync(join(r.run, f)), f);
  assert.deepEqual(JSON.parse(readFileSync(join(r.run, 'result.json'), 'utf8')), JSON.parse(JSON.stringify(transtailorResultJson(r))));
  assert.equal(readFileSync(join(r.run, 'run.log'), 'utf8'), lines.map((l) => `${l}\n`).join(''));
  assert.equal(JSON.parse(readFileSync(join(r.run, 'status.json'), 'utf8')).status, 'complete');
  assert.ok(events.some((e) => e.id === 'transtailor.alpha') && events.some((e) => e.id === 'transtailor.fine-tune') && events.some((e) => e.id === 'transtailor.transfer'));

  // Two iterations (τ 100 keeps both), each complete, each shrinking the model.
  assert.equal(r.iterations.length, 2);
  assert.equal(r.keptIterations, 2);
  assert.match(r.stoppedBecause, /2 iterations done/);
  const jsonl = readFileSync(join(r.run, 'iterations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(jsonl, JSON.parse(JSON.stringify(r.iterations)));
  assert.equal(readFileSync(join(r.run, 'iterations.csv'), 'utf8').trim().split('\n').length, 3);
  let params = r.paramsBefore;
  for (const it of r.iterations) {
    assert.ok(Object.values(it.removed).reduce((a, b) => a + b, 0) >= 1);
    assert.ok(it.params < params, `iteration ${it.iteration} did not shrink`);
    params = it.params;
    for (const v of [it.balancedAccuracyBefore, it.balancedAccuracyAfter]) assert.ok(v >= 0 && v <= 1);
    assert.ok(it.seconds > 0 && it.kept);
  }

  // The final checkpoint: the report's size, a 3-class head, provenance of the target, no α; test balanced accuracy recomputed here.
  const { model, meta } = loadCheckpoint(r.checkpoint);
  t.after(() => model.dispose());
  const totals = summarize(model.graph).totals;
  assert.equal(totals.params, r.paramsAfter);
  assert.ok(r.paramsAfter < r.paramsBefore && r.macsAfter < r.macsBefore);
  assert.equal(r.paramsAfter, r.iterations[1]!.params);
  assert.deepEqual(model.graph.shape(model.graph.outputs[0]!), [3]);
  assert.ok(model.graph.nodes.every((n) => n.kind !== 'channel_scale'), 'an α node is left');
  const prov = readProvenance(meta, r.checkpoint);
  assert.equal(prov.dataset, 'mnist-digits');
  assert.deepEqual(prov.classes, ['0', '1', '2']);
  assert.ok(prov.normalize);
  const data = resolveData({ dataset: 'mnist-digits', validation: 0.1, fraction: 0.05, seed: 0, classes: ['0', '1', '2'], normalize: prov.normalize! });
  const testLoader = new DataLoader(data.test, { batchSize: 500, transform: evalTransform(data.norm) });
  try {
    model.eval();
    assert.equal((await evaluate(model, testLoader, 3)).balancedAccuracy, r.finalTestBalancedAccuracy);
  } finally {
    await testLoader.close();
  }
  // final.onnx as written, run in onnxruntime against the loaded checkpoint.
  const v = await verifyOnnx(model, new Uint8Array(readFileSync(r.onnx)), { batch: 3 });
  assert.ok(v.maxAbsDiff <= 1e-4 && v.problems.length === 0, `final.onnx differs by ${v.maxAbsDiff}`);
  assert.ok(r.latency.ortB1.beforeMs > 0 && r.latency.ortB64.afterMs > 0);
});

test('transtailorRun: bad input is one clear error each, before any run directory exists', async (t) => {
  const src = await source();
  const dir = tempDir(t, 'slimnet-tt-bad-');
  // A source that takes 3x32x32 images (resnet20) for 1x28x28 digits.
  const rgb = join(dir, 'rgb.safetensors');
  const m = Model.create(buildArch('resnet20', { widthMultiplier: 0.25 }), { seed: 0 });
  saveCheckpoint(rgb, m, { arch: 'resnet20', dataset: 'cifar10' });
  m.dispose();
  const cases: [Partial<TransTailorSpec>, (e: unknown) => boolean][] = [
    [{ source: rgb }, (e) => e instanceof UsageError && /takes input \[3, 32, 32\].*gives \[1, 28, 28\]/.test((e as Error).message)],
    [{ tau: 101 }, (e) => e instanceof UsageError && /--tau/.test((e as Error).message)],
    [{ tau: -0.5 }, (e) => e instanceof UsageError && /--tau/.test((e as Error).message)],
    [{ pruneShare: 1 }, (e) => e instanceof UsageError && /--prune-share/.test((e as Error).message)],
    [{ pruneShare: 0 }, (e) => e instanceof UsageError && /--prune-share/.test((e as Error).message)],
    [{ classes: ["0", "seven"] }, (e) => e instanceof SlimnetError && /no class "seven"/.test((e as Error).message)],
    [{ validation: 0 }, (e) => e instanceof UsageError && /--validation/.test((e as Error).message)],
  ];
  for (const [patch, check] of cases) await assert.rejects(transtailorRun({ ...TINY, source: src, runsDir: dir, ...patch }), check, JSON.stringify(patch));
  assert.equal(existsSync(join(dir, 'transtailor')), false, 'a run directory was created');
});

test('transtailorRun: an aborted signal returns an interrupted report with the fine-tuned model saved', async (t) => {
  const src = await source();
  const dir = tempDir(t, 'slimnet-tt-int-');
  const ac = new AbortController();
  ac.abort();
  const r = await transtailorRun({ ...TINY, source: src, runsDir: dir }, { signal: ac.signal });
  assert.equal(r.interrupted, true);
  assert.equal(r.iterations.length, 0);
  assert.equal(r.paramsAfter, r.paramsBefore);
  assert.equal(JSON.parse(readFileSync(join(r.run, 'status.json'), 'utf8')).status, 'interrupted');
  assert.ok(existsSync(r.checkpoint) && existsSync(r.onnx));
  // Stopped before the transfer fine-tuning ended: no fine-tuned model to resume from, so a resume starts over in the same directory.
  assert.equal(existsSync(join(r.run, 'finetuned.safetensors')), false);
  const lines: string[] = [];
  const again = await transtailorRun({ dataset: TINY.dataset, runsDir: dir, resume: 0 }, { onLog: (l) => lines.push(l) });
  assert.equal(again.run, r.run);
  assert.ok(lines.some((l) => /transfer fine-tuning, which starts over/.test(l)) && lines.some((l) => /^new head/.test(l)));
  assert.deepEqual(again.iterations.map((it) => it.iteration), [1, 2]);
  assert.ok(existsSync(join(r.run, 'finetuned.safetensors')));
});

/** Every weight of a checkpoint as plain numbers, by name. */
function weightsOf(path: string): Record<string, number[]> {
  const { model } = loadCheckpoint(path);
  try {
    return Object.fromEntries(Array.from(model.namedTensors(), ([k, t]) => [k, t.toArray()]));
  } finally {
    model.dispose();
  }
}
const withoutTime = ({ seconds: _s, ...rest }: TransTailorIteration): Omit<TransTailorIteration, 'seconds'> => rest;

test('transtailorRun: interrupted after iteration 1, --version continues at iteration 2 and ends as the uninterrupted run does', async (t) => {
  const src = await source();
  const dir = tempDir(t, 'slimnet-tt-resume-');
  const whole = await transtailorRun({ ...TINY, source: src, runsDir: join(dir, 'whole') });
  assert.equal(whole.iterations.length, 2);

  const ac = new AbortController();
  const first = await transtailorRun({ ...TINY, source: src, runsDir: dir }, { signal: ac.signal, onLog: (l) => l.startsWith('iteration 1:') && ac.abort() });
  assert.equal(first.interrupted, true);
  assert.deepEqual(first.iterations.map(withoutTime), [withoutTime(whole.iterations[0]!)]);
  assert.equal(JSON.parse(readFileSync(join(first.run, 'status.json'), 'utf8')).status, 'interrupted');
  // What a resume reads: the fine-tuned model and iteration 1's model with its accuracy (the next τ reference).
  const kept = loadCheckpoint(join(first.run, 'kept.safetensors'));
  const point = kept.meta.transtailorResume as { iteration: number; valBalancedAccuracy: number; trainBatches: number };
  assert.equal(summarize(kept.model.graph).totals.params, first.iterations[0]!.params);
  kept.model.dispose();
  assert.deepEqual([point.iteration, point.valBalancedAccuracy, point.trainBatches], [1, first.iterations[0]!.balancedAccuracyAfter, first.iterations[0]!.trainBatches]);
  assert.deepEqual(weightsOf(join(first.run, 'finetuned.safetensors')), weightsOf(join(whole.run, 'finetuned.safetensors')));

  // Flags that contradict config.json, or no such version: clear errors, the run untouched.
  const resume = { dataset: TINY.dataset, runsDir: dir, resume: first.version };
  await assert.rejects(transtailorRun({ ...resume, tau: 5, seed: 3 }), (e) => e instanceof UsageError && /was run with --tau 100, --seed 0.*drop --tau, --seed/.test((e as Error).message));
  await assert.rejects(transtailorRun({ ...resume, resume: 7 }), (e) => e instanceof UsageError && /no transtailor run version 7 for mnist-digits/.test((e as Error).message));
  await assert.rejects(transtailorRun({ ...resume, dataset: 'mnist' }), (e) => e instanceof UsageError && /no transtailor run version 0 for mnist/.test((e as Error).message));
  assert.equal(JSON.parse(readFileSync(join(first.run, 'status.json'), 'utf8')).status, 'interrupted');

  // The resume, with flags equal to its own (as a study passes them): iteration 2 only, the same as the uninterrupted run's.
  const lines: string[] = [];
  const second = await transtailorRun({ ...resume, source: src, tau: TINY.tau, classes: TINY.classes }, { onLog: (l) => lines.push(l) });
  assert.equal(second.run, first.run);
  assert.equal(second.interrupted, false);
  assert.ok(lines.some((l) => /continuing at iteration 2/.test(l)) && !lines.some((l) => /^iteration 1:|^new head/.test(l)), lines.join('\n'));
  assert.deepEqual(second.iterations.map((it) => it.iteration), [1, 2]);
  assert.deepEqual(second.iterations.map(withoutTime), whole.iterations.map(withoutTime));
  assert.equal(second.keptIterations, 2);
  assert.equal(second.fineTunedValBalancedAccuracy, whole.fineTunedValBalancedAccuracy);
  assert.equal(second.transferEpochs, whole.transferEpochs);
  assert.equal(second.finalTestBalancedAccuracy, whole.finalTestBalancedAccuracy);
  assert.equal(second.paramsAfter, whole.iterations[1]!.params);
  assert.deepEqual(weightsOf(second.checkpoint), weightsOf(whole.checkpoint));
  assert.deepEqual(weightsOf(join(second.run, 'kept.safetensors')), weightsOf(second.checkpoint));
  const jsonl = readFileSync(join(second.run, 'iterations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(jsonl, JSON.parse(JSON.stringify(second.iterations)));
  assert.equal(readFileSync(join(second.run, 'iterations.csv'), 'utf8').trim().split('\n').length, 3);
  assert.deepEqual(JSON.parse(readFileSync(join(second.run, 'result.json'), 'utf8')), JSON.parse(JSON.stringify(transtailorResultJson(second))));
  assert.equal(JSON.parse(readFileSync(join(second.run, 'status.json'), 'utf8')).status, 'complete');

  // A complete run is not resumed.
  await assert.rejects(transtailorRun(resume), (e) => e instanceof UsageError && /version 0 is complete/.test((e as Error).message));
});
