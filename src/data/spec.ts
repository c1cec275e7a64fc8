// One data spec, resolved in one place: which data set, where, which share of
// it, which seeded train / validation split, which normalisation and
// augmentation. Training resolves it from its configuration; pruning,
// slimming and the studies resolve it from the provenance a checkpoint
// carries (provenance.ts), so they see the same split training saw.
import { fraction as takeFraction, splitDataset, type Dataset } from './dataset.js';
import { datasetNames, loadDataset, type DatasetName } from './registry.js';
import { compose, horizontalFlip, normalize, randomCrop, NORMALIZE_PRESETS, type Transform } from './transforms.js';
import { UsageError } from '../util/errors.js';

export interface NormalizeSpec {
  mean: number[];
  std: number[];
}

export type Augment = 'none' | 'standard';

export interface DataSpec {
  dataset: DatasetName;
  /** Data folder (undefined / null: the data set's default location or environment variable). */
  root?: string | null;
  /** Validation samples held out of the training split: a count (>= 1) or a fraction (< 1); 0 for none. */
  validation: number;
  /** Share of the training split used (stratified, seeded); 1 for all. */
  fraction?: number;
  /** Seed of the share and of the split. */
  seed: number;
  /** Normalisation (default: the data set's preset). */
  normalize?: NormalizeSpec;
  /**
   * Height and width images are resized to (a number for square images):
   * only the 'folder' data set has a choice (default 224); the others have
   * fixed sizes, and giving one is a UsageError.
   */
  imageSize?: number | readonly [number, number];
}

export interface ResolvedData {
  dataset: DatasetName;
  train: Dataset;
  /** Held out of the training split (what decisions are measured on), if any. */
  validation: Dataset | undefined;
  test: Dataset;
  norm: NormalizeSpec;
  classes: readonly string[];
  seed: number;
}

/** Per-channel mean / std a data set is normalised with (presets; 0.5 / 0.5 for unknown grey images). */
export function normalizationFor(dataset: string, channels: number): NormalizeSpec {
  const preset =
    dataset === 'mnist' || dataset === 'mnist-digits'
      ? NORMALIZE_PRESETS.mnist
      : dataset === 'fashion-mnist'
        ? NORMALIZE_PRESETS['fashion-mnist']
        : dataset === 'cifar10'
          ? NORMALIZE_PRESETS.cifar10
          : dataset === 'cifar100'
            ? NORMALIZE_PRESETS.cifar100
            : channels === 3
              ? NORMALIZE_PRESETS.imagenet
              : { mean: [0.5], std: [0.5] };
  return { mean: [...preset.mean], std: [...preset.std] };
}

/** The training transform: optional standard augmentation, then normalisation. */
export function trainTransform(dataset: string, ds: Dataset, augment: Augment, norm: NormalizeSpec): Transform {
  const [, h, w] = ds.sampleShape;
  const parts: Transform[] = [];
  if (augment === 'standard') {
    parts.push(randomCrop([h, w], Math.max(h, w) <= 28 ? 2 : 4));
    // Flipped digits are other digits (or none); everything else flips.
    if (dataset !== 'mnist' && dataset !== 'mnist-digits') parts.push(horizontalFlip());
  }
  parts.push(normalize(norm.mean, norm.std));
  return parts.length === 1 ? parts[0]! : compose(...parts);
}

export function evalTransform(norm: NormalizeSpec): Transform {
  return normalize(norm.mean, norm.std);
}

/** Loads the splits a spec names. */
export function resolveData(spec: DataSpec): ResolvedData {
  if (!(datasetNames() as string[]).includes(spec.dataset)) throw new UsageError(`unknown data set '${spec.dataset}' (available: ${datasetNames().join(', ')})`);
  const frac = spec.fraction ?? 1;
  if (!(frac > 0 && frac <= 1)) throw new UsageError(`fraction must be in (0, 1], got ${frac}`);
  if (!(spec.validation >= 0 && (spec.validation < 1 || Number.isInteger(spec.validation)))) throw new UsageError(`validation must be a count or a fraction in [0, 1), got ${spec.validation}`);
  if (spec.imageSize !== undefined && spec.dataset !== 'folder') {
    throw new UsageError(`imageSize (--image-size) applies only to the folder data set: ${spec.dataset}'s images have a fixed size; got ${JSON.stringify(spec.imageSize)}`);
  }
  const opts = { ...(spec.root !== undefined && spec.root !== null ? { root: spec.root } : {}), ...(spec.imageSize !== undefined ? { imageSize: spec.imageSize } : {}) };
  const full = loadDataset(spec.dataset, 'train', opts);
  const ds = frac < 1 ? takeFraction(full, frac, spec.seed) : full;
  let train = ds;
  let validation: Dataset | undefined;
  if (spec.validation > 0) ({ train, validation } = splitDataset(ds, { validation: spec.validation, seed: spec.seed }));
  const test = loadDataset(spec.dataset, 'test', opts);
  const norm = spec.normalize ?? normalizationFor(spec.dataset, ds.sampleShape[0]!);
  return { dataset: spec.dataset, train, validation, test, norm, classes: ds.classes, seed: spec.seed };
}
