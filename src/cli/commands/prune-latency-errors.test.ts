// Issue 13, items 3, 4 and 8 on `slimnet prune` and `slimnet latency`: bad
// flags and bad checkpoints are one line naming the flag or the file (and the
// limit or the allowed values), exit 1, no stack trace, and no run directory
// left behind. Each case fails before any training; they run in child
// processes, as a user would meet them. The full list of flag checks runs
// in process (workflows/prune.test.ts, latency.test.ts); the loaders'
// messages are the fuzz campaign's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../data/testing.js';
import { saveOnnx } from '../../export/onnx/export.js';
import { Model, saveCheckpoint } from '../../graph/index.js';
import { buildArch } from '../../models/index.js';
import { cli, type CliResult } from '../testing.js';

/** One error line for `command` matching `what`, exit 1, no stack trace (a warning line before it is allowed). */
function oneLineError(r: CliResult, command: string, what: RegExp, label: string): void {
  assert.equal(r.code, 1, `${label}: exit code ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
  assert.ok(lines.length <= 2, `${label}: ${lines.length} lines of stderr:\n${r.stderr}`);
  assert.ok(lines[0]!.startsWith(`slimnet ${command}: error: `), `${label}: ${lines[0]}`);
  assert.match(lines[0]!, what, label);
  if (lines[1] !== undefined) assert.match(lines[1], /--help/, label);
  assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|RangeError/, `${label}: no stack trace`);
}

/** A lenet5 checkpoint with its data provenance and files that are not checkpoints, or broken ones. */
function fixtures(dir: string): Record<string, string> {
  const m = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  const good = join(dir, 'base.safetensors');
  saveCheckpoint(good, m, { dataset: 'mnist-digits', validation: 0.25, fraction: 0.1, seed: 0, command: 'train', arch: 'lenet5' });
  const onnx = join(dir, 'model.onnx');
  saveOnnx(m, onnx);
  m.dispose();
  const r = Model.create(buildArch('resnet20', { widthMultiplier: 0.25 }), { seed: 0 });
  const other = join(dir, 'resnet.safetensors');
  saveCheckpoint(other, r);
  r.dispose();
  const bytes = readFileSync(good);
  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
  const flipped = join(dir, 'flipped.safetensors');
  const f = Buffer.from(bytes);
  f[20] = f[20]! ^ 0xff; // inside the JSON header
  writeFileSync(flipped, f);
  const text = join(dir, 'notes.safetensors');
  writeFileSync(text, 'hello\n');
  return { good, onnx, other, truncated, flipped, text, missing: join(dir, 'missing.safetensors') };
}

test('slimnet prune: every bad flag and checkpoint is one line naming it; no run directory is made', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-errors-');
  const f = fixtures(dir);
  const runs = join(dir, 'runs');
  const flags: [string[], RegExp][] = [
    [['--criterion', 'tayler'], /--criterion must be one of .*taylor.*got 'tayler'/],
    [['--step-fraction', '1.5'], /--step-fraction must be in \(0, 1\], got 1\.5/],
    [['--step-maps', '0'], /--step-maps must be a positive integer, got 0/],
    [['--lr', '0'], /--lr must be a positive number.*got 0/],
    [['--lr', 'abc'], /--lr.*'abc'/],
    [['--finetune-epochs', '-1'], /--finetune-epochs must be a whole number of epochs/],
    [['--target-params-x', '0.5'], /--target-params-x is a reduction factor greater than 1/],
    [['--no-floor'], /--no-floor needs another place to stop/],
    [['--no-floor', '--max-steps', '2', '--max-drop', '1'], /--no-floor removes the accuracy floor: give it or --max-drop, not both/],
    [['--layers', 'conv9'], /--layers: no prunable layer 'conv9' \(prunable: conv1, conv2, fc1\)/],
  ];
  for (const [args, what] of flags) oneLineError(await cli(['prune', '--checkpoint', f.good!, ...args, '--runs-dir', runs]), 'prune', what, args.join(' '));
  const files: [string, RegExp][] = [
    [f.missing!, /missing\.safetensors: cannot read: no such file/],
    [f.truncated!, /truncated\.safetensors: .*beyond the end of the file/],
    [f.text!, /notes\.safetensors: this is a text file, not a slimnet checkpoint/],
    [f.onnx!, /model\.onnx: .*ONNX/],
  ];
  for (const [file, what] of files) oneLineError(await cli(['prune', '--checkpoint', file, '--runs-dir', runs]), 'prune', what, file);
  // A model that does not take the data's images: said in words, before a run exists.
  const wrongData = await cli(['prune', '--checkpoint', f.other!, '--dataset', 'mnist-digits', '--runs-dir', runs]);
  oneLineError(wrongData, 'prune', /resnet\.safetensors takes \[3, 32, 32\] inputs, but mnist-digits has \[1, 28, 28\] images: give the data set it was trained on/, 'resnet on digits');
  assert.ok(!existsSync(join(runs, 'prune')), 'no failed run left behind');
});

test('slimnet latency: every bad flag and checkpoint is one line naming it; --threads has a sane limit', async (t) => {
  const dir = tempDir(t, 'slimnet-latency-errors-');
  const f = fixtures(dir);
  const most = availableParallelism() * 4;
  const flags: [string[], RegExp][] = [
    [['--threads', '0'], /--threads must be a positive integer, got 0/],
    [['--threads', '1000'], new RegExp(`--threads must be at most ${most} \\(4 per core; this machine has ${availableParallelism()} cores?\\), got 1000`)],
    [['--batches', '1,x'], /--batches is a comma-separated list of positive integers/],
  ];
  for (const [args, what] of flags) oneLineError(await cli(['latency', '--before', f.good!, '--after', f.good!, ...args]), 'latency', what, args.join(' '));
  const files: [string, RegExp][] = [
    [f.missing!, /missing\.safetensors: cannot read: no such file/],
    [f.flipped!, /flipped\.safetensors: header is not valid JSON/],
    [f.other!, /--before and --after must take the same input: .*base\.safetensors takes \[1, 28, 28\], .*resnet\.safetensors takes \[3, 32, 32\]/],
  ];
  for (const [file, what] of files) oneLineError(await cli(['latency', '--before', f.good!, '--after', file, '--runs', '2']), 'latency', what, file);
});
