// TransTailor's loop on tiny nets: iterations remove the asked share of the
// still removable filters (globally, by β), τ keeps or stops (against the
// last kept model, on validation), the returned model has no α left and
// exports to ONNX that onnxruntime runs identically, a residual net's groups
// work, and bad options are UsageErrors naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads } from '../../tensor/index.js';
import { Model, summarize } from '../../graph/index.js';
import { buildArch } from '../../models/index.js';
import { exportOnnx } from '../../export/onnx/export.js';
import { verifyOnnx } from '../../export/onnx/verify.js';
import { evaluate } from '../../train/index.js';
import { UsageError } from '../../util/errors.js';
import { trainedTinyNet } from '../testing.js';
import { randomSource } from '../../train/testing.js';
import { DependencyGraph } from '../dependency.js';
import { transtailor, type TransTailorIteration, type TransTailorOptions } from './loop.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const sgd = { type: 'sgd', lr: 0.01, momentum: 0.9 } as const;

/** Channels a global selection of `share` takes: of the removable channels above one per group. */
const expectedRemoval = (model: Model, share: number): number => {
  const dep = new DependencyGraph(model.graph);
  const capacity = dep.groups.reduce((s, g) => s + Math.min(g.channels.length, g.size - 1), 0);
  return Math.max(1, Math.round(share * capacity));
};

async function onnxMatches(model: Model, what: string): Promise<void> {
  const r = await verifyOnnx(model, exportOnnx(model), { batch: 2 });
  const scale = Math.max(1, ...r.outputs.flatMap((o) => Array.from(o.onnx, Math.abs)));
  assert.ok(r.maxAbsDiff <= 1e-4 * scale && r.problems.length === 0, `${what}: export differs by ${r.maxAbsDiff} (${r.problems.join('; ')})`);
}

test('transtailor: two iterations on a trained tinyNet, each removes pruneShare of the remaining filters; within τ; complete record; no α left; onnxruntime matches', async () => {
  const { model, train, val } = await trainedTinyNet(8);
  const base = (await evaluate(model, val, 2)).balancedAccuracy;
  const before = summarize(model.graph).totals;
  const tau = 30;
  const o: TransTailorOptions = { tau, pruneShare: 0.25, alphaIters: 4, alphaLr: 0.05, importanceBatches: 2, fineTune: { iters: 8 }, optimizer: sgd, maxIterations: 2 };
  const seen: number[] = [];
  const r = await transtailor(model, { train, val, classes: 2 }, o, { onIteration: (it) => seen.push(it.iteration) });
  assert.equal(r.iterations.length, 2);
  assert.deepEqual(seen, [1, 2]);
  assert.match(r.stoppedBecause, /2 iterations done/);
  assert.equal(r.interrupted, false);
  assert.equal(r.baseBalancedAccuracy, base);
  // The input is untouched.
  assert.equal(summarize(model.graph).totals.params, before.params);
  // Each iteration removes the share of what was still removable then.
  let params = before.params;
  let macs = before.macs;
  let ref = base;
  for (const it of r.iterations) {
    const removed = Object.values(it.removed).reduce((a, b) => a + b, 0);
    assert.ok(removed >= 1, `iteration ${it.iteration} removed nothing`);
    if (it.iteration === 1) assert.equal(removed, expectedRemoval(model, 0.25));
    assert.ok(it.params < params && it.macs < macs, `iteration ${it.iteration} did not shrink the model`);
    params = it.params;
    macs = it.macs;
    for (const v of [it.balancedAccuracyBefore, it.balancedAccuracyAfter]) assert.ok(v >= 0 && v <= 1);
    assert.ok(it.seconds > 0);
    assert.equal(it.kept, (ref - it.balancedAccuracyAfter) * 100 <= tau);
    if (it.kept) ref = it.balancedAccuracyAfter;
  }
  // The second iteration's share is of the filters left after the first.
  const totalRemoved = r.iterations.reduce((s, it) => s + Object.values(it.removed).reduce((a, b) => a + b, 0), 0);
  assert.ok(totalRemoved > expectedRemoval(model, 0.25));
  assert.ok(r.iterations.every((it) => it.kept));
  assert.ok((r.baseBalancedAccuracy - r.balancedAccuracy) * 100 <= 2 * tau);
  assert.equal(r.balancedAccuracy, (await evaluate(r.model, val, 2)).balancedAccuracy);
  assert.equal(summarize(r.model.graph).totals.params, r.iterations[1]!.params);
  assert.ok(r.model.graph.nodes.every((n) => n.kind !== 'channel_scale'), 'an α node is left');
  await onnxMatches(r.model, 'tinyNet after transtailor');
  r.model.dispose();
  model.dispose();
});

