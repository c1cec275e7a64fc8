// Comparing maps and models against hand-computed truths: Spearman with ties
// (average ranks, scipy's value), top-k IoU of identical, disjoint and
// half-overlapping sets, maps at two resolutions, disagreements and the
// per-class summary of two models built to disagree, and the refusal of
// models with different input shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, liveNativeTensors, manualSeed, noGrad, randn, tensor, tidy } from '../tensor/index.js';
import { GraphBuilder, Model } from '../graph/index.js';
import { ExplainError } from './errors.js';
import { averageRanks, checkSameInput, compareModels, mapAgreement, spearman, topOverlap } from './compare.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('Spearman: average ranks for ties, hand-computed values', () => {
  assert.deepEqual([...averageRanks([3, 1, 2, 2])], [4, 1, 2.5, 2.5]);
  // ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4]: 4.5 / sqrt(4.5 · 5) = sqrt(0.9) (scipy.stats.spearmanr: 0.9486832980505138).
  close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 0.9486832980505138, 1e-12);
  close(spearman([1, 2, 3, 4, 5], [50, 40, 30, 20, 10]), -1);
  close(spearman([0.1, 5, 2], [1, 100, 7]), 1, 1e-12);
  assert.equal(spearman([2, 2, 2], [1, 2, 3]), 0, 'a constant map has no ranking: 0, never NaN');
  assert.throws(() => spearman([1, 2], [1]), ExplainError);
});

