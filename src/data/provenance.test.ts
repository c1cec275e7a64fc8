// The image size a checkpoint records: read and type-checked, and what
// checkpointData resizes an image folder to unless told otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { UsageError } from '../util/errors.js';
import { checkpointData, readProvenance } from './provenance.js';
import { tempDir } from './testing.js';

test('readProvenance: imageSize is a whole number, [height, width] or null', () => {
  assert.equal(readProvenance({ imageSize: 32 }, 'a').imageSize, 32);
  assert.deepEqual(readProvenance({ imageSize: [32, 48] }, 'a').imageSize, [32, 48]);
  assert.equal(readProvenance({ imageSize: null }, 'a').imageSize, null);
  assert.equal('imageSize' in readProvenance({}, 'a'), false, 'older checkpoints: absent');
  for (const bad of [0, 1.5, '32', [32], [32, 0], { h: 32 }])
    assert.throws(() => readProvenance({ imageSize: bad }, 'x.safetensors'), (e: unknown) => e instanceof UsageError && e.message === `x.safetensors: metadata field 'imageSize' must be a whole number of pixels, [height, width] or null, got ${JSON.stringify(bad)}`);
});

test('checkpointData: an image folder takes the recorded size unless an override or another data set says otherwise', async (t) => {
  const root = tempDir(t);
  for (const split of ['train', 'test']) {
    mkdirSync(join(root, split, 'a'), { recursive: true });
    await sharp(Buffer.alloc(9 * 7 * 3, 90), { raw: { width: 9, height: 7, channels: 3 } }).png().toFile(join(root, split, 'a', '0.png'));
  }
  const meta = { dataset: 'folder', root, validation: 0, seed: 0 };
  assert.deepEqual(checkpointData({ ...meta, imageSize: 12 }).train.sampleShape, [3, 12, 12]);
  assert.deepEqual(checkpointData({ ...meta, imageSize: [12, 10] }).test.sampleShape, [3, 12, 10]);
  assert.deepEqual(checkpointData({ ...meta, imageSize: 12 }, { imageSize: 8 }).train.sampleShape, [3, 8, 8], 'the override wins');
  assert.deepEqual(checkpointData({ ...meta, imageSize: null }).train.sampleShape, [3, 224, 224], 'not recorded: the loader default');
  // A data set of a fixed size ignores the record (its null, or another data set's size).
  assert.deepEqual(checkpointData({ ...meta, imageSize: 12 }, { dataset: 'mnist-digits' }).train.sampleShape, [1, 28, 28]);
  assert.deepEqual(checkpointData({ dataset: 'mnist-digits', validation: 0, seed: 0, imageSize: null }).train.sampleShape, [1, 28, 28]);
});

test('readProvenance: classSubset is a non-empty list of class names or indices as text', () => {
  assert.deepEqual(readProvenance({ classSubset: ['Sandal', '7'] }, 'a').classSubset, ['Sandal', '7']);
  assert.equal('classSubset' in readProvenance({}, 'a'), false, 'every class: absent');
  for (const bad of [[], 'Sandal', [7], [''], null])
    assert.throws(() => readProvenance({ classSubset: bad }, 'x.safetensors'), (e: unknown) => e instanceof UsageError && e.message === `x.safetensors: metadata field 'classSubset' must be a non-empty list of class names or indices (strings), got ${JSON.stringify(bad)}`);
});

test('checkpointData: a recorded class subset is taken again on the same data set, replaced by o.classes, dropped on another data set', () => {
  const meta = { dataset: 'mnist-digits', validation: 0, seed: 0, classes: ['7', '3'], classSubset: ['7', '3'] };
  const data = checkpointData(meta);
  assert.deepEqual(data.classes, ['7', '3']);
  // Independently: the full test split's 7s and 3s, in order, relabelled 7 → 0 and 3 → 1.
  const full = checkpointData({ dataset: 'mnist-digits', validation: 0, seed: 0 });
  const want = [...full.test.labels()].flatMap((l) => (l === 7 ? [0] : l === 3 ? [1] : []));
  assert.deepEqual([...data.test.labels()], want);
  assert.equal(data.train.length, [...full.train.labels()].filter((l) => l === 7 || l === 3).length);
  assert.deepEqual(checkpointData(meta, { classes: ['1', '2', '3'] }).classes, ['1', '2', '3'], 'an explicit subset wins');
  assert.equal(checkpointData({ ...meta, dataset: 'mnist' }, { dataset: 'mnist-digits' }).classes.length, 10, "another data set: not the checkpoint's subset");
  assert.throws(() => checkpointData({ ...meta, classes: ['3', '7'] }, {}, 'x.safetensors'), (e: unknown) => e instanceof UsageError && e.message === "x.safetensors: metadata field 'classSubset' (7, 3) selects the classes 7, 3 of mnist-digits, but 'classes' records 3, 7");
});
