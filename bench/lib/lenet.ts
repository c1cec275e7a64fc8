// The LeNet variant both engine benchmarks train: conv 5x5 1->32 (pad 2),
// ReLU, max-pool 2, conv 5x5 32->64 (pad 2), ReLU, max-pool 2, flatten,
// fc 3136->1024, ReLU, fc 1024->10; cross-entropy; Adam. Written with the
// functional ops over explicit parameters, as bench/engine_pytorch.py is.
import { F, empty, noGrad, randint, randn, keep, type Tensor } from '../../src/tensor/index.js';
import { Adam } from '../../src/train/optim/index.js';
import { timedTrainStep, type Parts } from './step.js';

export interface LeNet {
  params: Tensor[];
  optimizer: Adam;
  dispose(): void;
}

/** torch.nn's default init: kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(fan_in)), bias likewise. */
function param(shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return keep(noGrad(() => empty(shape).uniform_(-bound, bound)).requiresGrad_());
}

export function makeLeNet(lr = 1e-4): LeNet {
  const params = [
    param([32, 1, 5, 5], 25), param([32], 25),
    param([64, 32, 5, 5], 800), param([64], 800),
    param([1024, 3136], 3136), param([1024], 3136),
    param([10, 1024], 1024), param([10], 1024),
  ];
  const optimizer = new Adam(params, { lr });
  return {
    params,
    optimizer,
    dispose() {
      optimizer.dispose();
      for (const p of params) p.dispose();
    },
  };
}

export function forward(p: Tensor[], x: Tensor): Tensor {
  let h = F.maxPool2d(F.relu(F.conv2d(x, p[0]!, { bias: p[1]!, padding: 2 })), 2);
  h = F.maxPool2d(F.relu(F.conv2d(h, p[2]!, { bias: p[3]!, padding: 2 })), 2);
  h = F.relu(F.linear(h.flatten(1), p[4]!, p[5]!));
  return F.linear(h, p[6]!, p[7]!);
}

export interface Batch {
  x: Tensor;
  y: Tensor;
}

/** `count` random batches (standard normal images, uniform labels), kept until disposed. */
export function randomBatches(count: number, batch: number): Batch[] {
  return Array.from({ length: count }, () => ({ x: keep(randn([batch, 1, 28, 28])), y: keep(randint(0, 10, [batch])) }));
}

/** One training step of the LeNet (see timedTrainStep); returns the loss. */
export function trainStep(net: LeNet, b: Batch, parts?: Parts): number {
  return timedTrainStep(net.optimizer, () => F.crossEntropy(forward(net.params, b.x), b.y), parts);
}
