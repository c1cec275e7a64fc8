// The CAM family against independent truths: PyTorch's maps on the same
// weights and images (scripts/fixtures/make_explain_fixtures.py), a
// constructed all-negative CAM, a Score-CAM whose target is decided by one
// channel, hooks and tensors released over many calls, and the refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { liveNativeTensors, loadTensors, noGrad, tensor, tidy, type Tensor } from '../../tensor/index.js';
import { GraphBuilder, Model } from '../../graph/index.js';
import { buildArch } from '../../models/index.js';
import { autoTargetLayer, explainer, ExplainError, resolveExplainParams, targetLayer, type Explanation, type ExplainInput } from '../index.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/cam.safetensors', import.meta.url));

/** The fixture's net: conv1 → relu1 → conv2 → relu2 → gap → fc. */
function fixtureNet(weights: Record<string, Tensor>): Model {
  const b = new GraphBuilder('camnet');
  let h = b.input([3, 12, 12]);
  h = b.relu(b.conv2d(h, 4, 3, { padding: 1, name: 'conv1' }), { name: 'relu1' });
  h = b.relu(b.conv2d(h, 6, 3, { padding: 1, name: 'conv2' }), { name: 'relu2' });
  h = b.linear(b.globalAvgPool(h, { name: 'gap' }), 5, { name: 'fc' });
  return Model.fromTensors(b.build(h), weights, 'cam fixture').eval();
}

/** A CAM method's explanation (they are synchronous). */
function run(method: string, input: Omit<ExplainInput, 'seed'>, params: Record<string, number> = {}): Explanation {
  const e = explainer(method);
  const out = e.explain({ seed: 0, ...input }, resolveExplainParams(e, params));
  assert.ok(!(out instanceof Promise), `${method} is synchronous`);
  return out;
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

test('Grad-CAM, Grad-CAM++, LayerCAM and Score-CAM equal PyTorch on the same weights and images (1e-5)', () => {
  const { tensors, metadata } = loadTensors(FIXTURE);
  const weights = Object.fromEntries(Object.entries(tensors).filter(([k]) => /^(conv\d|fc)\./.test(k)));
  const model = fixtureNet(weights);
  try {
    const x = tensors.x!;
    const targets = tensors.targets!.toArray();
    assert.equal(autoTargetLayer(model.graph), metadata.layer, 'the automatic layer is the one PyTorch used');
    for (const method of ['gradcam', 'gradcampp', 'layercam', 'scorecam']) {
      const out = run(method, { model, x, targets, layer: 'relu2' });
      try {
        assert.deepEqual(out.maps.shape, [4, 12, 12], method);
        assert.equal(out.maps.dtype, 'float32');
        assert.equal(out.resolution, 'layer');
        assert.deepEqual(out.warnings, []);
        const ref = tensors[`map.${method}`]!.toArray();
        const got = out.maps.toArray();
        const d = maxAbsDiff(got, ref);
        assert.ok(d <= 1e-5, `${method}: max |slimnet − PyTorch| = ${d}`);
        assert.ok(Math.max(...ref) > 0.02, `${method}: the reference map is informative`);
      } finally {
        out.maps.dispose();
      }
    }
    // The model's parameters get no .grad from an explanation.
    assert.ok(model.parameters().every((p) => p.grad === null));
  } finally {
    model.dispose();
    for (const t of Object.values(tensors)) t.dispose();
  }
});

/** conv 1x1 (identity, 3 → 3 channels) → relu → gap → fc with the given rows: the target's logit is fc · (channel means). */
function channelNet(fcRows: number[][]): Model {
  const b = new GraphBuilder('channels');
  let h = b.input([3, 8, 8]);
  h = b.relu(b.conv2d(h, 3, 1, { name: 'conv' }), { name: 'relu' });
  h = b.linear(b.globalAvgPool(h, { name: 'gap' }), fcRows.length, { name: 'fc' });
  const eye = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  return Model.fromTensors(b.build(h), {
    'conv.weight': tensor(Float32Array.from(eye), [3, 3, 1, 1]),
    'conv.bias': tensor(new Float32Array(3), [3]),
    'fc.weight': tensor(Float32Array.from(fcRows.flat()), [fcRows.length, 3]),
    'fc.bias': tensor(new Float32Array(fcRows.length), [fcRows.length]),
  }).eval();
}

/** Images whose channel c is `value[c]` on its own 4x4 quadrant (c = 0, 1, 2: top-left, top-right, bottom-left) and 0 elsewhere. */
function quadrantImages(values: number[][]): Tensor {
  const data = new Float32Array(values.length * 3 * 64);
  values.forEach((v, n) => {
    for (let c = 0; c < 3; c++) {
      const [r0, c0] = [[0, 0], [0, 4], [4, 0]][c]!;
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) data[n * 192 + c * 64 + (r0! + i) * 8 + c0! + j] = v[c]!;
    }
  });
  return tensor(data, [values.length, 3, 8, 8]);
}

