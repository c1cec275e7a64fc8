// `slimnet pipeline` (the README's main job, `npm start`) end to end on a
// sliver of the bundled digits: train, prune to the floor, snap onto a
// channel grid, fine-tune, export; both stages' run directories and the
// combined JSON line are checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, summarize } from '../../graph/index.js';
import { tempDir } from '../../data/testing.js';
import { cli, lastJson } from '../testing.js';

test('slimnet pipeline trains, prunes to the floor, snaps to the grid, exports ONNX and prints the headline', async (t) => {
  const dir = tempDir(t, 'slimnet-pipeline-');
  const r = await cli(['pipeline', '--fraction', '0.05', '--epochs', '1', '--retrain-iters', '3', '--snap-to', '2', '--snap-iters', '3', '--latency-runs', '3', '--runs-dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { train, prune } = lastJson(r.stdout) as { train: Record<string, unknown>; prune: Record<string, unknown> };
  assert.equal(train.status, 'complete');
  assert.ok(existsSync(join(String(train.run), 'best.safetensors')));
  assert.equal(prune.eval_split, 'validation', 'the floor is checked on the held-out split');
  for (const k of ['params_x', 'macs_x', 'speedup_ort_b1', 'speedup_ort_b64', 'base_test_acc', 'pruned_test_acc']) assert.equal(typeof prune[k], 'number', k);
  assert.ok((prune.params_x as number) > 2, `params_x ${prune.params_x}`);
  assert.ok(existsSync(String(prune.onnx)));
  // The pruned checkpoint is what the JSON says: its channel counts and parameter count.
  const pruned = loadCheckpoint(String(prune.checkpoint));
  const channels = prune.channels as Record<string, [number, number]>;
  assert.equal(summarize(pruned.model.graph).totals.params, prune.params_after);
  assert.match(String(prune.snap), /^(onto multiples of 2|not kept|nothing to do)/);
  // The grid step takes the convolutions onto the grid; fc1 keeps what the loop left.
  if (String(prune.snap).startsWith('onto')) for (const layer of ['conv1', 'conv2']) assert.equal(channels[layer]![1] % 2, 0, `${layer}: ${channels[layer]![1]}`);
  pruned.model.dispose();
  assert.match(r.stderr, /== 1\/2 train lenet5 on mnist-digits/);
  assert.match(r.stderr, /onnxruntime latency b64/);
  assert.match(r.stderr, /result: [\d.]+× fewer parameters/);
});
