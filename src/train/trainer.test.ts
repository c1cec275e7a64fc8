// The Trainer end to end on tiny deterministic problems.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, Scope, noGrad, setNumThreads, tensor, tidy, trackedCount } from '../tensor/index.js';
import type { Model } from '../graph/index.js';
import { SGD, Adam, paramGroupsFor } from './optim/index.js';
import { LrSchedule } from './schedules.js';
import { clipGradNorm, gradNorm } from './clip.js';
import { EarlyStopping } from './early-stopping.js';
import { saveTrainerState, loadTrainerState } from './state-file.js';
import { ArraySource, blobs, mlp, tinyCnn } from './testing.js';
import { NonFiniteLossError, Trainer, TrainerStateMismatchError, disposeTrainerState, evaluate, type EpochRecord } from './trainer.js';
import { SlimnetError } from '../util/errors.js';

setNumThreads(1);

function snapshot(model: Model): Map<string, Float32Array> {
  return new Map(model.namedTensors().map(([k, t]) => [k, t.data<'float32'>()]));
}

function assertBitIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    const same = v.length === w.length && v.every((x, i) => Object.is(x, w[i]));
    assert.ok(same, `${what}: '${k}' differs`);
  }
}

test('a tiny MLP learns separable blobs; evaluate() reports the metrics', async () => {
  const d = blobs(240, { classes: 3, separation: 4, seed: 3 });
  const v = blobs(90, { classes: 3, separation: 4, seed: 4 });
  const train = new ArraySource(d.x, d.y, [2], 32, 1);
  const val = new ArraySource(v.x, v.y, [2], 45);
  using model = mlp(2, 16, 3, { seed: 1 });
  const before = await evaluate(model, val, ['a', 'b', 'c']);
  using opt = new Adam(model.parameters(), { lr: 0.05 });
  const trainer = new Trainer({ model, optimizer: opt });
  const tracked = trackedCount();
  const history = await trainer.fit(train, { epochs: 4, validation: val });
  assert.equal(trackedCount(), tracked, 'fit() leaves no tensors in the enclosing scope');
  assert.equal(history.length, 4);
  assert.deepEqual(history.map((r) => r.epoch), [0, 1, 2, 3]);
  assert.deepEqual(train.requested, [0, 1, 2, 3]);
  const last = history[3]!;
  assert.ok(last.val!.accuracy > 0.9, `validation accuracy ${last.val!.accuracy}`);
  assert.ok(last.val!.accuracy > before.accuracy + 0.2, `accuracy rose from ${before.accuracy} to ${last.val!.accuracy}`);
  assert.ok(last.train.loss < history[0]!.train.loss, 'training loss fell');
  assert.equal(last.train.samples, 240);
  assert.equal(last.train.steps, 8);
  assert.equal(last.val!.count, 90);
  // The metrics agree with a direct computation.
  const direct = noGrad(() =>
    tidy(() => {
      const x = tensor(v.x, [90, 2]);
      const y = tensor(BigInt64Array.from(v.y, BigInt), [90]);
      const logits = model.forward(x, { training: false });
      return { acc: logits.argmax(1).eq(y).sum().item() / 90, loss: F.crossEntropy(logits, y).item() };
    }),
  );
  assert.equal(last.val!.accuracy, direct.acc);
  assert.ok(Math.abs(last.val!.loss - direct.loss) < 1e-6);
  assert.equal(last.val!.confusion.flat().reduce((a, b) => a + b, 0), 90);
});

test('a tiny conv net trains on image-shaped batches', async () => {
  // Class = which half of a 6x6 image is bright.
  const n = 64;
  const x = new Float32Array(n * 36);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) x[i * 36 + r * 6 + c] = (y[i] === 0 ? r < 3 : r >= 3) ? 1 + ((i * 7 + c) % 3) / 10 : ((i + r) % 3) / 10;
  }
  const src = new ArraySource(x, y, [1, 6, 6], 16, 2);
  using model = tinyCnn(1, 6, 2, 5);
  using opt = new SGD(model.parameters(), { lr: 0.2, momentum: 0.9 });
  const history = await new Trainer({ model, optimizer: opt }).fit(src, { epochs: 6, validation: src });
  assert.ok(history[5]!.val!.accuracy > history[0]!.val!.accuracy || history[0]!.val!.accuracy === 1);
  assert.ok(history[5]!.val!.accuracy >= 0.9, `accuracy ${history[5]!.val!.accuracy}`);
});