/** Every weight of a model as plain numbers, by name. */
const weights = (m: Model): Record<string, number[]> => Object.fromEntries(Array.from(m.namedTensors(), ([k, t]) => [k, t.toArray()]));
const withoutTime = ({ seconds: _s, ...rest }: TransTailorIteration): Omit<TransTailorIteration, 'seconds'> => rest;

test('transtailor: start continues a loop stopped after iteration 1 exactly as the uninterrupted loop runs iteration 2', async () => {
  const { model, train, val } = await trainedTinyNet(8);
  const data = { train, val, classes: 2 };
  // 4 α updates + 2 β batches + 8 fine-tuning updates = 14 batches per iteration: iteration 2 starts inside the stream's second epoch (8 batches).
  const o: TransTailorOptions = { tau: 100, pruneShare: 0.25, alphaIters: 4, alphaLr: 0.05, importanceBatches: 2, fineTune: { iters: 8 }, optimizer: sgd };
  const whole = await transtailor(model, data, { ...o, maxIterations: 2 });
  const first = await transtailor(model, data, { ...o, maxIterations: 1 });
  assert.deepEqual(whole.iterations.map((it) => it.trainBatches), [14, 28]);
  assert.deepEqual(withoutTime(first.iterations[0]!), withoutTime(whole.iterations[0]!));
  const keptRefs: number[] = [];
  const rest = await transtailor(first.model, data, { ...o, maxIterations: 2, start: { iteration: 2, balancedAccuracy: first.balancedAccuracy, trainBatches: first.iterations[0]!.trainBatches! } }, { onKept: (m, it) => keptRefs.push(it.iteration, summarize(m.graph).totals.params) });
  assert.equal(rest.baseBalancedAccuracy, first.balancedAccuracy, 'the reference is the kept model\'s accuracy, not evaluated again');
  assert.deepEqual(rest.iterations.map(withoutTime), [withoutTime(whole.iterations[1]!)]);
  assert.deepEqual(keptRefs, [2, whole.iterations[1]!.params]);
  assert.match(rest.stoppedBecause, /2 iterations done/);
  assert.deepEqual(weights(rest.model), weights(whole.model));
  // Started past maxIterations: nothing runs, the input comes back.
  const none = await transtailor(rest.model, data, { ...o, maxIterations: 2, start: { iteration: 3, balancedAccuracy: rest.balancedAccuracy, trainBatches: 28 } });
  assert.equal(none.iterations.length, 0);
  assert.deepEqual(weights(none.model), weights(whole.model));
  for (const m of [whole.model, first.model, rest.model, none.model, model]) m.dispose();
});

