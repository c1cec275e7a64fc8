// `slimnet train --recipe / --augment / --normalize`: parsed from the flags
// and from a config file, bad values refused naming the flag, and --help
// says what the recipe sets and what the augmentations are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { tempDir } from '../../data/testing.js';
import { UsageError } from '../../util/errors.js';
import { resolveTrainConfig } from '../../workflows/train-spec.js';
import { addTrainOptions, givenTrainOptions, readConfigFile } from './train-options.js';

const parsed = (args: string[]): Command => addTrainOptions(new Command('train').exitOverride().configureOutput({ writeErr: () => {} })).parse(args, { from: 'user' });

test('--recipe, --augment and --normalize from the command line; the recipe under the flags given', () => {
  const given = givenTrainOptions(parsed(['--recipe', 'seed002', '--augment', 'rotate, flip', '--epochs', '3']), {});
  assert.deepEqual(given, { recipe: 'seed002', augment: 'rotate,flip', epochs: 3 });
  const c = resolveTrainConfig(given);
  assert.deepEqual([c.optimizer, c.lr, c.augment, c.normalize, c.warmupEpochs, c.labelSmoothing], ['sgd', 0.5, 'rotate,flip', 'imagenet', 1, 0.1]);
  assert.deepEqual(givenTrainOptions(parsed(['--augment', 'seed002', '--normalize', 'none']), {}), { augment: 'seed002', normalize: 'none' });
  assert.deepEqual(givenTrainOptions(parsed([]), {}), {}, 'not given: the defaults (recipe none, augment none, normalize dataset)');
  assert.throws(
    () => parsed(['--augment', 'blur']),
    (e: unknown) => e instanceof UsageError && e.message === "--augment must be none, standard, seed002 or a comma list of flip, crop, jitter, rotate, rrc (unknown: 'blur'), got 'blur'",
  );
  // Choices are commander's: an error before any training.
  assert.throws(() => parsed(['--recipe', 'seed-002']), (e: unknown) => (e as { code?: string }).code === 'commander.invalidArgument');
  assert.throws(() => parsed(['--normalize', 'cifar']), (e: unknown) => (e as { code?: string }).code === 'commander.invalidArgument');
});

test('a config file names the recipe, the augmentation and the normalisation; the flags win', (t) => {
  const yaml = join(tempDir(t), 'c.yaml');
  writeFileSync(yaml, 'recipe: seed002\naugment: crop,rrc\nnormalize: imagenet\n');
  assert.deepEqual(readConfigFile(yaml), { recipe: 'seed002', augment: 'crop,rrc', normalize: 'imagenet' });
  assert.deepEqual(givenTrainOptions(parsed(['--augment', 'none']), readConfigFile(yaml)), { recipe: 'seed002', augment: 'none', normalize: 'imagenet' });
  writeFileSync(yaml, 'augment: sharpen\n');
  assert.throws(() => readConfigFile(yaml), (e: unknown) => e instanceof UsageError && /^config file .*c\.yaml: augment must be none, standard, seed002 or a comma list/.test(e.message));
  writeFileSync(yaml, 'recipe: fast\n');
  assert.throws(() => readConfigFile(yaml), (e: unknown) => e instanceof UsageError && /recipe must be one of none, seed002, got "fast"/.test(e.message));
});

test('--help shows the recipe and what it sets, the augmentations and the normalisations', () => {
  const help = addTrainOptions(new Command('train')).helpInformation().replace(/\s+/g, ' ');
  assert.match(help, /--recipe <name> named defaults, under every option given explicitly/);
  assert.match(help, /seed002 = seed 002's recipe: optimizer sgd, lr 0\.5, momentum 0\.9, schedule cosine, warmup-epochs 5 \(at most a quarter of the epochs, at least 1 from 2 epochs\), label-smoothing 0\.1 \(0 for distillation\), weight-decay 0\.0005 \(not on BatchNorm nor biases\), augment seed002, normalize imagenet, validation 0\.1/);
  assert.match(help, /\(choices: "none", "seed002", default: none\)/);
  assert.match(help, /Presets: standard = crop,flip; seed002 = jitter,rrc,rotate,crop,flip/);
  assert.match(help, /Digits are never flipped/);
  assert.match(help, /--normalize <name> input normalisation: dataset .* imagenet .* grey images take the mean of its three means and stds, 0\.449\/0\.226\), none \(mean 0, std 1\)/);
  assert.match(help, /default: dataset\)/);
});
