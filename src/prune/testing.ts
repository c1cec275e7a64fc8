// Helpers for the pruning tests: a tiny conv net whose channels are easy to
// count and reason about, and that net trained on the sign problem (so that
// removing channels costs accuracy, which the floor, patience and
// backtracking tests need). Test support only (left out of the package build).
import { GraphBuilder, Model, type Graph } from '../graph/index.js';
import { Adam, Trainer, type BatchSource } from '../train/index.js';
import { signSource } from '../train/testing.js';

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
