// One process of the data-parallel tests (src/train/data-parallel.test.ts):
// trains a small CNN (no BatchNorm) on synthetic images with the Trainer.
// With torchrun-style variables it is one rank of a group (its model seeded
// differently, so rank 0's broadcast matters); without, a single process.
// argv: optimizer ('sgd' | 'adam'), global batch, epochs. Prints one JSON
// line: the final weights and the validation metrics.
import { GraphBuilder, Model } from '../../graph/index.js';
import { setNumThreads } from '../../tensor/index.js';
import { envRendezvous } from '../../tensor/distributed.js';
import { DataLoader } from '../../data/loader.js';
import { syntheticDataset } from '../../data/testing.js';
import { Adam, SGD } from '../optim/index.js';
import { Trainer } from '../trainer.js';
import { DataParallel } from '../data-parallel.js';

setNumThreads(1);
const [opt = 'sgd', batch = '8', epochs = '2'] = process.argv.slice(2);

function cnn(seed: number): Model {
  const b = new GraphBuilder('cnn');
  let h = b.input([1, 6, 6]);
  h = b.relu(b.conv2d(h, 4, 3, { padding: 1, name: 'conv1' }), { name: 'relu1' });
  h = b.globalAvgPool(h, { name: 'gap' });
  h = b.linear(h, 3, { name: 'fc' });
  return Model.create(b.build(h), { seed });
}

async function main(): Promise<void> {
  const dp = process.env.WORLD_SIZE ? await DataParallel.join(envRendezvous(), { timeoutMs: 20_000, initTimeoutMs: 60_000, bucketBytes: 64 }) : undefined;
  const rank = dp?.rank ?? 0;
  const shard = dp ? { rank, world: dp.size } : undefined;
  const model = cnn(10 + rank);
  const optimizer = opt === 'adam' ? new Adam(model.parameters(), { lr: 0.01, weightDecay: 1e-3 }) : new SGD(model.parameters(), { lr: 0.5, momentum: 0.9, weightDecay: 1e-3 });
  if (dp) await dp.broadcastModel(model);
  const initial = Object.fromEntries(model.namedTensors().map(([k, t]) => [k, Array.from(t.data() as Float32Array)]));
  const train = new DataLoader(syntheticDataset(42, [1, 6, 6], 3), { batchSize: Number(batch), shuffle: true, seed: 5, prefetch: 0, ...(shard ? { shard } : {}) });
  const val = new DataLoader(syntheticDataset(13, [1, 6, 6], 3, (i) => (i * 5) % 3), { batchSize: 4, prefetch: 0, ...(shard ? { shard: { ...shard, of: 'split' as const } } : {}) });
  const trainer = new Trainer({ model, optimizer, ...(dp ? { collective: dp } : {}) });
  const records = await trainer.fit(train, { epochs: Number(epochs), validation: val });
  const weights = Object.fromEntries(model.namedTensors().map(([k, t]) => [k, Array.from(t.data() as Float32Array)]));
  const v = records[records.length - 1]!.val!;
  process.stdout.write(`${JSON.stringify({ rank, steps: trainer.globalStep, initial, weights, val: { count: v.count, loss: v.loss, accuracy: v.accuracy, confusion: v.confusion } })}\n`);
  dp?.dispose();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
