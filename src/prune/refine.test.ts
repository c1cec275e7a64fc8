// MAC refinement: which group it cuts, by how much, and what a miss does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, Model } from '../graph/index.js';
import { signSource as source } from '../train/testing.js';
import { refineMacs } from './refine.js';
import type { PruneOptions, StepRecord } from './protocol.js';

/** conv1 (1→8, 3x3 'same' on 6x6) feeds conv2 (8→20): a conv1 map costs 6*6*9 + 6*6*9*20 MACs, a conv2 map 6*6*9*8 + its fc1 inputs. */
function net(): Model {
  const b = new GraphBuilder('tiny');
  const x = b.relu(b.conv2d(b.input([1, 6, 6]), 8, 3, { padding: 'same', name: 'conv1' }));
  const y = b.relu(b.conv2d(x, 20, 3, { padding: 'same', name: 'conv2' }));
  return Model.create(b.build(b.linear(b.relu(b.linear(b.flatten(y), 6, { name: 'fc1' })), 2, { name: 'fc2' })), { seed: 2 });
}

const data = { train: source(3, 16, 31), eval: source(2, 32, 32), classes: 2 };
const base: PruneOptions = { criterion: 'l1', scope: 'global', norm: 'none', amount: { maps: 1 }, protocol: 'retrain', lr: 1e-3, minAccuracy: 0 };

test('refinement cuts the costliest convolution first, whole blocks above one block, and keeps every step that meets the floor', async (t) => {
  const model = net();
  t.after(() => model.dispose());
  const r = await refineMacs(model, data, base, { groups: new Set(['conv1', 'conv2']), to: 16, iters: 2, steps: 3 }, {});
  t.after(() => r.model?.dispose());
  // Costs: conv1 324 + 6480 = 6804 per map; conv2 2592 + 216 = 2808. conv1 8 → 6 (a quarter), then 6 → 5
  // (a quarter of 6, rounded down) — now conv1 costs 324 + 6480 still, conv2 1944 + 216: conv1 again → 4.
  assert.deepEqual(
    r.attempts.map((a) => [a.record.layers, a.kept]),
    [
      ['conv1:-2', true],
      ['conv1:-1', true],
      ['conv1:-1', true],
    ],
  );
  assert.deepEqual(r.attempts[2]!.record.channels, { conv1: 4, conv2: 20, fc1: 6 });
  assert.equal(model.graph.node('conv1').attrs.outChannels, 8, 'the input model is left untouched');
});

test('refinement halves a missed cut and leaves a group alone once a single channel or a block fails', async (t) => {
  const model = net();
  t.after(() => model.dispose());
  // A step that always misses the floor: conv1 tries 2 maps, then 1 (halved), then is left alone;
  // conv2 (20 maps, above one block of 16) tries its next block, 20 → 16, misses, and nothing is left.
  const asked: Record<string, number>[] = [];
  const miss = async (_m: Model, target: Record<string, number>) => {
    asked.push(target);
    const [g, n] = Object.entries(target)[0]!;
    return { model: null, record: { layers: `${g}→${n}`, channels: target } as unknown as StepRecord };
  };
  const r = await refineMacs(model, data, base, { groups: new Set(['conv1', 'conv2']), to: 16, iters: 1, steps: 10 }, {}, miss);
  assert.equal(r.model, null);
  assert.deepEqual(asked, [{ conv1: 6 }, { conv1: 7 }, { conv2: 16 }]);
  assert.ok(r.attempts.every((a) => !a.kept));
});