test('top-20 % IoU: identical 1, disjoint 0, one shared pixel of two 1/3; ties by pixel index', () => {
  const a = [9, 8, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.equal(topOverlap(a, a), 1);
  assert.equal(topOverlap(a, [0, 0, 0, 0, 0, 0, 0, 0, 9, 8]), 0);
  assert.equal(topOverlap(a, [0, 9, 8, 0, 0, 0, 0, 0, 0, 0]), 1 / 3);
  assert.equal(topOverlap([1, 1, 1, 1, 1], [0, 0, 0, 0, 5], 0.2), 0, 'constant map: the top pixel is pixel 0');
  assert.equal(topOverlap(a, [0, 9, 8, 7, 0, 0, 0, 0, 0, 0], 0.3), 2 / 4);
  assert.throws(() => topOverlap(a, a, 0), /top fraction/);
});

test('maps at different resolutions are compared at the input resolution', () => {
  manualSeed(3);
  const small = randn([2, 3, 3]);
  const big = tidy(() => noGrad(() => F.interpolate(small.unsqueeze(1), { size: [12, 12], mode: 'bilinear' }).squeeze(1)));
  const before = liveNativeTensors().handles;
  const same = mapAgreement(small, big, [12, 12]);
  assert.equal(liveNativeTensors().handles, before);
  for (const v of same.spearman) close(v, 1, 1e-6);
  assert.deepEqual(same.topIoU, [1, 1]);
  const flipped = tidy(() => big.neg());
  const opposite = mapAgreement(small, flipped, [12, 12]);
  for (const v of opposite.spearman) close(v, -1, 1e-6);
  for (const v of opposite.topIoU) assert.equal(v, 0);
  assert.throws(() => mapAgreement(small, randn([3, 3, 3]), [12, 12]), /same B/);
});

/** input [1, 4, 4] → flatten → linear 2 with weights w (class 0) and −w (class 1), or the opposite. */
function signModel(flip: boolean, shape: [number, number, number] = [1, 4, 4]): Model {
  const b = new GraphBuilder(flip ? 'flipped' : 'plain');
  const h = b.flatten(b.input(shape), { name: 'flat' });
  const m = Model.create(b.build(b.linear(h, 2, { name: 'fc' })), { seed: 0 }).eval();
  const n = shape.reduce((a, v) => a * v, 1);
  const w = Float32Array.from({ length: 2 * n }, (_, j) => ((j < n ? 1 : -1) * (flip ? -1 : 1)) * (j % n === 0 ? 1 : 0.01));
  noGrad(() => {
    m.tensor('fc.weight').copy_(tensor(w, [2, n]));
    m.tensor('fc.bias').zero_();
  });
  return m;
}

test('compareModels: predictions, disagreements, pair agreement and the per-class summary', () => {
  const base = signModel(false);
  const same = base.clone().eval();
  const flipped = signModel(true);
  // Pixel 0 decides: positive → class 0 for base, class 1 for flipped.
  const px = [2, -2, 3, -3, 1, 0.5];
  const x = tensor(Float32Array.from({ length: 6 * 16 }, (_, j) => (j % 16 === 0 ? px[j / 16]! : 0)), [6, 1, 4, 4]);
  const labels = [0, 1, 0, 0, 1, 1];
  const mapA = tensor(Float32Array.from({ length: 6 * 16 }, (_, j) => j % 16), [6, 4, 4]);
  const mapB = tensor(Float32Array.from({ length: 6 * 16 }, (_, j) => -(j % 16)), [6, 4, 4]);
  const maps = { saliency: { base: mapA, pruned: mapA, student: mapB } };
  const r = compareModels({ models: [{ name: 'base', model: base }, { name: 'pruned', model: same }, { name: 'student', model: flipped }], x, labels, maps });
  assert.deepEqual(r.models, ['base', 'pruned', 'student']);
  assert.deepEqual(r.predictions.base, [0, 1, 0, 1, 0, 0]);
  assert.deepEqual(r.predictions.student, [1, 0, 1, 0, 1, 1]);
  assert.deepEqual(
    r.disagreements.map((d) => d.image),
    [0, 1, 2, 3, 4, 5],
  );
  assert.deepEqual(r.disagreements[1], { image: 1, label: 1, predictions: { base: 1, pruned: 1, student: 0 } });
  assert.equal(r.pairs.length, 3);
  const p = (a: string, b: string) => r.pairs.find((q) => q.a === a && q.b === b)!;
  for (const v of p('base', 'pruned').spearman) close(v, 1);
  close(p('base', 'pruned').meanTopIoU, 1);
  for (const v of p('base', 'student').spearman) close(v, -1);
  close(p('base', 'student').meanTopIoU, 0);
  // Per class of the true labels: class 0 = images 0, 2, 3; class 1 = images 1, 4, 5.
  assert.deepEqual(
    r.perClass.map((c) => [c.cls, c.images, c.agreement]),
    [
      [0, 3, 0],
      [1, 3, 0],
    ],
  );
  assert.deepEqual(r.perClass[0]!.accuracy, { base: 2 / 3, pruned: 2 / 3, student: 1 / 3 });
  assert.deepEqual(r.perClass[1]!.accuracy, { base: 1 / 3, pruned: 1 / 3, student: 2 / 3 });
  close(r.perClass[0]!.pairs.find((q) => q.a === 'base' && q.b === 'student')!.meanSpearman, -1);

  // Two models that agree: no disagreement; without labels the classes are the first model's predictions.
  const r2 = compareModels({ models: [{ name: 'base', model: base }, { name: 'pruned', model: same }], x, maps: { saliency: { base: mapA, pruned: mapA } } });
  assert.deepEqual(r2.disagreements, []);
  assert.deepEqual(
    r2.perClass.map((c) => [c.cls, c.images, c.agreement, c.accuracy]),
    [
      [0, 4, 1, undefined],
      [1, 2, 1, undefined],
    ],
  );
  assert.throws(() => compareModels({ models: [{ name: 'base', model: base }, { name: 'pruned', model: same }], x, maps: { saliency: { base: mapA } } }), /no saliency maps for model 'pruned'/);
  for (const t of [x, mapA, mapB]) t.dispose();
  for (const m of [base, same, flipped]) m.dispose();
});

test('models with different input shapes are refused, naming both shapes', () => {
  const a = signModel(false, [1, 4, 4]);
  const b = signModel(false, [3, 4, 4]);
  assert.throws(
    () => checkSameInput([{ name: 'base', model: a }, { name: 'student', model: b }]),
    (e: unknown) => e instanceof ExplainError && /base takes \[1, 4, 4\], student takes \[3, 4, 4\]/.test(e.message),
  );
  const x = tensor(new Float32Array(16), [1, 1, 4, 4]);
  assert.throws(() => compareModels({ models: [{ name: 'base', model: a }, { name: 'student', model: b }], x, maps: {} }), ExplainError);
  assert.throws(() => compareModels({ models: [{ name: 'a', model: a }, { name: 'a', model: a }], x, maps: {} }), /names must differ/);
  x.dispose();
  a.dispose();
  b.dispose();
});
