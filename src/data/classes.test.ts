// Class subsets. Truths: the original data set itself (each kept sample is
// the original sample with its class's new index, in the original order; the
// counts are the originals' per-class counts), the loader worker's rebuild of
// the subset (datasetFromSpec) gives the same samples, and resolveData without
// `classes` gives what the plain load + split gave before the option existed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { UsageError } from '../util/errors.js';
import { assembleBatch, datasetFromSpec } from './assemble.js';
import { classIndices, selectClasses } from './classes.js';
import { datasetSpec, getSampleAsync, splitDataset, type Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { loadDataset } from './registry.js';
import { resolveData } from './spec.js';
import { syntheticDataset, tempDir } from './testing.js';

const counts = (labels: ArrayLike<number>, k: number): number[] => {
  const c = new Array<number>(k).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i]!]!++;
  return c;
};

// Compared by hand: a failing deepEqual of two large data sets' arrays builds a diff that exhausts the heap.
const sameLabels = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Checks `sel` against `ds` directly: the samples of `kept` (old class indices, in new-label order), in order, relabelled. */
function checkAgainstOriginal(ds: Dataset, sel: Dataset, kept: number[]): void {
  const old = ds.labels();
  const expected: number[] = [];
  old.forEach((l, i) => void (kept.includes(l) && expected.push(i)));
  assert.equal(sel.length, expected.length);
  assert.deepEqual([...sel.labels()], expected.map((i) => kept.indexOf(old[i]!)));
  for (const k of [0, 1, Math.floor(sel.length / 2), sel.length - 1]) {
    const s = sel.get(k);
    const o = ds.get(expected[k]!);
    assert.equal(s.label, kept.indexOf(o.label));
    assert.deepEqual(s.image, o.image);
  }
}

test('selectClasses on mnist-digits [3, 1]: only those samples, relabelled 3 → 0 and 1 → 1, names kept, train and test alike', () => {
  for (const split of ['train', 'test'] as const) {
    const ds = loadDataset('mnist-digits', split);
    const sel = selectClasses(ds, [3, 1]);
    assert.deepEqual(sel.classes, ['3', '1']);
    assert.deepEqual(sel.sampleShape, ds.sampleShape);
    const before = counts(ds.labels(), 10);
    assert.deepEqual(counts(sel.labels(), 2), [before[3], before[1]]);
    assert.ok(before[3]! > 100 && before[1]! > 100);
    checkAgainstOriginal(ds, sel, [3, 1]);
    // The digits' class names are '0'..'9': naming them gives the same subset.
    assert.deepEqual([...selectClasses(ds, ['3', '1']).labels()], [...sel.labels()]);
  }
});

test('selectClasses by name: exact, then ignoring case; a whole number naming no class is an index; order sets the labels', () => {
  const ds = syntheticDataset(30, [1, 2, 2], 3); // classes c0, c1, c2; label i mod 3
  const sel = selectClasses(ds, ['C2', 'c0']);
  assert.deepEqual(sel.classes, ['c2', 'c0']);
  checkAgainstOriginal(ds, sel, [2, 0]);
  assert.deepEqual(classIndices(ds.classes, ['2', 1, 'c0']), [2, 1, 0]);
});

test('selectClasses stays portable: the loader worker rebuilds the same relabelled samples, sharing the images', async () => {
  const ds = loadDataset('mnist-digits', 'train');
  const sel = selectClasses(ds, [7, 2, 9]);
  const spec = datasetSpec(sel);
  assert.ok(spec, 'a class subset of an in-memory data set is portable');
  const rebuilt = datasetFromSpec(spec);
  assert.equal(rebuilt.length, sel.length);
  assert.deepEqual(rebuilt.classes, ['7', '2', '9']);
  assert.deepEqual([...rebuilt.labels()], [...sel.labels()]);
  const idx = Int32Array.from([0, 5, 17, sel.length - 1]);
  const a = await assembleBatch(sel, undefined, [1, 28, 28], idx, 0, 0);
  const b = await assembleBatch(rebuilt, undefined, [1, 28, 28], idx, 0, 0);
  assert.deepEqual(a, b);
  assert.ok([...a.y].every((y) => y >= 0n && y < 3n));
});

