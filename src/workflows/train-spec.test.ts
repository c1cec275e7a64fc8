// The training spec's image size: values a flag, a config file or a spec may
// give (N, 'N', 'H,W', [H, W]; a square pair is N), the flag's errors, data
// of a fixed size, and runs saved before the option existed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../util/errors.js';
import { checkImageSize, givenOptions, optimizerOf, parseFlagValue, resolveTrainConfig, resumedConfig, trainDataSpec, trainOption, type TrainConfig } from './train-spec.js';

const option = trainOption('image-size')!;

test('--image-size: N or H,W; a square pair is N; the default is null', () => {
  assert.equal(option.key, 'imageSize');
  assert.equal(parseFlagValue(option, '32'), 32);
  assert.deepEqual(parseFlagValue(option, '32,48'), [32, 48]);
  assert.deepEqual(parseFlagValue(option, ' 32 , 48 '), [32, 48]);
  assert.equal(parseFlagValue(option, '32,32'), 32);
  for (const bad of ['0', '-3', '1.5', 'x', '32,', '1,2,3', '5000', ''])
    assert.throws(() => parseFlagValue(option, bad), (e: unknown) => e instanceof UsageError && e.message === `--image-size must be a whole number of pixels N or a height and width H,W (e.g. 32 or 32,48), each from 1 to 4096, got '${bad}'`, bad);
  // A config file or spec: numbers, pairs, null.
  assert.deepEqual(givenOptions({ imageSize: [64, 48] }), { imageSize: [64, 48] });
  assert.deepEqual(givenOptions({ imageSize: null } as never), { imageSize: null });
  assert.throws(() => givenOptions({ imageSize: [64] as never }), (e: unknown) => e instanceof UsageError && /image-size must be a whole number/.test(e.message));
  assert.equal(resolveTrainConfig({}).imageSize, null);
  assert.equal(resolveTrainConfig({ dataset: 'folder', root: '/x', imageSize: 32 }).imageSize, 32);
});

test('--image-size on data of a fixed size: its own size is accepted, another refused naming the flag', () => {
  const c = (imageSize: TrainConfig['imageSize'], dataset: TrainConfig['dataset'] = 'fashion-mnist'): Pick<TrainConfig, 'dataset' | 'imageSize'> => ({ dataset, imageSize });
  checkImageSize(c(null), [1, 28, 28]);
  checkImageSize(c(28), [1, 28, 28]);
  checkImageSize(c([28, 28]), [1, 28, 28]);
  checkImageSize(c(64, 'folder'), [3, 32, 32]); // folders are resized by the loader, not checked here
  assert.throws(() => checkImageSize(c(32), [1, 28, 28]), (e: unknown) => e instanceof UsageError && e.message === '--image-size 32 does not apply to fashion-mnist: its images are 28x28 and only image folders (--dataset folder) are resized; omit --image-size (or give 28)');
  assert.throws(() => checkImageSize(c([32, 28], 'cifar10'), [3, 32, 32]), (e: unknown) => e instanceof UsageError && /^--image-size 32,28 does not apply to cifar10: its images are 32x32/.test(e.message));
});

test('a run saved before --image-size existed resumes with null, and the given value is compared with that', () => {
  const saved = { ...resolveTrainConfig({ dataset: 'folder', root: '/x' }) } as Partial<TrainConfig>;
  delete saved.imageSize;
  const { config } = resumedConfig(saved, {}, 3);
  assert.equal(config.imageSize, null);
  assert.deepEqual(Object.keys(config).slice(0, 3), Object.keys(saved).slice(0, 3), "the file's key order");
  assert.equal(resumedConfig(saved, { imageSize: null }, 3).config.imageSize, null);
  assert.throws(() => resumedConfig(saved, { imageSize: 64 }, 3), (e: unknown) => e instanceof UsageError && /version 3 was trained with --image-size null/.test(e.message));
  assert.throws(() => resumedConfig({ ...saved, imageSize: 32 }, { imageSize: [32, 40] }, 3), (e: unknown) => e instanceof UsageError && /--image-size 32/.test(e.message));
});

