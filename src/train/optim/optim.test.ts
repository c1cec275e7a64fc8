// Adam, AdamW and SGD against trajectories recorded from torch.optim in float64
// (scripts/fixtures/make_optim_fixtures.py writes optim.fixtures.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { F, Scope, noGrad, tensor, tidy, trackedCount, type Tensor } from '../../tensor/index.js';
import { Adam, AdamW, SGD, type AdamOptions, type Optimizer, type SGDOptions, type BaseHyper } from './index.js';

interface Case {
  name: string;
  optimizer: 'Adam' | 'AdamW' | 'SGD';
  options: Record<string, unknown>;
  groups: Record<string, unknown>[] | null;
  losses: number[];
  W: number[][];
  b: number[][];
}
interface Fixture {
  steps: number;
  X: number[];
  X_shape: number[];
  Y: number[];
  Y_shape: number[];
  W0: number[];
  W_shape: number[];
  b0: number[];
  cases: Case[];
}

const fx = JSON.parse(readFileSync(new URL('./optim.fixtures.json', import.meta.url), 'utf8')) as Fixture;
const TOL = 1e-6;

function f64(values: number[], shape: number[]): Tensor {
  return tensor(Float64Array.from(values), shape);
}

function makeOptimizer(c: Case, W: Tensor, b: Tensor): Optimizer<BaseHyper> {
  const params = c.groups === null ? [W, b] : [W, b].map((p, i) => ({ params: [p], ...c.groups![i] }));
  if (c.optimizer === 'Adam') return new Adam(params as Tensor[], c.options as AdamOptions) as unknown as Optimizer<BaseHyper>;
  if (c.optimizer === 'AdamW') return new AdamW(params as Tensor[], c.options as AdamOptions) as unknown as Optimizer<BaseHyper>;
  return new SGD(params as Tensor[], c.options as SGDOptions) as unknown as Optimizer<BaseHyper>;
}

/** One training step; returns the loss. Temporaries die with the tidy scope. */
function trainStep(opt: Optimizer<BaseHyper>, X: Tensor, Y: Tensor, W: Tensor, b: Tensor): number {
  return tidy(() => {
    opt.zeroGrad();
    const loss = F.mseLoss(F.linear(X, W, b), Y);
    loss.backward();
    opt.step();
    return loss.item();
  });
}

function assertClose(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    assert.ok(d <= TOL, `${what}[${i}]: got ${actual[i]}, PyTorch ${expected[i]} (|diff| ${d})`);
  }
}

function setup(): { X: Tensor; Y: Tensor; W: Tensor; b: Tensor } {
  return {
    X: f64(fx.X, fx.X_shape),
    Y: f64(fx.Y, fx.Y_shape),
    W: f64(fx.W0, fx.W_shape).requiresGrad_(),
    b: f64(fx.b0, [fx.b0.length]).requiresGrad_(),
  };
}

for (const c of fx.cases) {
  test(`${c.optimizer} matches PyTorch: ${c.name}`, () => {
    using scope = new Scope();
    const { X, Y, W, b } = setup();
    using opt = makeOptimizer(c, W, b);
    for (let k = 0; k < fx.steps; k++) {
      const loss = trainStep(opt, X, Y, W, b);
      assertClose([loss], [c.losses[k]!], `${c.name} step ${k + 1} loss`);
      assertClose(W.data<'float64'>(), c.W[k]!, `${c.name} step ${k + 1} W`);
      assertClose(b.data<'float64'>(), c.b[k]!, `${c.name} step ${k + 1} b`);
    }
    void scope;
  });
}

