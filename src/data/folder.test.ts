import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { GET_ASYNC, type AsyncDataset } from './dataset.js';
import { DataError } from './errors.js';
import { loadImageFolder, type ImageFolderDataset } from './folder.js';
import { UsageError } from '../util/errors.js';
import { DataLoader } from './loader.js';
import { loadDataset } from './registry.js';
import { tempDir } from './testing.js';

/** A w x h RGB PNG whose pixel (y, x) is (r, g + x * 10, b + y * 10). */
async function png(file: string, w: number, h: number, rgb: [number, number, number]): Promise<void> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([rgb[0], rgb[1] + x * 10, rgb[2] + y * 10], (y * w + x) * 3);
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

async function makeFolder(root: string): Promise<void> {
  for (const [cls, colour] of [['cat', [200, 0, 0]], ['dog', [0, 100, 50]]] as const) {
    mkdirSync(join(root, cls), { recursive: true });
    for (let i = 0; i < 3; i++) await png(join(root, cls, `img${i}.png`), 8, 6, [colour[0], colour[1] + i, colour[2]]);
  }
  writeFileSync(join(root, 'cat', 'notes.txt'), 'not an image, ignored');
}

test('image folder: classes from subfolders, lazy sharp decoding to CHW at the asked size, sync and async agree', async (t) => {
  const root = tempDir(t);
  await makeFolder(join(root, 'train'));
  const ds = loadDataset('folder', 'train', { root, size: [6, 8] });
  assert.equal(ds.length, 6);
  assert.deepEqual(ds.classes, ['cat', 'dog']);
  assert.deepEqual([...ds.labels()], [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(ds.sampleShape, [3, 6, 8]);
  // Same size: exact pixels back. Pixel (y=2, x=5) of dog img1 = (0, 101 + 50, 50 + 20).
  const s = ds.get(4);
  assert.equal(s.label, 1);
  const plane = 48;
  assert.deepEqual([s.image[2 * 8 + 5], s.image[plane + 2 * 8 + 5], s.image[2 * plane + 2 * 8 + 5]], [0, 151, 70].map((v) => Math.fround(v / 255)));
  const a = await (ds as unknown as AsyncDataset)[GET_ASYNC](4);
  assert.deepEqual(a.image, s.image);
  // Resized (and grey): shape follows the option.
  const small = loadImageFolder(join(root, 'train'), { size: 4, channels: 1, cacheSize: 0 });
  const g = small.get(0);
  assert.equal(g.image.length, 16);
  assert.ok(g.image.every((v) => v > 0 && v < 1));
  // The loader builds batches from it (worker thread).
  const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 3 });
  assert.equal(loader.mode, 'worker');
  let seen = 0;
  for await (const b of loader.epoch(0)) {
    assert.deepEqual(b.x.shape, [b.indices.length, 3, 6, 8]);
    const x = b.x.data() as Float32Array;
    b.indices.forEach((idx, k) => assert.deepEqual(x.subarray(k * 144, (k + 1) * 144), ds.get(idx).image));
    seen += b.indices.length;
    b.x.dispose();
    b.y.dispose();
  }
  assert.equal(seen, 6);
  await loader.close();
});

test('image folder errors name the folder or file: missing split, empty class, undecodable image', async (t) => {
  const root = tempDir(t);
  assert.throws(() => loadDataset('folder', 'test', { root }), (e: unknown) => e instanceof DataError && e.file === join(root, 'test'));
  await makeFolder(join(root, 'train'));
  mkdirSync(join(root, 'train', 'empty'));
  writeFileSync(join(root, 'train', 'empty', 'readme.txt'), 'no images here');
  assert.throws(
    () => loadDataset('folder', 'train', { root }),
    (e: unknown) => e instanceof DataError && e.file === join(root, 'train', 'empty') && /holds no JPEG or PNG images/.test(e.message),
  );
  const bad = join(root, 'train', 'empty', 'broken.jpg');
  writeFileSync(bad, 'this is not a JPEG');
  const ds = loadDataset('folder', 'train', { root, size: 4 });
  const idx = ds.labels().indexOf(ds.classes.indexOf('empty'));
  assert.throws(() => ds.get(idx), (e: unknown) => e instanceof DataError && e.file === bad && e.message.includes(bad));
  await assert.rejects((ds as unknown as AsyncDataset)[GET_ASYNC](idx), (e: unknown) => e instanceof DataError && e.file === bad);
  // Through the loader's worker the error keeps its file.
  const loader = new DataLoader(ds, { batchSize: 7 });
  await assert.rejects(async () => {
    for await (const b of loader.epoch(0)) {
      b.x.dispose();
      b.y.dispose();
    }
  }, (e: unknown) => e instanceof DataError && e.file === bad);
  await loader.close();
});