test('label smoothing gives the hand-computed loss', async () => {
  const eps = 0.2;
  const d = blobs(8, { classes: 4, seed: 9 });
  const src = new ArraySource(d.x, d.y, [2], 8);
  using model = mlp(2, 5, 4, { seed: 2 });
  using opt = new SGD(model.parameters(), { lr: 0 });
  const losses: number[] = [];
  const trainer = new Trainer({ model, optimizer: opt, labelSmoothing: eps, callbacks: [{ onStepEnd: (i) => void losses.push(i.loss) }] });
  await trainer.fit(src, { epochs: 1 });
  const logits = noGrad(() => tidy(() => model.forward(tensor(d.x, [8, 2]), { training: false }).data<'float32'>()));
  // loss_i = (1 - eps) * (-log p_y) + eps * mean_c(-log p_c)
  let hand = 0;
  let plain = 0;
  for (let i = 0; i < 8; i++) {
    const z = Array.from(logits.subarray(i * 4, i * 4 + 4));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    const nll = z.map((v) => lse - v);
    hand += (1 - eps) * nll[d.y[i]!]! + (eps * nll.reduce((a, b) => a + b, 0)) / 4;
    plain += nll[d.y[i]!]!;
  }
  hand /= 8;
  plain /= 8;
  assert.ok(Math.abs(losses[0]! - hand) < 1e-5, `smoothed loss ${losses[0]} vs hand ${hand}`);
  assert.ok(Math.abs(hand - plain) > 1e-3, 'smoothing changes the loss');
});

test('gradient clipping bounds the global norm and keeps the direction', () => {
  using scope = new Scope();
  const a = tensor([3, 4]).requiresGrad_();
  const b = tensor([[12]]).requiresGrad_();
  tidy(() => a.mul(a).sum().add(b.mul(b).sum()).backward()); // grads 2a = [6, 8], 2b = [24]; norm 26
  assert.ok(Math.abs(gradNorm([a, b]) - 26) < 1e-5);
  const total = clipGradNorm([a, b], 13);
  assert.ok(Math.abs(total - 26) < 1e-5, 'returns the norm before clipping');
  assert.ok(Math.abs(gradNorm([a, b]) - 13) < 1e-4, `clipped norm ${gradNorm([a, b])}`);
  assert.deepEqual(a.grad!.toArray().map((v) => +v.toFixed(4)), [3, 4]);
  // Below the bound nothing changes.
  assert.ok(Math.abs(clipGradNorm([a, b], 100) - 13) < 1e-4);
  assert.ok(Math.abs(gradNorm([a, b]) - 13) < 1e-4);
  // Max norm.
  assert.equal(gradNorm([a, b], Infinity), a.grad!.toArray().concat(b.grad!.toArray()).reduce((m, v) => Math.max(m, Math.abs(v)), 0));
  void scope;
});

test('the trainer clips before each update (reported norm, bounded step)', async () => {
  const d = blobs(16, { classes: 2, separation: 30, seed: 5 }); // large inputs: large gradients
  const src = new ArraySource(d.x, d.y, [2], 16);
  using model = mlp(2, 8, 2, { seed: 3 });
  using opt = new SGD(model.parameters(), { lr: 1 });
  const before = snapshot(model);
  const norms: number[] = [];
  await new Trainer({ model, optimizer: opt, gradClip: 0.5, callbacks: [{ onStepEnd: (i) => void norms.push(i.gradNorm!) }] }).fit(src, { epochs: 1 });
  assert.ok(norms[0]! > 0.5, `the raw norm ${norms[0]} exceeds the bound (else the test proves nothing)`);
  // With SGD lr 1 the parameter change is exactly the clipped gradient.
  let sq = 0;
  const after = snapshot(model);
  for (const [k, v] of before) if (!k.includes('running')) v.forEach((x, i) => (sq += (after.get(k)![i]! - x) ** 2));
  assert.ok(Math.abs(Math.sqrt(sq) - 0.5) < 1e-4, `update norm ${Math.sqrt(sq)}`);
});

