// A new classifier head for a target task. Truths: every tensor outside the
// head is compared bit for bit with the source's; the head's values lie in
// PyTorch's default range U(±1/√fan-in) and come from the seed alone; a
// source with a new 2-class head, trained a few steps on a 2-class subset of
// the digits, beats chance by far on held-out digits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, randn, setNumThreads, tensor, tidy, F, type Tensor } from '../tensor/index.js';
import { Adam } from '../train/optim/index.js';
import { buildArch } from '../models/index.js';
import { loadDataset, selectClasses, type Dataset } from '../data/index.js';
import { UsageError } from '../util/errors.js';
import { GraphBuilder, GraphError, Model, checkInputFits, headNode, replaceHead, type Graph } from './index.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const same = (a: Tensor, b: Tensor): boolean => {
  const x = a.data() as Float32Array;
  const y = b.data() as Float32Array;
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

/** Checks that `to` holds a bit-identical copy of every tensor of `from` outside the head `head`, and returns the head keys. */
function checkKept(from: Model, to: Model, head: string): string[] {
  const headKeys: string[] = [];
  assert.deepEqual(
    to.namedTensors().map(([k]) => k),
    from.namedTensors().map(([k]) => k),
    'same keys in the same order',
  );
  for (const [k, t] of to.namedTensors()) {
    if (k.startsWith(`${head}.`)) headKeys.push(k);
    else {
      assert.ok(same(t, from.tensor(k)), `${k} kept bit for bit`);
      assert.notEqual(t, from.tensor(k), `${k} is a copy`);
    }
  }
  return headKeys;
}

/** A SqueezeNet-style head: the logits from a 1x1 conv, a relu and a global pool. */
function convHead(): Graph {
  const b = new GraphBuilder('squeeze');
  let x = b.input([3, 8, 8]);
  x = b.relu(b.batchnorm2d(b.conv2d(x, 6, 3, { padding: 1, name: 'features' }), { name: 'bn' }), { name: 'relu' });
  x = b.conv2d(b.dropout(x, 0.5, { name: 'drop' }), 5, 1, { name: 'classifier' });
  x = b.globalAvgPool(b.relu(x, { name: 'relu_c' }), { name: 'pool' });
  return b.build(b.flatten(x, { name: 'flat' }));
}

test('headNode: the layer that produces the logits, in the zoo and in a 1x1-conv head', () => {
  assert.equal(headNode(buildArch('lenet5')), 'fc2');
  assert.equal(headNode(buildArch('resnet20')), 'fc');
  assert.equal(headNode(buildArch('vgg11_bn')), 'classifier');
  assert.equal(headNode(buildArch('mobilenetv2', { imageSize: 32 })), 'classifier.1');
  assert.equal(headNode(convHead()), 'classifier');
});

test('replaceHead on lenet5: a fresh seeded head of the new width under the same name, every other tensor bit-identical', () => {
  const source = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 1 }).eval();
  source.freeze(['conv1']);
  const target = replaceHead(source, 3, { seed: 7 });
  assert.deepEqual(checkKept(source, target, 'fc2'), ['fc2.weight', 'fc2.bias']);
  assert.deepEqual(target.tensor('fc2.weight').shape, [3, 256]);
  assert.deepEqual(target.tensor('fc2.bias').shape, [3]);
  // PyTorch's default for a new nn.Linear: U(-1/√fan-in, 1/√fan-in) for weight and bias.
  const bound = 1 / Math.sqrt(256);
  const w = target.tensor('fc2.weight').toArray();
  assert.ok(w.every((v) => Math.abs(v) <= bound) && Math.max(...w.map(Math.abs)) > 0.8 * bound);
  // The head comes from the seed alone (the same seed gives it again, another seed another one).
  const again = replaceHead(source, 3, { seed: 7 });
  const other = replaceHead(source, 3, { seed: 8 });
  assert.ok(same(again.tensor('fc2.weight'), target.tensor('fc2.weight')) && same(again.tensor('fc2.bias'), target.tensor('fc2.bias')));
  assert.ok(!same(other.tensor('fc2.weight'), target.tensor('fc2.weight')));
  // Fresh also when the class count does not change.
  const ten = replaceHead(source, 10, { seed: 7 });
  assert.ok(!same(ten.tensor('fc2.weight'), source.tensor('fc2.weight')));
  // Mode and freezing carry over; the new head trains.
  assert.equal(target.training, false);
  assert.deepEqual(target.frozenKeys(), ['conv1.weight', 'conv1.bias']);
  const out = tidy(() => target.forward(randn([4, 1, 28, 28])).shape);
  assert.deepEqual(out, [4, 3]);
  assert.equal(target.graph.node('fc2').attrs.outFeatures, 3);
  for (const m of [source, target, again, other, ten]) m.dispose();
});

