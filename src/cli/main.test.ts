// The command-line shell (src/cli/main.ts): version, help, and the one-line
// errors of bad flags and a bad environment, in child processes. Each case
// fails before any data is read or any run directory is made, so they are
// quick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cli, type CliResult } from './testing.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** One error line naming `what` (and a pointer to --help at most), exit 1, no stack trace. */
function oneLineError(r: CliResult, what: RegExp, label: string): void {
  assert.equal(r.code, 1, `${label}: exit code ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length <= 2, `${label}: ${lines.length} lines of stderr:\n${r.stderr}`);
  assert.match(lines[0]!, /^slimnet( [a-z]+)*: error: /, label);
  assert.match(lines[0]!, what, label);
  if (lines[1] !== undefined) assert.match(lines[1], /--help/, label);
  assert.doesNotMatch(r.stderr, /\n\s+at |Usage:/, `${label}: no stack trace, no whole help`);
}

test('slimnet --version prints the package version; train --version N still means resume', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await cli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  }
  // A resume of a version that does not exist: the train command's error, not the program's version.
  const resume = await cli(['train', '--dataset', 'mnist-digits', '--version', '7', '--runs-dir', '/nonexistent-slimnet-runs']);
  oneLineError(resume, /no run version 7/, 'train --version 7');
});

test('the top-level help lists only commands that exist and documents the environment', async () => {
  const r = await cli(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /SLIMNET_NUM_THREADS/);
  assert.match(r.stdout, /SIGTERM/);
  for (const cmd of ['train', 'distill', 'eval', 'explain', 'prune', 'slim', 'summary', 'archs', 'runs']) assert.match(r.stdout, new RegExp(`\\n  ${cmd} `), cmd);
});

test('an invalid choice or an unknown option prints one line and a pointer to --help, not the whole help', async () => {
  oneLineError(await cli(['train', '--optimizer', 'adamm']), /'--optimizer <name>' argument 'adamm' is invalid.*sgd, adam, adamw/, 'invalid choice');
  oneLineError(await cli(['train', '--bogus']), /unknown option '--bogus'/, 'unknown option');
  oneLineError(await cli(['study', 'thesis', '--bogus']), /^slimnet study thesis: error: unknown option/, 'nested command');
  oneLineError(await cli(['bogus']), /unknown command 'bogus'/, 'unknown command');
});

test('bad training flags are one line naming the flag and the value, exit 1, no stack', async () => {
  const cases: [string[], RegExp][] = [
    [['--epochs', 'NaN'], /--epochs must be an integer, got 'NaN'/],
    [['--epochs', '1.5'], /--epochs must be an integer, got '1\.5'/],
    [['--lr', 'NaN'], /--lr must be a number, got 'NaN'/],
    [['--milestones', 'a,b'], /--milestones must be a comma-separated list of integers.*got 'a,b'/],
    [['--eval-batch-size', '0'], /--eval-batch-size must be >= 1, got 0/],
    [['--batch-size', '0'], /--batch-size must be >= 1, got 0/],
    [['--lr', '-1'], /--lr must be > 0, got -1/],
    [['--epochs', '0'], /--epochs must be >= 1, got 0/],
  ];
  await Promise.all(cases.map(async ([args, what]) => oneLineError(await cli(['train', '--dataset', 'mnist-digits', '--runs-dir', '/nonexistent-slimnet-runs', ...args]), what, args.join(' '))));
});

test('SLIMNET_NUM_THREADS: a positive integer sets the threads; anything else is an error naming the variable', async () => {
  const two = await cli(['info'], undefined, { env: { SLIMNET_NUM_THREADS: '2' } });
  assert.equal(two.code, 0, two.stderr);
  assert.match(two.stdout, /threads\s+2\n/);
  for (const bad of ['abc', '0', '1.5', '-2']) {
    oneLineError(await cli(['info'], undefined, { env: { SLIMNET_NUM_THREADS: bad } }), new RegExp(`SLIMNET_NUM_THREADS must be a positive integer.*got '${bad.replace('.', '\\.')}'`), bad);
  }
  oneLineError(await cli(['train', '--dataset', 'mnist-digits'], undefined, { env: { SLIMNET_NUM_THREADS: 'abc' } }), /^slimnet train: error: SLIMNET_NUM_THREADS/, 'train');
});

test('slimnet archs lists every architecture with its input, parameters and MACs (those of the summary)', async () => {
  const { archNames, buildArch } = await import('../models/index.js');
  const { summarize } = await import('../graph/index.js');
  const r = await cli(['archs', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { name: string; input: number[]; params: number; macs: number }[];
  assert.deepEqual(rows.map((x) => x.name), archNames());
  const lenet = rows.find((x) => x.name === 'lenet5')!;
  assert.deepEqual(lenet.input, [1, 28, 28]);
  // LeNet-5 of seed 003 by hand: conv1 1·32·25 + 32, conv2 32·64·25 + 64, fc1 3136·1024 + 1024, fc2 1024·10 + 10.
  assert.equal(lenet.params, 800 + 32 + 51200 + 64 + 3136 * 1024 + 1024 + 10240 + 10);
  const s = summarize(buildArch('resnet20')).totals;
  assert.equal(rows.find((x) => x.name === 'resnet20')!.macs, s.macs);
  const table = await cli(['archs']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /arch\s+input\s+classes\s+params\s+MACs/);
  assert.match(table.stdout, /\nlenet5\s+1×28×28\s+10\s+3\.27M\s+13\.88M/);
});
