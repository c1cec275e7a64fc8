// CIFAR-10 / CIFAR-100 binary format: records of label byte(s) + 3072 bytes
// of 32x32 RGB, planar (all R, then G, then B). CIFAR-100 records carry a
// coarse and a fine label; slimnet uses the fine one.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ArrayDataset, sharedUint8, type Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { identifyFile } from '../util/file-kind.js';

const PIXELS = 3 * 32 * 32;

export type CifarVariant = 'cifar10' | 'cifar100';

/** Parses CIFAR binary files into one data set. */
export function loadCifarFiles(name: string, files: readonly string[], variant: CifarVariant, classes: readonly string[]): Dataset {
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const record = labelBytes + PIXELS;
  const nClasses = variant === 'cifar10' ? 10 : 100;
  const buffers = files.map((f) => {
    if (!existsSync(f)) throw new DataError(f, 'file not found');
    const b = readFileSync(f);
    if (b.length === 0 || b.length % record !== 0) {
      const kind = identifyFile(b, f);
      const what = kind && kind.kind !== 'text' ? `: this is ${kind.description}` : '';
      throw new DataError(f, `truncated or not a ${variant} binary file${what} (${b.length} bytes is not a multiple of the ${record}-byte record)`);
    }
    return b;
  });
  const n = buffers.reduce((a, b) => a + b.length / record, 0);
  const images = sharedUint8(n * PIXELS);
  const labels = new Int32Array(n);
  let k = 0;
  buffers.forEach((b, fi) => {
    for (let off = 0; off < b.length; off += record, k++) {
      const label = b[off + labelBytes - 1]!;
      if (label >= nClasses) throw new DataError(files[fi]!, `record ${off / record} has label ${label}, outside the ${nClasses} classes`);
      labels[k] = label;
      images.set(b.subarray(off + labelBytes, off + record), k * PIXELS);
    }
  });
  return new ArrayDataset(name, images, labels, [3, 32, 32], classes);
}

function readNames(file: string, count: number): string[] | undefined {
  if (!existsSync(file)) return undefined;
  const names = readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length !== count) throw new DataError(file, `expected ${count} class names, found ${names.length}`);
  return names;
}

const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Accepts the extracted folder itself or its parent (cifar-10-batches-bin / cifar-100-binary). */
function resolveRoot(root: string, sub: string): string {
  if (!existsSync(root)) throw new DataError(root, 'data folder not found');
  const nested = join(root, sub);
  return existsSync(nested) && statSync(nested).isDirectory() ? nested : root;
}

export function loadCifar(variant: CifarVariant, root: string, split: 'train' | 'test'): Dataset {
  if (variant === 'cifar10') {
    const dir = resolveRoot(root, 'cifar-10-batches-bin');
    const files = split === 'train' ? [1, 2, 3, 4, 5].map((i) => join(dir, `data_batch_${i}.bin`)) : [join(dir, 'test_batch.bin')];
    const classes = readNames(join(dir, 'batches.meta.txt'), 10) ?? CIFAR10_CLASSES;
    return loadCifarFiles(`cifar10/${split}`, files, 'cifar10', classes);
  }
  const dir = resolveRoot(root, 'cifar-100-binary');
  // The official archive has train.bin / test.bin; accept the CIFAR-10 naming too.
  let files: string[];
  if (split === 'train') {
    const batches = readdirSync(dir).filter((f) => /^data_batch_\d+\.bin$/.test(f)).sort();
    files = existsSync(join(dir, 'train.bin')) || batches.length === 0 ? [join(dir, 'train.bin')] : batches.map((f) => join(dir, f));
  } else {
    files = [existsSync(join(dir, 'test_batch.bin')) && !existsSync(join(dir, 'test.bin')) ? join(dir, 'test_batch.bin') : join(dir, 'test.bin')];
  }
  const classes = readNames(join(dir, 'fine_label_names.txt'), 100) ?? Array.from({ length: 100 }, (_, i) => String(i));
  return loadCifarFiles(`cifar100/${split}`, files, 'cifar100', classes);
}
