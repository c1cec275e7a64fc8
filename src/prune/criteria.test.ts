// Criteria against hand-computed values, selection rules, and the protocols
// on a tiny problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, setNumThreads, tidy } from '../tensor/index.js';
import { Capture, GraphBuilder, Model, summarize } from '../graph/index.js';
import { evaluate } from '../train/index.js';
import { criterion, criterionNames, scoreChannels } from './criteria.js';
import { DependencyGraph, PruneError } from './dependency.js';
import { selectChannels } from './select.js';
import { prune } from './protocol.js';
import { signSource as source } from '../train/testing.js';
import { tinyNet, trainedTinyNet } from './testing.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

/** Channel scores by layer, in channel order. */
function scoresOf(dep: DependencyGraph, values: Record<string, number[]>): Map<number, number> {
  const m = new Map<number, number>();
  for (const [layer, vs] of Object.entries(values)) vs.forEach((v, k) => m.set(dep.classAt(layer, k), v));
  return m;
}

test('the registry has every criterion of the issue', () => {
  for (const c of ['l1', 'l2', 'activation', 'apoz', 'taylor', 'bn', 'random']) assert.ok(criterionNames().includes(c), c);
  assert.throws(() => criterion('nope'), PruneError);
});

test('l1 / l2 are the filter norms; scores land on the right channels', async () => {
  const model = Model.create(tinyNet(), { seed: 0 });
  const dep = new DependencyGraph(model.graph);
  const w = model.tensor('c1.weight').data<'float32'>(); // [4, 1, 3, 3]
  const l1 = scoreChannels(dep, await criterion('l1').score({ model, dep, seed: 0 }));
  const l2 = scoreChannels(dep, await criterion('l2').score({ model, dep, seed: 0 }));
  for (let k = 0; k < 4; k++) {
    const f = Array.from(w.slice(k * 9, k * 9 + 9));
    const cls = dep.classAt('c1', k);
    assert.ok(Math.abs(l1.get(cls)! - f.reduce((a, v) => a + Math.abs(v), 0)) < 1e-6);
    assert.ok(Math.abs(l2.get(cls)! - Math.sqrt(f.reduce((a, v) => a + v * v, 0))) < 1e-6);
  }
  assert.equal(l1.size, dep.removable.length);
  model.dispose();
});

test('activation, apoz and taylor match the definitions computed by hand from captured maps', async () => {
  const model = Model.create(tinyNet(), { seed: 1 });
  const dep = new DependencyGraph(model.graph);
  const data = source(2, 4, 5);
  const batches = () => data.epoch(0);
  const act = await criterion('activation').score({ model, dep, seed: 0, batches });
  const apoz = await criterion('apoz').score({ model, dep, seed: 0, batches });
  const taylor = await criterion('taylor').score({ model, dep, seed: 0, batches });
  // By hand: capture r1 and its gradient on the same batches.
  const sums = { act: new Float64Array(4), nz: new Float64Array(4), tay: new Float64Array(4) };
  for await (const b of data.epoch(0)) {
    const cap = new Capture(['r1'], { grads: true });
    tidy(() => {
      const logits = model.forward(b.x, { training: false, hooks: cap });
      F.crossEntropy(logits, b.y).backward();
      const z = cap.activation('r1').data<'float32'>();
      const g = cap.gradient('r1')!;
      const gd = g.data<'float32'>();
      g.dispose();
      for (let s = 0; s < 4; s++) {
        for (let c = 0; c < 4; c++) {
          let m = 0;
          let nz = 0;
          let t = 0;
          for (let p = 0; p < 36; p++) {
            const i = (s * 4 + c) * 36 + p;
            m += z[i]!;
            nz += z[i]! > 0 ? 1 : 0;
            t += z[i]! * gd[i]!;
          }
          sums.act[c]! += m / 36;
          sums.nz[c]! += nz / 36;
          sums.tay[c]! += Math.abs(t / 36);
        }
      }
    });
    cap.dispose();
    b.x.dispose();
    b.y.dispose();
  }
  for (const p of model.parameters()) p.grad = null;
  for (let c = 0; c < 4; c++) {
    assert.ok(Math.abs(act.primary.get('r1')![c]! - sums.act[c]! / 8) < 1e-6, `activation ${c}`);
    assert.ok(Math.abs(apoz.primary.get('r1')![c]! - sums.nz[c]! / 8) < 1e-6, `apoz ${c}`);
    assert.ok(Math.abs(taylor.primary.get('r1')![c]! - sums.tay[c]! / 8) < 1e-7, `taylor ${c}`);
  }
  model.dispose();
});

