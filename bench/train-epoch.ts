// One epoch of lenet5 on Fashion-MNIST through slimnet's own loop (data set,
// DataLoader with worker prefetch, Trainer.fit, evaluate on the test split;
// augmentation off) against the same loop in PyTorch (TensorDataset +
// torch.utils.data.DataLoader, nn.Module, Adam) on the same libtorch with the
// same thread count. Reading the IDX files is excluded on both sides; the
// timed part is the training epoch plus the test-set evaluation.
// `--fraction` trains on a stratified share of the data for a quick check.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { engineInfo, getNumThreads, manualSeed } from '../src/tensor/index.js';
import { Model } from '../src/graph/index.js';
import { buildArch } from '../src/models/index.js';
import { DataLoader, fraction, loadDataset } from '../src/data/index.js';
import { Adam, Trainer, evaluate } from '../src/train/index.js';
import { fmt, parseArgs } from './lib/stats.js';

export const description = 'one epoch of lenet5 on Fashion-MNIST (loader, training, test evaluation), slimnet vs PyTorch DataLoader';

const DEFAULTS = { batch: 100, lr: 1e-3, fraction: 1, seed: 0, python: process.env.SLIMNET_PYTHON ?? '/usr/bin/python3' };

interface Side {
  train_s: number;
  eval_s: number;
  test_acc: number;
  train_samples: number;
}

async function slimnetSide(o: typeof DEFAULTS): Promise<Side> {
  let train = loadDataset('fashion-mnist', 'train');
  let test = loadDataset('fashion-mnist', 'test');
  if (o.fraction < 1) {
    train = fraction(train, o.fraction, o.seed);
    test = fraction(test, o.fraction, o.seed);
  }
  manualSeed(o.seed);
  const model = Model.create(buildArch('lenet5'), { seed: o.seed });
  const optimizer = new Adam(model.parameters(), { lr: o.lr });
  const trainer = new Trainer({ model, optimizer });
  const trainLoader = new DataLoader(train, { batchSize: o.batch, shuffle: true, seed: o.seed });
  const testLoader = new DataLoader(test, { batchSize: 500, shuffle: false });
  const t0 = performance.now();
  await trainer.fit(trainLoader, { epochs: 1 });
  const t1 = performance.now();
  model.eval();
  const metrics = await evaluate(model, testLoader, test.classes);
  const t2 = performance.now();
  await trainLoader.close();
  await testLoader.close();
  optimizer.dispose();
  model.dispose();
  return { train_s: (t1 - t0) / 1000, eval_s: (t2 - t1) / 1000, test_acc: metrics.accuracy, train_samples: train.length };
}

function pytorchSide(o: typeof DEFAULTS, threads: number): Side {
  const script = fileURLToPath(new URL('./train_epoch_pytorch.py', import.meta.url));
  const args = [script, '--threads', String(threads), '--batch', String(o.batch), '--lr', String(o.lr), '--fraction', String(o.fraction), '--seed', String(o.seed)];
  const r = spawnSync(o.python, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.error) throw new Error(`cannot run ${o.python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${o.python} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Side;
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv, DEFAULTS);
  const threads = getNumThreads();
  console.log(`train-epoch: lenet5, Fashion-MNIST${o.fraction < 1 ? ` (fraction ${o.fraction})` : ''}, batch ${o.batch}, Adam lr ${o.lr}, augmentation off`);
  console.log(`libtorch ${engineInfo().torchVersion}, ${threads} threads on both sides; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const s = await slimnetSide(o);
  const p = pytorchSide(o, threads);
  if (p.train_samples !== s.train_samples) throw new Error(`sides trained on different sample counts: ${s.train_samples} vs ${p.train_samples}`);
  const total = (x: Side) => x.train_s + x.eval_s;
  console.log('\n                      slimnet    pytorch');
  console.log(`train epoch, s      ${fmt(s.train_s, 2).padStart(10)} ${fmt(p.train_s, 2).padStart(10)}`);
  console.log(`test evaluation, s  ${fmt(s.eval_s, 2).padStart(10)} ${fmt(p.eval_s, 2).padStart(10)}`);
  console.log(`total, s            ${fmt(total(s), 2).padStart(10)} ${fmt(total(p), 2).padStart(10)}`);
  console.log(`test accuracy       ${fmt(s.test_acc * 100, 2).padStart(9)}% ${fmt(p.test_acc * 100, 2).padStart(9)}%`);
  const ratio = total(p) / total(s);
  console.log(`ratio (pytorch time / slimnet time): ${fmt(ratio, 3)}; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(
    JSON.stringify({
      bench: 'train-epoch',
      fraction: o.fraction,
      samples: s.train_samples,
      slimnet_s: +total(s).toFixed(2),
      pytorch_s: +total(p).toFixed(2),
      slimnet_test_acc: +s.test_acc.toFixed(4),
      pytorch_test_acc: +p.test_acc.toFixed(4),
      ratio: +ratio.toFixed(4),
      threads,
    }),
  );
}
