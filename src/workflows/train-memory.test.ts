// The training-memory check: the estimate against a hand count of LeNet-5,
// the refusal and its advice against a given amount of memory, and the
// machine's available memory read from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { buildArch } from '../models/index.js';
import { trainingMemory } from '../graph/index.js';
import { UsageError } from '../util/errors.js';
import { availableMemory, checkTrainingMemory, optimizerMoments } from './train-memory.js';

// LeNet-5 of seed 003 on 28×28 digits, by hand: float32 outputs per sample of
// input 1·28·28, conv1 and relu1 32·28·28 each, pool1 32·14·14, conv2 and relu2
// 64·14·14 each, pool2 and flatten 64·7·7 each, fc1 and relu3 1024 each, fc2 10.
const LENET_OUTPUTS = 784 + 2 * 25088 + 6272 + 2 * 12544 + 2 * 3136 + 2 * 1024 + 10;
const LENET_PARAMS = 800 + 32 + 51200 + 64 + 3136 * 1024 + 1024 + 10240 + 10;
const GiB = 2 ** 30;

test('trainingMemory: every output per sample, plus weights, gradients and the optimizer moments', () => {
  const m = trainingMemory(buildArch('lenet5'), 100, { optimizerMoments: 2 });
  assert.equal(m.perSample, 4 * LENET_OUTPUTS);
  assert.equal(m.fixed, 4 * LENET_PARAMS * 4, 'weights, gradients, two Adam moments');
  assert.equal(m.total, 100 * 4 * LENET_OUTPUTS + m.fixed);
  assert.equal(trainingMemory(buildArch('lenet5'), 1, { optimizerMoments: 0 }).fixed, 4 * LENET_PARAMS * 2, 'plain SGD: weights and gradients');
  assert.deepEqual([optimizerMoments('adam'), optimizerMoments('adamw'), optimizerMoments('sgd', 0.9), optimizerMoments('sgd', 0)], [2, 2, 1, 0]);
});

test('checkTrainingMemory refuses a batch beyond the memory and names the largest that fits', () => {
  const graph = buildArch('lenet5');
  const sixteen = { bytes: 16 * GiB, source: 'a test' };
  // The batch that was killed at 17.7 GB: all 54,000 Fashion-MNIST training images in one step.
  assert.throws(
    () => checkTrainingMemory({ model: 'lenet5', graph, batch: 54_000, batchSize: 100_000, optimizer: 'adam' }, sixteen),
    (e: unknown) => {
      if (!(e instanceof UsageError)) return false;
      const fits = Math.floor((16 * GiB - 4 * LENET_PARAMS * 4) / (4 * LENET_OUTPUTS));
      assert.match(e.message, /^--batch-size 100000: a training step of lenet5 needs about 18\.\d\d GiB \(354\.1 KiB of activations per sample × 54,000 samples, plus 49\.97 MiB of weights, gradients and optimizer state\), more than the 16\.00 GiB available \(a test\)/);
      assert.ok(e.message.endsWith(`use --batch-size ${fits.toLocaleString('en-US')} or less`), e.message);
      return true;
    },
  );
  // The default recipe's batch passes without a word; one above half the memory passes with a warning.
  assert.equal(checkTrainingMemory({ model: 'lenet5', graph, batch: 128, batchSize: 128, optimizer: 'adam' }, sixteen).warning, null);
  assert.match(checkTrainingMemory({ model: 'lenet5', graph, batch: 30_000, batchSize: 30_000, optimizer: 'adam' }, sixteen).warning!, /more than half of the 16\.00 GiB available/);
  // A model whose weights alone do not fit: the advice is a smaller model, not a batch size.
  assert.throws(
    () => checkTrainingMemory({ model: 'lenet5', graph, batch: 1, batchSize: 1, optimizer: 'adam' }, { bytes: 10 * 2 ** 20, source: 'a test' }),
    (e: unknown) => e instanceof UsageError && /the model alone needs 49\.97 MiB .*: use a smaller --width or architecture$/.test(e.message),
  );
});

test('availableMemory reads a positive amount no larger than the machine', () => {
  const a = availableMemory();
  assert.ok(a.bytes > 0 && a.bytes <= totalmem(), `${a.bytes} bytes (${a.source})`);
  assert.ok(a.source.length > 0);
});