test('an all-negative CAM gives a zero map and a warning naming the method and the image, never NaN', () => {
  // Class 0's logit only decreases with every (non-negative) channel: every
  // gradient is negative, so Grad-CAM's weights are, and LayerCAM's and
  // Grad-CAM++'s positive parts are zero. Class 1 is an ordinary target.
  const model = channelNet([[-1, -2, -3], [1, 1, 1]]);
  tidy(() => {
    const x = quadrantImages([[1, 2, 3], [1, 2, 3], [0, 0, 0]]);
    for (const method of ['gradcam', 'gradcampp', 'layercam']) {
      const out = run(method, { model, x, targets: [1, 0, 1], layer: 'relu' });
      const v = out.maps.toArray();
      assert.ok(v.every((e) => Number.isFinite(e) && e >= 0), `${method}: finite, non-negative`);
      assert.ok(v.slice(0, 64).some((e) => e > 0), `${method}: image 0 has a map`);
      assert.ok(v.slice(64).every((e) => e === 0), `${method}: images 1 and 2 are zero`);
      // Image 1: all-negative; image 2: a black image, all-zero activations.
      assert.deepEqual(out.warnings, [`${method}: all-negative CAM for image 1 (target 0): the map is zero`, `${method}: all-negative CAM for image 2 (target 1): the map is zero`]);
    }
  });
  model.dispose();
});

test('Score-CAM follows the one channel that decides the target; batch size and the channel cap', () => {
  // Target 0 reads channel 1 only (weight 5): the mask of channel 1 keeps its
  // quadrant (logit 5 · 8 · 16/64 = 10), the other masks remove it (logit 0).
  const model = channelNet([[0, 5, 0], [1, 1, 1]]);
  tidy(() => {
    const x = quadrantImages([[8, 8, 8], [3, 8, 1]]);
    const input = { model, x, targets: [0, 0], layer: 'relu' };
    const base = run('scorecam', input, { batchSize: 1 });
    const acts = noGrad(() => x.relu()); // conv is the identity: the layer's output is x itself
    const [ch0, ch1, ch2] = [0, 1, 2].map((c) => acts.select(1, c).toArray()) as [number[], number[], number[]];
    const m = base.maps.toArray();
    // Scores (0, 10, 0), softmax weights (1, e^10, 1) / (e^10 + 2): the map is channel 1 up to 5e-5 of the others.
    const z = Math.exp(10) + 2;
    const expected = ch1.map((v, i) => (Math.exp(10) * v + ch0[i]! + ch2[i]!) / z);
    assert.ok(maxAbsDiff(m, expected) <= 1e-5, `the map is the softmax-weighted channels: ${maxAbsDiff(m, expected)}`);
    assert.ok(maxAbsDiff(m, ch1) <= 8 * 2 / z + 1e-5, 'and so channel 1 to within 1e-3');
    for (let n = 0; n < 2; n++) {
      const img = m.slice(n * 64, n * 64 + 64);
      const at = img.indexOf(Math.max(...img));
      assert.ok(Math.floor(at / 8) < 4 && at % 8 >= 4, `image ${n}: the peak lies in channel 1's quadrant`);
    }
    for (const batchSize of [2, 5, 16]) {
      const other = run('scorecam', input, { batchSize });
      assert.ok(maxAbsDiff(other.maps.toArray(), m) <= 1e-6, `batchSize ${batchSize} gives the unbatched maps`);
    }
    // channels: 1 keeps each image's most activated channel, whose softmax weight is then 1.
    // Image 1's is channel 1 (mean 2 against 0.75 and 0.25); image 0's three tie (mean 2 each).
    const capped = run('scorecam', input, { channels: 1 }).maps.toArray();
    assert.deepEqual(capped.slice(64), ch1.slice(64), 'image 1: exactly its most activated channel');
    assert.ok([ch0, ch1, ch2].some((ch) => maxAbsDiff(capped.slice(0, 64), ch.slice(0, 64)) === 0), 'image 0: exactly one of its channels');
    // channels: 2 on image 1 keeps channels 1 and 0: softmax over (10, 0).
    const two = run('scorecam', input, { channels: 2 }).maps.toArray().slice(64);
    const z2 = Math.exp(10) + 1;
    assert.ok(maxAbsDiff(two, ch1.slice(64).map((v, i) => (Math.exp(10) * v + ch0[64 + i]!) / z2)) <= 1e-5, 'image 1 with two channels');
    assert.deepEqual(base.warnings, []);
  });
  model.dispose();
});

