// `slimnet train --image-size`: generated from the spec's option list, with
// its help text, parsed from the flag and from a config file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { tempDir } from '../../data/testing.js';
import { UsageError } from '../../util/errors.js';
import { addTrainOptions, givenTrainOptions, readConfigFile } from './train-options.js';

const parsed = (args: string[]): Command => addTrainOptions(new Command('train').exitOverride()).parse(args, { from: 'user' });

test('--image-size: N or H,W from the command line and from a config file, documented in --help', (t) => {
  assert.deepEqual(givenTrainOptions(parsed(['--dataset', 'folder', '--root', '/x', '--image-size', '32']), {}), { dataset: 'folder', root: '/x', imageSize: 32 });
  assert.deepEqual(givenTrainOptions(parsed(['--image-size', '32,48']), {}), { imageSize: [32, 48] });
  assert.deepEqual(givenTrainOptions(parsed([]), {}), {}, 'not given: the spec default (null)');
  assert.throws(() => parsed(['--image-size', '0']), (e: unknown) => e instanceof UsageError && /^--image-size must be a whole number of pixels/.test(e.message));
  const help = addTrainOptions(new Command('train')).helpInformation().replace(/\s+/g, ' ');
  assert.match(help, /--image-size <n\|h,w> image folders \(--dataset folder\): resize every image to N x N pixels \(or H,W\)/);
  assert.match(help, /another value is refused \(default: 224 for folder, the data set's own size otherwise\)/);
  const dir = tempDir(t);
  const yaml = join(dir, 'c.yaml');
  writeFileSync(yaml, 'image-size: [64, 48]\n');
  assert.deepEqual(readConfigFile(yaml), { imageSize: [64, 48] });
  writeFileSync(yaml, 'image_size: 64\n');
  assert.deepEqual(givenTrainOptions(parsed(['--image-size', '32']), readConfigFile(yaml)), { imageSize: 32 }, 'the flag over the file');
});

test('--classes and --lr-by-kind: from the command line and a config file, documented in --help', (t) => {
  assert.deepEqual(givenTrainOptions(parsed(['--classes', 'Sandal,Sneaker', '--lr-by-kind', 'linear=0.005,conv=0.0005']), {}), { classes: ['Sandal', 'Sneaker'], lrByKind: { linear: 0.005, conv: 0.0005 } });
  assert.throws(() => parsed(['--lr-by-kind', 'head=0.1']), (e: unknown) => e instanceof UsageError && /^--lr-by-kind must be comma-separated family=lr pairs .*: unknown family 'head', got 'head=0.1'$/.test(e.message));
  const help = addTrainOptions(new Command('train')).helpInformation().replace(/\s+/g, ' ');
  assert.match(help, /--classes <list> only these classes, comma-separated names or indices/);
  assert.match(help, /--lr-by-kind <list> learning rate per layer family.*--early-stopping-monitor val\.balancedAccuracy/);
  const dir = tempDir(t);
  const yaml = join(dir, 'c.yaml');
  writeFileSync(yaml, 'classes: [Sandal, 7]\nlr_by_kind: { linear: 0.005, conv: 0.0005 }\n');
  assert.deepEqual(readConfigFile(yaml), { classes: ['Sandal', 7], lrByKind: { linear: 0.005, conv: 0.0005 } });
});