test('selection: per-layer takes the same share of each layer; global ranks normalised scores and respects minimums and rounding', () => {
  const dep = new DependencyGraph(tinyNet());
  // Scores: c1 channels 1..4, c2 channels 100..300 (a different scale), fc1 channels 0.1..0.5.
  const scores = scoresOf(dep, { c1: [1, 2, 3, 4], c2: [100, 200, 300], fc1: [0.5, 0.4, 0.3, 0.2, 0.1] });
  const per = selectChannels(dep, scores, { scope: 'layer', norm: 'none', amount: { maps: 1 } });
  assert.deepEqual(new Set(per), new Set([dep.classAt('c1', 0), dep.classAt('c2', 0), dep.classAt('fc1', 4)]));
  // Unnormalised global ranking takes fc1 first (smallest raw scores); max-normalised ranking compares shapes.
  const raw = selectChannels(dep, scores, { scope: 'global', norm: 'none', amount: { maps: 3 } });
  assert.deepEqual(raw, [4, 3, 2].map((k) => dep.classAt('fc1', k)));
  const byMax = selectChannels(dep, scores, { scope: 'global', norm: 'max', amount: { maps: 2 } });
  // Normalised: c1 → .25 .5 .75 1; c2 → .33 .67 1; fc1 → 1 .8 .6 .4 .2
  assert.deepEqual(byMax, [dep.classAt('fc1', 4), dep.classAt('c1', 0)]);
  // Minimum channels: c2 (3 channels) keeps 2 at most 1 removed.
  const all = selectChannels(dep, scores, { scope: 'layer', norm: 'none', amount: { maps: 10 }, layers: ['c2'], minChannels: 2 });
  assert.deepEqual(all, [dep.classAt('c2', 0)]);
  // Rounding: c1 has 4 channels; with roundTo 2, removing 1 is not allowed, 2 is.
  assert.deepEqual(selectChannels(dep, scores, { scope: 'layer', norm: 'none', amount: { maps: 1 }, layers: ['c1'], roundTo: 2 }), []);
  assert.equal(selectChannels(dep, scores, { scope: 'layer', norm: 'none', amount: { maps: 3 }, layers: ['c1'], roundTo: 2 }).length, 2);
  // Global rounding goes to the nearest grid count: fc1 (5 channels, lowest raw scores) asked to lose 2 with
  // roundTo 2 loses 3 (down to 2 channels); with roundTo 4, 2 would leave 3, nearer 4 than 0: it loses 1.
  const fc1 = (k: number) => dep.classAt('fc1', k);
  assert.deepEqual(selectChannels(dep, scores, { scope: 'global', norm: 'none', amount: { maps: 2 }, roundTo: 2 }), [fc1(4), fc1(3), fc1(2)]);
  assert.deepEqual(selectChannels(dep, scores, { scope: 'global', norm: 'none', amount: { maps: 2 }, roundTo: 4 }), [fc1(4)]);
  // A 16-channel conv on a grid of 8 asked for one map: 15 is nearer 16 than 8, so rounding alone gives
  // nothing and the loop would stall; the group that wanted the most goes one grid line down instead.
  const wide = (() => {
    const b = new GraphBuilder('wide');
    const h = b.relu(b.conv2d(b.input([1, 4, 4]), 16, 3, { padding: 1, name: 'c1' }));
    return new DependencyGraph(b.build(b.linear(b.relu(b.linear(b.flatten(h), 16, { name: 'fc1' })), 2, { name: 'fc2' })));
  })();
  const wideScores = new Map<number, number>();
  for (let k = 0; k < 16; k++) {
    wideScores.set(wide.classAt('c1', k), 10 + k);
    wideScores.set(wide.classAt('fc1', k), 100 + k);
  }
  const step = selectChannels(wide, wideScores, { scope: 'global', norm: 'none', amount: { maps: 1 }, roundTo: 8 });
  assert.deepEqual(step, Array.from({ length: 8 }, (_, k) => wide.classAt('c1', k)));
  assert.throws(() => selectChannels(dep, scores, { scope: 'layer', norm: 'none', amount: { maps: 1 }, layers: ['fc2'] }), PruneError);
});

