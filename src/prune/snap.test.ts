// The grid step's bookkeeping: grid targets, and the starting points kept
// along the loop's path (one per distinct target, the last few).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, Model } from '../graph/index.js';
import { SnapCandidates, gridTarget } from './snap.js';
import type { StepRecord } from './protocol.js';

test('gridTarget takes each layer down to its multiple; a layer under one block stays', () => {
  assert.deepEqual(gridTarget({ conv1: 14, conv2: 18, fc1: 20 }, 16), { conv1: 14, conv2: 16, fc1: 16 });
  assert.deepEqual(gridTarget({ conv1: 16, conv2: 33, fc1: 1000 }, 16), { conv1: 16, conv2: 32, fc1: 992 });
  assert.deepEqual(gridTarget({ a: 7 }, 8), { a: 7 });
});

test('SnapCandidates keeps the smallest model per grid target, the last few targets, smallest first', (t) => {
  const b = new GraphBuilder('tiny');
  const model = Model.create(b.build(b.linear(b.input([4]), 2, { name: 'fc' })), { seed: 0 });
  t.after(() => model.dispose());
  const c = new SnapCandidates(16, 2);
  const kept = (step: number, channels: Record<string, number>) => c.onKept(step, model, { step, channels } as unknown as StepRecord);
  kept(1, { conv: 40 }); // target 32
  kept(2, { conv: 35 }); // target 32 again: replaces step 1
  kept(3, { conv: 30 }); // target 16
  kept(4, { conv: 17 }); // target 16: replaces step 3
  assert.deepEqual(c.candidates.map((x) => x.step), [4, 2]);
  kept(5, { conv: 15 }); // under one block: a third shape, the oldest goes
  assert.deepEqual(c.candidates.map((x) => x.step), [5, 4]);
  kept(6, { conv: 13 }); // still under one block: the same shape as 15, replaces it
  assert.deepEqual(c.candidates.map((x) => x.step), [6, 4]);
  // Candidates are clones: the loop's model can go on changing or be freed.
  assert.notEqual(c.candidates[0]!.model, model);
  c.dispose();
  assert.equal(c.candidates.length, 0);
});
