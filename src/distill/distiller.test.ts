// The distillation set-up as the Trainer runs it: the teacher runs once per
// step under no-grad and never changes; a student distilled toward a copy of
// its own architecture converges to the teacher's outputs; adapters are made
// only where widths differ, trained, saved and resumed bit for bit; cached
// teacher logits give the live teacher's losses without running it; and
// dispose() releases every native tensor the set-up made.
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import assert from 'node:assert/strict';
import { liveNativeTensors, noGrad, setNumThreads, tensor, tidy, type Tensor } from '../tensor/index.js';
import { GraphBuilder, Model, type Graph } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { Trainer, buildOptimizer, disposeTrainerState, type BatchSource, type OptimizerSpec, type StepInfo } from '../train/index.js';
import { ArraySource } from '../train/testing.js';
import { mulberry32 } from '../util/rng.js';
import { CachedLogits, Distillation, adapterName, type DistillLossSpec, type TeacherOutputs } from './index.js';

setNumThreads(1);

/** ResNet-20 on 3x8x8 inputs at a width multiplier: three stages (8x8, 4x4, 2x2), fast enough for a unit test. */
const smallResnet = (width: number, seed: number): Model => Model.create(buildArch('resnet20', { imageSize: 8, widthMultiplier: width }), { seed });

/** `n` standard-normal samples of `shape` with labels in [0, classes) (seeded). */
function gaussian(n: number, shape: readonly number[], classes: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rand = mulberry32(seed);
  const per = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const y = Int32Array.from({ length: n }, () => Math.floor(rand() * classes));
  return { x, y };
}

function source(n: number, shape: readonly number[], batch: number, seed: number, shuffleSeed?: number, classes = 10): ArraySource {
  const d = gaussian(n, shape, classes, seed);
  return new ArraySource(d.x, d.y, shape, batch, shuffleSeed);
}

const SGD: OptimizerSpec = { type: 'sgd', lr: 0.05, momentum: 0.9 };

/** A trainer over the distillation's options; the optimizer updates the student and the adapters. */
function distillTrainer(d: Distillation, student: Model, spec: OptimizerSpec = SGD, callbacks: ConstructorParameters<typeof Trainer<TeacherOutputs>>[0]['callbacks'] = []): Trainer<TeacherOutputs> {
  const optimizer = buildOptimizer(student, spec, d.auxiliary.flatMap((m) => m.parameters()));
  return new Trainer<TeacherOutputs>({ model: student, optimizer, ...d.trainerOptions(), callbacks });
}

/** Copies of every tensor's values, by key. */
function snapshot(tensors: readonly [string, Tensor][]): Map<string, Float32Array> {
  return new Map(tensors.map(([k, t]) => [k, t.data<'float32'>().slice()]));
}

function assertBitIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: other keys`);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    assert.ok(v.length === w.length && v.every((x, i) => Object.is(x, w[i])), `${what}: '${k}' differs`);
  }
}

const ALL_LOSSES: DistillLossSpec[] = ['kd', 'at', 'sp', 'hint', 'dkd'].map((name) => ({ name }));

test('the teacher runs once per step whatever the number of losses, under no-grad, and its weights never change', async () => {
  // Not frozen on purpose: its parameters require grad, and still nothing reaches them.
  using teacher = smallResnet(0.5, 1);
  using student = smallResnet(0.25, 2);
  const before = snapshot(teacher.namedTensors());
  const d = new Distillation({ teacher, student, losses: ALL_LOSSES });
  assert.equal(d.adapters.length, 3, 'hint with a half-width student: one adapter per stage pair');
  const seen: { logits: boolean; features: boolean[] }[] = [];
  // A small lr: the anchors' weights (at 1000, sp 3000, hint 100) summed make large gradients.
  const trainer = distillTrainer(d, student, { type: 'sgd', lr: 1e-3, momentum: 0.9 }, [
    {
      onBeforeBackward: (_loss, ctx) => {
        const t = ctx.context!;
        seen.push({ logits: t.logits.requiresGrad, features: [...t.features.values()].map((f) => f.requiresGrad) });
      },
    },
  ]);
  const steps: StepInfo[] = [];
  trainer.callbacks.push({ onStepEnd: (info) => void steps.push(info) });
  const src = source(24, [3, 8, 8], 8, 3, 4);
  await trainer.fit(src, { epochs: 2 });

  assert.equal(steps.length, 6);
  assert.equal(d.runner.forwards, 6, 'one teacher forward per step for five losses');
  assert.deepEqual(Object.keys(steps[0]!.extra), ['kd', 'at', 'sp', 'hint', 'dkd']);
  for (const s of steps) for (const [k, v] of Object.entries(s.extra)) assert.ok(Number.isFinite(v), `${k} at step ${s.globalStep}: ${v}`);
  assert.equal(seen.length, 6);
  for (const s of seen) {
    assert.equal(s.logits, false, "the teacher's logits require no grad");
    assert.deepEqual(s.features, [false, false, false], "the teacher's features require no grad");
  }
  assertBitIdentical(before, snapshot(teacher.namedTensors()), 'teacher after 6 steps');
  for (const p of teacher.parameters()) assert.equal(p.grad, null, 'no gradient reached a teacher parameter');
  // The optimizer holds the student's and the adapters' parameters, not the teacher's.
  const optimized = new Set(trainer.optimizer.paramGroups.flatMap((g) => g.params));
  assert.equal(optimized.size, student.parameters().length + d.auxiliary.flatMap((m) => m.parameters()).length);
  assert.ok(teacher.parameters().every((p) => !optimized.has(p)));
  trainer.optimizer.dispose();
  d.dispose();
});

/** conv 3x3 (16) → relu → conv 3x3 (16) → relu → global average pool → fc (3), on 1x8x8; no BatchNorm, so train and eval mode compute the same function. */
function plainCnn(): Graph {
  const b = new GraphBuilder('plaincnn');
  let h = b.input([1, 8, 8]);
  h = b.relu(b.conv2d(h, 16, 3, { padding: 1, name: 'c1' }), { name: 'r1' });
  h = b.relu(b.conv2d(h, 16, 3, { padding: 1, name: 'c2' }), { name: 'r2' });
  return b.build(b.linear(b.globalAvgPool(h, { name: 'gap' }), 3, { name: 'fc' }));
}

test('logit regression toward a teacher of the same architecture converges to the teacher (held-out inputs, eval mode)', async () => {
  // Wide enough that the student reaches the teacher's function from another
  // initialisation (a very narrow ReLU net such as tinyNet stalls at ~2 % of
  // the initial gap: a student-teacher local minimum, not a distillation bug).
  using teacher = Model.create(plainCnn(), { seed: 1 });
  using student = Model.create(plainCnn(), { seed: 2 });
  teacher.freeze();
  const heldOut = gaussian(256, [1, 8, 8], 3, 99).x;
  const mse = (): number =>
    tidy(() =>
      noGrad(() => {
        const x = tensor(heldOut, [256, 1, 8, 8]);
        return teacher.forward(x, { training: false }).sub(student.forward(x, { training: false })).pow(2).mean().item() as number;
      }),
    );
  const initial = mse();
  const d = new Distillation({ teacher, student, losses: [{ name: 'logits', params: { weight: 1 } }], ceWeight: 0 });
  const trainer = distillTrainer(d, student, { type: 'adam', lr: 3e-3 });
  await trainer.fit(source(2048, [1, 8, 8], 64, 7, 8, 3), { epochs: 8 }); // 256 steps; labels unused (ceWeight 0)
  const final = mse();
  // Observed: 0.048 → 5e-5 (ratio 1.1e-3; 1.0e-3 and 2.2e-3 with other seeds).
  assert.ok(initial > 1e-3, `the two initialisations already agree (${initial})`);
  assert.ok(final < initial * 1e-2, `mean squared logit difference ${final} is not below 1% of its initial ${initial}`);
  trainer.optimizer.dispose();
  d.dispose();
});

test('adapters: only where widths differ, trained, saved in the trainer state, and resumed bit for bit', async () => {
  const hint: DistillLossSpec[] = [{ name: 'hint' }];
  {
    using teacher = smallResnet(0.5, 1);
    using same = smallResnet(0.5, 2);
    const d = new Distillation({ teacher, student: same, losses: hint });
    assert.equal(d.pairing!.mode, 'name');
    assert.equal(d.adapters.length, 0, 'no adapter when the channel counts agree');
    d.dispose();
  }

  // Run 4 steps (2 epochs of 2 batches) straight, or 2, save, rebuild everything, load and run 2 more.
  const src = () => source(16, [3, 8, 8], 8, 5, 6);
  const setUp = () => {
    const teacher = smallResnet(0.5, 1);
    const student = smallResnet(0.25, 2);
    const d = new Distillation({ teacher, student, losses: hint });
    const trainer = distillTrainer(d, student);
    const dispose = () => {
      trainer.optimizer.dispose();
      d.dispose();
      student.dispose();
      teacher.dispose();
    };
    return { teacher, student, d, trainer, dispose };
  };
  const final = (s: ReturnType<typeof setUp>) => snapshot([...s.student.namedTensors(), ...s.d.auxiliary.flatMap((m) => m.namedTensors().map(([k, t]) => [`${m.name}.${k}`, t] as [string, Tensor]))]);

  const whole = setUp();
  assert.deepEqual(
    whole.d.adapters.map((a) => [a.pair, a.module.name, a.module.tensor('weight').shape]),
    [
      [0, adapterName(0), [8, 4, 1, 1]],
      [1, adapterName(1), [16, 8, 1, 1]],
      [2, adapterName(2), [32, 16, 1, 1]],
    ],
    'a 1x1 conv from the student width to the teacher width per stage',
  );
  const adapters0 = snapshot(whole.d.auxiliary.flatMap((m) => m.namedTensors().map(([k, t]) => [`${m.name}.${k}`, t] as [string, Tensor])));
  await whole.trainer.fit(src(), { epochs: 2 });
  const uninterrupted = final(whole);
  for (const [k, v] of adapters0) assert.ok(v.some((x, i) => x !== uninterrupted.get(k)![i]), `adapter tensor ${k} was not trained`);
  whole.dispose();

  const first = setUp();
  await first.trainer.fit(src(), { epochs: 1 });
  const state = first.trainer.state();
  first.dispose();
  const adapterKeys = Object.keys(state.tensors).filter((k) => k.startsWith('auxiliary.')).sort();
  assert.deepEqual(adapterKeys, [0, 1, 2].flatMap((i) => [`auxiliary.adapter_${i}.bias`, `auxiliary.adapter_${i}.weight`]));
  assert.deepEqual(state.meta.auxiliary, ['adapter_0', 'adapter_1', 'adapter_2']);

  const second = setUp();
  second.trainer.loadState(state);
  disposeTrainerState(state);
  await second.trainer.fit(src(), { epochs: 2 });
  assertBitIdentical(uninterrupted, final(second), 'student and adapters after 2 + 2 steps vs 4 steps');
  second.dispose();
});

test('cached teacher logits give the live teacher\'s kd loss without running the teacher', async () => {
  using teacher = smallResnet(0.5, 1);
  const data = gaussian(32, [3, 8, 8], 10, 11);
  const trainSrc = (): BatchSource => new ArraySource(data.x, data.y, [3, 8, 8], 8, 12); // shuffled: rows are found by index
  const cache = await CachedLogits.compute(teacher, new ArraySource(data.x, data.y, [3, 8, 8], 8), 32);
  assert.deepEqual(cache.logits.shape, [32, 10]);

  const run = async (cached: boolean): Promise<{ kd: number[]; forwards: number }> => {
    using student = smallResnet(0.25, 2);
    const d = new Distillation({ teacher, student, losses: [{ name: 'kd' }] });
    assert.equal(d.logitsOnly, true);
    if (cached) d.useCache(cache);
    const kd: number[] = [];
    const trainer = distillTrainer(d, student, SGD, [{ onStepEnd: (i) => void kd.push(i.extra.kd!) }]);
    await trainer.fit(trainSrc(), { epochs: 2 });
    trainer.optimizer.dispose();
    const forwards = d.runner.forwards;
    if (!cached) d.dispose(); // the cached run's dispose would release the shared cache
    return { kd, forwards };
  };
  const live = await run(false);
  const fromCache = await run(true);
  assert.equal(live.forwards, 8);
  assert.equal(fromCache.forwards, 0, 'the teacher never ran with cached logits');
  assert.equal(fromCache.kd.length, 8);
  // The cache was computed over other batches (unshuffled), so values may differ in the last bits.
  fromCache.kd.forEach((v, i) => assert.ok(Math.abs(v - live.kd[i]!) <= 1e-5 * Math.max(1, Math.abs(live.kd[i]!)), `step ${i}: kd ${v} from the cache, ${live.kd[i]} live`));
  cache.dispose();
});

/** The engine's gc(), exposed at run time (the test runner is not started with --expose-gc). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

test('dispose() releases every native tensor the set-up made (adapters, cache, captured features)', async () => {
  // Earlier tests' unreachable tensors are released by the finalizer at the
  // next collection, which would move the count in the middle of this test.
  // Collect once first; no collection at the end: every handle the set-up
  // made must be released by dispose() (and the models' by the test).
  collectGarbage();
  await new Promise((r) => setImmediate(r));
  const before = liveNativeTensors();
  {
    using teacher = smallResnet(0.5, 1);
    using student = smallResnet(0.25, 2);
    const d = new Distillation({ teacher, student, losses: [{ name: 'kd' }, { name: 'hint' }, { name: 'at' }] });
    const trainer = distillTrainer(d, student);
    await trainer.fit(source(16, [3, 8, 8], 8, 13), { epochs: 1 });
    trainer.optimizer.dispose();
    d.dispose();

    using student2 = smallResnet(0.25, 3);
    const logitsOnly = new Distillation({ teacher, student: student2, losses: [{ name: 'dkd' }] });
    logitsOnly.useCache(await CachedLogits.compute(teacher, source(16, [3, 8, 8], 8, 13), 16));
    const trainer2 = distillTrainer(logitsOnly, student2);
    await trainer2.fit(source(16, [3, 8, 8], 8, 13), { epochs: 1 });
    trainer2.optimizer.dispose();
    logitsOnly.dispose();
  }
  const after = liveNativeTensors();
  assert.equal(after.handles, before.handles, `${after.handles - before.handles} native tensor handles still alive`);
  assert.equal(after.bytes, before.bytes);
});
