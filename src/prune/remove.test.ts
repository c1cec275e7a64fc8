// Dependency groups and physical removal, checked against an independent
// truth: a channel whose every reader weight is zero contributes nothing, so
// removing it must leave the outputs unchanged. And a pruned model is a model
// like any other: it saves, reloads, trains and exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, manualSeed, noGrad, randint, randn, setNumThreads, tidy } from '../tensor/index.js';
import { GraphBuilder, Model, conv2dGeometry, convTranspose2dGeometry, loadCheckpoint, saveCheckpoint, summarize, type Graph } from '../graph/index.js';
import { buildArch, archNames, type ArchOptions } from '../models/index.js';
import { exportOnnx } from '../export/onnx/export.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { channelRules } from './channels.js';
import { DependencyGraph, PruneError } from './dependency.js';
import { removeChannels } from './remove.js';
import { mulberry32 } from '../util/rng.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

/** Nodes that read their input channel by channel through a weight slice: where a removed channel's contribution enters. */
function readerWeightDim(graph: Graph, name: string): 0 | 1 | null {
  const n = graph.node(name);
  if (n.kind === 'linear') return 1;
  if (n.kind === 'conv2d' && conv2dGeometry(n).groups === 1) return 1;
  if (n.kind === 'conv_transpose2d' && convTranspose2dGeometry(n).groups === 1) return 0;
  return null;
}

/** Zeroes, in every reader layer, the weights that read the channels `removed`. */
function silence(model: Model, dep: DependencyGraph, removed: Set<number>): void {
  const g = model.graph;
  noGrad(() => {
    for (const n of g.nodes) {
      const dim = readerWeightDim(g, n.name);
      if (dim === null) continue;
      const w = model.tensor(`${n.name}.weight`);
      const inLayout = dep.layout(n.inputs[0]!);
      for (let p = 0; p < inLayout.length; p++) {
        if (!removed.has(dep.classAt(n.inputs[0]!, p))) continue;
        tidy(() => w.select(dim, p).zero_());
      }
    }
  });
}