test('state export and import resume the PyTorch trajectory', () => {
  for (const c of fx.cases) {
    using scope = new Scope();
    const first = setup();
    const opt1 = makeOptimizer(c, first.W, first.b);
    trainStep(opt1, first.X, first.Y, first.W, first.b);
    trainStep(opt1, first.X, first.Y, first.W, first.b);
    const state = opt1.stateDict();
    // The state travels as JSON plus tensors (as a checkpoint would store it).
    const groups = JSON.parse(JSON.stringify(state.groups)) as typeof state.groups;
    const second = setup();
    noGrad(() => {
      second.W.copy_(first.W);
      second.b.copy_(first.b);
    });
    const opt2 = makeOptimizer(c, second.W, second.b);
    opt2.loadStateDict({ type: state.type, groups, tensors: state.tensors });
    opt1.dispose();
    for (const t of Object.values(state.tensors)) t.dispose();
    for (let k = 2; k < fx.steps; k++) {
      trainStep(opt2, second.X, second.Y, second.W, second.b);
      assertClose(second.W.data<'float64'>(), c.W[k]!, `${c.name} resumed step ${k + 1} W`);
      assertClose(second.b.data<'float64'>(), c.b[k]!, `${c.name} resumed step ${k + 1} b`);
    }
    opt2.dispose();
    void scope;
  }
});

test('stateDict names state like PyTorch and records the step count', () => {
  using scope = new Scope();
  const { X, Y, W, b } = setup();
  using adam = new Adam([W, b], { lr: 0.1 });
  trainStep(adam, X, Y, W, b);
  trainStep(adam, X, Y, W, b);
  const s = adam.stateDict();
  assert.deepEqual(Object.keys(s.tensors).sort(), [
    'state.0.exp_avg', 'state.0.exp_avg_sq', 'state.0.step',
    'state.1.exp_avg', 'state.1.exp_avg_sq', 'state.1.step',
  ]);
  assert.equal(s.tensors['state.0.step']!.item(), 2);
  assert.deepEqual(s.groups, [{ hyper: { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }, params: [0, 1] }]);
  assert.throws(() => new SGD([W]).loadStateDict(s as never), /state is from Adam/);
  void scope;
});

test('zeroGrad sets gradients to null; parameters without a gradient are skipped', () => {
  using scope = new Scope();
  const { X, Y, W, b } = setup();
  using opt = new SGD([W, b], { lr: 0.1, momentum: 0.9 });
  tidy(() => F.mseLoss(F.linear(X, W), Y).backward()); // b gets no gradient
  assert.notEqual(W.grad, null);
  assert.equal(b.grad, null);
  const before = b.data<'float64'>();
  opt.step();
  assert.deepEqual(b.data<'float64'>(), before);
  assert.deepEqual(Object.keys(opt.stateDict().tensors).sort(), ['state.0.momentum_buffer', 'state.0.step']);
  opt.zeroGrad();
  assert.equal(W.grad, null);
  assert.equal(b.grad, null);
  void scope;
});

test('step() releases its temporaries and keeps its state out of enclosing scopes', () => {
  const { X, Y, W, b } = setup();
  const opts = [new Adam([W, b], { weightDecay: 0.1 }), new SGD([W, b], { momentum: 0.9, nesterov: true, weightDecay: 0.1 })];
  for (const opt of opts) {
    const outer = new Scope();
    tidy(() => F.mseLoss(F.linear(X, W, b), Y).backward());
    const tracked = trackedCount();
    opt.step(); // creates state on the first step
    opt.step();
    assert.equal(trackedCount(), tracked, `${opt.constructor.name}: step left tensors in the enclosing scope`);
    outer.end();
    // State survived the scope's end: another step works.
    opt.step();
    opt.zeroGrad();
    opt.dispose();
    assert.throws(() => opt.step(), /disposed/);
  }
  for (const t of [X, Y, W, b]) t.dispose();
});

test('hyperparameters are validated', () => {
  using scope = new Scope();
  const { W } = setup();
  assert.throws(() => new Adam([W], { lr: -1 }), /learning rate/);
  assert.throws(() => new Adam([W], { betas: [1, 0.999] }), /beta1/);
  assert.throws(() => new SGD([W], { nesterov: true }), /Nesterov/);
  assert.throws(() => new SGD([{ params: [W] }, { params: [W] }]), /more than one group/);
  assert.throws(() => new SGD([]), /no parameters/);
  void scope;
});
