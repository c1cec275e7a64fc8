// Teachers from files: a slimnet checkpoint, or an ONNX file (imported and run
// in slimnet, so its features can be hooked) that gives the original model's
// logits; and the files that cannot be a teacher, each a DistillError that
// names the path, raised by loadTeacher before any training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, setNumThreads, tensor, tidy } from '../tensor/index.js';
import { Model, saveCheckpoint } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { saveOnnx } from '../export/index.js';
import { Trainer, buildOptimizer } from '../train/index.js';
import { ArraySource } from '../train/testing.js';
import { mulberry32 } from '../util/rng.js';
import { Distillation, DistillError, loadTeacher, type TeacherOutputs } from './index.js';

setNumThreads(1);

const smallResnet = (width: number, seed: number): Model => Model.create(buildArch('resnet20', { imageSize: 8, widthMultiplier: width }), { seed });

function gaussian(n: number, per: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return x;
}

const labels = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i % 10);

/** A resnet20 (3x8x8, half width) after a few SGD steps, so its BatchNorm statistics are not the initial ones. */
async function trainedModel(): Promise<Model> {
  const model = smallResnet(0.5, 1);
  const optimizer = buildOptimizer(model, { type: 'sgd', lr: 0.05, momentum: 0.9 });
  await new Trainer({ model, optimizer }).fit(new ArraySource(gaussian(32, 192, 2), labels(32), [3, 8, 8], 8), { epochs: 1 });
  optimizer.dispose();
  return model.eval();
}

function withDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-teacher-'));
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** Eval-mode logits of `model` on `x` ([n, 3, 8, 8]). */
const logits = (model: Model, x: Float32Array): Float32Array => tidy(() => noGrad(() => model.forward(tensor(x, [x.length / 192, 3, 8, 8]), { training: false }).data<'float32'>().slice()));

test('a checkpoint teacher: frozen, in eval mode, with its metadata', () =>
  withDir(async (dir) => {
    using model = await trainedModel();
    const file = join(dir, 'teacher.safetensors');
    saveCheckpoint(file, model, { epoch: 1 });
    const t = loadTeacher(file);
    using teacher = t.model;
    assert.equal(t.kind, 'checkpoint');
    assert.equal(t.meta.epoch, 1);
    assert.equal(teacher.training, false);
    assert.ok(teacher.parameters().every((p) => !p.requiresGrad), 'every parameter frozen');
    const x = gaussian(4, 192, 3);
    assert.deepEqual(logits(teacher, x), logits(model, x));
  }));

test('an ONNX teacher gives the original model\'s logits (1e-5) and distils a student', () =>
  withDir(async (dir) => {
    using model = await trainedModel();
    const file = join(dir, 'teacher.onnx');
    saveOnnx(model, file);
    const t = loadTeacher(file);
    using teacher = t.model;
    assert.equal(t.kind, 'onnx');
    assert.equal(teacher.training, false);
    const x = gaussian(16, 192, 4);
    const want = logits(model, x);
    const got = logits(teacher, x);
    const gap = Math.max(...want.map((v, i) => Math.abs(v - got[i]!)));
    assert.ok(gap <= 1e-5 * Math.max(1, ...want.map(Math.abs)), `ONNX teacher logits differ by ${gap}`);

    // Its features are hooked like a zoo model's: kd + at on the three stages of a quarter-width student.
    using student = smallResnet(0.25, 5);
    const d = new Distillation({ teacher, student, losses: [{ name: 'kd' }, { name: 'at' }] });
    assert.deepEqual(d.pairs.map((p) => p.teacher), ['layer1.2.relu2', 'layer2.2.relu2', 'layer3.2.relu2']);
    const optimizer = buildOptimizer(student, { type: 'sgd', lr: 0.01, momentum: 0.9 }, d.auxiliary.flatMap((m) => m.parameters()));
    const extra: Record<string, number>[] = [];
    const trainer = new Trainer<TeacherOutputs>({ model: student, optimizer, ...d.trainerOptions(), callbacks: [{ onStepEnd: (i) => void extra.push(i.extra) }] });
    await trainer.fit(new ArraySource(gaussian(8, 192, 6), labels(8), [3, 8, 8], 8), { epochs: 1 });
    assert.equal(d.runner.forwards, 1);
    assert.equal(extra.length, 1);
    assert.ok(extra[0]!.kd! > 0 && extra[0]!.at! > 0, `kd ${extra[0]!.kd}, at ${extra[0]!.at}`);
    optimizer.dispose();
    d.dispose();
  }));

test('files that cannot be a teacher: missing, a directory, an ONNX file that cannot be imported, a broken checkpoint', () =>
  withDir((dir) => {
    const throwsNaming = (path: string, parts: readonly string[]): void => {
      assert.throws(
        () => loadTeacher(path),
        (e: unknown) => {
          assert.ok(e instanceof DistillError, `not a DistillError: ${String(e)}`);
          for (const p of [path, ...parts]) assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} does not name ${JSON.stringify(p)}`);
          return true;
        },
      );
    };
    throwsNaming(join(dir, 'nope.safetensors'), ['does not exist']);
    throwsNaming(dir, ['is a directory']);
    const garbage = join(dir, 'garbage.onnx');
    writeFileSync(garbage, Buffer.from([0x08, 0xff, 0xff, 0x13, 0x37, 0x00, 0x42]));
    throwsNaming(garbage, ['cannot be imported']);
    const broken = join(dir, 'broken.safetensors');
    writeFileSync(broken, 'not a checkpoint');
    throwsNaming(broken, ['cannot be loaded']);
  }));