test('hooks and tensors are released: 200 calls leave the live native tensors where they started', () => {
  const { tensors } = loadTensors(FIXTURE);
  const weights = Object.fromEntries(Object.entries(tensors).filter(([k]) => /^(conv\d|fc)\./.test(k)));
  const model = fixtureNet(weights);
  const x = tensors.x!;
  const targets = tensors.targets!.toArray();
  const methods = ['gradcam', 'gradcampp', 'layercam', 'scorecam'];
  // One warm-up call per method (lazy plans and op caches are not leaks).
  for (const method of methods) run(method, { model, x, targets, layer: 'relu2' }).maps.dispose();
  const start = liveNativeTensors();
  for (let i = 0; i < 200; i++) {
    const method = methods[i % methods.length]!;
    run(method, { model, x, targets, layer: 'relu2' }, method === 'scorecam' ? { channels: 2 } : {}).maps.dispose();
  }
  const end = liveNativeTensors();
  assert.equal(end.handles - start.handles, 0, 'live handles after 200 explanations');
  assert.equal(end.bytes - start.bytes, 0, 'live bytes after 200 explanations');
  assert.equal(model.attachedHooks.length, 0);
  assert.ok(model.parameters().every((p) => p.grad === null));
  model.dispose();
  for (const t of Object.values(tensors)) t.dispose();
});

test('refusals: a layer without spatial output, an unknown layer, targets that do not match the batch', () => {
  const model = channelNet([[0, 5, 0], [1, 1, 1]]);
  tidy(() => {
    const x = quadrantImages([[1, 2, 3]]);
    assert.throws(() => targetLayer(model.graph, 'gap'), (e: unknown) => e instanceof ExplainError && /layer 'gap' of channels has output \[3\] per sample, no spatial map/.test(e.message));
    for (const method of ['gradcam', 'gradcampp', 'layercam', 'scorecam']) {
      assert.throws(() => run(method, { model, x, targets: [0], layer: 'gap' }), (e: unknown) => e instanceof ExplainError && /no spatial map for a CAM \(layers with one: conv, relu\)/.test(e.message), method);
      assert.throws(() => run(method, { model, x, targets: [0], layer: 'conv9' }), (e: unknown) => e instanceof ExplainError && /has no node 'conv9'/.test(e.message), method);
      assert.throws(() => run(method, { model, x, targets: [0, 1], layer: 'relu' }), (e: unknown) => e instanceof ExplainError && /1 images but 2 targets/.test(e.message), method);
    }
    assert.throws(() => resolveExplainParams(explainer('scorecam'), { batchSize: 0 }), /scorecam\.batchSize must be an integer >= 1, got 0/);
  });
  assert.equal(model.attachedHooks.length, 0);
  model.dispose();
});

test('the automatic target layer of lenet5 and resnet20 (hand-checked)', () => {
  // lenet5: conv1 relu1 pool1 conv2 relu2 pool2 [64, 7, 7] → flatten: the last map is pool2.
  const lenet = buildArch('lenet5');
  assert.equal(autoTargetLayer(lenet), 'pool2');
  assert.equal(targetLayer(lenet), 'pool2');
  assert.equal(targetLayer(lenet, 'relu2'), 'relu2');
  assert.throws(() => targetLayer(lenet, 'fc1'), (e: unknown) => e instanceof ExplainError && /layer 'fc1' of lenet5 has output \[1024\]/.test(e.message));
  // resnet20: the last block's output relu [64, 8, 8], before avgpool (global) → fc.
  const resnet = buildArch('resnet20');
  assert.equal(autoTargetLayer(resnet), 'layer3.2.relu2');
  assert.throws(() => targetLayer(resnet, 'avgpool'), ExplainError);
});
