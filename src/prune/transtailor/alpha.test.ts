// TransTailor's α, checked against independent truths: α = 1 is the
// identity (bit for bit), α training moves nothing but α, β equals
// |α · dL/dα| with dL/dα from central finite differences of a float64
// re-computation of the loss, and folding α leaves the outputs (and the
// onnxruntime export) unchanged. On a plain net (lenet5, tinyNet) and a
// residual one (resnet20, a tiny residual net with BatchNorm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, manualSeed, noGrad, randn, setNumThreads, tensor, type Tensor } from '../../tensor/index.js';
import { GraphBuilder, GraphError, Model, type Graph } from '../../graph/index.js';
import { buildArch } from '../../models/index.js';
import { exportOnnx } from '../../export/onnx/export.js';
import { verifyOnnx } from '../../export/onnx/verify.js';
import { randomSource, signSource } from '../../train/testing.js';
import type { Batch, BatchSource } from '../../train/index.js';
import { UsageError } from '../../util/errors.js';
import { tinyNet } from '../testing.js';
import { DependencyGraph, PruneError } from '../dependency.js';
import { scoreChannels } from '../criteria.js';
import { alphaContributions, alphaImportance, alphaValues, attachAlpha, foldAlpha, trainAlpha, type AlphaGroup } from './alpha.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

/** input → a·bn → relu → b·bn (+) → relu → c·bn (+) → relu → gap → fc: one residual group {a, b, c}. */
function tinyResidual(): Graph {
  const b = new GraphBuilder('tinyres');
  const x = b.input([1, 6, 6]);
  const ar = b.relu(b.batchnorm2d(b.conv2d(x, 4, 3, { padding: 1, bias: false, name: 'a' }), { name: 'abn' }), { name: 'ar' });
  const s1 = b.relu(b.add([b.batchnorm2d(b.conv2d(ar, 4, 3, { padding: 1, bias: false, name: 'b' }), { name: 'bbn' }), ar], { name: 'add1' }), { name: 'r1' });
  const s2 = b.relu(b.add([b.batchnorm2d(b.conv2d(s1, 4, 3, { padding: 1, bias: false, name: 'c' }), { name: 'cbn' }), s1], { name: 'add2' }), { name: 'r2' });
  return b.build(b.linear(b.globalAvgPool(s2, { name: 'gap' }), 2, { name: 'fc' }));
}

/** A model with BatchNorm statistics that are not the identity, so folding into a norm is tested for real. */
function withStats(graph: Graph, seed: number): Model {
  const m = Model.create(graph, { seed });
  noGrad(() => {
    for (const [k, t] of m.namedTensors()) {
      if (k.endsWith('running_mean')) t.copy_(randn(t.shape).mul(0.1));
      if (k.endsWith('running_var')) t.copy_(randn(t.shape).abs().add(0.5));
      if (/bn\d?\.(weight|bias)$|\.bn\d\.(weight|bias)$|downsample\.1\.(weight|bias)$/.test(k)) t.copy_(randn(t.shape).mul(0.3).add(k.endsWith('weight') ? 1 : 0));
    }
  });
  return m.eval();
}

