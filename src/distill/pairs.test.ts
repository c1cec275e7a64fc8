// Which teacher feature each student feature is compared with: stage outputs
// (the last node at each spatial size), paired by name (a pruned model and
// its unpruned parent), by spatial size (another depth), or as given; and
// the set-up errors, each a DistillError raised by the Distillation
// constructor, before a trainer exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads } from '../tensor/index.js';
import { Model } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { DependencyGraph, criterion, removeChannels, scoreChannels, selectChannels } from '../prune/index.js';
import { Distillation, DistillError, pairFeatures, parsePairs, stageOutputs, type FeaturePair } from './index.js';

setNumThreads(1);

const brief = (pairs: readonly FeaturePair[]): string[] => pairs.map((p) => `${p.student} [${p.studentShape.join(',')}] -> ${p.teacher} [${p.teacherShape.join(',')}]`);

/** ResNet-20 on 3x8x8 inputs (same node names as at 32x32, stages 8x8, 4x4, 2x2). */
const smallResnet = (width: number, seed: number, classes = 10): Model => Model.create(buildArch('resnet20', { imageSize: 8, widthMultiplier: width, classes }), { seed });

/** Asserts that `fn` throws a DistillError whose message contains every one of `parts`. */
function throwsDistill(fn: () => unknown, parts: readonly string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DistillError, `not a DistillError: ${String(e)}`);
    for (const p of parts) assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} does not name ${JSON.stringify(p)}`);
    return true;
  });
}

test('stage outputs: the last node at each spatial size (lenet5, resnet20)', () => {
  // lenet5: conv1/relu1 at 28x28, pool1/conv2/relu2 at 14x14, pool2 at 7x7.
  assert.deepEqual(stageOutputs(buildArch('lenet5')), ['relu1', 'relu2', 'pool2']);
  // resnet20: the end of each group of blocks (32x32, 16x16, 8x8), where RepDistiller taps it.
  assert.deepEqual(stageOutputs(buildArch('resnet20')), ['layer1.2.relu2', 'layer2.2.relu2', 'layer3.2.relu2']);
  assert.deepEqual(stageOutputs(buildArch('resnet56')), ['layer1.8.relu2', 'layer2.8.relu2', 'layer3.8.relu2']);
});

test('a pruned student pairs with its unpruned parent by name (pruning keeps node names), with adapters for the narrower maps', async () => {
  using parent = Model.create(buildArch('lenet5'), { seed: 1 });
  const dep = new DependencyGraph(parent.graph);
  const scores = scoreChannels(dep, await criterion('l1').score({ model: parent, dep, seed: 0 }));
  const removed = selectChannels(dep, scores, { amount: { fraction: 0.3 }, scope: 'layer', norm: 'none' }); // 30 % of every layer, so each stage narrows
  using pruned = removeChannels(parent, dep, removed).model;
  const d = new Distillation({ teacher: parent, student: pruned, losses: [{ name: 'at' }, { name: 'hint' }] });
  assert.equal(d.pairing!.mode, 'name');
  assert.deepEqual(
    d.pairs.map((p) => [p.student, p.teacher]),
    [
      ['relu1', 'relu1'],
      ['relu2', 'relu2'],
      ['pool2', 'pool2'],
    ],
  );
  for (const p of d.pairs) {
    assert.deepEqual(p.studentShape.slice(1), p.teacherShape.slice(1), `${p.student}: same spatial size`);
    assert.ok(p.studentShape[0]! < p.teacherShape[0]!, `${p.student}: pruned to ${p.studentShape[0]} of ${p.teacherShape[0]} maps`);
  }
  assert.deepEqual(
    d.describe().adapters.map((a) => [a.name, a.from, a.to]),
    d.pairs.map((p, i) => [`adapter_${i}`, p.studentShape[0], p.teacherShape[0]]),
  );
  d.dispose();
});

test('a half-width resnet20 pairs with resnet20 stage by stage; with resnet56 by spatial size; given pairs override both', () => {
  const teacher = buildArch('resnet20');
  const half = buildArch('resnet20', { widthMultiplier: 0.5 });
  // Same names and sizes: paired by name, the three stages.
  const same = pairFeatures(half, teacher, { sameSpatial: true });
  assert.equal(same.mode, 'name');
  assert.deepEqual(brief(same.pairs), [
    'layer1.2.relu2 [8,32,32] -> layer1.2.relu2 [16,32,32]',
    'layer2.2.relu2 [16,16,16] -> layer2.2.relu2 [32,16,16]',
    'layer3.2.relu2 [32,8,8] -> layer3.2.relu2 [64,8,8]',
  ]);
  // A deeper teacher has other names at the ends of its stages: paired by spatial size.
  const deep = buildArch('resnet56');
  const bySize = pairFeatures(half, deep, { sameSpatial: true });
  assert.equal(bySize.mode, 'spatial');
  assert.deepEqual(brief(bySize.pairs), [
    'layer1.2.relu2 [8,32,32] -> layer1.8.relu2 [16,32,32]',
    'layer2.2.relu2 [16,16,16] -> layer2.8.relu2 [32,16,16]',
    'layer3.2.relu2 [32,8,8] -> layer3.8.relu2 [64,8,8]',
  ]);
  // Given by name: exactly those pairs (here a mid-stage block of the deep teacher).
  const given = pairFeatures(half, deep, { given: parsePairs('layer2.2.relu2:layer2.4.relu2'), sameSpatial: true });
  assert.equal(given.mode, 'given');
  assert.deepEqual(brief(given.pairs), ['layer2.2.relu2 [16,16,16] -> layer2.4.relu2 [32,16,16]']);
});

test('--pairs parsing: student:teacher lists; anything else is a DistillError naming the piece', () => {
  assert.deepEqual(parsePairs(' a:b , c.d:e.f '), [
    { student: 'a', teacher: 'b' },
    { student: 'c.d', teacher: 'e.f' },
  ]);
  throwsDistill(() => parsePairs('a:b,layer1'), ["'layer1'", 'student_node:teacher_node']);
  throwsDistill(() => parsePairs('a:b:c'), ["'a:b:c'"]);
});

test('bad set-ups are DistillErrors from the constructor, before any training: class counts, spatial sizes, unknown nodes, pairs for logit losses', () => {
  using teacher = smallResnet(0.5, 1);
  using student = smallResnet(0.25, 2);
  using fiveClasses = smallResnet(0.25, 3, 5);
  throwsDistill(() => new Distillation({ teacher, student: fiveClasses, losses: [{ name: 'kd' }] }), ['teacher has 10 classes', 'student 5']);
  // A given pair across stages (4x4 vs 2x2): AT compares position by position.
  throwsDistill(() => new Distillation({ teacher, student, losses: [{ name: 'at' }], pairs: [{ student: 'layer2.2.relu2', teacher: 'layer3.2.relu2' }] }), [
    'layer2.2.relu2:layer3.2.relu2',
    'spatial sizes differ',
    '[8, 4, 4]',
    '[32, 2, 2]',
  ]);
  // SP compares batch similarity matrices, so the same pair is accepted for it.
  new Distillation({ teacher, student, losses: [{ name: 'sp' }], pairs: [{ student: 'layer2.2.relu2', teacher: 'layer3.2.relu2' }] }).dispose();
  throwsDistill(() => new Distillation({ teacher, student, losses: [{ name: 'hint' }], pairs: [{ student: 'layer9.relu', teacher: 'layer3.2.relu2' }] }), ["the student has no node 'layer9.relu'", 'layer3.2.relu2']);
  throwsDistill(() => new Distillation({ teacher, student, losses: [{ name: 'hint' }], pairs: [{ student: 'layer3.2.relu2', teacher: 'nope' }] }), ["the teacher has no node 'nope'"]);
  throwsDistill(() => new Distillation({ teacher, student, losses: [{ name: 'kd' }], pairs: [{ student: 'layer3.2.relu2', teacher: 'layer3.2.relu2' }] }), ['feature pairs were given', 'logits only']);
  throwsDistill(() => new Distillation({ teacher, student, losses: [{ name: 'kd' }, { name: 'fitnet' }] }), ["unknown distillation loss 'fitnet'"]);
  throwsDistill(() => new Distillation({ teacher, student, losses: [{ name: 'kd', params: { temperature: 0 } }] }), ['kd.temperature', '> 0']);
  throwsDistill(() => new Distillation({ teacher, student, losses: [] }), ['at least one distillation loss']);
  // Another input size: teacher and student must read the same images.
  using mnistSized = Model.create(buildArch('resnet20', { imageSize: 28, inChannels: 1, widthMultiplier: 0.25 }), { seed: 4 });
  throwsDistill(() => new Distillation({ teacher, student: mnistSized, losses: [{ name: 'kd' }] }), ['[3, 8, 8]', '[1, 28, 28]']);
});
