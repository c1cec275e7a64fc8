// The training spec's image size: values a flag, a config file or a spec may
// give (N, 'N', 'H,W', [H, W]; a square pair is N), the flag's errors, data
// of a fixed size, and runs saved before the option existed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../util/errors.js';
import { checkImageSize, givenOptions, parseFlagValue, resolveTrainConfig, resumedConfig, trainOption, type TrainConfig } from './train-spec.js';

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
