// verifyOnnx must not call NaN "no difference": a model with a NaN weight
// gives NaN in onnxruntime and in slimnet alike, and that is a failure naming
// the output, not "max abs difference 0 (ok)".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { full, noGrad, setNumThreads } from '../../tensor/index.js';
import { GraphBuilder, Model } from '../../graph/index.js';
import { exportOnnx } from './export.js';
import { verifyOnnx } from './verify.js';

setNumThreads(1);

function tinyModel(): Model {
  const b = new GraphBuilder('tiny');
  const x = b.input([4]);
  return Model.create(b.build(b.linear(b.relu(b.linear(x, 3, { name: 'fc1' }), { name: 'relu' }), 2, { name: 'fc2' })), { seed: 0 });
}

test('a healthy export verifies with a small finite difference and no problems', async () => {
  using model = tinyModel();
  const r = await verifyOnnx(model, exportOnnx(model));
  assert.ok(Number.isFinite(r.maxAbsDiff) && r.maxAbsDiff < 1e-5, String(r.maxAbsDiff));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.outputs[0]!.nonFinite, { onnx: 0, slimnet: 0 });
});

test('NaN on both sides is a failure naming the output and both runtimes, with an infinite difference', async () => {
  using model = tinyModel();
  using nan = full([2], NaN);
  noGrad(() => model.tensor('fc2.bias').copy_(nan));
  const r = await verifyOnnx(model, exportOnnx(model));
  assert.equal(r.maxAbsDiff, Infinity, 'max abs difference must not be 0 when both sides are NaN');
  assert.ok(!(r.maxAbsDiff <= 1e-4), 'any tolerance check fails');
  const out = r.outputs[0]!;
  assert.deepEqual(out.nonFinite, { onnx: 4, slimnet: 4 });
  assert.equal(r.problems.length, 2);
  assert.match(r.problems.join('\n'), new RegExp(`output '${out.name}': slimnet gives 4 NaN values of 4 \\(first at index 0`));
  assert.match(r.problems.join('\n'), /onnxruntime gives 4 NaN values/);
});

test('an infinity is a failure too', async () => {
  using model = tinyModel();
  using inf = full([2], Infinity);
  noGrad(() => model.tensor('fc2.bias').copy_(inf));
  const r = await verifyOnnx(model, exportOnnx(model));
  assert.equal(r.maxAbsDiff, Infinity);
  assert.match(r.problems[0]!, /gives 4 infinite values/);
});
