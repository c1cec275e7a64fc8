import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError } from './errors.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, loadIdxDataset, loadIdxPair, readIdx, writeIdx } from './idx.js';
import { FASHION_MNIST_ROOT, loadDataset } from './registry.js';
import { tempDir } from './testing.js';
import { NORMALIZE_PRESETS } from './transforms.js';

function tinyIdx(dir: string, ext: '' | '.gz', n = 3, h = 2, w = 3): { images: string; labels: string; pixels: Uint8Array; labelBytes: Uint8Array } {
  const pixels = Uint8Array.from({ length: n * h * w }, (_, i) => (i * 37 + 5) % 256);
  const labelBytes = Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10);
  const images = join(dir, `train-images-idx3-ubyte${ext}`);
  const labels = join(dir, `train-labels-idx1-ubyte${ext}`);
  writeIdx(images, [n, h, w], pixels);
  writeIdx(labels, [n], labelBytes);
  return { images, labels, pixels, labelBytes };
}

const expectDataError = (fn: () => unknown, file: string, re: RegExp): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
};

for (const ext of ['', '.gz'] as const) {
  test(`IDX ${ext || 'raw'} round trip: header, pixels and labels`, (t) => {
    const dir = tempDir(t);
    const f = tinyIdx(dir, ext);
    const raw = readFileSync(f.images);
    if (ext === '.gz') assert.deepEqual([raw[0], raw[1]], [0x1f, 0x8b]);
    else assert.equal(raw.readUInt32BE(0), IDX_IMAGES_MAGIC);
    const img = readIdx(f.images, IDX_IMAGES_MAGIC);
    assert.deepEqual(img.dims, [3, 2, 3]);
    assert.deepEqual([...img.data], [...f.pixels]);
    const ds = loadIdxDataset('tiny', dir, 'train', Array.from({ length: 10 }, (_, i) => String(i)));
    assert.equal(ds.name, 'tiny/train');
    assert.equal(ds.length, 3);
    assert.deepEqual(ds.sampleShape, [1, 2, 3]);
    assert.deepEqual([...ds.labels()], [...f.labelBytes]);
    const s = ds.get(1);
    assert.equal(s.label, f.labelBytes[1]);
    assert.deepEqual([...s.image], [...f.pixels.subarray(6, 12)].map((v) => Math.fround(v / 255)));
  });
}

test('IDX errors name the file: missing, wrong magic, truncated, count mismatch, bad gzip', (t) => {
  const dir = tempDir(t);
  const f = tinyIdx(dir, '');
  const classes = Array.from({ length: 10 }, (_, i) => String(i));
  expectDataError(() => readIdx(join(dir, 'nope-idx3-ubyte'), IDX_IMAGES_MAGIC), join(dir, 'nope-idx3-ubyte'), /not found/);
  expectDataError(() => loadIdxDataset('tiny', dir, 'test', classes), join(dir, 't10k-images-idx3-ubyte.gz'), /not found/);
  // A labels file where images are expected: wrong magic.
  expectDataError(() => loadIdxPair('x', f.labels, f.labels, classes), f.labels, /this is IDX labels, expected IDX images \(3 dimensions\): are the images and labels files swapped\? \(magic number 0x00000801, expected 0x00000803\)/);
  // Another data type, another kind of file, no images at all.
  const other = join(dir, 'other');
  writeFileSync(other, Buffer.from([0, 0, 0x0d, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
  expectDataError(() => readIdx(other, IDX_IMAGES_MAGIC), other, /an IDX file of float32, but slimnet reads unsigned-byte IDX files/);
  writeFileSync(other, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  expectDataError(() => readIdx(other, IDX_IMAGES_MAGIC), other, /not an IDX file: this is a PNG image \(magic number 0x89504e47, expected 0x00000803 for IDX images/);
  writeIdx(other, [0, 2, 2], new Uint8Array(0));
  expectDataError(() => loadIdxPair('x', other, f.labels, classes), other, /holds no images \(dimensions \[0, 2, 2\]\)/);
  // Truncated payload, then truncated header.
  const full = readFileSync(f.images);
  const cut = join(dir, 'cut-images');
  writeFileSync(cut, full.subarray(0, full.length - 4));
  expectDataError(() => readIdx(cut, IDX_IMAGES_MAGIC), cut, /truncated.*need 18 data bytes, found 14/);
  writeFileSync(cut, full.subarray(0, 9));
  expectDataError(() => readIdx(cut, IDX_IMAGES_MAGIC), cut, /truncated.*header/);
  // Truncated gzip stream.
  const gz = join(dir, 'cut.gz');
  const z = gzipSync(full);
  writeFileSync(gz, z.subarray(0, z.length - 10));
  expectDataError(() => readIdx(gz, IDX_IMAGES_MAGIC), gz, /gzip/);
  // 4 labels for 3 images.
  const labels4 = join(dir, 'labels4');
  writeIdx(labels4, [4], Uint8Array.of(1, 2, 3, 4));
  expectDataError(() => loadIdxPair('x', f.images, labels4, classes), labels4, /4 labels but .* holds 3 images/);
  // A label outside the classes.
  const bad = join(dir, 'labels-bad');
  writeIdx(bad, [3], Uint8Array.of(1, 12, 3));
  expectDataError(() => loadIdxPair('x', f.images, bad, classes), bad, /label 12/);
  assert.equal(readIdx(f.labels, IDX_LABELS_MAGIC).dims[0], 3);
});

test('the real Fashion-MNIST files load (Debian dataset-fashion-mnist)', () => {
  assert.ok(
    existsSync(FASHION_MNIST_ROOT),
    `${FASHION_MNIST_ROOT} is missing: it is a required system package of slimnet (dataset-fashion-mnist); run scripts/setup.sh`,
  );
  const train = loadDataset('fashion-mnist', 'train');
  const testSet = loadDataset('fashion-mnist', 'test');
  assert.equal(train.length, 60000);
  assert.equal(testSet.length, 10000);
  assert.equal(train.classes.length, 10);
  assert.deepEqual(train.sampleShape, [1, 28, 28]);
  // Balanced: 6,000 / 1,000 per class.
  for (const [ds, per] of [[train, 6000], [testSet, 1000]] as const) {
    const counts = new Array<number>(10).fill(0);
    for (const l of ds.labels()) counts[l]!++;
    assert.deepEqual(counts, new Array(10).fill(per));
  }
  // The normalize preset matches the data: per-pixel mean and std of the training set.
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < train.length; i++) {
    for (const v of train.get(i).image) {
      sum += v;
      sq += v * v;
    }
  }
  const count = train.length * 784;
  const mean = sum / count;
  const std = Math.sqrt(sq / count - mean * mean);
  assert.ok(Math.abs(mean - NORMALIZE_PRESETS['fashion-mnist'].mean[0]) < 1e-3, `mean ${mean}`);
  assert.ok(Math.abs(std - NORMALIZE_PRESETS['fashion-mnist'].std[0]) < 1e-3, `std ${std}`);
  const s = train.get(0);
  assert.equal(s.image.length, 784);
  assert.ok(s.image.every((v) => v >= 0 && v <= 1));
  assert.ok(s.image.some((v) => v > 0.5));
});
