// Network slimming: the sparsity penalty's gradient is λ·sign(γ) (autograd
// against the hand formula), sparsity counts by hand, the global γ threshold
// removes the asked share of channels (a channel shared by a residual stage
// counts once and is ranked by the mean |γ| of its BatchNorms), and removing
// channels whose BatchNorm scale and shift are zero is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, setNumThreads, tensor, tidy, zeros } from '../tensor/index.js';
import { GraphBuilder, Model, summarize, type Graph } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { DependencyGraph, PruneError, bnGammas, bnL1Term, slimPrune, sparsity } from './index.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

/** conv a → bn → relu → conv b → bn → relu → gap → fc: two slimmable layers. */
function chain(): Graph {
  const b = new GraphBuilder('chain');
  const x = b.input([2, 6, 6]);
  const a = b.relu(b.batchnorm2d(b.conv2d(x, 6, 3, { padding: 1, bias: false, name: 'a' }), { name: 'a_bn' }));
  const c = b.relu(b.batchnorm2d(b.conv2d(a, 5, 3, { padding: 1, bias: false, name: 'b' }), { name: 'b_bn' }));
  return b.build(b.linear(b.flatten(b.globalAvgPool(c)), 3, { name: 'fc' }));
}

/** A stem and a residual branch tied by an add (one 4-channel group), then one more conv. */
function residual(): Graph {
  const b = new GraphBuilder('res');
  const x = b.input([2, 6, 6]);
  const stem = b.relu(b.batchnorm2d(b.conv2d(x, 4, 3, { padding: 1, bias: false, name: 'stem' }), { name: 'stem_bn' }));
  const c1 = b.batchnorm2d(b.conv2d(stem, 4, 3, { padding: 1, bias: false, name: 'c1' }), { name: 'c1_bn' });
  const r = b.relu(b.add([stem, c1], { name: 'res' }));
  const c2 = b.relu(b.batchnorm2d(b.conv2d(r, 4, 3, { padding: 1, bias: false, name: 'c2' }), { name: 'c2_bn' }));
  return b.build(b.linear(b.flatten(b.globalAvgPool(c2)), 3, { name: 'fc' }));
}