test('an extra loss term is applied: L1 on fc1.weight shrinks it', async () => {
  const d = blobs(32, { classes: 2, seed: 6 });
  const src = new ArraySource(d.x, d.y, [2], 16);
  const l1Of = (m: Model) => noGrad(() => tidy(() => m.tensor('fc1.weight').abs().sum().item()));
  const run = async (lambda: number) => {
    const model = mlp(2, 8, 2, { seed: 4 });
    const opt = new SGD(model.parameters(), { lr: 0.05 });
    const terms = lambda > 0 ? [{ name: 'l1', fn: ({ model: m }: { model: Model }) => m.tensor('fc1.weight').abs().sum().mul(lambda) }] : [];
    const h = await new Trainer({ model, optimizer: opt, extraLosses: terms }).fit(src, { epochs: 3 });
    const l1 = l1Of(model);
    opt.dispose();
    model.dispose();
    return { l1, h };
  };
  const start = l1Of(mlp(2, 8, 2, { seed: 4 }));
  const without = await run(0);
  const withL1 = await run(0.5);
  assert.ok(withL1.l1 < without.l1 - 0.1, `L1 ${withL1.l1} with the term vs ${without.l1} without`);
  assert.ok(withL1.l1 < start, 'the penalised weight norm fell');
  const r = withL1.h[2]!.train;
  assert.ok(r.extra.l1! > 0);
  assert.ok(Math.abs(r.loss - (r.dataLoss + r.extra.l1!)) < 1e-6, 'total = data + extra');
});

test('early stopping stops after `patience` epochs without improvement and restores the best weights', async () => {
  const d = blobs(32, { classes: 2, seed: 7 });
  const src = new ArraySource(d.x, d.y, [2], 16);
  using model = mlp(2, 8, 2, { seed: 5 });
  using opt = new SGD(model.parameters(), { lr: 0.05 });
  // A scripted monitored value: best at epoch 1, then no improvement beyond minDelta.
  const script = [1.0, 0.5, 0.55, 0.499, 0.6, 0.1, 0.1];
  const snaps: Map<string, Float32Array>[] = [];
  const es = new EarlyStopping({ monitor: (r: EpochRecord) => script[r.epoch]!, mode: 'min', patience: 3, minDelta: 0.01 });
  const trainer = new Trainer({ model, optimizer: opt, callbacks: [{ onEpochEnd: () => void snaps.push(snapshot(model)) }] });
  const h = await trainer.fit(src, { epochs: 7, earlyStopping: es });
  assert.equal(h.length, 5, 'epochs 0..4 ran: 2, 3, 4 did not improve by more than 0.01');
  assert.equal(es.bestEpoch, 1);
  assert.equal(es.stoppedEpoch, 4);
  assert.equal(trainer.stoppedBecause, 'early stopping');
  assert.equal(trainer.epoch, 5);
  assertBitIdentical(snapshot(model), snaps[1]!, 'restored weights');
  es.dispose();
});

test('early stopping on validation accuracy infers mode max; a missing metric is an error', async () => {
  const d = blobs(16, { classes: 2, seed: 8 });
  const src = new ArraySource(d.x, d.y, [2], 16);
  using model = mlp(2, 4, 2, { seed: 6 });
  using opt = new SGD(model.parameters(), { lr: 0.01 });
  assert.equal(new EarlyStopping({ monitor: 'val.accuracy' }).mode, 'max');
  assert.equal(new EarlyStopping({ monitor: 'train.loss' }).mode, 'min');
  await assert.rejects(new Trainer({ model, optimizer: opt }).fit(src, { epochs: 1, earlyStopping: { monitor: 'val.loss' } }), /no validation source/);
});

