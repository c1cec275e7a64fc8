// The flags of `slimnet study replace` to the workflow's spec: given flags
// become spec fields, --version becomes resume, and nothing but --runs-dir is
// defaulted by commander (a resumed study takes only what was given).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import type { ReplaceStudySpec } from '../../workflows/study-replace-spec.js';
import { addStudyReplaceOptions, studyReplaceSpecOf, type StudyReplaceRawOptions } from './study-replace-options.js';

test('slimnet study replace options: flags to the spec, --version to resume, nothing else defaulted', () => {
  const parse = (argv: string[]): ReplaceStudySpec => {
    const cmd = addStudyReplaceOptions(new Command('replace').exitOverride().configureOutput({ writeErr: () => {} }));
    cmd.parse(argv, { from: 'user' });
    return studyReplaceSpecOf(cmd.opts<StudyReplaceRawOptions>(), 'x');
  };
  assert.deepEqual(parse(['--quick', '--seeds', '0,2', '--variants', 'base,lsq', '--noise-std', '0.3', '--prune-criterion', 'l1']), { quick: true, seeds: [0, 2], variants: ['base', 'lsq'], noiseStd: 0.3, pruneCriterion: 'l1', runsDir: './runs', invocation: 'x' });
  assert.deepEqual(parse(['--version', '1', '--runs-dir', 'r']), { resume: 1, runsDir: 'r', invocation: 'x' });
  assert.throws(() => parse(['--prune-criterion', 'apoz']), /prune-criterion/);
});
