// `slimnet replace --branch-width`: the flag reaches the workflow's check (a
// width outside (0, 1] is refused naming the flag, before the checkpoint is
// read; an allowed one passes that check and stops at the missing checkpoint).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slimnet } from '../testing/child.js';

test('--branch-width is checked by the workflow: 2 is refused naming the flag; 0.5 passes on to the checkpoint check', async () => {
  const args = (width: string): string[] => ['replace', '--checkpoint', 'no-such-checkpoint.safetensors', '--branch-width', width];
  const [bad, good] = await Promise.all([slimnet(args('2')), slimnet(args('0.5'))]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--branch-width must be in \(0, 1\] \(1: one 1×1 conv\), got 2/);
  assert.equal(good.code, 1);
  assert.doesNotMatch(good.err, /--branch-width/);
  assert.match(good.err, /--checkpoint no-such-checkpoint\.safetensors does not exist/);
});
