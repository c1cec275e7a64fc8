import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCifar, loadCifarFiles } from './cifar.js';
import { DataError } from './errors.js';
import { loadDataset } from './registry.js';
import { tempDir } from './testing.js';

/** n records: label byte(s) then 3072 planar RGB bytes; pixel (c, y, x) of record i = (i * 50 + c * 7 + y + x) mod 256. */
function cifarBytes(labels: number[][]): Buffer {
  const lb = labels[0]!.length;
  const rec = lb + 3072;
  const b = Buffer.alloc(labels.length * rec);
  labels.forEach((l, i) => {
    l.forEach((v, k) => (b[i * rec + k] = v));
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) b[i * rec + lb + c * 1024 + y * 32 + x] = (i * 50 + c * 7 + y + x) % 256;
  });
  return b;
}

test('CIFAR-10 binary: a generated 5-image file parses to planar CHW, labels and class names', (t) => {
  const dir = join(tempDir(t), 'cifar-10-batches-bin');
  mkdirSync(dir);
  const labels = [3, 0, 9, 3, 7];
  writeFileSync(join(dir, 'test_batch.bin'), cifarBytes(labels.map((l) => [l])));
  const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'].map((s) => s.toUpperCase());
  writeFileSync(join(dir, 'batches.meta.txt'), names.join('\n') + '\n\n');
  // The parent folder works as root too.
  const ds = loadDataset('cifar10', 'test', { root: join(dir, '..') });
  assert.equal(ds.name, 'cifar10/test');
  assert.equal(ds.length, 5);
  assert.deepEqual(ds.sampleShape, [3, 32, 32]);
  assert.deepEqual([...ds.labels()], labels);
  assert.deepEqual(ds.classes, names);
  const s = ds.get(2);
  assert.equal(s.label, 9);
  for (const [c, y, x] of [[0, 0, 0], [1, 5, 7], [2, 31, 31]] as const) {
    assert.equal(s.image[c * 1024 + y * 32 + x], Math.fround(((2 * 50 + c * 7 + y + x) % 256) / 255));
  }
});

test('CIFAR-100 binary uses the fine label; train.bin and fine_label_names.txt', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'train.bin'), cifarBytes([[1, 42], [19, 99], [0, 0]]));
  writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n'));
  const ds = loadCifar('cifar100', dir, 'train');
  assert.deepEqual([...ds.labels()], [42, 99, 0]);
  assert.equal(ds.classes.length, 100);
  assert.equal(ds.classes[42], 'fine42');
});

test('CIFAR errors name the file: missing, truncated, label out of range', (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'data_batch_1.bin');
  assert.throws(() => loadCifar('cifar10', dir, 'train'), (e: unknown) => e instanceof DataError && e.file === f && /not found/.test(e.message));
  writeFileSync(f, cifarBytes([[1], [2]]).subarray(0, 3073 + 100));
  assert.throws(() => loadCifarFiles('x', [f], 'cifar10', []), (e: unknown) => e instanceof DataError && e.file === f && /truncated/.test(e.message) && e.message.includes(f));
  writeFileSync(f, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  assert.throws(() => loadCifarFiles('x', [f], 'cifar10', []), /truncated or not a cifar10 binary file: this is a PNG image \(16 bytes is not a multiple of the 3073-byte record\)/);
  writeFileSync(f, cifarBytes([[1], [12]]));
  assert.throws(() => loadCifarFiles('x', [f], 'cifar10', []), (e: unknown) => e instanceof DataError && e.file === f && /record 1 has label 12/.test(e.message));
});
