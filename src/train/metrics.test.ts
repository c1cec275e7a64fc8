// Metrics against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scope, tensor } from '../tensor/index.js';
import { MetricAccumulator } from './metrics.js';

test('confusion matrix, accuracy, balanced accuracy and recall from predictions', () => {
  // 3 classes. labels / predictions:
  //   class 0: 4 samples -> 0,0,0,1   recall 3/4
  //   class 1: 2 samples -> 1,2       recall 1/2
  //   class 2: 1 sample  -> 2         recall 1
  const m = new MetricAccumulator(['a', 'b', 'c']);
  m.addPredictions([0, 0, 1], [[0], [0], [1]]);
  m.addPredictions([0, 0, 1, 2], [[0], [1], [2], [2]]);
  const r = m.result();
  assert.equal(r.count, 7);
  assert.deepEqual(r.confusion, [
    [3, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  assert.equal(r.accuracy, 5 / 7);
  assert.deepEqual(r.perClassRecall, [3 / 4, 1 / 2, 1]);
  assert.equal(r.balancedAccuracy, (3 / 4 + 1 / 2 + 1) / 3);
  assert.deepEqual(r.classes, ['a', 'b', 'c']);
  assert.ok(Number.isNaN(r.loss), 'no loss given');
});

test('a class absent from the labels has NaN recall and is left out of balanced accuracy', () => {
  const m = new MetricAccumulator(3);
  m.addPredictions([0, 0, 1], [[0], [2], [1]]);
  const r = m.result();
  assert.ok(Number.isNaN(r.perClassRecall[2]!));
  assert.equal(r.balancedAccuracy, (1 / 2 + 1) / 2);
});

test('update() from logits: top-1, top-5 and a sample-weighted loss', () => {
  using scope = new Scope();
  const m = new MetricAccumulator(6);
  // Sample 0: label 5, logits rank 5 first -> top-1 hit.
  // Sample 1: label 0, logits rank 0 last (6th) -> top-5 miss.
  // Sample 2: label 3, ranked 2nd -> top-1 miss, top-5 hit.
  const logits = tensor([
    [0, 1, 2, 3, 4, 9],
    [-5, 1, 2, 3, 4, 5],
    [0, 1, 2, 8, 4, 9],
  ]);
  m.update(logits, tensor(new BigInt64Array([5n, 0n, 3n])), 2.0);
  m.update(tensor([[9, 0, 0, 0, 0, 0]]), tensor(new BigInt64Array([0n])), 6.0);
  const r = m.result();
  assert.equal(r.accuracy, 2 / 4);
  assert.equal(r.top5, 3 / 4);
  assert.equal(r.loss, (2.0 * 3 + 6.0 * 1) / 4);
  assert.deepEqual(r.confusion[0], [1, 0, 0, 0, 0, 1], "label 0: once predicted 0, once 5 (sample 1: logit 5 is its max)");
  assert.throws(() => m.update(tensor([[1, 2]]), tensor(new BigInt64Array([0n]))), /do not match 6 classes/);
  void scope;
});

test('top-5 with fewer than 5 classes counts every sample', () => {
  using scope = new Scope();
  const m = new MetricAccumulator(3);
  m.update(tensor([[1, 2, 3], [3, 2, 1]]), tensor(new BigInt64Array([0n, 1n])));
  assert.equal(m.result().top5, 1);
  assert.equal(m.result().accuracy, 0);
  void scope;
});
