// One rank of `npm run bench -- ddp` (bench/ddp.ts): resnet20 trained with the
// Trainer on fixed random CIFAR-shaped batches, its part (batch / world) of
// each global batch; with WORLD_SIZE > 1 it joins the group and averages
// gradients through DataParallel. Prints one JSON line (rank 0's timing).
// argv: globalBatch warmupSteps timedSteps
import { randomSource } from '../../src/train/testing.js';
import { Model } from '../../src/graph/index.js';
import { buildArch } from '../../src/models/index.js';
import { SGD, Trainer, type BatchSource } from '../../src/train/index.js';
import { DataParallel } from '../../src/train/data-parallel.js';
import { envRendezvous, setNumThreads } from '../../src/tensor/index.js';

const [batch = '128', warmup = '2', steps = '10'] = process.argv.slice(2);
setNumThreads(Number(process.env.SLIMNET_NUM_THREADS ?? 1));
const world = Number(process.env.WORLD_SIZE ?? 1);
const dp = world > 1 ? await DataParallel.join(envRendezvous(), { initTimeoutMs: 120_000 }) : undefined;
const local = Math.floor(Number(batch) / world);
const model = Model.create(buildArch('resnet20'), { seed: 0 });
const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
if (dp) await dp.broadcastModel(model);
const trainer = new Trainer({ model, optimizer, ...(dp ? { collective: dp } : {}) });
const run = async (src: BatchSource): Promise<number> => {
  const t0 = performance.now();
  await trainer.fit(src, { epochs: trainer.epoch + 1 });
  return (performance.now() - t0) / 1000;
};
await run(randomSource(Number(warmup), local, [3, 32, 32], 10, 1 + (dp?.rank ?? 0)));
const before = dp ? { ...dp.times } : undefined;
const seconds = await run(randomSource(Number(steps), local, [3, 32, 32], 10, 100 + (dp?.rank ?? 0)));
const allreduce = dp && before ? dp.times.allReduceSeconds - before.allReduceSeconds : 0;
process.stdout.write(`${JSON.stringify({ rank: dp?.rank ?? 0, world, steps: Number(steps), seconds, imagesPerSecond: (Number(steps) * local * world) / seconds, allReduceShare: allreduce / seconds })}\n`);
dp?.dispose();
process.exit(0);
