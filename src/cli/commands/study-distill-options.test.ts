// The flags of `slimnet study distill` to the workflow's spec: the
// explanation's flags, and --no-explain's default (commander's explain: true)
// left out so that a resumed study does not take it as a given flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addStudyDistillOptions, studyDistillSpecOf, type StudyDistillRawOptions } from './study-distill-options.js';

const parse = (args: string[]) => {
  const cmd = addStudyDistillOptions(new Command('distill').exitOverride());
  cmd.parse(args, { from: 'user' });
  return studyDistillSpecOf(cmd.opts<StudyDistillRawOptions>(), 'slimnet study distill');
};

test('study distill flags: the explanation options become spec fields; the default leaves explain out', () => {
  assert.equal('explain' in parse(['--quick']), false);
  assert.equal(parse(['--no-explain']).explain, false);
  const s = parse(['--explain-seed', '1', '--explain-images', '4', '--explain-methods', 'gradcam,saliency', '--seeds', '0,1']);
  assert.deepEqual([s.explainSeed, s.explainImages, s.explainMethods], [1, 4, ['gradcam', 'saliency']]);
  const resumed = parse(['--quick', '--version', '0', '--no-explain']);
  assert.deepEqual([resumed.resume, resumed.explain], [0, false]);
});
