// The trainer's seams for later features: a per-step context shared by every
// loss term, auxiliary trainable modules that resume exactly, and callbacks
// around backward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, noGrad, randn, manualSeed, setNumThreads, trackedCount, type Tensor } from '../tensor/index.js';
import { Adam, SGD } from './optim/index.js';
import { AuxiliaryModule } from './auxiliary.js';
import { saveTrainerState, loadTrainerState } from './state-file.js';
import { ArraySource, blobs, mlp } from './testing.js';
import { Trainer, disposeTrainerState, type Callback, type LossContext } from './trainer.js';

setNumThreads(1);

function snapshot(tensors: [string, Tensor][]): Map<string, Float32Array> {
  return new Map(tensors.map(([k, t]) => [k, t.data<'float32'>()]));
}

function assertBitIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    assert.ok(v.length === w.length && v.every((x, i) => Object.is(x, w[i])), `${what}: '${k}' differs`);
  }
}

/** Soft-target distillation term: KL(softmax(t / T) || softmax(s / T)) · T². */
function kd(student: Tensor, teacher: Tensor, temperature: number): Tensor {
  const p = F.softmax(teacher.div(temperature), 1);
  const logQ = F.logSoftmax(student.div(temperature), 1);
  return p.mul(p.log().sub(logQ)).sum(1).mean().mul(temperature * temperature);
}

test('a step context is computed once per step, shared by the main loss and every term, and disposed after the step', async () => {
  const d = blobs(48, { classes: 3, seed: 21 });
  const src = new ArraySource(d.x, d.y, [2], 16, 5);
  using teacher = mlp(2, 12, 3, { seed: 30 });
  let teacherForwards = 0;
  const forwardTeacher = (x: Tensor): Tensor => {
    teacherForwards++;
    return noGrad(() => teacher.forward(x, { training: false }));
  };
  // Two terms that both need the teacher's logits, and a main loss that reads them too.
  const run = async (shared: boolean) => {
    teacherForwards = 0;
    const model = mlp(2, 8, 3, { seed: 31 });
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    let made = 0;
    let disposed = 0;
    const logitsOf = (c: LossContext<{ teacher: Tensor }>): Tensor => (shared ? c.context!.teacher : forwardTeacher(c.x));
    const trainer = new Trainer<{ teacher: Tensor; dispose(): void }>({
      model,
      optimizer: opt,
      ...(shared
        ? {
            stepContext: ({ x }) => {
              made++;
              return { teacher: forwardTeacher(x), dispose: () => void disposed++ };
            },
          }
        : {}),
      loss: (logits, y, c) => F.crossEntropy(logits, y).mul(0.5).add(kd(logits, logitsOf(c as LossContext<{ teacher: Tensor }>), 2).mul(0.5)),
      extraLosses: [
        { name: 'agree', fn: (c) => F.mseLoss(c.logits, logitsOf(c)).mul(0.1) },
        { name: 'top', fn: (c) => c.logits.sub(logitsOf(c)).abs().mean().mul(0.01) },
      ],
    });
    const tracked = trackedCount();
    const h = await trainer.fit(src, { epochs: 2 });
    assert.equal(trackedCount(), tracked, 'the context\'s tensors are released with the step');
    const w = snapshot(model.namedTensors());
    model.dispose();
    opt.dispose();
    return { w, h, made, disposed, forwards: teacherForwards };
  };
  const once = await run(true);
  const each = await run(false);
  const steps = 2 * src.length;
  assert.equal(once.made, steps);
  assert.equal(once.disposed, steps);
  assert.equal(once.forwards, steps, 'one teacher forward per step');
  assert.equal(each.forwards, 3 * steps, 'without the context every reader runs the teacher again');
  // The same values either way: sharing changes the cost, not the result.
  assertBitIdentical(once.w, each.w, 'weights');
  assert.deepEqual(once.h.map((r) => r.train), each.h.map((r) => r.train));
});

