// The pruning loop's parts on their own and as seams: the loss a gradient
// criterion differentiates, the controller's decisions, the scoring policies,
// a recovery strategy and a pruning method defined from outside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads, tensor, type Tensor } from '../tensor/index.js';
import { GraphBuilder, Model, type Graph } from '../graph/index.js';
import { BatchStream, evaluate } from '../train/index.js';
import { signSource as source } from '../train/testing.js';
import { tinyNet, trainedTinyNet } from './testing.js';
import { criterion, type Criterion, type CriterionScores } from './criteria.js';
import { DependencyGraph, PruneError } from './dependency.js';
import { PruneController } from './controller.js';
import { atStart, everyStep } from './scoring.js';
import { defineRecovery, fineTuneIfNotWorse, recovery, recoveryNames, retrainIterations, type RecoveryContext } from './recovery.js';
import { definePruningMethod, pruningMethod, pruningMethodNames, PROTOCOLS } from './methods.js';
import { prune } from './protocol.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

/** conv (4 maps, 'same' on 6x6) → relu → global average → linear: dL/dz has a closed form. */
function gapNet(): Graph {
  const b = new GraphBuilder('gap');
  const r = b.relu(b.conv2d(b.input([1, 6, 6]), 4, 3, { padding: 1, name: 'c1' }), { name: 'r1' });
  return b.build(b.linear(b.globalAvgPool(r, { name: 'gap' }), 2, { name: 'fc' }));
}

test('taylor differentiates the loss it is given: scores by hand for L = mean over the batch of logit 0', async () => {
  const model = Model.create(gapNet(), { seed: 5 });
  const dep = new DependencyGraph(model.graph);
  const batch = 4;
  const data = source(3, batch, 7);
  const batches = () => data.epoch(0);
  const logit0 = (logits: Tensor): Tensor => logits.mul(tensor([1, 0])).sum(1).mean();
  const custom = await criterion('taylor').score({ model, dep, seed: 0, batches, loss: logit0 });
  const plain = await criterion('taylor').score({ model, dep, seed: 0, batches });
  const act = await criterion('activation').score({ model, dep, seed: 0, batches });
  // L = (1/B) Σ_s (W[0,:] · mean_p z[s,:,p] + b0), so dL/dz[s,c,p] = W[0,c] / (B·P) and the Taylor
  // statistic |mean_p z·g| = |W[0,c]| / (B·P) · mean_p z[s,c,p] (z ≥ 0 after the ReLU): the
  // custom-loss score is |W[0,c]| / (B·P) times the mean-activation score.
  const w = model.tensor('fc.weight').data<'float32'>(); // [2, 4]
  const P = 36;
  for (let c = 0; c < 4; c++) {
    const want = (Math.abs(w[c]!) / (batch * P)) * act.primary.get('r1')![c]!;
    const got = custom.primary.get('r1')![c]!;
    assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(want, 1e-6), `channel ${c}: ${got} vs ${want}`);
  }
  // And it is not what cross-entropy gives.
  assert.ok([0, 1, 2, 3].some((c) => Math.abs(plain.primary.get('r1')![c]! - custom.primary.get('r1')![c]!) > 1e-4));
  // Through prune(): the loss given as scoreLoss reaches the criterion (the first step removes the channel it ranks lowest).
  const lowest = [0, 1, 2, 3].reduce((a, c) => (custom.primary.get('r1')![c]! < custom.primary.get('r1')![a]! ? c : a), 0);
  const r = await prune(model, { train: data, eval: data, classes: 2 }, { criterion: 'taylor', scope: 'layer', norm: 'none', protocol: 'none', amount: { maps: 1 }, maxSteps: 1, scoreBatches: 3, scoreLoss: logit0 });
  const kept = r.best.tensor('c1.weight').data<'float32'>();
  const all = model.tensor('c1.weight').data<'float32'>();
  const survivors = [0, 1, 2, 3].filter((c) => c !== lowest).flatMap((c) => Array.from(all.slice(c * 9, c * 9 + 9)));
  assert.deepEqual(Array.from(kept), survivors);
  r.best.dispose();
  model.dispose();
});