test('resolveData with classes: every split holds only those classes, relabelled; the validation split is stratified over them', () => {
  const d = resolveData({ dataset: 'mnist-digits', validation: 0.25, seed: 3, classes: [3, 1] });
  assert.deepEqual(d.classes, ['3', '1']);
  const all = selectClasses(loadDataset('mnist-digits', 'train'), [3, 1]);
  const n = counts(all.labels(), 2);
  const val = counts(d.validation!.labels(), 2);
  const train = counts(d.train.labels(), 2);
  assert.deepEqual([train[0]! + val[0]!, train[1]! + val[1]!], n);
  assert.equal(val[0]! + val[1]!, Math.round(0.25 * all.length));
  // Stratified: each class holds its share of the validation split (to the one sample rounding allows).
  for (const c of [0, 1]) assert.ok(Math.abs(val[c]! - (n[c]! * (val[0]! + val[1]!)) / all.length) <= 1, `class ${c}: ${val[c]} of ${n[c]}`);
  assert.deepEqual(d.test.classes, ['3', '1']);
  assert.deepEqual(counts(d.test.labels(), 2), (() => {
    const t = counts(loadDataset('mnist-digits', 'test').labels(), 10);
    return [t[3], t[1]];
  })());
  // A fraction is taken of the kept classes, also stratified.
  const f = resolveData({ dataset: 'mnist-digits', validation: 0, fraction: 0.5, seed: 3, classes: ['1', '3'] });
  assert.deepEqual(f.classes, ['1', '3']);
  assert.equal(f.train.length, Math.round(0.5 * all.length));
});

test('resolveData without classes gives what the plain load and split gave before', () => {
  const d = resolveData({ dataset: 'mnist-digits', validation: 0.2, seed: 5 });
  const full = loadDataset('mnist-digits', 'train');
  const { train, validation } = splitDataset(full, { validation: 0.2, seed: 5 });
  assert.equal(d.train.name, train.name);
  assert.equal(d.validation!.name, validation.name);
  assert.ok(sameLabels(d.train.labels(), train.labels()));
  assert.ok(sameLabels(d.validation!.labels(), validation.labels()));
  assert.ok(d.train.get(123).image.every((v, i) => v === train.get(123).image[i]));
  const test = loadDataset('mnist-digits', 'test');
  assert.equal(d.test.name, test.name);
  assert.ok(sameLabels(d.test.labels(), test.labels()));
  assert.deepEqual(d.classes, full.classes);
});

test('selectClasses on an image folder: relabelled through the asynchronous path too', async (t) => {
  const root = tempDir(t);
  for (const [c, v] of [['ant', 10], ['bee', 200], ['cat', 90]] as const) {
    mkdirSync(join(root, 'train', c), { recursive: true });
    for (let i = 0; i < 2; i++) await sharp(Buffer.alloc(4 * 4 * 3, v + i), { raw: { width: 4, height: 4, channels: 3 } }).png().toFile(join(root, 'train', c, `${i}.png`));
  }
  const ds = loadDataset('folder', 'train', { root, imageSize: 4 });
  const sel = selectClasses(ds, ['cat', 'bee']);
  assert.deepEqual([...sel.labels()], [1, 1, 0, 0]);
  const s = await getSampleAsync(sel, 2);
  assert.equal(s.label, 0);
  assert.ok(Math.abs(s.image[0]! - 90 / 255) < 1e-6);
  const rebuilt = datasetFromSpec(datasetSpec(sel)!);
  assert.equal((await getSampleAsync(rebuilt, 0)).label, 1);
});

test('selectClasses errors: an unknown class names it and lists the classes; duplicates and an empty list are refused', () => {
  const ds = loadDataset('mnist-digits', 'train');
  assert.throws(
    () => selectClasses(ds, [3, 'eleven']),
    (e: unknown) => e instanceof DataError && /"eleven"/.test(e.message) && /'0', '1', .*'9'/.test(e.message) && e.message.includes('mnist-digits/train'),
  );
  assert.throws(() => selectClasses(ds, [10]), (e: unknown) => e instanceof DataError && /no class 10\b/.test(e.message) && /indices 0 to 9/.test(e.message));
  assert.throws(() => selectClasses(ds, [3, 1, 3]), (e: unknown) => e instanceof UsageError && /'3' twice/.test(e.message));
  assert.throws(() => selectClasses(ds, [3, '3']), (e: unknown) => e instanceof UsageError && /twice \(as 3 and "3"\)/.test(e.message));
  assert.throws(() => selectClasses(ds, []), (e: unknown) => e instanceof UsageError && /at least one class/.test(e.message));
  assert.throws(() => resolveData({ dataset: 'mnist-digits', validation: 0, seed: 0, classes: ['Sandal'] }), (e: unknown) => e instanceof DataError && /"Sandal"/.test(e.message));
});
