// Parameter groups built from the graph: no decay on BatchNorm and biases,
// learning rate by layer kind, labels; the optimizer honours them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Scope, randn, tidy } from '../../tensor/index.js';
import { buildArch } from '../../models/index.js';
import { Model } from '../../graph/index.js';
import { tinyCnn } from '../testing.js';
import { SGD, AdamW, classifyParameters, paramGroupsFor } from './index.js';

test('noDecayOnNormAndBias puts BN γ/β and every bias in a zero-decay group', () => {
  using model = tinyCnn(1, 6, 3);
  const groups = paramGroupsFor(model, { weightDecay: 5e-4, noDecayOnNormAndBias: true });
  const byTensor = new Map(model.namedParameters().map(([k, t]) => [t, k]));
  const keys = groups.map((g) => g.params.map((p) => byTensor.get(p)));
  assert.deepEqual(keys, [
    ['conv1.weight', 'fc.weight'],
    ['conv1.bias', 'bn1.weight', 'bn1.bias', 'fc.bias'],
  ]);
  assert.deepEqual(groups.map((g) => g.weightDecay), [5e-4, 0]);
  assert.deepEqual(groups.map((g) => g.label), ['conv+linear.decay', 'bias+norm.no_decay']);
  assert.ok(groups.every((g) => !('lr' in g)), 'no lr override without lrByKind');
  // Without the option: one decayed group holding everything.
  const all = paramGroupsFor(model, { weightDecay: 5e-4 });
  assert.equal(all.length, 1);
  assert.equal(all[0]!.params.length, model.parameters().length);
});

test('seed 000 learning rates by kind: FC 0.005, conv 0.0005 on LeNet', () => {
  using model = Model.create(buildArch('lenet5', { widthMultiplier: 0.125 }), { seed: 0 });
  const groups = paramGroupsFor(model, { lrByKind: { fc: 0.005, conv: 0.0005 } });
  const info = new Map(classifyParameters(model).map((p) => [p.tensor, p]));
  assert.equal(groups.length, 2);
  for (const g of groups) {
    const kinds = new Set(g.params.map((p) => info.get(p)!.kind));
    assert.equal(kinds.size, 1);
    assert.equal(g.lr, kinds.has('linear') ? 0.005 : 0.0005);
  }
  using opt = new SGD(groups, { lr: 1, momentum: 0.9 });
  assert.deepEqual(opt.paramGroups.map((g) => g.lr), [0.0005, 0.005]);
  // An exact kind overrides its family; an unknown key is an error.
  const exact = paramGroupsFor(model, { lrByKind: { conv: 0.1, conv2d: 0.2 } });
  assert.equal(exact[0]!.lr, 0.2);
  assert.throws(() => paramGroupsFor(model, { lrByKind: { convolution: 0.1 } }), /neither a family/);
});

test('the optimizer applies zero decay to the exempt group (AdamW: no shrink on zero grads)', () => {
  using scope = new Scope();
  using model = tinyCnn(1, 6, 3);
  using opt = new AdamW(paramGroupsFor(model, { weightDecay: 0.5, noDecayOnNormAndBias: true }), { lr: 0.1 });
  const before = model.stateDict();
  // Gradients that are exactly zero: Adam's step is then zero, only decoupled decay moves weights.
  tidy(() => F.mseLoss(model.forward(randn([2, 1, 6, 6])).mul(0), randn([2, 3])).backward());
  opt.step();
  for (const [k, t] of model.namedParameters()) {
    const b = before[k]!;
    if (k.endsWith('.bias') || k.startsWith('bn1.')) assert.ok(t.allclose(b, 0, 0), `${k} must not decay`);
    else assert.ok(t.allclose(b.mul(1 - 0.1 * 0.5), 1e-6, 1e-7), `${k} decays by lr * wd`);
  }
  assert.equal(opt.stateDict().groups.every((g) => !('label' in g.hyper)), true, 'labels stay out of the state');
  void scope;
});
