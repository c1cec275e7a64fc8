// A task for runInWorker tests: trains a tiny conv net for a few SGD steps
// inside a worker thread and reports the loss after every step.
import { F, manualSeed, noGrad, randn, tidy, zeros, type Tensor } from '../index.js';
import { isMainThread, threadId } from 'node:worker_threads';

export interface TrainInput {
  steps: number;
  lr: number;
  seed: number;
}

export interface TrainProgress {
  step: number;
  loss: number;
}

export interface TrainResult {
  firstLoss: number;
  finalLoss: number;
  /** Where the task ran, so the test can tell it was not the main thread. */
  isMainThread: boolean;
  threadId: number;
}

/** conv(1->4, 3x3) -> relu -> global average pool -> linear(4->2), cross-entropy, plain SGD. */
export function trainTinyConvNet(input: TrainInput, progress: (p: TrainProgress) => void): TrainResult {
  manualSeed(input.seed);
  // 16 images 6x6: class 1 when the left half is brighter than the right.
  const x = randn([16, 1, 6, 6]);
  const left = x.slice(3, 0, 3).mean([1, 2, 3]);
  const right = x.slice(3, 3, 6).mean([1, 2, 3]);
  const y = left.gt(right).to('int64');
  const params: Tensor[] = [randn([4, 1, 3, 3]).mul_(0.5), zeros([4]), randn([2, 4]).mul_(0.5), zeros([2])];
  for (const p of params) p.requiresGrad = true;
  const [cw, cb, fw, fb] = params as [Tensor, Tensor, Tensor, Tensor];

  let firstLoss = NaN;
  let finalLoss = NaN;
  for (let step = 0; step < input.steps; step++) {
    const loss = tidy(() => {
      const h = F.conv2d(x, cw, { bias: cb, padding: 1 }).relu();
      const logits = F.linear(F.globalAvgPool(h), fw, fb);
      const l = F.crossEntropy(logits, y);
      l.backward();
      noGrad(() => {
        for (const p of params) {
          const g = p.grad!;
          p.sub_(g, input.lr);
          p.grad = null;
        }
      });
      return l.item();
    });
    if (step === 0) firstLoss = loss;
    finalLoss = loss;
    progress({ step, loss });
  }
  for (const t of [x, left, right, y, ...params]) t.dispose();
  return { firstLoss, finalLoss, isMainThread, threadId };
}

/** A task that fails, to check that errors travel back to the caller. */
export function failingTask(): never {
  throw new RangeError('task failed on purpose');
}