function pickRemoved(dep: DependencyGraph, share: number, seed: number): Set<number> {
  const rnd = mulberry32(seed);
  const removed = new Set<number>();
  for (const g of dep.groups) {
    const n = Math.min(g.channels.length, Math.floor(g.size * share));
    const pool = [...g.channels];
    for (let i = 0; i < n && pool.length && g.size - removed.size >= 0; i++) {
      const j = Math.floor(rnd() * pool.length);
      removed.add(pool.splice(j, 1)[0]!);
    }
  }
  return removed;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('every node kind has a pruning rule', () => {
  assert.deepEqual(channelRules.missing(), []);
});

test('lenet5: one group per hidden layer, the classifier is never prunable, fc1 is sliced by spatial blocks', () => {
  const dep = new DependencyGraph(buildArch('lenet5'));
  assert.deepEqual(
    dep.groups.map((g) => [g.name, g.size, g.channels.length]),
    [
      ['conv1', 32, 32],
      ['conv2', 64, 64],
      ['fc1', 1024, 1024],
    ],
  );
  // flatten repeats each conv2 channel over its 7x7 block.
  const flat = dep.layout('flatten');
  assert.equal(flat.length, 64 * 49);
  assert.equal(dep.classAt('flatten', 49 * 3 + 10), dep.classAt('conv2', 3));
  assert.equal(dep.classAt('fc2', 0), -1);
  const removed = new Set([dep.classAt('conv2', 3), dep.classAt('conv2', 7)]);
  const model = Model.create(dep.graph, { seed: 0 });
  const { model: small } = removeChannels(model, dep, removed);
  assert.deepEqual(small.tensor('conv2.weight').shape, [62, 32, 5, 5]);
  assert.deepEqual(small.tensor('fc1.weight').shape, [1024, 62 * 49]);
  // fc1's kept columns are exactly the original ones outside the removed blocks.
  const keptCols = [...Array(64 * 49).keys()].filter((f) => Math.floor(f / 49) !== 3 && Math.floor(f / 49) !== 7);
  const orig = model.tensor('fc1.weight').indexSelect(1, keptCols);
  assert.equal(maxDiff(orig.data<'float32'>(), small.tensor('fc1.weight').data<'float32'>()), 0);
  orig.dispose();
  assert.equal(summarize(small.graph).totals.params, summarize(dep.graph).totals.params - 2 * (800 + 1) - 2 * 49 * 1024);
  model.dispose();
  small.dispose();
});

test('residual adds tie their branches into one group; concat keeps offsets; depthwise follows its input', () => {
  const b = new GraphBuilder('mixed');
  const x = b.input([3, 8, 8]);
  const stem = b.relu(b.batchnorm2d(b.conv2d(x, 6, 3, { padding: 1, name: 'stem' })));
  const c1 = b.batchnorm2d(b.conv2d(stem, 6, 3, { padding: 1, name: 'c1' }));
  const res = b.relu(b.add([stem, c1], { name: 'res' }));
  const dw = b.relu(b.conv2d(res, 6, 3, { padding: 1, groups: 6, name: 'dw' }));
  const side = b.relu(b.conv2d(res, 4, 1, { name: 'side' }));
  const cat = b.concat([dw, side], { name: 'cat' });
  const head = b.linear(b.flatten(b.globalAvgPool(b.conv2d(cat, 5, 1, { name: 'mix' }))), 3, { name: 'fc' });
  const dep = new DependencyGraph(b.build(head));
  assert.deepEqual(
    dep.groups.map((g) => g.name),
    ['stem+c1', 'side', 'mix'],
  );
  assert.equal(dep.classAt('dw', 2), dep.classAt('stem', 2));
  assert.equal(dep.classAt('cat', 6 + 1), dep.classAt('side', 1));
  assert.equal(dep.classAt('cat', 4), dep.classAt('c1', 4));
});

test('excluded layers keep their whole group; a reshape pins what flows through it', () => {
  const b = new GraphBuilder('pins');
  const x = b.input([2, 4, 4]);
  const a = b.relu(b.conv2d(x, 4, 3, { padding: 1, name: 'a' }));
  const c = b.relu(b.conv2d(a, 4, 3, { padding: 1, name: 'c' }));
  const r = b.reshape(c, [4, 16], { name: 'r' });
  const y = b.linear(b.flatten(r), 2, { name: 'out' });
  const dep = new DependencyGraph(b.build(y), { exclude: ['a'] });
  // 'a' is excluded, and c's channels reach the output only through the reshape: nothing is removable.
  assert.deepEqual(dep.groups, []);
  assert.equal(dep.classAt('c', 0), -1);
  assert.deepEqual(new DependencyGraph(dep.graph, { exclude: [] }).groups.map((g) => g.name), ['a']);
  assert.throws(() => new DependencyGraph(dep.graph, { exclude: ['nope'] }), PruneError);
});

test('the zero-weight proof can fail: removing live channels does change the outputs', () => {
  const graph = zooGraph('resnet20');
  const dep = new DependencyGraph(graph);
  const model = randomModel(graph, 1);
  const { model: pruned } = removeChannels(model, dep, pickRemoved(dep, 0.3, 7));
  pruned.eval();
  manualSeed(3);
  const x = randn([2, 3, 32, 32]);
  const [ya, yb] = noGrad(() => [model.forward(x), pruned.forward(x)]);
  assert.ok(maxDiff(ya!.data<'float32'>(), yb!.data<'float32'>()) > 1e-3);
  for (const t of [x, ya!, yb!]) t.dispose();
  model.dispose();
  pruned.dispose();
});

test('removal cannot empty a layer', () => {
  const dep = new DependencyGraph(buildArch('lenet5', { widthMultiplier: 0.25 }));
  const model = Model.create(dep.graph, { seed: 0 });
  const g = dep.group('conv1');
  assert.throws(() => removeChannels(model, dep, g.channels), /with none/);
  assert.throws(() => removeChannels(model, dep, [dep.layout('fc2')[0]!]), PruneError);
  model.dispose();
});

// Small versions of every zoo architecture, so the whole zoo runs in seconds.
const small: Record<string, ArchOptions> = {
  lenet5: { widthMultiplier: 0.25 },
  vgg11: { imageSize: 32, widthMultiplier: 0.125 },
  vgg11_bn: { imageSize: 32, widthMultiplier: 0.125 },
  resnet20: { widthMultiplier: 0.5 },
  resnet18: { imageSize: 32, widthMultiplier: 0.125, classes: 10 },
  resnet50: { imageSize: 32, widthMultiplier: 0.125, classes: 10 },
  mobilenetv2: { imageSize: 32, widthMultiplier: 0.25, classes: 10 },
  densenet_cifar: { widthMultiplier: 0.5 },
};

function zooGraph(name: string): Graph {
  return buildArch(name, small[name] ?? { imageSize: 32, widthMultiplier: 0.125, classes: 10 });
}

/** Random weights and non-trivial BatchNorm statistics, so every channel matters. */
function randomModel(graph: Graph, seed: number): Model {
  const model = Model.create(graph, { seed });
  manualSeed(seed + 1);
  noGrad(() => {
    for (const [k, t] of model.namedTensors()) {
      if (k.endsWith('running_var')) tidy(() => t.copy_(randn(t.shape).abs().add(0.5)));
      else if (k.endsWith('running_mean') || (k.endsWith('.bias') && t.ndim === 1)) tidy(() => t.copy_(randn(t.shape).mul(0.1)));
    }
  });
  return model.eval();
}

test('every zoo model: removing silenced channels leaves outputs unchanged; the pruned model saves, reloads, trains and exports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-prune-'));
  try {
    for (const name of archNames()) {
      const graph = zooGraph(name);
      const dep = new DependencyGraph(graph);
      assert.ok(dep.groups.length > 0, `${name}: no prunable group`);
      const model = randomModel(graph, 1);
      const removed = pickRemoved(dep, 0.3, 7);
      assert.ok(removed.size > 0, `${name}: nothing removed`);
      silence(model, dep, removed);
      const { model: pruned } = removeChannels(model, dep, removed);
      pruned.eval();
      const shape = graph.shape(graph.inputs[0]!.name);
      manualSeed(3);
      const x = randn([2, ...shape]);
      const [ya, yb] = noGrad(() => [model.forward(x), pruned.forward(x)]);
      const diff = maxDiff(ya!.data<'float32'>(), yb!.data<'float32'>());
      const scale = Math.max(1, ...Array.from(ya!.data<'float32'>(), Math.abs));
      assert.ok(diff <= 1e-4 * scale, `${name}: outputs changed by ${diff} (scale ${scale})`);
      const sBefore = summarize(graph).totals;
      const sAfter = summarize(pruned.graph).totals;
      assert.ok(sAfter.params < sBefore.params && sAfter.macs < sBefore.macs, `${name}: not smaller`);

      // Save and reload.
      const path = join(dir, `${name}.safetensors`);
      saveCheckpoint(path, pruned, { arch: name });
      const { model: loaded } = loadCheckpoint(path);
      loaded.eval();
      const yc = noGrad(() => loaded.forward(x));
      assert.equal(maxDiff(yb!.data<'float32'>(), yc.data<'float32'>()), 0, `${name}: reload changed outputs`);

      // One training step: gradients reach every parameter.
      loaded.train();
      tidy(() => {
        const logits = loaded.forward(randn([2, ...shape]));
        F.crossEntropy(logits, randint(0, logits.size(1), [2])).backward();
      });
      for (const [k, p] of loaded.namedParameters()) {
        const g = p.grad;
        assert.ok(g, `${name}: no gradient for ${k}`);
        g.dispose();
      }

      // ONNX in onnxruntime.
      const r = await verifyOnnx(pruned, exportOnnx(pruned), { batch: 2 });
      assert.ok(r.maxAbsDiff <= 1e-4 * scale, `${name}: onnx diff ${r.maxAbsDiff}`);

      for (const t of [x, ya!, yb!, yc]) t.dispose();
      model.dispose();
      pruned.dispose();
      loaded.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