function outputs(model: Model, x: Tensor): Float32Array {
  return noGrad(() => {
    const y = model.forward(x, { training: false });
    const d = Float32Array.from(y.data<'float32'>());
    y.dispose();
    return d;
  });
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

function setAlpha(model: Model, a: AlphaGroup, values: Float32Array): void {
  noGrad(() => {
    const t = tensor(values, [values.length]);
    for (const n of a.nodes) model.tensor(`${n}.weight`).copy_(t);
    t.dispose();
  });
}

const lenet = (): Graph => buildArch('lenet5', { widthMultiplier: 0.25 });
const resnet20 = (): Graph => buildArch('resnet20', { widthMultiplier: 0.25 });

test('attachAlpha: one α per dependency group, after the norm, tied across a residual stage; α = 1 leaves the outputs bit-identical', () => {
  for (const [graph, shape] of [
    [lenet(), [1, 28, 28]],
    [resnet20(), [3, 32, 32]],
  ] as const) {
    const base = withStats(graph, 1);
    const { model, alphas } = attachAlpha(base);
    const dep = new DependencyGraph(base.graph);
    assert.deepEqual(
      alphas.map((a) => a.group),
      dep.groups.map((g) => g.name),
    );
    assert.equal(model.graph.nodes.filter((n) => n.kind === 'channel_scale').length, dep.groups.reduce((s, g) => s + g.sources.length, 0));
    manualSeed(5);
    const x = randn([2, ...shape]);
    assert.deepEqual(outputs(model, x), outputs(base, x), `${graph.name}: α = 1 changed the outputs`);
    // The α model's own dependency groups are the same: α adds no channel and ties nothing new.
    assert.deepEqual(
      new DependencyGraph(model.graph).groups.map((g) => g.name),
      dep.groups.map((g) => g.name),
    );
    if (graph.name === 'resnet20') {
      const stage1 = alphas.find((a) => a.group.startsWith('conv1+'))!;
      assert.deepEqual(stage1.nodes, ['bn1_alpha', 'layer1.0.bn2_alpha', 'layer1.1.bn2_alpha', 'layer1.2.bn2_alpha']);
      assert.ok(alphas.find((a) => a.group === 'layer1.0.conv1')!.nodes[0] === 'layer1.0.bn1_alpha');
    } else {
      assert.deepEqual(
        alphas.map((a) => a.nodes),
        [['conv1_alpha'], ['conv2_alpha'], ['fc1_alpha']],
      );
    }
    x.dispose();
    base.dispose();
    model.dispose();
  }
});

test('attachAlpha: random init draws one α per group, shared by its nodes, and changes the outputs; bad options are usage errors', () => {
  const base = withStats(tinyResidual(), 2);
  const { model, alphas } = attachAlpha(base, { init: 'random', seed: 3 });
  const [g] = alphas;
  assert.deepEqual(g!.nodes, ['abn_alpha', 'bbn_alpha', 'cbn_alpha']);
  const values = g!.nodes.map((n) => Array.from(model.tensor(`${n}.weight`).data<'float32'>()));
  assert.deepEqual(values[1], values[0]);
  assert.deepEqual(values[2], values[0]);
  assert.ok(values[0]!.every((v) => v >= 0 && v < 1) && values[0]!.some((v) => v !== values[0]![0]));
  manualSeed(1);
  const x = randn([2, 1, 6, 6]);
  assert.notDeepEqual(outputs(model, x), outputs(base, x));
  assert.throws(() => attachAlpha(model), GraphError, 'attaching twice');
  assert.throws(() => attachAlpha(base, { init: 'gaussian' as 'ones' }), UsageError);
  x.dispose();
  base.dispose();
  model.dispose();
});

test('trainAlpha: only α changes (weights and BatchNorm statistics bit-identical, no weight gradient), tied α stay equal', async () => {
  const base = withStats(tinyResidual(), 4);
  const { model, alphas } = attachAlpha(base);
  model.train(); // trainAlpha must not depend on the mode the model is in
  const keys = new Set(alphas.flatMap((a) => a.nodes.map((n) => `${n}.weight`)));
  const before = new Map(model.namedTensors().map(([k, t]) => [k, Float32Array.from(t.data<'float32'>())]));
  const r = await trainAlpha(model, alphas, signSource(3, 16, 7), { iters: 5, lr: 0.5 });
  assert.deepEqual(r.iters, 5);
  assert.equal(r.interrupted, false);
  assert.ok(Number.isFinite(r.loss));
  for (const [k, t] of model.namedTensors()) {
    const now = t.data<'float32'>();
    if (keys.has(k)) {
      assert.notDeepEqual(Float32Array.from(now), before.get(k), `${k}: α did not move`);
      assert.equal(t.grad, null, `${k}: α keeps a gradient`);
    } else {
      assert.deepEqual(Float32Array.from(now), before.get(k), `${k} changed during α training`);
      assert.equal(t.grad, null, `${k} got a gradient`);
    }
  }
  const [g] = alphas;
  const v = g!.nodes.map((n) => Array.from(model.tensor(`${n}.weight`).data<'float32'>()));
  assert.deepEqual(v[1], v[0]);
  assert.deepEqual(v[2], v[0]);
  // Nothing is left frozen, and the model's own frozen set survives.
  assert.deepEqual(model.frozenKeys(), []);
  model.freeze(['fc']);
  await trainAlpha(model, alphas, signSource(1, 8, 8), { iters: 1, lr: 0.1 });
  assert.deepEqual(model.frozenKeys(), ['fc.weight', 'fc.bias']);
  // An aborted signal stops before the first update.
  const ac = new AbortController();
  ac.abort();
  const stopped = await trainAlpha(model, alphas, signSource(1, 8, 8), { iters: 3, lr: 0.1, signal: ac.signal });
  assert.equal(stopped.iters, 0);
  assert.equal(stopped.interrupted, true);
  await assert.rejects(trainAlpha(model, alphas, signSource(1, 8, 8), { iters: -1, lr: 0.1 }), UsageError);
  const empty: BatchSource = { length: 1, epoch: async function* () {} };
  await assert.rejects(trainAlpha(model, alphas, empty, { iters: 1, lr: 0.1 }), PruneError);
  base.dispose();
  model.dispose();
});

/** tinyNet's loss re-computed in float64 from the model's tensors with α = `alpha` (per group: c1, c2, fc1). */
function tinyNetLoss64(model: Model, alpha: readonly Float64Array[], batches: readonly Batch[]): number {
  return noGrad(() => {
    const w = (k: string) => model.tensor(k).to('float64');
    const a = alpha.map((v) => tensor(v, [v.length], { dtype: 'float64' }));
    let sum = 0;
    let n = 0;
    for (const { x, y } of batches) {
      const h1 = F.conv2d(x.to('float64'), w('c1.weight'), { bias: w('c1.bias'), padding: 1 }).mul(a[0]!.reshape([4, 1, 1])).relu();
      const h2 = F.conv2d(h1, w('c2.weight'), { bias: w('c2.bias') }).mul(a[1]!.reshape([3, 1, 1])).relu();
      const h3 = F.linear(h2.flatten(1), w('fc1.weight'), w('fc1.bias')).mul(a[2]!).relu();
      const logits = F.linear(h3, w('fc2.weight'), w('fc2.bias'));
      sum += F.crossEntropy(logits, y, { reduction: 'sum' }).item();
      n += x.size(0);
    }
    return sum / n;
  });
}

async function collect(source: BatchSource): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of source.epoch(0)) out.push(b);
  return out;
}