test('the controller: floor, patience, backtracking with halved steps, targets, step limit and Ctrl-C', () => {
  const step = (accuracy: number, params_x = 1, macs_x = 1) => ({ accuracy, params_x, macs_x });
  const per = (...n: number[]) => new Map(n.map((v, i) => [`g${i}`, v]));
  const c = new PruneController({ amount: { maps: 8 }, minAccuracy: 0.9, patience: 1, backtrack: true, targetParamsX: 10, maxSteps: 50 });
  assert.equal(c.before(1), null);
  assert.equal(c.before(51), '50 steps done');
  const ac = new AbortController();
  ac.abort();
  assert.equal(c.before(2, ac.signal), 'interrupted');
  assert.deepEqual(c.after(step(0.95), per(8)), { action: 'keep' });
  assert.deepEqual(c.after(step(0.85), per(6, 8)), { action: 'continue' }, 'one step of patience');
  assert.deepEqual(c.after(step(0.8), per(3)), { action: 'backtrack' }, 'the dip took 8 channels from one group: back, with half the step');
  assert.deepEqual(c.amount, { maps: 4 });
  assert.deepEqual(c.after(step(0.91, 12), per(4)), { action: 'keep', stop: 'parameter target 10x reached' });
  // Backtracking ends when halving no longer shrinks the step (a dip of one channel).
  const d = new PruneController({ amount: { fraction: 0.2 }, minAccuracy: 0.5, backtrack: true });
  assert.deepEqual(d.after(step(0.4), per(2)), { action: 'backtrack' });
  assert.deepEqual(d.amount, { fraction: 0.1 });
  assert.deepEqual(d.after(step(0.4), per(1)), { action: 'stop', reason: 'accuracy 40.00 % fell below the floor 50.00 % with the smallest step' });
  const e = new PruneController({ amount: { maps: 1 }, minAccuracy: 0.5, patience: 2 });
  e.after(step(0.4), per(1));
  e.after(step(0.4), per(1));
  assert.deepEqual(e.after(step(0.45), per(1)), { action: 'stop', reason: 'accuracy 45.00 % fell below the floor 50.00 % for 3 steps in a row' });
  assert.deepEqual(new PruneController({ amount: { maps: 1 }, targetMacsX: 2 }).after(step(0.1, 1, 2), per(1)), { action: 'keep', stop: 'MAC target 2x reached' });
  assert.throws(() => new PruneController({ amount: { maps: 1 } }), /stopping rule/);
  assert.throws(() => new PruneController({ amount: { maps: 1 }, maxSteps: 0 }), /maxSteps/);
});

test('scoring policies: every step runs the criterion; at-start runs it once, follows removals and goes back on a backtrack', async () => {
  const model = Model.create(tinyNet(), { seed: 2 });
  const dep = new DependencyGraph(model.graph);
  let calls = 0;
  const counting: Criterion = {
    name: 'counting',
    description: 'l1, counted',
    needsData: false,
    score: (ctx) => {
      calls++;
      return criterion('l1').score(ctx);
    },
  };
  const stream = new BatchStream(source(1, 2, 1));
  const fresh = everyStep({ criterion: counting, seed: 0 }, stream);
  await fresh.score({ model, dep, step: 1 });
  await fresh.score({ model, dep, step: 2 });
  assert.equal(calls, 2);
  calls = 0;
  const once = atStart({ criterion: counting, seed: 0 }, stream);
  const first: CriterionScores = await once.score({ model, dep, step: 1 });
  const c1 = Array.from(first.primary.get('c1')!);
  once.kept();
  once.removed(new Map(model.graph.nodes.map((n) => [n.name, n.name === 'c1' ? [0, 2, 3] : Array.from({ length: model.graph.shape(n.name)[0]! }, (_, i) => i)])));
  const second = await once.score({ model, dep, step: 2 });
  assert.equal(calls, 1, 'the criterion ran once');
  assert.deepEqual(Array.from(second.primary.get('c1')!), [c1[0], c1[2], c1[3]], 'the scores follow the surviving channels');
  once.backtracked();
  assert.deepEqual(Array.from((await once.score({ model, dep, step: 3 })).primary.get('c1')!), c1, 'back to the kept model\'s scores');
  assert.equal(calls, 1);
  await stream.close();
  model.dispose();
});

test('a recovery strategy defined from outside is used by the loop through a pruning method', async () => {
  const calls: { step: number; groups: string[] }[] = [];
  defineRecovery({
    name: 'test-logged-retrain',
    description: 'retrain, logging each call',
    iterations: true,
    recover(ctx: RecoveryContext) {
      calls.push({ step: ctx.step, groups: [...ctx.groups] });
      return retrainIterations(ctx, ctx.model.parameters());
    },
  });
  assert.ok(recoveryNames().includes('test-logged-retrain'));
  definePruningMethod({ name: 'test-logged', description: 'retrain with a log', scoring: everyStep, recovery: 'test-logged-retrain' });
  assert.throws(() => definePruningMethod({ name: 'test-bad', description: '', scoring: everyStep, recovery: 'nope' }), /unknown recovery 'nope'/);
  const model = Model.create(tinyNet(), { seed: 3 });
  const data = { train: source(4, 16, 11), eval: source(2, 32, 12), classes: 2 };
  const o = { criterion: 'taylor', scope: 'global', norm: 'l2', amount: { maps: 2 }, retrainIters: 3, maxSteps: 3, scoreBatches: 1 } as const;
  const logged = await prune(model, data, { ...o, protocol: 'test-logged' });
  const builtin = await prune(model, data, { ...o, protocol: 'retrain' });
  assert.deepEqual(
    calls.map((c) => c.step),
    [1, 2, 3],
  );
  assert.deepEqual(
    calls.map((c) => c.groups.map((g) => `${g}:`)),
    logged.history.map((h) => h.layers.split(' ').map((l) => l.replace(/-\d+$/, ''))),
    'each call names the groups its step pruned',
  );
  // The same parts as the built-in protocol: the same run, number for number.
  const strip = (h: typeof logged.history) => h.map(({ seconds: _s, ...r }) => r);
  assert.deepEqual(strip(logged.history), strip(builtin.history));
  // It trains retrainIters iterations, so prune() asks for them.
  await assert.rejects(prune(model, data, { ...o, protocol: 'test-logged', retrainIters: undefined }), /protocol 'test-logged' retrains: retrainIters/);
  for (const r of [logged, builtin]) r.best.dispose();
  model.dispose();
});

