// The training augmentations and normalisations a run can name: presets and
// comma lists give their transforms in order (digits never flip), bad names
// are UsageErrors naming --augment with the choices, `none` and `standard`
// give the pixels they gave before the presets existed (the previous
// trainTransform, kept below as the reference), and the normalisation
// choices give their mean / std.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../util/errors.js';
import { syntheticDataset } from './testing.js';
import { compose, horizontalFlip, normalize, randomCrop, NORMALIZE_PRESETS, type Transform, type TransformSpec } from './transforms.js';
import { mulberry32 } from '../util/rng.js';
import { augmentSteps, normalizationFor, normalizationOf, parseAugment, resolveData, trainTransform, type NormalizeSpec } from './spec.js';

const GREY = syntheticDataset(4, [1, 28, 28]);
const RGB = syntheticDataset(4, [3, 32, 32]);
const NORM: NormalizeSpec = { mean: [0.5], std: [0.25] };

/** The transform kinds (and settings) a transform applies, in order. */
function items(t: Transform): TransformSpec[] {
  const s = t.spec!;
  return s.kind === 'compose' ? s.items : [s];
}

test('seed002 yields jitter, random resized crop, rotation, crop, flip, then normalisation; digits skip the flip', () => {
  assert.deepEqual(items(trainTransform('fashion-mnist', GREY, 'seed002', NORM)), [
    { kind: 'colorJitter', brightness: 0.2, contrast: 0.2, saturation: 0 },
    { kind: 'randomResizedCrop', size: [28, 28], scale: [0.8, 1], ratio: [3 / 4, 4 / 3] },
    { kind: 'rotation', degrees: 15 },
    { kind: 'randomCrop', size: [28, 28], padding: 2 },
    { kind: 'horizontalFlip', p: 0.5 },
    { kind: 'normalize', mean: [0.5], std: [0.25] },
  ]);
  const rgb = items(trainTransform('cifar10', RGB, 'seed002', { mean: [0, 0, 0], std: [1, 1, 1] }));
  assert.deepEqual(rgb[0], { kind: 'colorJitter', brightness: 0.2, contrast: 0.2, saturation: 0.2 }, 'saturation on colour images');
  assert.deepEqual(rgb[1], { kind: 'randomResizedCrop', size: [32, 32], scale: [0.8, 1], ratio: [3 / 4, 4 / 3] });
  assert.deepEqual(rgb[3], { kind: 'randomCrop', size: [32, 32], padding: 4 }, 'padding 4 at 32 px');
  for (const digits of ['mnist', 'mnist-digits']) {
    assert.deepEqual(augmentSteps('seed002', digits), ['jitter', 'rrc', 'rotate', 'crop']);
    assert.deepEqual(augmentSteps('standard', digits), ['crop']);
    assert.deepEqual(items(trainTransform(digits, GREY, 'seed002', NORM)).map((s) => s.kind), ['colorJitter', 'randomResizedCrop', 'rotation', 'randomCrop', 'normalize']);
  }
  assert.deepEqual(augmentSteps('seed002', 'cifar100'), ['jitter', 'rrc', 'rotate', 'crop', 'flip']);
});

test('a comma list applies its transforms in the order given; flip on digits and bad names are refused naming --augment', () => {
  assert.deepEqual(parseAugment(' rotate , flip'), { value: 'rotate,flip' });
  assert.deepEqual(parseAugment('standard'), { value: 'standard' });
  assert.deepEqual(items(trainTransform('fashion-mnist', GREY, 'rotate,flip', NORM)).map((s) => s.kind), ['rotation', 'horizontalFlip', 'normalize']);
  assert.deepEqual(augmentSteps('rrc', 'mnist'), ['rrc']);
  const choices = 'none, standard, seed002 or a comma list of flip, crop, jitter, rotate, rrc';
  for (const [bad, detail] of [
    ['blur', " (unknown: 'blur')"],
    ['flip,,crop', " (unknown: '')"],
    ['none,flip', " (unknown: 'none')"],
    ['', ''],
  ] as const) {
    assert.throws(
      () => trainTransform('fashion-mnist', GREY, bad, NORM),
      (e: unknown) => e instanceof UsageError && e.message === `--augment must be ${choices}${detail}, got '${bad}'`,
      bad,
    );
  }
  assert.throws(() => augmentSteps('flip,flip', 'cifar10'), (e: unknown) => e instanceof UsageError && e.message === "--augment names flip twice, got 'flip,flip'");
  assert.throws(() => augmentSteps('crop,flip', 'mnist-digits'), (e: unknown) => e instanceof UsageError && /^--augment crop,flip: mnist-digits are digits, which are not flipped/.test(e.message));
});

