import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fraction, splitDataset, subset } from './dataset.js';
import { loadDataset } from './registry.js';
import { syntheticDataset } from './testing.js';
import { UsageError } from '../util/errors.js';

const counts = (labels: Int32Array, k: number): number[] => {
  const c = new Array<number>(k).fill(0);
  for (const l of labels) c[l]!++;
  return c;
};

// 1,000 samples, unbalanced classes 0..3 with 100 / 200 / 300 / 400 samples.
const unbalanced = () => syntheticDataset(1000, [1, 2, 2], 4, (i) => (i < 100 ? 0 : i < 300 ? 1 : i < 600 ? 2 : 3));

test('subset maps indices and keeps shape and classes', () => {
  const ds = syntheticDataset(10);
  const s = subset(ds, [7, 2, 7]);
  assert.equal(s.length, 3);
  assert.deepEqual(s.get(0).image, ds.get(7).image);
  assert.deepEqual([...s.labels()], [7 % 3, 2 % 3, 7 % 3]);
  assert.deepEqual(s.sampleShape, ds.sampleShape);
  assert.throws(() => subset(ds, [10]), RangeError);
  assert.throws(() => s.get(3), RangeError);
});

test('splitDataset: seeded, reproducible, disjoint, stratified by default', () => {
  const ds = unbalanced();
  const a = splitDataset(ds, { validation: 0.2, seed: 5 });
  const b = splitDataset(ds, { validation: 200, seed: 5 });
  const c = splitDataset(ds, { validation: 0.2, seed: 6 });
  assert.equal(a.validation.length, 200);
  assert.equal(a.train.length, 800);
  const ids = (d: typeof a.train) => Array.from({ length: d.length }, (_, i) => d.get(i).image[0]);
  assert.deepEqual(ids(a.validation), ids(b.validation));
  assert.notDeepEqual(ids(a.validation), ids(c.validation));
  const all = new Set([...ids(a.train), ...ids(a.validation)]);
  assert.equal(all.size, 1000, 'train and validation are disjoint and cover the data set');
  assert.deepEqual(counts(a.validation.labels(), 4), [20, 40, 60, 80]);
  assert.deepEqual(counts(a.train.labels(), 4), [80, 160, 240, 320]);
  // Unstratified: same size, class shares drift.
  const u = splitDataset(ds, { validation: 0.2, seed: 5, stratified: false });
  assert.equal(u.validation.length, 200);
  assert.notDeepEqual(counts(u.validation.labels(), 4), [20, 40, 60, 80]);
  // Exact total with awkward rounding (3 classes of 1000/3).
  const odd = splitDataset(syntheticDataset(1000, [1, 1, 1], 3), { validation: 101, seed: 1 });
  assert.equal(odd.validation.length, 101);
  assert.ok(counts(odd.validation.labels(), 3).every((k) => k === 33 || k === 34));
  assert.throws(() => splitDataset(ds, { validation: 1001, seed: 1 }), (e: unknown) => e instanceof UsageError && /^validation 1001 asks for more samples than .* has \(1000\)/.test(e.message));
  assert.throws(() => splitDataset(ds, { validation: 2.5, seed: 1 }), (e: unknown) => e instanceof UsageError && /validation must be a whole number of samples or a fraction/.test(e.message));
});

test('fraction: stratified, seeded quick subsets', () => {
  const ds = unbalanced();
  const f = fraction(ds, 0.1, 3);
  assert.equal(f.length, 100);
  assert.deepEqual(counts(f.labels(), 4), [10, 20, 30, 40]);
  assert.deepEqual(fraction(ds, 0.1, 3).labels(), f.labels());
  const first = (d: typeof f) => Array.from({ length: d.length }, (_, i) => d.get(i).image[0]);
  assert.deepEqual(first(fraction(ds, 0.1, 3)), first(f));
  assert.notDeepEqual(first(fraction(ds, 0.1, 4)), first(f));
  assert.equal(fraction(ds, 1, 3), ds);
  assert.throws(() => fraction(ds, 0, 3), (e: unknown) => e instanceof UsageError && /^fraction must be in \(0, 1\], got 0/.test(e.message));
});

test("'mnist-digits': fixed seeded 8,000 / 2,000 split of the bundled digits", () => {
  const train = loadDataset('mnist-digits', 'train');
  const testSet = loadDataset('mnist-digits', 'test');
  assert.equal(train.length, 8000);
  assert.equal(testSet.length, 2000);
  assert.deepEqual(train.sampleShape, [1, 28, 28]);
  assert.equal(train.classes.length, 10);
  assert.deepEqual(loadDataset('mnist-digits', 'train').get(123).image, train.get(123).image);
  const seen = new Set<string>();
  for (const d of [train, testSet]) for (let i = 0; i < d.length; i += 97) seen.add(Buffer.from(d.get(i).image.buffer).toString('base64'));
  assert.ok(seen.size > 100);
});