test('the step context is disposed when the step fails', async () => {
  const d = blobs(16, { classes: 2, seed: 22 });
  const src = new ArraySource(d.x, d.y, [2], 8);
  using model = mlp(2, 4, 2, { seed: 32 });
  using opt = new SGD(model.parameters(), { lr: 0.1 });
  let disposed = 0;
  const trainer = new Trainer({
    model,
    optimizer: opt,
    stepContext: () => ({ [Symbol.dispose]: () => void disposed++ }),
    extraLosses: [{ name: 'bad', fn: (c) => c.logits.sum().mul(c.step === 1 ? NaN : 0) }],
  });
  await assert.rejects(trainer.fit(src, { epochs: 1 }), /non-finite bad/);
  assert.equal(disposed, 2);
});

/** An adapter: a per-class scale and shift on the logits, trained with the model through an extra term. */
function adapter(seed: number): AuxiliaryModule {
  manualSeed(seed);
  return new AuxiliaryModule('adapter', {
    scale: randn([3]).mul(0.1).add(1).detach().requiresGrad_(),
    shift: randn([3]).mul(0.1).detach().requiresGrad_(),
    calls: randn([1]).mul(0), // a buffer: saved and restored, not trained
  });
}

function adapterTerm(c: LossContext): Tensor {
  const a = c.auxiliary!.adapter!;
  return F.crossEntropy(c.logits.mul(a.tensor('scale')).add(a.tensor('shift')), c.y).mul(0.5);
}

function auxSetup(seed: number) {
  const model = mlp(2, 8, 3, { seed });
  const aux = adapter(seed + 100);
  const opt = new Adam([...model.parameters(), ...aux.parameters()], { lr: 0.05 });
  return { model, aux, opt };
}

test('an auxiliary module is updated with the model, and an interrupted run resumed from its state is bit-identical', async () => {
  const d = blobs(60, { classes: 3, seed: 23 });
  const train = new ArraySource(d.x, d.y, [2], 16, 7);
  const N = 3;
  const straight = auxSetup(1);
  const before = snapshot(straight.aux.namedTensors());
  await new Trainer({ model: straight.model, optimizer: straight.opt, auxiliary: [straight.aux], extraLosses: [{ name: 'adapter', fn: adapterTerm }] }).fit(train, { epochs: N });
  const trained = snapshot(straight.aux.namedTensors());
  assert.ok(!trained.get('scale')!.every((v, i) => v === before.get('scale')![i]), 'the optimizer updated the adapter');
  assert.deepEqual(trained.get('calls'), before.get('calls'), 'a buffer is not trained');

  const dir = mkdtempSync(join(tmpdir(), 'slimnet-aux-'));
  try {
    const a = auxSetup(1);
    const ta = new Trainer({
      model: a.model,
      optimizer: a.opt,
      auxiliary: [a.aux],
      extraLosses: [{ name: 'adapter', fn: adapterTerm }],
      callbacks: [{ onStepEnd: (i) => (i.globalStep === 6 ? 'stop' : undefined) }],
    });
    await ta.fit(train, { epochs: N });
    assert.equal(ta.globalStep, 6);
    const path = join(dir, 'state.safetensors');
    const s = ta.state();
    assert.deepEqual(s.meta.auxiliary, ['adapter']);
    assert.deepEqual(Object.keys(s.tensors).filter((k) => k.startsWith('auxiliary.')), ['auxiliary.adapter.scale', 'auxiliary.adapter.shift', 'auxiliary.adapter.calls']);
    saveTrainerState(path, s);
    disposeTrainerState(s);
    for (const x of [a.model, a.opt, a.aux]) x.dispose();

    // A fresh model and adapter (other initial values) resume from the file.
    const b = auxSetup(2);
    const tb = new Trainer({ model: b.model, optimizer: b.opt, auxiliary: [b.aux], extraLosses: [{ name: 'adapter', fn: adapterTerm }] });
    const loaded = loadTrainerState(path);
    tb.loadState(loaded);
    disposeTrainerState(loaded);
    await tb.fit(train, { epochs: N });
    assertBitIdentical(snapshot(b.model.namedTensors()), snapshot(straight.model.namedTensors()), 'model');
    assertBitIdentical(snapshot(b.aux.namedTensors()), trained, 'adapter');

    // A trainer without the module refuses the state, and one with it refuses a state without it.
    const c = auxSetup(3);
    const s2 = tb.state();
    assert.throws(() => new Trainer({ model: c.model, optimizer: c.opt }).loadState(s2), /auxiliary modules \[adapter\], this trainer \[\]/);
    const plain = new Trainer({ model: c.model, optimizer: c.opt }).state();
    assert.equal('auxiliary' in plain.meta, false, 'a state without auxiliary modules keeps the old format');
    assert.throws(() => new Trainer({ model: c.model, optimizer: c.opt, auxiliary: [c.aux] }).loadState(plain), /auxiliary modules \[\], this trainer \[adapter\]/);
    disposeTrainerState(s2);
    disposeTrainerState(plain);
    for (const x of [b.model, b.opt, b.aux, c.model, c.opt, c.aux]) x.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const x of [straight.model, straight.opt, straight.aux]) x.dispose();
  }
});

