// resolveData's imageSize: image folders are resized to it (the model's
// input, not always 224), data sets of a fixed size refuse it, and a folder's
// warnings (a test split without some classes) reach the caller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { UsageError } from '../util/errors.js';
import { checkpointData } from './provenance.js';
import { resolveData } from './spec.js';
import { tempDir } from './testing.js';

async function folder(root: string): Promise<void> {
  for (const [split, classes] of [['train', ['a', 'b']], ['test', ['a']]] as const) {
    for (const c of classes) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < 2; i++) await sharp(Buffer.alloc(9 * 7 * 3, 50 * i), { raw: { width: 9, height: 7, channels: 3 } }).png().toFile(join(root, split, c, `${i}.png`));
    }
  }
}

test('resolveData: imageSize resizes image folders; other data sets refuse it; warnings come along', async (t) => {
  const root = tempDir(t);
  await folder(root);
  const d = resolveData({ dataset: 'folder', root, validation: 0, seed: 0, imageSize: [12, 10] });
  assert.deepEqual(d.train.sampleShape, [3, 12, 10]);
  assert.deepEqual(d.test.sampleShape, [3, 12, 10]);
  assert.equal(d.test.get(0).image.length, 3 * 12 * 10);
  assert.deepEqual(resolveData({ dataset: 'folder', root, validation: 0, seed: 0, imageSize: 16 }).train.sampleShape, [3, 16, 16]);
  assert.deepEqual(resolveData({ dataset: 'folder', root, validation: 0, seed: 0 }).train.sampleShape, [3, 224, 224], 'the loader default without one');
  assert.ok(d.test.warnings?.some((w) => /no images of class 'b'/.test(w)), String(d.test.warnings));
  // A checkpoint's data with the model's input size (what pruneRun passes).
  const c = checkpointData({ dataset: 'folder', root, validation: 0, seed: 0 }, { imageSize: [8, 8] }, 'x.safetensors');
  assert.deepEqual(c.train.sampleShape, [3, 8, 8]);
  assert.throws(() => resolveData({ dataset: 'mnist-digits', validation: 0, seed: 0, imageSize: 32 }), (e: unknown) => e instanceof UsageError && /imageSize \(--image-size\) applies only to the folder data set/.test(e.message));
  assert.throws(() => resolveData({ dataset: 'folder', root, validation: 0, seed: 0, imageSize: 0 }), UsageError);
});
