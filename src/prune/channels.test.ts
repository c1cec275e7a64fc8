// Channel rules that come from kind traits: every channelwise kind passes
// channels through one for one, and the per-channel scale (channel_scale)
// loses exactly the removed channels' α. Truth: channels whose every reader
// weight is zero contribute nothing, so removing them leaves the outputs
// unchanged, and the kept α are the original α at the kept positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, rand, randn, setNumThreads, tidy } from '../tensor/index.js';
import { GraphBuilder, Model, hasTrait, insertScale, kindsWith, type Graph } from '../graph/index.js';
import { channelRules } from './channels.js';
import { DependencyGraph } from './dependency.js';
import { removeChannels } from './remove.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

function net(): Graph {
  const b = new GraphBuilder('scaled');
  const x = b.input([3, 8, 8]);
  const c1 = b.relu(b.channelScale(b.conv2d(x, 6, 3, { padding: 1, name: 'c1' }), { name: 'a1' }), { name: 'r1' });
  const c2 = b.relu(b.conv2d(c1, 5, 3, { padding: 1, name: 'c2' }));
  const f = b.relu(b.linear(b.flatten(b.globalAvgPool(c2)), 7, { name: 'fc1' }), { name: 'r2' });
  return b.build(b.linear(f, 3, { name: 'fc2' }));
}

test('every channelwise kind propagates channels one for one; the others have their own rule', () => {
  for (const k of kindsWith('channelwise')) assert.ok(channelRules.has(k), `${k} has no rule`);
  // The traits cover what the hand list used to name.
  for (const k of ['relu', 'relu6', 'leaky_relu', 'elu', 'sigmoid', 'tanh', 'hardswish', 'maxpool2d', 'avgpool2d', 'global_avgpool', 'adaptive_avgpool', 'identity', 'dropout', 'batchnorm2d', 'batchnorm1d', 'channel_scale']) {
    assert.ok(hasTrait(k, 'channelwise'), k);
  }
  for (const k of ['conv2d', 'conv_transpose2d', 'linear', 'flatten', 'reshape', 'softmax', 'add', 'mul', 'concat', 'input']) assert.ok(!hasTrait(k, 'channelwise'), k);
  const dep = new DependencyGraph(net());
  assert.deepEqual(
    dep.groups.map((g) => g.name),
    ['c1', 'c2', 'fc1'],
  );
  for (let p = 0; p < 6; p++) {
    assert.equal(dep.classAt('a1', p), dep.classAt('c1', p));
    assert.equal(dep.classAt('r1', p), dep.classAt('c1', p));
  }
});

test('channel_scale: removing silenced channels leaves the outputs unchanged and keeps the α of the kept channels', () => {
  const graph = net();
  const dep = new DependencyGraph(graph);
  const model = Model.create(graph, { seed: 1 }).eval();
  noGrad(() => {
    model.tensor('a1.weight').copy_(tidy(() => rand([6]).mul(2).sub(0.5)));
  });
  // Remove c1's channels 1 and 4: zero what reads them (c2's input slices) first.
  const removed = [dep.classAt('c1', 1), dep.classAt('c1', 4)];
  noGrad(() => {
    for (const p of [1, 4]) tidy(() => model.tensor('c2.weight').select(1, p).zero_());
  });
  const { model: small } = removeChannels(model, dep, removed);
  small.eval();
  assert.deepEqual(small.graph.node('a1').attrs, { features: 4 });
  const alpha = model.tensor('a1.weight').toArray();
  assert.deepEqual(small.tensor('a1.weight').toArray(), [0, 2, 3, 5].map((i) => alpha[i]!));
  tidy(() => {
    const x = randn([2, 3, 8, 8]);
    const [a, b] = noGrad(() => [model.forward(x), small.forward(x)]);
    assert.ok(a!.allclose(b!, 1e-5, 1e-6), `outputs moved by ${a!.sub(b!).abs().max().item()}`);
  });
  // A scale inserted after a linear layer prunes with it, feature for feature.
  const g2 = insertScale(graph, 'fc1');
  const dep2 = new DependencyGraph(g2);
  const m2 = Model.create(g2, { seed: 2 });
  const { model: s2 } = removeChannels(m2, dep2, [dep2.classAt('fc1', 0), dep2.classAt('fc1', 6)]);
  assert.deepEqual(s2.tensor('fc1_scale.weight').shape, [5]);
  assert.deepEqual(s2.graph.node('fc1_scale').attrs, { features: 5 });
  for (const m of [model, small, m2, s2]) m.dispose();
});
