// Helpers for the pruning tests: a tiny conv net whose channels are easy to
// count and reason about, and that net trained on the sign problem (so that
// removing channels costs accuracy, which the floor, patience and
// backtracking tests need). Test support only (left out of the package build).
import assert from 'node:assert/strict';
import { GraphBuilder, Model, summarize, type Graph } from '../graph/index.js';
import { Adam, Trainer, type BatchSource } from '../train/index.js';
import { signSource } from '../train/testing.js';
import { exportOnnx } from '../export/onnx/export.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { criterion, scoreChannels } from './criteria.js';
import { DependencyGraph } from './dependency.js';
import { removeChannels } from './remove.js';
import { selectChannels } from './select.js';

/** conv c1 (4 maps, 'same') → relu r1 → conv c2 (3 maps) → relu r2 → flatten → fc1 (5) → relu r3 → fc2 (2), on 1x6x6. */
export function tinyNet(): Graph {
  const b = new GraphBuilder('tiny');
  const x = b.input([1, 6, 6]);
  const c1 = b.relu(b.conv2d(x, 4, 3, { padding: 1, name: 'c1' }), { name: 'r1' });
  const c2 = b.relu(b.conv2d(c1, 3, 3, { name: 'c2' }), { name: 'r2' });
  const f = b.relu(b.linear(b.flatten(c2), 5, { name: 'fc1' }), { name: 'r3' });
  return b.build(b.linear(f, 2, { name: 'fc2' }));
}

/** tinyNet (seed 3) trained `epochs` epochs with Adam (lr 1e-2) on 8 batches of 32, with a 4-batch validation split. */
export async function trainedTinyNet(epochs: number): Promise<{ model: Model; train: BatchSource; val: BatchSource }> {
  const model = Model.create(tinyNet(), { seed: 3 });
  const train = signSource(8, 32, 11);
  const val = signSource(4, 32, 12);
  const trainer = new Trainer({ model, optimizer: new Adam(model.parameters(), { lr: 1e-2 }) });
  await trainer.fit(train, { epochs });
  trainer.optimizer.dispose();
  return { model, train, val };
}

/** Prunes 30 % of the channels (global L1 ranking, L2-normalised per group), checks the model shrank, and checks its export in onnxruntime. */
export async function pruneAndVerify(model: Model, what: string): Promise<void> {
  const dep = new DependencyGraph(model.graph);
  assert.ok(dep.groups.length > 0, `${what}: no prunable group`);
  const scores = scoreChannels(dep, await criterion('l1').score({ model, dep, seed: 0 }));
  const removed = selectChannels(dep, scores, { amount: { fraction: 0.3 }, scope: 'global', norm: 'l2' });
  assert.ok(removed.length > 0, `${what}: nothing selected`);
  const { model: pruned } = removeChannels(model, dep, removed);
  pruned.eval();
  assert.ok(summarize(pruned.graph).totals.params < summarize(model.graph).totals.params, `${what}: not smaller`);
  const r = await verifyOnnx(pruned, exportOnnx(pruned), { batch: 2 });
  const scale = Math.max(1, ...r.outputs.flatMap((o) => Array.from(o.onnx, Math.abs)));
  assert.ok(r.maxAbsDiff <= 1e-4 * scale && r.problems.length === 0, `${what}: pruned export differs by ${r.maxAbsDiff}`);
  pruned.dispose();
}