test('imageSize: callers choose the size (default 224); a bad size is a UsageError naming imageSize', async (t) => {
  const root = tempDir(t);
  await makeFolder(join(root, 'train'));
  assert.deepEqual(loadDataset('folder', 'train', { root, imageSize: 5 }).sampleShape, [3, 5, 5]);
  assert.deepEqual(loadDataset('folder', 'train', { root, imageSize: [4, 7] }).sampleShape, [3, 4, 7]);
  assert.deepEqual(loadDataset('folder', 'train', { root }).sampleShape, [3, 224, 224]);
  assert.equal(loadDataset('folder', 'train', { root, imageSize: 5 }).get(0).image.length, 75);
  for (const bad of [0, -3, 2.5, NaN, 100_000]) {
    assert.throws(() => loadDataset('folder', 'train', { root, imageSize: bad }), (e: unknown) => e instanceof UsageError && /^imageSize must be a whole number of pixels/.test(e.message), String(bad));
  }
});

test('train and test class lists are compared: a test class missing from train is an error; train classes missing from test are named', async (t) => {
  const root = tempDir(t);
  await makeFolder(join(root, 'train'));
  mkdirSync(join(root, 'train', 'emu'));
  await png(join(root, 'train', 'emu', 'e.png'), 8, 6, [1, 2, 3]);
  // test/ has dog only: its labels index the training classes (cat, dog, emu), so dog is 1, not 0.
  mkdirSync(join(root, 'test', 'dog'), { recursive: true });
  await png(join(root, 'test', 'dog', 'd.png'), 8, 6, [0, 100, 50]);
  const test = loadDataset('folder', 'test', { root, imageSize: 4 }) as ImageFolderDataset;
  assert.deepEqual(test.classes, ['cat', 'dog', 'emu']);
  assert.deepEqual([...test.labels()], [1]);
  assert.deepEqual(test.missingClasses, ['cat', 'emu']);
  assert.equal(test.warnings.length, 1);
  assert.match(test.warnings[0]!, /no images of 2 classes: 'cat', 'emu' \(the training split has them\)/);
  assert.deepEqual((loadDataset('folder', 'train', { root, imageSize: 4 }) as ImageFolderDataset).warnings, []);
  // A test class the training split lacks: the model cannot predict it.
  mkdirSync(join(root, 'test', 'fox'));
  await png(join(root, 'test', 'fox', 'f.png'), 8, 6, [9, 9, 9]);
  assert.throws(
    () => loadDataset('folder', 'test', { root, imageSize: 4 }),
    (e: unknown) =>
      e instanceof DataError && e.file === join(root, 'test') && e.message.includes(`class 'fox' has no folder in ${join(root, 'train')}`) && e.message.includes(join(root, 'test', 'fox')),
  );
  // loadImageFolder with an explicit class list says the same at its level.
  assert.throws(() => loadImageFolder(join(root, 'test'), { classes: ['cat', 'dog'] }), /class 'fox' is not among the training classes \(cat, dog\)/);
});

test('a class folder with no images is a DataError saying what it holds', async (t) => {
  const root = tempDir(t);
  await makeFolder(join(root, 'train'));
  mkdirSync(join(root, 'train', 'nothing'));
  assert.throws(() => loadDataset('folder', 'train', { root }), (e: unknown) => e instanceof DataError && e.file === join(root, 'train', 'nothing') && /holds no JPEG or PNG images \(it is empty\)/.test(e.message));
  writeFileSync(join(root, 'train', 'nothing', 'a.bmp'), 'x');
  assert.throws(() => loadDataset('folder', 'train', { root }), /holds no JPEG or PNG images \(1 other file; images end in \.jpg, \.jpeg or \.png\)/);
});

test('decoding errors are for people: a file that is no image says what it is; repeated decoder lines are collapsed', async (t) => {
  const root = tempDir(t);
  await makeFolder(join(root, 'train'));
  const text = join(root, 'train', 'cat', 'zz-notes.png');
  writeFileSync(text, 'this is not an image');
  const ds = loadDataset('folder', 'train', { root, imageSize: 4 });
  const i = ds.labels().indexOf(0) + 3;
  assert.throws(() => ds.get(i), (e: unknown) => e instanceof DataError && e.message === `${text}: cannot decode image: not a JPEG or PNG image (this is a text file)`);
  // A JPEG whose first segment length lies: libvips repeats the same warning line; it appears once.
  const jpg = await sharp(Buffer.alloc(8 * 6 * 3, 100), { raw: { width: 8, height: 6, channels: 3 } }).jpeg().toBuffer();
  jpg.writeUInt16BE(1, 4);
  writeFileSync(text, jpg);
  await assert.rejects((ds as unknown as AsyncDataset)[GET_ASYNC](i), (e: unknown) => {
    assert.ok(e instanceof DataError);
    const m = e.message.slice(text.length);
    assert.match(m, /^: cannot decode image: .*Bogus marker length/);
    assert.equal(m.split('Bogus marker length').length, 2, m);
    return true;
  });
});