test('selection to explicit counts: each named group loses its lowest-scoring channels down to the count, others stay', () => {
  const dep = new DependencyGraph(tinyNet());
  const scores = scoresOf(dep, { c1: [4, 1, 3, 2], c2: [100, 200, 300], fc1: [0.5, 0.4, 0.3, 0.2, 0.1] });
  const o = { scope: 'global', norm: 'none', amount: { maps: 1 } } as const;
  // c1: 4 → 2 drops its two lowest (positions 1 and 3); c2 at its count loses nothing; fc1 is not named.
  assert.deepEqual(selectChannels(dep, scores, { ...o, target: { c1: 2, c2: 3 } }), [dep.classAt('c1', 1), dep.classAt('c1', 3)]);
  assert.throws(() => selectChannels(dep, scores, { ...o, target: { nope: 1 } }), /not a prunable group/);
  assert.throws(() => selectChannels(dep, scores, { ...o, target: { c1: 0 } }), /at least 1/);
});

test('protocols: greedy stops at the floor and keeps the last model above it; retrain and once run; the input model is untouched', async () => {
  const graph = tinyNet();
  const model = Model.create(graph, { seed: 3 });
  const train = source(6, 16, 11);
  const val = source(2, 32, 12);
  const before = model.tensor('c1.weight').data<'float32'>();
  const r = await prune(model, { train, eval: val, classes: 2 }, { criterion: 'l1', scope: 'global', norm: 'l2', protocol: 'none', amount: { maps: 1 }, minAccuracy: 0.0, maxSteps: 4 });
  assert.equal(r.history.length, 4);
  assert.equal(r.bestStep, 4);
  assert.deepEqual(
    r.history.map((h) => h.removed),
    [1, 1, 1, 1],
  );
  assert.equal(summarize(r.best.graph).totals.params, r.history[3]!.params);
  assert.ok(r.history.every((h, i) => i === 0 || h.params < r.history[i - 1]!.params));
  assert.deepEqual(model.tensor('c1.weight').data<'float32'>(), before);
  r.best.dispose();

  // A floor the base model does not meet is refused up front.
  await assert.rejects(prune(model, { train, eval: val, classes: 2 }, { criterion: 'l1', scope: 'global', norm: 'l2', protocol: 'none', amount: { maps: 1 }, minAccuracy: 1 }), /already below the floor/);

  for (const protocol of ['retrain', 'layer-retrain', 'once'] as const) {
    const p = await prune(model, { train, eval: val, classes: 2 }, { criterion: 'taylor', scope: 'layer', norm: 'none', protocol, retrainIters: 3, amount: { maps: 1 }, maxSteps: 2, scoreBatches: 1 });
    assert.equal(p.history.length, 2, protocol);
    assert.equal(p.stopReason, '2 steps done');
    p.best.dispose();
  }
  await assert.rejects(prune(model, { train, eval: val, classes: 2 }, { criterion: 'l1', scope: 'global', norm: 'l2', protocol: 'retrain', amount: { maps: 1 }, maxSteps: 1 }), /retrainIters/);
  await assert.rejects(prune(model, { train, eval: val, classes: 2 }, { criterion: 'l1', scope: 'global', norm: 'l2', protocol: 'none', amount: { maps: 1 } }), /stopping rule/);
  model.dispose();
});