test('replaceHead on resnet20 (residual, BatchNorm buffers) and on a 1x1-conv head', () => {
  const source = Model.create(buildArch('resnet20', { widthMultiplier: 0.5 }), { seed: 2 });
  // Running statistics away from their initial values, so a re-initialised buffer would show.
  noGrad(() => source.forward(randn([8, 3, 32, 32]).mul(2), { training: true }).dispose());
  const target = replaceHead(source, 4, { seed: 0 });
  checkKept(source, target, 'fc');
  assert.deepEqual(tidy(() => target.forward(randn([2, 3, 32, 32]), { training: false }).shape), [2, 4]);

  const sq = Model.create(convHead(), { seed: 3 });
  const sq2 = replaceHead(sq, 2, { seed: 4 });
  assert.deepEqual(checkKept(sq, sq2, 'classifier'), ['classifier.weight', 'classifier.bias']);
  assert.deepEqual(sq2.tensor('classifier.weight').shape, [2, 6, 1, 1]);
  assert.deepEqual(tidy(() => sq2.forward(randn([3, 3, 8, 8]), { training: false }).shape), [3, 2]);
  for (const m of [source, target, sq, sq2]) m.dispose();
});

test('replaceHead refuses a model that is not a classifier, or whose logits no single layer produces', () => {
  const fcn = new GraphBuilder('fcn');
  fcn.input([3, 8, 8]);
  const notVector = fcn.build(fcn.conv2d({ name: 'input', shape: [3, 8, 8] }, 4, 1, { name: 'seg' }));
  assert.throws(() => headNode(notVector), (e: unknown) => e instanceof GraphError && /outputs \[4, 8, 8\] per sample/.test(e.message) && /not a class vector/.test(e.message));

  const b = new GraphBuilder('bn-after');
  const x = b.flatten(b.input([2, 2, 2]));
  const withBn = b.build(b.batchnorm1d(b.linear(x, 3, { name: 'fc' }), { name: 'bn_out' }));
  assert.throws(() => headNode(withBn), (e: unknown) => e instanceof GraphError && /batchnorm1d/.test(e.message) && e.message.includes('bn_out'));

  const m = new GraphBuilder('two-heads');
  const f = m.flatten(m.input([2, 2, 2]));
  const sum = m.build(m.add([m.linear(f, 3, { name: 'a' }), m.linear(f, 3, { name: 'b' })], { name: 'sum' }));
  assert.throws(() => headNode(sum), (e: unknown) => e instanceof GraphError && /an add node/.test(e.message));

  const model = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  assert.throws(() => replaceHead(model, 0, { seed: 0 }), (e: unknown) => e instanceof UsageError && /classes must be a whole number/.test(e.message));
  assert.throws(() => replaceHead(model, 2.5, { seed: 0 }), UsageError);
  model.dispose();
});

test('checkInputFits: a source whose input does not match the data names both shapes and what to do', () => {
  const rgb = buildArch('resnet20');
  checkInputFits(rgb, [3, 32, 32]);
  assert.throws(
    () => checkInputFits(rgb, [1, 28, 28], { model: "source 'cifar.safetensors'", data: 'mnist-digits' }),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message.startsWith("source 'cifar.safetensors' takes input [3, 32, 32] per sample but mnist-digits gives [1, 28, 28]") &&
      /3-channel images and mnist-digits has 1/.test(e.message) &&
      /resize the target images to 32x32/.test(e.message),
  );
  assert.throws(() => checkInputFits(buildArch('lenet5'), [1, 32, 32]), (e: unknown) => e instanceof UsageError && /\[1, 28, 28\]/.test(e.message) && !/channel/.test(e.message));
});

/** `n` samples of `ds` from `start` as a batch. */
function batch(ds: Dataset, start: number, n: number): { x: Tensor; y: Tensor } {
  const size = 28 * 28;
  const x = new Float32Array(n * size);
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const s = ds.get((start + i) % ds.length);
    x.set(s.image, i * size);
    y[i] = BigInt(s.label);
  }
  return { x: tensor(x, [n, 1, 28, 28]), y: tensor(y, [n]) };
}

test('a source with a new 2-class head learns the digits 3 and 1 in a few steps (far above chance)', () => {
  const train = selectClasses(loadDataset('mnist-digits', 'train'), [3, 1]);
  const testSet = selectClasses(loadDataset('mnist-digits', 'test'), [3, 1]);
  const source = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  const model = replaceHead(source, 2, { seed: 0 });
  source.dispose();
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  model.train();
  // The training split is shuffled by class already (the digits' seeded split), so consecutive windows mix both classes.
  for (let step = 0; step < 12; step++) {
    tidy(() => {
      const { x, y } = batch(train, step * 32, 32);
      opt.zeroGrad();
      F.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
  }
  model.eval();
  const n = Math.min(200, testSet.length);
  const acc = tidy(() => {
    const { x, y } = batch(testSet, 0, n);
    const pred = noGrad(() => model.forward(x)).argmax(1).toArray();
    const truth = y.toArray();
    return pred.filter((p, i) => p === truth[i]).length / n;
  });
  assert.ok(acc > 0.9, `accuracy ${acc} on ${n} held-out 3s and 1s`);
  model.dispose();
});