function setVector(model: Model, key: string, values: number[]): void {
  noGrad(() => tidy(() => void model.tensor(key).copy_(tensor(Float32Array.from(values)))));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('bnL1Term: value λ·Σ|γ| and gradient λ·sign(γ) on every BatchNorm scale, nothing elsewhere', () => {
  const model = Model.create(chain(), { seed: 0 });
  const ga = [0.5, -0.25, 0, 2, -1e-3, 0.1];
  const gb = [-3, 0.75, 1e-4, -0.5, 0];
  setVector(model, 'a_bn.weight', ga);
  setVector(model, 'b_bn.weight', gb);
  const lambda = 1e-2;
  const term = bnL1Term(lambda);
  assert.ok(typeof term !== 'function' && term.name === 'bn_l1');
  const fn = typeof term === 'function' ? term : term.fn;
  const x = zeros([1, 2, 6, 6]);
  const value = tidy(() => {
    const loss = fn({ model, x, y: zeros([1]), logits: zeros([1, 3]), step: 0, epoch: 0 });
    loss.backward();
    return loss.item();
  });
  x.dispose();
  const sumAbs = [...ga, ...gb].reduce((a, v) => a + Math.abs(v), 0);
  assert.ok(Math.abs(value - lambda * sumAbs) < 1e-6, `value ${value} vs ${lambda * sumAbs}`);
  for (const [key, g] of [['a_bn.weight', ga], ['b_bn.weight', gb]] as const) {
    const grad = model.tensor(key).grad;
    assert.ok(grad, `${key} has a gradient`);
    const got = Array.from(grad.data<'float32'>());
    grad.dispose();
    const want = g.map((v) => lambda * Math.sign(v));
    assert.deepEqual(got.map((v) => +v.toFixed(9)), want.map((v) => +v.toFixed(9)), key);
  }
  for (const [k, p] of model.namedParameters()) {
    if (k.endsWith('_bn.weight')) continue;
    const g = p.grad;
    // Untouched by the penalty: no gradient, or an all-zero one.
    if (g) {
      assert.equal(Math.max(...Array.from(g.data<'float32'>(), Math.abs)), 0, k);
      g.dispose();
    }
  }
  model.dispose();
  assert.throws(() => bnL1Term(-1), PruneError);
  assert.throws(() => bnL1Term(NaN), PruneError);
});

test('bnL1Term on a model without BatchNorm says so', () => {
  const model = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  const term = bnL1Term(1e-4);
  const fn = typeof term === 'function' ? term : term.fn;
  const x = zeros([1, 1, 28, 28]);
  assert.throws(() => fn({ model, x, y: x, logits: x, step: 0, epoch: 0 }), /needs BatchNorm layers; 'lenet5' has none/);
  assert.throws(() => sparsity(model, 0.01), /has none/);
  x.dispose();
  model.dispose();
});

test('bnGammas and sparsity: hand-counted', () => {
  const model = Model.create(chain(), { seed: 0 });
  setVector(model, 'a_bn.weight', [0.001, -0.005, 0.02, 0.5, -0.0125, 1]);
  setVector(model, 'b_bn.weight', [0, 0.009, -0.2, 0.0099, 3]);
  const g = Array.from(bnGammas(model), (v) => +v.toFixed(6));
  assert.deepEqual(g, [0.001, 0.005, 0.02, 0.5, 0.0125, 1, 0, 0.009, 0.2, 0.0099, 3]);
  // Strictly below 0.01: 0.001, 0.005, 0, 0.009, 0.0099.
  assert.equal(sparsity(model, 0.01), 5 / 11);
  assert.equal(sparsity(model, 1e-6), 1 / 11);
  assert.equal(sparsity(model, 10), 1);
  assert.throws(() => sparsity(model, 0), PruneError);
  model.dispose();
});

test('slimPrune: global γ threshold; a residual-coupled channel counts once, ranked by the mean |γ| of its BatchNorms', async () => {
  const model = Model.create(residual(), { seed: 0 });
  const dep = new DependencyGraph(model.graph);
  assert.deepEqual(dep.groups.map((g) => [g.name, g.size]), [['stem+c1', 4], ['c2', 4]]);
  // Coupled channel scores (mean of stem_bn and c1_bn): [0.55, 0.1, 0.5, 0.9]; c2: [0.3, 0.05, 0.7, 0.2].
  setVector(model, 'stem_bn.weight', [0.1, 0.1, 0.9, 0.9]);
  setVector(model, 'c1_bn.weight', [1.0, 0.1, -0.1, 0.9]);
  setVector(model, 'c2_bn.weight', [0.3, -0.05, 0.7, 0.2]);
  // 8 channels, half go: the four lowest are c2:1 (0.05), stem+c1:1 (0.1), c2:3 (0.2), c2:0 (0.3).
  // stem+c1:0 has a small γ in stem_bn (0.1) but a large one in c1_bn: it stays.
  const r = await slimPrune(model, 0.5);
  assert.equal(r.total, 8);
  assert.equal(r.removed, 4);
  assert.equal(r.share, 0.5);
  assert.ok(Math.abs(r.threshold - 0.3) < 1e-6, `threshold ${r.threshold}`);
  assert.deepEqual(r.kept.get('stem'), [0, 2, 3]);
  assert.deepEqual(r.kept.get('c1'), [0, 2, 3]);
  assert.deepEqual(r.kept.get('c2'), [2]);
  assert.deepEqual(r.channels, [
    { name: 'stem+c1', before: 4, after: 3, slimmable: true },
    { name: 'c2', before: 4, after: 1, slimmable: true },
  ]);
  assert.deepEqual(r.model.tensor('c2.weight').shape, [1, 3, 3, 3]);
  assert.deepEqual(r.model.tensor('fc.weight').shape, [3, 1]);
  r.model.dispose();

  // The per-layer minimum holds even when the threshold would take more.
  const m2 = await slimPrune(model, 0.9, { minChannels: 2 });
  assert.deepEqual(m2.channels.map((c) => c.after), [2, 2]);
  assert.equal(m2.removed, 4);
  assert.equal(m2.share, 0.5);
  m2.model.dispose();

  // Share 0 removes nothing and still returns an independent copy.
  const m0 = await slimPrune(model, 0);
  assert.equal(m0.removed, 0);
  assert.ok(Number.isNaN(m0.threshold));
  assert.deepEqual(m0.channels.map((c) => c.after), [4, 4]);
  m0.model.dispose();
  await assert.rejects(slimPrune(model, 1), PruneError);
  assert.equal(model.tensor('c2.weight').shape[0], 4, 'the input model is untouched');
  model.dispose();
});

test('slimPrune: only BatchNorm-scaled layers are pruned, and a model without any is refused', async () => {
  // vgg11_bn (CIFAR layout): every conv has a BatchNorm, the classifier's outputs are pinned.
  const model = Model.create(buildArch('vgg11_bn', { widthMultiplier: 0.0625, imageSize: 32 }), { seed: 0 });
  const r = await slimPrune(model, 0.5);
  const before = r.channels.reduce((a, c) => a + c.before, 0);
  const after = r.channels.reduce((a, c) => a + c.after, 0);
  assert.ok(r.channels.every((c) => c.slimmable));
  assert.equal(r.total, before);
  assert.equal(r.removed, Math.round(before / 2));
  assert.equal(before - after, r.removed);
  assert.ok(summarize(r.model.graph).totals.params < summarize(model.graph).totals.params);
  r.model.dispose();
  model.dispose();
  const lenet = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  await assert.rejects(slimPrune(lenet, 0.5), /needs BatchNorm layers; 'lenet5' has none/);
  lenet.dispose();
});

/** Random BatchNorm statistics and shifts, so that every live channel matters. */
function randomise(model: Model, seed: number): void {
  manualSeed(seed);
  noGrad(() => {
    for (const [k, t] of model.namedTensors()) {
      tidy(() => {
        if (k.endsWith('running_var')) t.copy_(randn(t.shape).abs().add(0.5));
        else if (k.endsWith('running_mean') || (k.endsWith('.bias') && t.ndim === 1)) t.copy_(randn(t.shape).mul(0.1));
        else if (k.endsWith('.weight') && t.ndim === 1) t.copy_(randn(t.shape).abs().add(0.2));
      });
    }
  });
}

/** Sets γ = β = 0 on every BatchNorm position whose channel is in `classes`. */
function silenceBn(model: Model, dep: DependencyGraph, classes: Set<number>): void {
  noGrad(() => {
    for (const n of model.graph.nodes) {
      if (!n.kind.startsWith('batchnorm')) continue;
      const t = model.nodeTensors(n);
      const layout = dep.layout(n.name);
      for (let p = 0; p < layout.length; p++) {
        if (!classes.has(dep.classAt(n.name, p))) continue;
        tidy(() => {
          t.weight!.select(0, p).zero_();
          t.bias!.select(0, p).zero_();
        });
      }
    }
  });
}

for (const [name, build] of [
  ['conv→bn→relu→conv chain', chain],
  ['resnet20 (residual stages)', () => buildArch('resnet20', { widthMultiplier: 0.25, inChannels: 1, imageSize: 12 })],
] as const) {
  test(`slimPrune is exact when the removed channels have γ = β = 0: ${name}`, async () => {
    const graph = build();
    const model = Model.create(graph, { seed: 1 });
    randomise(model, 2);
    const dep = new DependencyGraph(graph);
    // Silence every third removable channel.
    const silent = new Set(dep.removable.filter((_, i) => i % 3 === 1));
    assert.ok(silent.size >= 2);
    silenceBn(model, dep, silent);
    model.eval();
    const share = silent.size / dep.removable.length;
    const r = await slimPrune(model, share);
    assert.equal(r.removed, silent.size);
    assert.equal(r.threshold, 0);
    for (const n of graph.nodes) assert.deepEqual(r.kept.get(n.name), dep.kept(n.name, silent), n.name);
    r.model.eval();
    manualSeed(5);
    const shape = graph.shape(graph.inputs[0]!.name);
    const x = randn([3, ...shape]);
    const [ya, yb] = noGrad(() => [model.forward(x), r.model.forward(x)]);
    const diff = maxDiff(ya!.data<'float32'>(), yb!.data<'float32'>());
    assert.ok(diff < 1e-5, `outputs changed by ${diff}`);
    // And the proof can fail: removing live channels changes the outputs.
    const live = await slimPrune(model, Math.min(0.9, share + 0.2));
    live.model.eval();
    const yc = noGrad(() => live.model.forward(x));
    assert.ok(maxDiff(ya!.data<'float32'>(), yc.data<'float32'>()) > 1e-4);
    for (const t of [x, ya!, yb!, yc]) t.dispose();
    live.model.dispose();
    r.model.dispose();
    model.dispose();
  });
}
