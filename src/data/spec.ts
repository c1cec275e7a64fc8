// One data spec, resolved in one place: which data set, where, which share of
// it, which seeded train / validation split, which normalisation and
// augmentation. Training resolves it from its configuration; pruning,
// slimming and the studies resolve it from the provenance a checkpoint
// carries (provenance.ts), so they see the same split training saw.
import { fraction as takeFraction, splitDataset, type Dataset } from './dataset.js';
import { selectClasses, type ClassRef } from './classes.js';
import { datasetNames, loadDataset, type DatasetName } from './registry.js';
import { colorJitter, compose, horizontalFlip, normalize, randomCrop, randomResizedCrop, rotation, NORMALIZE_PRESETS, type Transform } from './transforms.js';
import { UsageError } from '../util/errors.js';

export interface NormalizeSpec {
  mean: number[];
  std: number[];
}

/** The training transforms `--augment` can name, each a transform of transforms.ts with the settings below (trainTransform). */
export const AUGMENT_TRANSFORMS = ['flip', 'crop', 'jitter', 'rotate', 'rrc'] as const;
export type AugmentTransform = (typeof AUGMENT_TRANSFORMS)[number];

/**
 * Named lists of transforms, applied in the order listed. `standard` is
 * today's crop then flip. `seed002` is seed 002's set (it names flip, crop,
 * colour jitter, rotation, random resized crop), in the order that keeps each
 * step meaningful:
 *  - jitter first: its contrast and saturation blend each pixel toward the
 *    image's mean grey, so it must see the image alone; after the geometric
 *    steps the zero fill would pull that mean down and turn the black fill
 *    grey (0 stays 0 when jitter runs first: the MNISTs' background).
 *  - rrc next: it zooms into 80-100 % of the real image and resamples it back
 *    to the data's own size; done first among the geometric steps it samples
 *    image content, not the fill of a rotation or the crop's padding.
 *  - rotate: ±15° about the centre, zero fill in the corners.
 *  - crop (zero padding, then a random window of the image's size): an
 *    integer shift, last of the steps that move pixels, so no fill is
 *    interpolated.
 *  - flip last: a mirror commutes with the others (their random ranges are
 *    symmetric), so its place changes nothing; it follows the crop as in
 *    `standard`.
 * Digits never flip (a flipped digit is another digit or none): the presets
 * leave flip out for them, and naming flip for them is refused.
 */
export const AUGMENT_PRESETS = {
  none: [],
  standard: ['crop', 'flip'],
  seed002: ['jitter', 'rrc', 'rotate', 'crop', 'flip'],
} as const satisfies Record<string, readonly AugmentTransform[]>;
export type AugmentPreset = keyof typeof AUGMENT_PRESETS;

/** A training augmentation: a preset name (AUGMENT_PRESETS) or a comma list of AUGMENT_TRANSFORMS ('flip,crop,rotate'), applied in the order given. */
export type Augment = AugmentPreset | (string & {});

const isPreset = (s: string): s is AugmentPreset => Object.hasOwn(AUGMENT_PRESETS, s);
const DIGITS = new Set(['mnist', 'mnist-digits']);

/** What --augment accepts, for messages and help. */
export function augmentChoicesText(): string {
  return `${Object.keys(AUGMENT_PRESETS).join(', ')} or a comma list of ${AUGMENT_TRANSFORMS.join(', ')}`;
}

/**
 * An augmentation's text in its canonical form (a preset name, or the list's
 * names trimmed and joined by commas), or the problem with it.
 */
export function parseAugment(text: string): { value: Augment } | { problem: string } {
  const t = text.trim();
  if (isPreset(t)) return { value: t };
  const names = t.split(',').map((x) => x.trim());
  const unknown = names.filter((n) => !(AUGMENT_TRANSFORMS as readonly string[]).includes(n));
  if (t === '' || unknown.length) return { problem: `must be ${augmentChoicesText()}${unknown.length && t !== '' ? ` (unknown: ${unknown.map((n) => `'${n}'`).join(', ')})` : ''}` };
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) return { problem: `names ${twice.join(', ')} twice` };
  return { value: names.join(',') };
}

/**
 * The transforms an augmentation applies to a data set, in order; a
 * UsageError (naming --augment and the choices) for a bad one, or for flip on
 * digits when named explicitly.
 */