test('a pruning method defined from outside: its own scoring policy, picked by name', async () => {
  // Prunes the channel with the largest L1 norm first (the opposite of l1), no recovery.
  definePruningMethod({
    name: 'test-largest-first',
    description: 'negated l1, greedy',
    recovery: 'none',
    scoring: (o, stream) => {
      const inner = everyStep(o, stream);
      return {
        ...inner,
        async score(r) {
          const s = await inner.score(r);
          return { primary: new Map([...s.primary].map(([k, v]) => [k, v.map((x) => -x)])) };
        },
      };
    },
  });
  assert.deepEqual(pruningMethodNames().slice(0, 4), [...PROTOCOLS]);
  assert.equal(pruningMethod('test-largest-first').recovery, 'none');
  assert.throws(() => pruningMethod('nope'), (e: unknown) => e instanceof PruneError && /unknown pruning method 'nope' \(available: none, retrain, layer-retrain, once/.test(e.message));
  const model = Model.create(tinyNet(), { seed: 6 });
  const data = { train: source(1, 8, 1), eval: source(1, 8, 2), classes: 2 };
  const r = await prune(model, data, { criterion: 'l1', scope: 'layer', norm: 'none', protocol: 'test-largest-first', amount: { maps: 1 }, layers: ['c1'], maxSteps: 1 });
  const w = model.tensor('c1.weight').data<'float32'>();
  const l1 = [0, 1, 2, 3].map((c) => w.slice(c * 9, c * 9 + 9).reduce((a, v) => a + Math.abs(v), 0));
  const largest = l1.indexOf(Math.max(...l1));
  const want = [0, 1, 2, 3].filter((c) => c !== largest).flatMap((c) => Array.from(w.slice(c * 9, c * 9 + 9)));
  assert.deepEqual(Array.from(r.best.tensor('c1.weight').data<'float32'>()), want);
  r.best.dispose();
  model.dispose();
});

test('fine-tuning is kept only if the evaluation accuracy does not fall; the fine-tune recovery runs in the loop', async () => {
  const { model, train, val } = await trainedTinyNet(6);
  const trained = model.stateDict();
  // A learning rate that wrecks the model: the weights from before come back.
  const wreck = await fineTuneIfNotWorse(model, train, val, { epochs: 1, lr: 5, classes: 2 });
  assert.ok(wreck.after.accuracy < wreck.before.accuracy, `${wreck.after.accuracy} vs ${wreck.before.accuracy}`);
  assert.equal(wreck.kept, false);
  for (const [k, t] of Object.entries(trained)) assert.deepEqual(model.tensor(k).data<'float32'>(), t.data<'float32'>(), k);
  // A gentle one that does not lower it: kept.
  const steps: number[] = [];
  const gentle = await fineTuneIfNotWorse(model, train, val, { epochs: 2, lr: 1e-3, classes: 2, onStep: (e, s) => void steps.push(e * 100 + s) });
  assert.equal(steps.length, 16);
  assert.equal(gentle.kept, gentle.after.accuracy >= gentle.before.accuracy);
  if (gentle.kept) assert.equal((await evaluate(model, val, 2)).accuracy, gentle.after.accuracy);
  for (const t of Object.values(trained)) t.dispose();
  // As a recovery: one pass over the training data per step.
  assert.equal(recovery('fine-tune').iterations, false);
  definePruningMethod({ name: 'test-fine-tune', description: 'l1 with fine-tuning', scoring: everyStep, recovery: 'fine-tune' });
  const iters: number[] = [];
  const r = await prune(model, { train, eval: val, classes: 2 }, { criterion: 'l1', scope: 'global', norm: 'l2', protocol: 'test-fine-tune', amount: { maps: 2 }, maxSteps: 2 }, { onRetrain: (_s, i, n) => void iters.push(i * 1000 + n) });
  assert.deepEqual(iters.slice(0, 8), [1008, 2008, 3008, 4008, 5008, 6008, 7008, 8008]);
  assert.equal(iters.length, 16);
  assert.equal(r.history.length, 2);
  r.best.dispose();
  model.dispose();
});
