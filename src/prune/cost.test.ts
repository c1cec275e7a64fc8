// Channel costs against hand-computed MACs, and how the MAC weight reorders
// a global ranking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../graph/index.js';
import { channelCosts } from './cost.js';
import { DependencyGraph } from './dependency.js';
import { selectChannels } from './select.js';

/** LeNet's shape at a small size: conv 1→4 (3x3, 'same', 8x8), pool, conv 4→6 (3x3, 'same', 4x4), pool, fc 24→5, fc 5→2. */
function smallLenet() {
  const b = new GraphBuilder('small');
  let x = b.maxpool2d(b.relu(b.conv2d(b.input([1, 8, 8]), 4, 3, { padding: 'same', name: 'conv1' })), 2);
  x = b.maxpool2d(b.relu(b.conv2d(x, 6, 3, { padding: 'same', name: 'conv2' })), 2);
  return b.build(b.linear(b.relu(b.linear(b.flatten(x), 5, { name: 'fc1' })), 2, { name: 'fc2' }));
}

test('channelCosts: the MACs one channel of each group brings, in its own layer and its consumers', () => {
  const dep = new DependencyGraph(smallLenet());
  const costs = channelCosts(dep);
  // conv1, one map: its own 8*8 outputs x 9 taps, plus conv2's 4*4 outputs x 9 taps x 6 maps reading it.
  // conv2, one map: 4*4 x 9 x 4 inputs, plus fc1's 2*2 features of it x 5 neurons. fc1, one neuron: 24 inputs + 2 outputs.
  // (pooling and ReLU count no MACs in the summary.)
  assert.deepEqual(Object.fromEntries(costs), { conv1: 8 * 8 * 9 + 4 * 4 * 9 * 6, conv2: 4 * 4 * 9 * 4 + 2 * 2 * 5, fc1: 24 + 2 });
});

test('the MAC weight makes costly channels go first among equals in a global ranking', () => {
  const dep = new DependencyGraph(smallLenet());
  // Every channel scores the same after max normalisation; the tie-break (class id) would take conv1's first.
  const scores = new Map(dep.removable.map((c) => [c, 1]));
  const o = { scope: 'global', norm: 'max', amount: { maps: 3 } } as const;
  const plain = selectChannels(dep, scores, o);
  const weighted = selectChannels(dep, scores, { ...o, macsWeight: 0.1 });
  const groupsOf = (cs: number[]) => cs.map((c) => dep.groupOf(c).name);
  // conv1 costs most (840 vs 596 vs 26 MACs): with the weight its maps rank lowest.
  assert.deepEqual(groupsOf(weighted), ['conv1', 'conv1', 'conv1']);
  // Without it the order is the id order; fc1 now scores 1 while conv1 scores 0.9: a slightly better fc1 channel still waits.
  assert.equal(plain.length, 3);
  scores.set(dep.classAt('conv1', 0), 0.95);
  scores.set(dep.classAt('fc1', 0), 0.5);
  assert.deepEqual(groupsOf(selectChannels(dep, scores, { ...o, macsWeight: 0.1 })).sort(), ['conv1', 'conv1', 'fc1']);
  assert.throws(() => selectChannels(dep, scores, { ...o, macsWeight: -1 }), /macsWeight/);
});