/** trainTransform as it was before the presets: the reference for `none` and `standard`. */
function previousTrainTransform(dataset: string, shape: readonly number[], augment: 'none' | 'standard', norm: NormalizeSpec): Transform {
  const [, h, w] = shape as [number, number, number];
  const parts: Transform[] = [];
  if (augment === 'standard') {
    parts.push(randomCrop([h, w], Math.max(h, w) <= 28 ? 2 : 4));
    if (dataset !== 'mnist' && dataset !== 'mnist-digits') parts.push(horizontalFlip());
  }
  parts.push(normalize(norm.mean, norm.std));
  return parts.length === 1 ? parts[0]! : compose(...parts);
}

test('none and standard give the same transforms and pixels as before, for a fixed seed', () => {
  const cases: [string, typeof GREY, NormalizeSpec][] = [
    ['fashion-mnist', GREY, NORM],
    ['mnist-digits', GREY, NORM],
    ['cifar10', RGB, { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] }],
  ];
  for (const [dataset, ds, norm] of cases) {
    for (const augment of ['none', 'standard'] as const) {
      const now = trainTransform(dataset, ds, augment, norm);
      const before = previousTrainTransform(dataset, ds.sampleShape, augment, norm);
      assert.deepEqual(now.spec, before.spec, `${dataset} ${augment}`);
      assert.equal(now.name, before.name);
      const [c, h, w] = ds.sampleShape;
      for (let i = 0; i < 8; i++) {
        const img = { data: Float32Array.from({ length: c * h * w }, (_, k) => ((k * 7919 + i * 104729) % 256) / 255), shape: [c, h, w] as [number, number, number] };
        const ctx = (): { rand: () => number; index: number; epoch: number } => ({ rand: mulberry32(1000 + i), index: i, epoch: 0 });
        assert.deepEqual(now.apply(img, ctx()).data, before.apply(img, ctx()).data, `${dataset} ${augment} image ${i}`);
      }
    }
  }
});

test('normalisation choices: the data set, ImageNet (grey: the mean of its three values), none', () => {
  assert.deepEqual(normalizationOf('dataset', 'fashion-mnist', 1), normalizationFor('fashion-mnist', 1));
  assert.deepEqual(normalizationOf('imagenet', 'cifar10', 3), { mean: [...NORMALIZE_PRESETS.imagenet.mean], std: [...NORMALIZE_PRESETS.imagenet.std] });
  const grey = normalizationOf('imagenet', 'fashion-mnist', 1);
  const avg = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(grey.mean[0]! - avg(NORMALIZE_PRESETS.imagenet.mean)) < 1e-12 && grey.mean.length === 1, String(grey.mean));
  assert.ok(Math.abs(grey.std[0]! - avg(NORMALIZE_PRESETS.imagenet.std)) < 1e-12 && grey.std.length === 1, String(grey.std));
  assert.deepEqual(normalizationOf('none', 'cifar10', 3), { mean: [0], std: [1] });
  assert.throws(() => normalizationOf('z' as never, 'cifar10', 3), (e: unknown) => e instanceof UsageError && /--normalize\) must be one of dataset, imagenet, none, got 'z'/.test(e.message));
  // resolveData carries the choice into the data's norm (what the transforms and the checkpoint provenance use).
  const spec = { dataset: 'mnist-digits', validation: 0, fraction: 0.05, seed: 0 } as const;
  assert.deepEqual(resolveData(spec).norm, normalizationFor('mnist-digits', 1), 'the default: the data set');
  assert.deepEqual(resolveData({ ...spec, normalize: 'dataset' }).norm, normalizationFor('mnist-digits', 1));
  assert.deepEqual(resolveData({ ...spec, normalize: 'imagenet' }).norm, grey);
  assert.deepEqual(resolveData({ ...spec, normalize: 'none' }).norm, { mean: [0], std: [1] });
  assert.deepEqual(resolveData({ ...spec, normalize: { mean: [0.3], std: [0.4] } }).norm, { mean: [0.3], std: [0.4] });
});