test('patience: steps below the floor are tolerated up to the limit; the kept model is the last step that met the floor', async () => {
  const model = Model.create(tinyNet(), { seed: 3 });
  const train = source(2, 16, 11);
  const val = source(2, 32, 12);
  const opts = { criterion: 'l1', scope: 'global', norm: 'none', protocol: 'none', amount: { maps: 1 } } as const;
  // Greedy l1 removal is data-independent, so every run walks the same models: read the path once without a floor.
  const free = await prune(model, { train, eval: val, classes: 2 }, { ...opts, maxSteps: 8 });
  free.best.dispose();
  const acc = free.history.map((h) => h.accuracy);
  const base = free.base.accuracy;
  // The rule, restated independently: count consecutive steps under the floor, stop when the count exceeds patience.
  const expected = (floor: number, patience: number) => {
    let below = 0;
    let best = 0;
    for (let i = 0; i < acc.length; i++) {
      if (acc[i]! < floor) {
        if (++below > patience) return { best, steps: i + 1 };
      } else {
        below = 0;
        best = i + 1;
      }
    }
    return { best, steps: acc.length };
  };
  let patienceHelped = false;
  for (const floor of new Set(acc.filter((a) => a <= base))) {
    for (const patience of [0, 1, 3]) {
      const r = await prune(model, { train, eval: val, classes: 2 }, { ...opts, minAccuracy: floor, patience, maxSteps: 8 });
      const want = expected(floor, patience);
      assert.equal(r.bestStep, want.best, `floor ${floor}, patience ${patience}`);
      assert.equal(r.history.length, want.steps, `floor ${floor}, patience ${patience}`);
      assert.equal(summarize(r.best.graph).totals.params, want.best === 0 ? free.base.params : free.history[want.best - 1]!.params);
      if (patience > 0 && want.best > expected(floor, 0).best) patienceHelped = true;
      r.best.dispose();
    }
  }
  assert.ok(patienceHelped, `the accuracy path ${acc.map((a) => a.toFixed(3)).join(' ')} never recovers after a dip: pick another seed`);
  await assert.rejects(prune(model, { train, eval: val, classes: 2 }, { ...opts, minAccuracy: 0, patience: -1 }), /patience/);
  model.dispose();
});

test('backtrack: a step under the floor sends the loop back to the kept model with half the step, down to one channel', async () => {
  // A trained net, so that removing channels costs accuracy.
  const { model, val, train } = await trainedTinyNet(8);
  model.eval();
  const opts = { criterion: 'l1', scope: 'global', norm: 'none', protocol: 'none', amount: { maps: 4 }, maxSteps: 12 } as const;
  const base = (await evaluate(model, val, 2)).accuracy;
  const r = await prune(model, { train, eval: val, classes: 2 }, { ...opts, minAccuracy: base - 0.05, backtrack: true });
  const h = r.history;
  let maps = 4;
  let kept = 0;
  for (let i = 0; i < h.length; i++) {
    const rec = h[i]!;
    if (i > 0 && !h[i - 1]!.meets_floor) {
      // After a failure: back to the last step that met the floor, half the step.
      assert.equal(rec.from, kept, `step ${rec.step} starts from the kept step`);
      maps = Math.max(1, Math.floor(maps / 2));
    } else assert.equal(rec.from, rec.step - 1);
    assert.ok(rec.removed <= maps, `step ${rec.step} removed ${rec.removed} > ${maps}`);
    if (rec.meets_floor) kept = rec.step;
  }
  assert.ok(h.some((rec) => rec.from !== rec.step - 1), `no backtrack happened: ${h.map((x) => `${x.step}:${x.accuracy.toFixed(3)}`).join(' ')}`);
  assert.equal(r.bestStep, kept);
  // The kept model is the one recorded at the kept step.
  assert.equal(summarize(r.best.graph).totals.params, kept === 0 ? r.base.params : h.find((rec) => rec.step === kept)!.params);
  assert.match(r.stopReason, /smallest step/);
  assert.equal(h.at(-1)!.removed, 1);
  r.best.dispose();
  // With a channel grid the step cannot shrink below a block: backtracking ends there instead of looping.
  const g = await prune(model, { train, eval: val, classes: 2 }, { ...opts, amount: { maps: 4 }, roundTo: 2, maxSteps: 40, minAccuracy: base - 0.05, backtrack: true });
  assert.match(g.stopReason, /below the floor/);
  assert.ok(g.history.length < 40, `${g.history.length} steps`);
  g.best.dispose();
  model.dispose();
});

test('layer-retrain only changes the pruned layer', async () => {
  const model = Model.create(tinyNet(), { seed: 4 });
  const train = source(3, 8, 1);
  const val = source(1, 8, 2);
  const r = await prune(model, { train, eval: val, classes: 2 }, { criterion: 'l1', scope: 'layer', norm: 'none', protocol: 'layer-retrain', retrainIters: 3, amount: { maps: 1 }, layers: ['fc1'], maxSteps: 1, lr: 1e-2 });
  // c1 and c2 were neither pruned nor retrained: identical weights.
  for (const k of ['c1.weight', 'c2.weight', 'c2.bias']) assert.deepEqual(r.best.tensor(k).data<'float32'>(), model.tensor(k).data<'float32'>(), k);
  // fc2 reads fc1's channels: it was sliced, not retrained.
  const fc1 = r.best.tensor('fc1.weight');
  assert.equal(fc1.size(0), 4);
  r.best.dispose();
  model.dispose();
});