test('--classes: names or indices in the order given, from a flag or a config list; the data spec carries them', () => {
  const classes = trainOption('classes')!;
  assert.deepEqual(parseFlagValue(classes, 'Sandal, Sneaker,Ankle boot'), ['Sandal', 'Sneaker', 'Ankle boot']);
  assert.deepEqual(parseFlagValue(classes, '7,5'), ['7', '5'], 'indices stay text: classes.ts resolves a name before an index');
  assert.deepEqual(givenOptions({ classes: [7, 'Bag'] }), { classes: [7, 'Bag'] });
  for (const bad of ['', 'a,,b', ','])
    assert.throws(() => parseFlagValue(classes, bad), (e: unknown) => e instanceof UsageError && e.message === `--classes must be a comma-separated list of class names or indices (e.g. Sandal,Sneaker or 5,7), got '${bad}'`, bad);
  assert.throws(() => givenOptions({ classes: [-1] as never }), (e: unknown) => e instanceof UsageError && /^train spec: classes must be a comma-separated list/.test(e.message));
  const c = resolveTrainConfig({ dataset: 'mnist-digits', classes: ['3', '5'] });
  assert.deepEqual(trainDataSpec(c).classes, ['3', '5']);
  assert.equal('classes' in trainDataSpec(resolveTrainConfig({})), false, 'default: every class');
  assert.equal(resolveTrainConfig({}).classes, null);
});

test('--lr-by-kind: family=lr pairs over --lr; unknown families, repeats and bad rates name the flag and the key', () => {
  const lrByKind = trainOption('lr-by-kind')!;
  assert.deepEqual(parseFlagValue(lrByKind, 'linear=0.005, conv=5e-4'), { linear: 0.005, conv: 0.0005 });
  assert.deepEqual(parseFlagValue(lrByKind, 'fc=0.01,bn=0'), { fc: 0.01, bn: 0 }, 'aliases, and 0 (frozen)');
  const refused = (text: string, why: RegExp): void =>
    assert.throws(() => parseFlagValue(lrByKind, text), (e: unknown) => e instanceof UsageError && e.message.startsWith('--lr-by-kind must be comma-separated family=lr pairs') && why.test(e.message) && e.message.endsWith(`, got '${text}'`), text);
  refused('dense=0.1', /unknown family 'dense'/);
  refused('conv2d=0.1', /unknown family 'conv2d'/);
  refused('linear=0.1,fc=0.2', /names linear twice \(as linear and fc\)/);
  refused('conv=0.1,conv=0.2', /names conv twice/);
  refused('conv=-1', /the lr of 'conv' must be a number >= 0, got "-1"/);
  refused('conv=x', /the lr of 'conv' must be a number >= 0/);
  for (const text of ['conv', '', 'conv=0.1=2']) refused(text, /families conv, linear, fc, norm, bn, other, got/);
  // A config file's mapping.
  assert.deepEqual(givenOptions({ lrByKind: { linear: 0.005 } }), { lrByKind: { linear: 0.005 } });
  assert.throws(() => givenOptions({ lrByKind: { head: 0.1 } }), (e: unknown) => e instanceof UsageError && /^train spec: lr-by-kind must be .*unknown family 'head'/.test(e.message));
  // The optimizer gets it; without it, one lr.
  assert.deepEqual(optimizerOf(resolveTrainConfig({ optimizer: 'sgd', lr: 0.0005, lrByKind: { linear: 0.005, conv: 0.0005 } })).lrByKind, { linear: 0.005, conv: 0.0005 });
  assert.equal('lrByKind' in optimizerOf(resolveTrainConfig({})), false);
});

test('runs saved before --classes and --lr-by-kind existed resume with null; a resumed run keeps its subset', () => {
  const saved = { ...resolveTrainConfig({ dataset: 'mnist-digits' }) } as Partial<TrainConfig>;
  delete saved.classes;
  delete saved.lrByKind;
  const { config } = resumedConfig(saved, {}, 2);
  assert.equal(config.classes, null);
  assert.equal(config.lrByKind, null);
  const subset = resolveTrainConfig({ dataset: 'mnist-digits', classes: ['3', '5'] });
  assert.deepEqual(resumedConfig(subset, {}, 2).config.classes, ['3', '5']);
  assert.throws(() => resumedConfig(subset, { classes: ['3', '6'] }, 2), (e: unknown) => e instanceof UsageError && /version 2 was trained with --classes \["3","5"\]/.test(e.message));
});