test('an auxiliary module the optimizer does not update is refused', () => {
  const s = auxSetup(4);
  using opt = new SGD(s.model.parameters(), { lr: 0.1 });
  assert.throws(() => new Trainer({ model: s.model, optimizer: opt, auxiliary: [s.aux] }), /does not update auxiliary module 'adapter' \(scale, shift\)/);
  assert.throws(() => new AuxiliaryModule('a.b', { w: randn([1]) }), /letters, digits/);
  for (const x of [s.model, s.opt, s.aux]) x.dispose();
});

test('before/after-backward callbacks: an L1 sub-gradient added after backward equals the L1 loss term', async () => {
  const d = blobs(32, { classes: 2, seed: 24 });
  const src = new ArraySource(d.x, d.y, [2], 16);
  const lambda = 0.05;
  const run = async (viaCallback: boolean) => {
    const model = mlp(2, 8, 2, { seed: 33 });
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    const losses: number[] = [];
    const seen: number[] = [];
    const subgradient: Callback = {
      onBeforeBackward: (loss) => void seen.push(loss.item()),
      onAfterBackward: ({ model: m }) => {
        const w = m.tensor('fc1.weight');
        noGrad(() => (w.grad = w.grad!.add(w.sign().mul(lambda))));
      },
    };
    const trainer = new Trainer({
      model,
      optimizer: opt,
      ...(viaCallback ? { callbacks: [subgradient] } : { extraLosses: [{ name: 'l1', fn: (c: LossContext) => c.model.tensor('fc1.weight').abs().sum().mul(lambda) }] }),
    });
    trainer.callbacks.push({ onStepEnd: (i) => void losses.push(i.dataLoss) });
    await trainer.fit(src, { epochs: 3 });
    const w = snapshot(model.namedTensors());
    model.dispose();
    opt.dispose();
    return { w, losses, seen };
  };
  const cb = await run(true);
  const term = await run(false);
  assert.equal(cb.seen.length, 6, 'onBeforeBackward saw every step');
  assert.deepEqual(cb.seen, cb.losses.map((l) => Math.fround(l)), 'it saw the total loss (here the data loss)');
  for (const [k, v] of term.w) {
    const w = cb.w.get(k)!;
    const diff = Math.max(...v.map((x, i) => Math.abs(x - w[i]!)));
    assert.ok(diff < 1e-6, `${k}: ${diff}`);
  }
  // And the sub-gradient did something: without it the weights differ.
  const none = mlp(2, 8, 2, { seed: 33 });
  const opt = new SGD(none.parameters(), { lr: 0.1 });
  await new Trainer({ model: none, optimizer: opt }).fit(src, { epochs: 3 });
  const plainW = none.tensor('fc1.weight').data<'float32'>();
  assert.ok(plainW.some((x, i) => Math.abs(x - cb.w.get('fc1.weight')![i]!) > 1e-4));
  none.dispose();
  opt.dispose();
});

test('a Trainer with a typed context is usable where a plain Trainer is expected', () => {
  using model = mlp(2, 4, 2, { seed: 34 });
  using opt = new SGD(model.parameters(), { lr: 0.1 });
  const typed = new Trainer<{ n: number }>({ model, optimizer: opt, stepContext: () => ({ n: 1 }), extraLosses: [(c) => c.logits.sum().mul(c.context!.n * 0)] });
  const plain: Trainer = typed;
  const cb: Callback = { onStepEnd: () => undefined };
  typed.callbacks.push(cb);
  assert.equal(plain.callbacks.length, 1);
});
