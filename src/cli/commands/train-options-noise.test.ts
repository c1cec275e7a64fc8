// `--noise-share / --noise-std` (seed 001's noise on a share of the training
// images): flags and config files, checks that name the flags, config.json
// and resume keep them, and only the training loader's transform noises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { UsageError } from '../../util/errors.js';
import { addTrainOptions, givenTrainOptions } from './train-options.js';
import { loaderTransforms, noiseOf, resolveTrainConfig, resumedConfig, trainConfigKeys, type TrainConfig } from '../../workflows/train-spec.js';
import { sampleRng } from '../../data/assemble.js';
import { syntheticDataset } from '../../data/testing.js';

const parsed = (args: string[]): Command => addTrainOptions(new Command('train').exitOverride()).parse(args, { from: 'user' });
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

test('--noise-share 0.5 --noise-std 0.1: parsed, recorded in the config, off by default, documented', () => {
  const given = givenTrainOptions(parsed(['--noise-share', '0.5', '--noise-std', '0.1']), {});
  assert.deepEqual(given, { noiseShare: 0.5, noiseStd: 0.1 });
  const c = resolveTrainConfig(given);
  assert.deepEqual(noiseOf(c), { share: 0.5, std: 0.1 });
  assert.ok(trainConfigKeys().includes('noiseShare') && trainConfigKeys().includes('noiseStd'), 'config.json is written from these keys');
  const off = resolveTrainConfig({});
  assert.equal(off.noiseShare, null);
  assert.equal(off.noiseStd, null);
  assert.equal(noiseOf(off), null);
  const help = addTrainOptions(new Command('train')).helpInformation().replace(/\s+/g, ' ');
  assert.match(help, /--noise-share <p> add Gaussian noise to this share of the training images.*\(default: off\)/);
  assert.match(help, /--noise-std <x> standard deviation of that noise, in normalised-input units/);
  assert.throws(() => parsed(['--noise-std', 'x']), usage(/^--noise-std must be a number, got 'x'$/));
});

test('bad noise settings are UsageErrors naming the flag', () => {
  assert.throws(() => resolveTrainConfig({ noiseShare: 1.2, noiseStd: 0.1 }), usage(/^--noise-share must be in \[0, 1\], got 1.2$/));
  assert.throws(() => resolveTrainConfig({ noiseShare: -0.1, noiseStd: 0.1 }), usage(/^--noise-share must be in \[0, 1\], got -0.1$/));
  assert.throws(() => resolveTrainConfig({ noiseShare: 0.5, noiseStd: 0 }), usage(/^--noise-std must be a number > 0, got 0$/));
  assert.throws(() => resolveTrainConfig({ noiseShare: 0.5 }), usage(/^--noise-share 0.5 needs --noise-std/));
  assert.throws(() => resolveTrainConfig({ noiseStd: 0.1 }), usage(/^--noise-std 0.1 needs --noise-share/));
});

test('resume keeps the noise of config.json; a different value is refused; runs saved before the option have none', () => {
  const saved = resolveTrainConfig({ noiseShare: 0.5, noiseStd: 0.1 });
  assert.deepEqual(noiseOf(resumedConfig(saved, {}, 3).config), { share: 0.5, std: 0.1 });
  assert.deepEqual(noiseOf(resumedConfig(saved, { noiseShare: 0.5 }, 3).config), { share: 0.5, std: 0.1 });
  assert.throws(() => resumedConfig(saved, { noiseStd: 0.2 }, 3), usage(/^version 3 was trained with --noise-std 0\.1;/));
  const old: Partial<TrainConfig> = { ...resolveTrainConfig({}) };
  delete old.noiseShare;
  delete old.noiseStd;
  assert.equal(noiseOf(resumedConfig(old, {}, 1).config), null);
  assert.throws(() => resumedConfig(old, { noiseShare: 0.5, noiseStd: 0.1 }, 1), usage(/^version 1 was trained with --noise-share null, --noise-std null;/));
});

test('the training transform noises (after normalising); validation and test images never are', () => {
  const train = syntheticDataset(32, [1, 4, 4]);
  const norm = { mean: [0.5], std: [0.25] };
  const noisy = loaderTransforms(resolveTrainConfig({ dataset: 'mnist-digits', noiseShare: 1, noiseStd: 5 }), { train, norm });
  const plain = loaderTransforms(resolveTrainConfig({ dataset: 'mnist-digits' }), { train, norm });
  for (let i = 0; i < 32; i++) {
    const img = { data: train.get(i).image, shape: [1, 4, 4] as [number, number, number] };
    const ctx = (): { rand: () => number; index: number; epoch: number } => ({ rand: sampleRng(0, 0, i), index: i, epoch: 0 });
    const want = plain.eval.apply(img, ctx()).data;
    assert.deepEqual(noisy.eval.apply(img, ctx()).data, want, `eval image ${i} is normalised only`);
    assert.deepEqual(plain.train.apply(img, ctx()).data, want, `without noise the training image ${i} is normalised only (augment none)`);
    const diff = Array.from(noisy.train.apply(img, ctx()).data, (v, p) => v - want[p]!);
    assert.ok(diff.some((d) => Math.abs(d) > 1), `training image ${i} gets noise of std 5 (share 1)`);
  }
});