test('a NaN loss stops training with NonFiniteLossError and leaves the weights unchanged', async () => {
  const d = blobs(48, { classes: 2, seed: 9 });
  const src = new ArraySource(d.x, d.y, [2], 16);
  using model = mlp(2, 8, 2, { seed: 7 });
  using opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  let before: Map<string, Float32Array> | undefined;
  const poison = ({ step }: { step: number }) => {
    if (step === 4) before = snapshot(model);
    return tensor([step === 4 ? NaN : 0]).sum();
  };
  const trainer = new Trainer({ model, optimizer: opt, extraLosses: [{ name: 'poison', fn: poison }] });
  const err = await trainer.fit(src, { epochs: 3 }).then(
    () => assert.fail('expected NonFiniteLossError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof NonFiniteLossError, String(err));
  assert.equal(err.epoch, 1);
  assert.equal(err.step, 1);
  assert.equal(err.globalStep, 4);
  assert.ok(Number.isNaN(err.value));
  assert.equal(err.term, 'poison');
  assertBitIdentical(snapshot(model), before!, 'weights after the NaN step');
  assert.equal(trainer.globalStep, 4);
});

test('an infinite data loss is caught too', async () => {
  const src = new ArraySource(new Float32Array([Infinity, 0, 1, 1]), [0, 1], [2], 2);
  using model = mlp(2, 3, 2, { seed: 8 });
  using opt = new SGD(model.parameters(), { lr: 0.1 });
  await assert.rejects(new Trainer({ model, optimizer: opt }).fit(src, { epochs: 1 }), (e: unknown) => e instanceof NonFiniteLossError && e.term === 'loss' && e.step === 0);
});

test('a callback stops training; stop() between steps; lr and progress are reported', async () => {
  const d = blobs(64, { classes: 2, seed: 10 });
  const src = new ArraySource(d.x, d.y, [2], 16);
  using model = mlp(2, 4, 2, { seed: 9 });
  using opt = new SGD(model.parameters(), { lr: 0.1 });
  const schedule = new LrSchedule(opt, { type: 'step', stepSize: 1, gamma: 0.5 });
  const progress: string[] = [];
  const trainer = new Trainer({ model, optimizer: opt, schedule, callbacks: [{ onEpochEnd: (r) => (r.epoch === 1 ? 'stop' : undefined) }] });
  const h = await trainer.fit(src, { epochs: 5, validation: src, onProgress: (p) => progress.push(`${p.phase}${p.epoch}:${p.step}/${p.steps}`) });
  assert.deepEqual(h.map((r) => r.lr), [0.1, 0.05]);
  assert.equal(trainer.stoppedBecause, 'callback');
  assert.deepEqual(progress.slice(0, 6), ['train0:1/4', 'train0:2/4', 'train0:3/4', 'train0:4/4', 'val0:1/4', 'val0:2/4']);
  // stop() from outside (a SIGINT handler) lands between steps.
  const t2 = new Trainer({ model, optimizer: opt, callbacks: [{ onStepEnd: (i, t) => (i.globalStep === 2 ? t.stop('SIGINT') : undefined) }] });
  const h2 = await t2.fit(src, { epochs: 3 });
  assert.equal(h2.length, 1);
  assert.equal(h2[0]!.completed, false);
  assert.equal(h2[0]!.train.steps, 2);
  assert.equal(t2.stoppedBecause, 'SIGINT');
});

test('the event loop runs between steps', async () => {
  const d = blobs(64, { classes: 2, seed: 11 });
  const src = new ArraySource(d.x, d.y, [2], 8);
  using model = mlp(2, 4, 2, { seed: 10 });
  using opt = new SGD(model.parameters(), { lr: 0.1 });
  let timers = 0;
  const stepsSeen: number[] = [];
  const interval = setInterval(() => (timers += 1), 0);
  await new Trainer({ model, optimizer: opt, callbacks: [{ onStepEnd: () => void stepsSeen.push(timers) }] }).fit(src, { epochs: 1 });
  clearInterval(interval);
  assert.ok(stepsSeen[stepsSeen.length - 1]! > stepsSeen[0]!, `timers fired during training: ${stepsSeen.join(',')}`);
});

/** A full configuration: BN, dropout (RNG), grouped SGD with Nesterov, per-step warm-up cosine, early stopping. */
function setup(seed: number) {
  const model = mlp(2, 8, 3, { batchNorm: true, dropout: 0.3, seed });
  const opt = new SGD(paramGroupsFor(model, { weightDecay: 1e-3, noDecayOnNormAndBias: true, lrByKind: { linear: 0.2 } }), { lr: 0.1, momentum: 0.9, nesterov: true });
  const schedule = new LrSchedule(opt, { type: 'cosine', unit: 'step', length: 20, warmup: 4 });
  return { model, opt, schedule };
}

test('resume: K epochs + save/load + the rest is bit-identical to N epochs straight', async () => {
  const d = blobs(60, { classes: 3, seed: 12 });
  const v = blobs(30, { classes: 3, seed: 13 });
  const train = new ArraySource(d.x, d.y, [2], 16, 99);
  const val = new ArraySource(v.x, v.y, [2], 30);
  const es = { monitor: 'val.accuracy', patience: 50 } as const;
  const N = 5;

  const straight = setup(1);
  const hs = await new Trainer({ model: straight.model, optimizer: straight.opt, schedule: straight.schedule, extraLosses: [(c) => c.logits.pow(2).mean().mul(1e-3)] }).fit(train, {
    epochs: N,
    validation: val,
    earlyStopping: es,
  });

  const dir = mkdtempSync(join(tmpdir(), 'slimnet-train-'));
  try {
    for (const stopAt of [{ epoch: 2 }, { step: 11 }]) {
      // First run: stop after epoch 2 (epoch boundary) or at global step 11 (mid-epoch).
      const a = setup(1);
      const ta = new Trainer({
        model: a.model,
        optimizer: a.opt,
        schedule: a.schedule,
        extraLosses: [(c) => c.logits.pow(2).mean().mul(1e-3)],
        callbacks: [{ onEpochEnd: (r) => (r.epoch === stopAt.epoch ? 'stop' : undefined), onStepEnd: (i) => (i.globalStep === stopAt.step ? 'stop' : undefined) }],
      });
      await ta.fit(train, { epochs: N, validation: val, earlyStopping: es });
      const path = join(dir, 'state.safetensors');
      const s = ta.state();
      saveTrainerState(path, s);
      disposeTrainerState(s);
      a.model.dispose();
      a.opt.dispose();
      ta.earlyStopping?.dispose();
      // Burn some RNG so a missing RNG restore would show.
      tidy(() => F.dropout(tensor(new Float32Array(100)), 0.5, true));

      // Second run: a new model (other init), optimizer, schedule and trainer.
      const b = setup(2);
      const tb = new Trainer({ model: b.model, optimizer: b.opt, schedule: b.schedule, extraLosses: [(c) => c.logits.pow(2).mean().mul(1e-3)] });
      const loaded = loadTrainerState(path);
      tb.loadState(loaded);
      disposeTrainerState(loaded);
      const hb = await tb.fit(train, { epochs: N, validation: val, earlyStopping: es });
      assertBitIdentical(snapshot(b.model), snapshot(straight.model), `resumed at ${JSON.stringify(stopAt)}`);
      assert.deepEqual(
        tb.history.map((r) => [r.epoch, r.train.loss, r.val!.accuracy, r.lrs]),
        hs.map((r) => [r.epoch, r.train.loss, r.val!.accuracy, r.lrs]),
        'the history continues as if uninterrupted',
      );
      assert.equal(hb[hb.length - 1]!.epoch, N - 1);
      assert.deepEqual(tb.earlyStopping!.stateMeta(), { best: hs.reduce((m, r) => Math.max(m, r.val!.accuracy), 0), bestEpoch: tb.earlyStopping!.bestEpoch, wait: tb.earlyStopping!.wait, stoppedEpoch: null });
      assert.deepEqual(b.opt.paramGroups.map((g) => g.lr), straight.opt.paramGroups.map((g) => g.lr));
      tb.earlyStopping?.dispose();
      b.model.dispose();
      b.opt.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    straight.model.dispose();
    straight.opt.dispose();
  }
});

test('state() of a freshly loaded trainer reproduces the loaded state (early-stopping weights included)', async () => {
  const d = blobs(32, { classes: 3, seed: 15 });
  const src = new ArraySource(d.x, d.y, [2], 16, 3);
  const a = setup(1);
  const ta = new Trainer({ model: a.model, optimizer: a.opt, schedule: a.schedule });
  await ta.fit(src, { epochs: 2, validation: src, earlyStopping: { monitor: 'val.loss', patience: 9 } });
  const s1 = ta.state();
  const b = setup(2);
  const tb = new Trainer({ model: b.model, optimizer: b.opt, schedule: b.schedule });
  tb.loadState(s1);
  const s2 = tb.state();
  assert.deepEqual(s2.meta, s1.meta);
  assert.deepEqual(Object.keys(s2.tensors).sort(), Object.keys(s1.tensors).sort());
  assert.ok(Object.keys(s1.tensors).some((k) => k.startsWith('earlyStopping.best.')));
  for (const [k, t] of Object.entries(s1.tensors)) assert.ok(t.allclose(s2.tensors[k]!, 0, 0) || t.dtype === 'uint8', `tensor '${k}' differs`);
  disposeTrainerState(s1);
  disposeTrainerState(s2);
  // The pending early-stopping weights survive both states being disposed.
  await tb.fit(src, { epochs: 3, validation: src, earlyStopping: { monitor: 'val.loss', patience: 9 } });
  assert.ok(tb.earlyStopping!.hasBestWeights);
  for (const x of [a, b]) {
    x.model.dispose();
    x.opt.dispose();
  }
  ta.earlyStopping?.dispose();
  tb.earlyStopping?.dispose();
});

test('loadState rejects a state from a different setup with a SlimnetError that says what differs, and changes nothing', async () => {
  using scope = new Scope();
  const a = setup(1);
  const t = new Trainer({ model: a.model, optimizer: a.opt, schedule: a.schedule });
  const s = t.state();
  const rejects = (trainer: Trainer, re: RegExp): void =>
    assert.throws(() => trainer.loadState(s), (e: unknown) => e instanceof TrainerStateMismatchError && e instanceof SlimnetError && re.test(e.message) && !/TypeError|loadState/.test(e.message));
  // Another architecture: tensors the model lacks, named.
  using plain = mlp(2, 8, 3, { seed: 1 });
  using plainOpt = new SGD(plain.parameters(), { lr: 0.1 });
  rejects(new Trainer({ model: plain, optimizer: plainOpt }), /the model differs .*the state has bn1\.weight, bn1\.bias, .* which this model lacks/);
  // Another width: the tensor and both shapes.
  const wide = setup(1);
  using wideModel = mlp(2, 16, 3, { batchNorm: true, dropout: 0.3, seed: 1 });
  using wideOpt = new SGD(paramGroupsFor(wideModel, { weightDecay: 1e-3, noDecayOnNormAndBias: true, lrByKind: { linear: 0.2 } }), { lr: 0.1, momentum: 0.9, nesterov: true });
  rejects(new Trainer({ model: wideModel, optimizer: wideOpt, schedule: new LrSchedule(wideOpt, a.schedule.spec) }), /fc1\.weight is \[8, 2\] in the state and \[16, 2\] here/);
  // Another optimizer, another grouping, another schedule, none.
  const adam = new Adam(paramGroupsFor(a.model, { weightDecay: 1e-3, noDecayOnNormAndBias: true, lrByKind: { linear: 0.2 } }));
  rejects(new Trainer({ model: a.model, optimizer: adam, schedule: new LrSchedule(adam, a.schedule.spec) }), /saved with the SGD optimizer, this training uses Adam/);
  const oneGroup = new SGD(a.model.parameters(), { lr: 0.1, momentum: 0.9 });
  rejects(new Trainer({ model: a.model, optimizer: oneGroup, schedule: new LrSchedule(oneGroup, a.schedule.spec) }), /had \d+ parameter groups in the state, 1 here/);
  rejects(new Trainer({ model: a.model, optimizer: a.opt, schedule: new LrSchedule(a.opt, { type: 'step', stepSize: 2 }) }), /the learning-rate schedule differs/);
  rejects(new Trainer({ model: a.model, optimizer: a.opt }), /the state has a learning-rate schedule \(cosine\), this training has none/);
  // Nothing was changed by the rejected loads.
  const before = a.model.stateDict();
  const t2 = new Trainer({ model: a.model, optimizer: a.opt, schedule: a.schedule });
  t2.loadState(s);
  for (const [k, v] of Object.entries(a.model.stateDict())) assert.deepEqual(v.toArray(), before[k]!.toArray(), k);
  disposeTrainerState(s);
  for (const x of [a, wide]) {
    x.model.dispose();
    x.opt.dispose();
  }
  adam.dispose();
  oneGroup.dispose();
  void scope;
});

test('training and evaluation leave no tensor behind in the caller\'s scope', async () => {
  const d = blobs(64, { classes: 3, seed: 14 });
  const src = new ArraySource(d.x, d.y, [2], 8);
  using model = mlp(2, 16, 3, { batchNorm: true, seed: 11 });
  using opt = new Adam(model.parameters(), { lr: 0.01 });
  const trainer = new Trainer({ model, optimizer: opt, gradClip: 1, extraLosses: [(c) => c.logits.abs().mean().mul(1e-3)] });
  using scope = new Scope();
  const tracked = trackedCount();
  await trainer.fit(src, { epochs: 2, validation: src, earlyStopping: { monitor: 'val.loss', patience: 5 } });
  await evaluate(model, src);
  // The early stopper's best weights are deliberately untracked (it owns them).
  assert.equal(trackedCount(), tracked, 'a tensor escaped the per-step scopes');
  trainer.earlyStopping?.dispose();
  void scope;
});