const replay = (batches: readonly Batch[]): BatchSource => ({
  length: batches.length,
  epoch: async function* () {
    for (const b of batches) yield { x: b.x.clone(), y: b.y.clone(), indices: b.indices };
  },
});

test('alphaImportance: β = |α · dL/dα| with dL/dα from central finite differences of a float64 loss (plain net)', async () => {
  const base = Model.create(tinyNet(), { seed: 3 }).eval();
  const { model, alphas } = attachAlpha(base, { init: 'random', seed: 9 });
  assert.deepEqual(
    alphas.map((a) => a.nodes),
    [['c1_alpha'], ['c2_alpha'], ['fc1_alpha']],
  );
  // α away from 0 so that no channel is dead; distinct values per channel.
  alphas.forEach((a, i) => setAlpha(model, a, Float32Array.from({ length: a.channels }, (_, p) => 0.6 + 0.1 * p + 0.05 * i)));
  const batches = await collect(signSource(3, 16, 21));
  const beta = await alphaImportance(model, alphas, replay(batches));
  const alpha = alphaValues(model, alphas).map((v) => Float64Array.from(v));
  const eps = 1e-5;
  alphas.forEach((a, gi) => {
    for (let p = 0; p < a.channels; p++) {
      const at = (d: number) => tinyNetLoss64(model, alpha.map((v, j) => (j === gi ? v.map((x, q) => (q === p ? x + d : x)) : v)), batches);
      const fd = Math.abs(alpha[gi]![p]! * ((at(eps) - at(-eps)) / (2 * eps)));
      const got = beta[gi]!.beta[p]!;
      assert.ok(Math.abs(got - fd) <= 1e-3 * fd + 1e-7, `${a.group}[${p}]: β ${got}, finite differences ${fd}`);
    }
  });
  // Weights got no gradient, α keeps none.
  for (const [k, t] of model.namedTensors()) assert.equal(t.grad, null, `${k} has a gradient`);
  for (const b of batches) {
    b.x.dispose();
    b.y.dispose();
  }
  base.dispose();
  model.dispose();
});