test('transtailor: τ = 0 and a certain drop (95 % of the filters, no real fine-tuning) stops at once and returns the last kept model', async () => {
  const { model, train, val } = await trainedTinyNet(8);
  const r = await transtailor(model, { train, val, classes: 2 }, { tau: 0, pruneShare: 0.95, alphaIters: 0, importanceBatches: 1, fineTune: { iters: 1 }, optimizer: { type: 'sgd', lr: 1e-9 } });
  assert.ok(r.baseBalancedAccuracy > 0.8, `the base should be trained (${r.baseBalancedAccuracy})`);
  assert.equal(r.iterations.length, 1);
  const it = r.iterations[0]!;
  assert.equal(it.kept, false);
  assert.ok(it.balancedAccuracyAfter < r.baseBalancedAccuracy, `no drop: ${it.balancedAccuracyAfter}`);
  assert.match(r.stoppedBecause, /more than tau 0 pp/);
  // The last kept model is the input's copy.
  assert.equal(summarize(r.model.graph).totals.params, summarize(model.graph).totals.params);
  assert.equal(r.balancedAccuracy, r.baseBalancedAccuracy);
  r.model.dispose();
  model.dispose();
});

test('transtailor: resnet20 (width 0.25), one iteration with early-stopped fine-tuning: residual groups pruned, no α left, onnxruntime matches', async () => {
  const model = Model.create(buildArch('resnet20', { widthMultiplier: 0.25 }), { seed: 1 }).eval();
  const train = randomSource(2, 4, [3, 32, 32], 10, 5);
  const val = randomSource(1, 4, [3, 32, 32], 10, 6);
  const r = await transtailor(model, { train, val, classes: 10 }, { tau: 100, pruneShare: 0.1, alphaIters: 1, importanceBatches: 1, fineTune: { epochs: 1, patience: 0 }, maxIterations: 1 });
  assert.equal(r.iterations.length, 1);
  assert.equal(r.iterations[0]!.kept, true);
  const removed = r.iterations[0]!.removed;
  assert.equal(Object.values(removed).reduce((a, b) => a + b, 0), expectedRemoval(model, 0.1));
  assert.ok(summarize(r.model.graph).totals.params < summarize(model.graph).totals.params);
  assert.ok(r.model.graph.nodes.every((n) => n.kind !== 'channel_scale'), 'an α node is left');
  await onnxMatches(r.model, 'resnet20 after transtailor');
  r.model.dispose();
  model.dispose();
});

test('transtailor: bad options are UsageErrors naming the field', async () => {
  const { model, train, val } = await trainedTinyNet(1);
  const data = { train, val, classes: 2 };
  const bad: [TransTailorOptions, RegExp][] = [
    [{ tau: -1 }, /tau/],
    [{ tau: 101 }, /tau/],
    [{ tau: NaN }, /tau/],
    [{ pruneShare: 0 }, /pruneShare/],
    [{ pruneShare: 1 }, /pruneShare/],
    [{ alphaIters: 1.5 }, /alphaIters/],
    [{ alphaInit: 'zeros' as 'ones' }, /alphaInit/],
    [{ fineTune: { iters: 0 } }, /fineTune\.iters/],
    [{ fineTune: { epochs: 2, patience: -1 } }, /fineTune\.patience/],
    [{ optimizer: { type: 'sgd', lr: -1 } }, /lr/],
    [{ start: { iteration: 0, balancedAccuracy: 0.5 } }, /start\.iteration/],
    [{ start: { iteration: 2, balancedAccuracy: 50 } }, /start\.balancedAccuracy/],
    [{ start: { iteration: 2, balancedAccuracy: 0.5, trainBatches: -1 } }, /start\.trainBatches/],
  ];
  for (const [o, message] of bad) await assert.rejects(transtailor(model, data, o), (e: Error) => e instanceof UsageError && message.test(e.message));
  model.dispose();
});

test('transtailor: an aborted signal stops between steps and returns the last kept model, interrupted', async () => {
  const { model, train, val } = await trainedTinyNet(1);
  const ac = new AbortController();
  ac.abort();
  const r = await transtailor(model, { train, val, classes: 2 }, { fineTune: { iters: 1 } }, { signal: ac.signal });
  assert.equal(r.interrupted, true);
  assert.equal(r.stoppedBecause, 'interrupted');
  assert.equal(r.iterations.length, 0);
  assert.equal(summarize(r.model.graph).totals.params, summarize(model.graph).totals.params);
  r.model.dispose();
  model.dispose();
});