export function augmentSteps(augment: Augment, dataset: string): AugmentTransform[] {
  const parsed = parseAugment(augment);
  if ('problem' in parsed) throw new UsageError(`--augment ${parsed.problem}, got '${augment}'`);
  const digits = DIGITS.has(dataset);
  if (isPreset(parsed.value)) return AUGMENT_PRESETS[parsed.value].filter((n) => !(digits && n === 'flip'));
  const steps = parsed.value.split(',') as AugmentTransform[];
  if (digits && steps.includes('flip')) throw new UsageError(`--augment ${augment}: ${dataset} are digits, which are not flipped (a mirrored digit is another digit or none); drop flip`);
  return steps;
}

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
  /** Normalisation: explicit mean / std, or a choice (NORMALIZE_CHOICES; default 'dataset': the data set's preset). */
  normalize?: NormalizeSpec | NormalizeChoice;
  /**
   * Height and width images are resized to (a number for square images):
   * only the 'folder' data set has a choice (default 224); the others have
   * fixed sizes, and giving one is a UsageError.
   */
  imageSize?: number | readonly [number, number];
  /**
   * Only these classes (names or indices, see classes.ts), relabelled 0..k-1
   * in this order, in the train, validation and test splits alike; taken
   * before the share and the validation split, so both stay stratified over
   * the kept classes. Absent: every class.
   */
  classes?: readonly ClassRef[];
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

/**
 * How images are normalised: 'dataset' (the data set's own mean / std,
 * normalizationFor), 'imagenet' (ImageNet's, seed 002's choice; grey images
 * take the mean of its three means and of its three stds), 'none' (mean 0,
 * std 1: pixels stay in [0, 1]).
 */
export const NORMALIZE_CHOICES = ['dataset', 'imagenet', 'none'] as const;
export type NormalizeChoice = (typeof NORMALIZE_CHOICES)[number];

/** ImageNet's statistics for images that are not RGB: the mean of its three channel means (0.485, 0.456, 0.406) and stds (0.229, 0.224, 0.225). */
export const IMAGENET_GREY: NormalizeSpec = { mean: [0.449], std: [0.226] };

/** The mean / std a normalisation choice gives a data set with `channels` channels. */
export function normalizationOf(choice: NormalizeChoice, dataset: string, channels: number): NormalizeSpec {
  switch (choice) {
    case 'dataset':
      return normalizationFor(dataset, channels);
    case 'imagenet':
      return channels === 3 ? { mean: [...NORMALIZE_PRESETS.imagenet.mean], std: [...NORMALIZE_PRESETS.imagenet.std] } : { mean: [...IMAGENET_GREY.mean], std: [...IMAGENET_GREY.std] };
    case 'none':
      return { mean: [0], std: [1] };
    default:
      throw new UsageError(`normalize (--normalize) must be one of ${NORMALIZE_CHOICES.join(', ')}, got '${String(choice)}'`);
  }
}

/**
 * The training transform: the augmentation's steps (augmentSteps; padding
 * 2 px for images up to 28 px, 4 above; jitter 0.2 on brightness and
 * contrast, and saturation on 3 channels; rotation ±15°; random resized
 * crop of 80-100 % of the area back to the image's size), then
 * normalisation.
 */
export function trainTransform(dataset: string, ds: Dataset, augment: Augment, norm: NormalizeSpec): Transform {
  const [c, h, w] = ds.sampleShape;
  const parts: Transform[] = augmentSteps(augment, dataset).map((step) => {
    switch (step) {
      case 'crop':
        return randomCrop([h, w], Math.max(h, w) <= 28 ? 2 : 4);
      case 'flip':
        return horizontalFlip();
      case 'jitter':
        // Saturation means nothing on grey images (colorJitter skips it there); 0 keeps the spec honest.
        return colorJitter(0.2, 0.2, c === 3 ? 0.2 : 0);
      case 'rotate':
        return rotation(15);
      case 'rrc':
        return randomResizedCrop([h, w], [0.8, 1]);
    }
  });
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
  const loaded = loadDataset(spec.dataset, 'train', opts);
  const full = spec.classes !== undefined ? selectClasses(loaded, spec.classes) : loaded;
  const ds = frac < 1 ? takeFraction(full, frac, spec.seed) : full;
  let train = ds;
  let validation: Dataset | undefined;
  if (spec.validation > 0) ({ train, validation } = splitDataset(ds, { validation: spec.validation, seed: spec.seed }));
  const testAll = loadDataset(spec.dataset, 'test', opts);
  const test = spec.classes !== undefined ? selectClasses(testAll, spec.classes) : testAll;
  const norm = typeof spec.normalize === 'string' ? normalizationOf(spec.normalize, spec.dataset, ds.sampleShape[0]!) : (spec.normalize ?? normalizationFor(spec.dataset, ds.sampleShape[0]!));
  return { dataset: spec.dataset, train, validation, test, norm, classes: ds.classes, seed: spec.seed };
}