test('alphaImportance: a residual group sums its tied nodes (finite differences moving all of them together)', async () => {
  const base = withStats(tinyResidual(), 6);
  const { model, alphas } = attachAlpha(base, { init: 'random', seed: 4 });
  const [g] = alphas;
  setAlpha(model, g!, Float32Array.from([0.7, 1.1, 0.9, 1.3]));
  const batches = await collect(randomSource(2, 32, [1, 6, 6], 2, 13));
  const [beta] = await alphaImportance(model, alphas, replay(batches));
  const lossAt = (values: Float32Array): number => {
    setAlpha(model, g!, values);
    let sum = 0;
    let n = 0;
    noGrad(() => {
      for (const { x, y } of batches) {
        const logits = model.forward(x, { training: false }).to('float64');
        sum += F.crossEntropy(logits, y, { reduction: 'sum' }).item();
        n += x.size(0);
      }
    });
    return sum / n;
  };
  const alpha = Float32Array.from([0.7, 1.1, 0.9, 1.3]);
  const eps = 1e-2;
  const fd = Array.from(alpha, (v, p) => Math.abs(v * ((lossAt(alpha.map((x, q) => (q === p ? x + eps : x))) - lossAt(alpha.map((x, q) => (q === p ? x - eps : x)))) / (2 * eps))));
  const scale = Math.max(...fd);
  assert.ok(scale > 1e-4, 'the check needs gradients that are not all zero');
  fd.forEach((f, p) => assert.ok(Math.abs(beta!.beta[p]! - f) <= 2e-3 * scale, `channel ${p}: β ${beta!.beta[p]}, finite differences ${f}`));
  for (const b of batches) {
    b.x.dispose();
    b.y.dispose();
  }
  base.dispose();
  model.dispose();
});

test('alphaContributions feed scoreChannels on the α model (one score per group channel, the group named)', () => {
  const { model, alphas } = attachAlpha(Model.create(tinyNet(), { seed: 1 }));
  const importance = alphas.map((a) => ({ group: a.group, beta: Float32Array.from({ length: a.channels }, (_, p) => p + 1) }));
  const dep = new DependencyGraph(model.graph);
  const scores = scoreChannels(dep, { primary: alphaContributions(alphas, importance) });
  assert.equal(scores.size, dep.removable.length);
  assert.equal(scores.get(dep.classAt('c2', 2)), 3);
  assert.throws(() => alphaContributions(alphas, importance.slice(1)), PruneError);
  model.dispose();
});

test('foldAlpha: trained α folded into the weights, outputs unchanged (1e-5), no α left, onnxruntime matches (lenet5, resnet20)', async () => {
  for (const [graph, shape] of [
    [lenet(), [1, 28, 28]],
    [resnet20(), [3, 32, 32]],
  ] as const) {
    const base = withStats(graph, 7);
    const { model, alphas } = attachAlpha(base, { init: 'random', seed: 2 });
    await trainAlpha(model, alphas, randomSource(1, 4, shape, 10, 3), { iters: 2, lr: 0.1 });
    assert.ok(alphaValues(model, alphas).some((v) => v.some((x) => x !== 1)));
    const folded = foldAlpha(model, alphas).eval();
    assert.ok(!folded.graph.nodes.some((n) => n.kind === 'channel_scale' || n.name.includes('alpha')), `${graph.name}: an α node is left`);
    assert.deepEqual(
      folded.graph.nodes.map((n) => n.name),
      base.graph.nodes.map((n) => n.name),
    );
    manualSeed(8);
    const x = randn([2, ...shape]);
    const want = outputs(model, x);
    const got = outputs(folded, x);
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    assert.ok(maxAbsDiff(want, got) <= 1e-5 * scale, `${graph.name}: folding changed the outputs by ${maxAbsDiff(want, got)}`);
    // The α model is untouched: it still computes with α.
    assert.ok(model.graph.nodes.some((n) => n.kind === 'channel_scale'));
    const bytes = exportOnnx(folded);
    assert.ok(!Buffer.from(bytes).toString('latin1').includes('_alpha'), `${graph.name}: the ONNX export names an α`);
    const r = await verifyOnnx(folded, bytes, { batch: 2 });
    const ortScale = Math.max(1, ...r.outputs.flatMap((o) => Array.from(o.onnx, Math.abs)));
    assert.ok(r.problems.length === 0 && r.maxAbsDiff <= 1e-4 * ortScale, `${graph.name}: onnxruntime differs by ${r.maxAbsDiff}`);
    assert.throws(() => foldAlpha(base, [{ group: 'x', node: 'relu1', nodes: [base.graph.nodes[2]!.name], channels: 1 }]), PruneError);
    x.dispose();
    base.dispose();
    model.dispose();
    folded.dispose();
  }
});
