// The cascading model-randomisation check on a small trained CNN, with a
// gradient method computed here from autograd (not the registry's, so this
// test stands alone): the maps' rank correlation with the original ones falls
// as layers are randomised from the top, the original model stays bit for bit
// the same, nothing leaks, and the refusals name what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enableGrad, grad, liveNativeTensors, noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import { Model } from '../graph/index.js';
import { Adam, Trainer } from '../train/index.js';
import { ArraySource } from '../train/testing.js';
import { tinyNet } from '../prune/testing.js';
import { mulberry32 } from '../util/rng.js';
import { explainerNames, type Explainer } from './index.js';
import { autoTargetLayer } from './layer.js';
import { targetLogits } from './targets.js';
import { modelRandomisation, randomisationOrder } from './sanity.js';
import { ExplainError } from './errors.js';

/** Signed input gradient of each image's target logit, summed over channels: [B, H, W]. */
const gradient: Explainer = {
  name: 'test-gradient',
  title: 'input gradient (test)',
  source: 'Simonyan et al. 2014',
  family: 'gradient',
  usesLayer: false,
  needsBackground: false,
  params: {},
  explain({ model, x, targets }) {
    const maps = tidy(() =>
      enableGrad(() => {
        const leaf = x.detach().requiresGrad_();
        const y = targetLogits(model.forward(leaf, { training: false }), targets).sum();
        return grad([y], [leaf])[0]!.sum(1);
      }),
    );
    return { maps, resolution: 'input', warnings: [] };
  },
};

function snapshot(model: Model): Map<string, number[]> {
  return new Map(model.namedTensors().map(([k, t]) => [k, t.toArray()]));
}

/**
 * tinyNet (c1 → c2 → fc1 → fc2 on 1x6x6) trained on a task with a place: the
 * class is the sign of the top-left 3x3 block's sum, so the trained model's
 * gradients concentrate there (a map with structure to lose).
 */
async function images(): Promise<{ model: Model; x: Tensor; targets: number[] }> {
  const n = 256;
  const rand = mulberry32(7);
  const xs = Float32Array.from({ length: n * 36 }, () => rand() * 2 - 1);
  const ys = Int32Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) s += xs[i * 36 + r * 6 + c]!;
    return s > 0 ? 1 : 0;
  });
  const model = Model.create(tinyNet(), { seed: 3 });
  const trainer = new Trainer({ model, optimizer: new Adam(model.parameters(), { lr: 1e-2 }) });
  await trainer.fit(new ArraySource(xs, ys, [1, 6, 6], 32, 1), { epochs: 8 });
  trainer.optimizer.dispose();
  model.eval();
  const x = tensor(xs.slice(0, 8 * 36), [8, 1, 6, 6]);
  const targets = tidy(() => noGrad(() => model.forward(x, { training: false }).argmax(1).toArray()));
  return { model, x, targets };
}

test('cascading randomisation: correlation falls from the top layer down, the original model is untouched', async () => {
  const { model, x, targets } = await images();
  const before = snapshot(model);
  const handles = liveNativeTensors().handles;
  const r = await modelRandomisation(model, gradient, x, targets, { seed: 1 });
  assert.equal(liveNativeTensors().handles, handles, 'nothing outlives the check');
  assert.deepEqual(snapshot(model), before, 'original model unchanged, bit for bit');
  assert.equal(model.attachedHooks.length, 0);
  assert.deepEqual(
    r.steps.map((s) => s.layer),
    ['fc2', 'fc1', 'c2', 'c1'],
  );
  assert.deepEqual(randomisationOrder(model), ['fc2', 'fc1', 'c2', 'c1']);
  assert.equal(r.targetLayer, null);
  for (const s of r.steps) for (const v of [...s.spearman, ...s.spearmanAbs]) assert.ok(Number.isFinite(v) && v >= -1 && v <= 1);
  // Magnitudes (Adebayo et al.'s absolute-value maps): lower after the top layer, lower still with every layer random
  // (observed 0.33, 0.31, 0.15, -0.02); signed gradients lose their sign with the output layer already (observed -0.30, then ~0).
  const abs = r.steps.map((s) => s.meanSpearmanAbs);
  const signed = r.steps.map((s) => s.meanSpearman);
  assert.ok(abs[0]! < 0.8, `top layer random: ${abs.join(', ')}`);
  assert.ok(abs[3]! < abs[0]! - 0.15 && abs[3]! < 0.2, `falls as layers are randomised: ${abs.join(', ')}`);
  assert.ok(Math.abs(signed[3]!) < 0.2, `signed, all random: ${signed.join(', ')}`);
  // Same seed, same report.
  const again = await modelRandomisation(model, gradient, x, targets, { seed: 1 });
  assert.deepEqual(again.steps, r.steps);
  x.dispose();
  model.dispose();
});

test('a map that ignores the model (the image itself, an edge detector of sorts) keeps correlation 1: the check tells it apart', async () => {
  const { model, x, targets } = await images();
  const image: Explainer = { ...gradient, name: 'test-image', explain: ({ x }) => ({ maps: tidy(() => x.abs().sum(1)), resolution: 'input', warnings: ['from the image'] }) };
  const r = await modelRandomisation(model, image, x, targets);
  for (const s of r.steps) assert.deepEqual([s.meanSpearman, s.meanSpearmanAbs], [1, 1]);
  assert.deepEqual(r.warnings, ['from the image']);
  x.dispose();
  model.dispose();
});

test('the sanity check refuses an unknown method, a wrong target count and a missing background', async () => {
  const { model, x, targets } = await images();
  await assert.rejects(modelRandomisation(model, 'no-such-method', x, targets), ExplainError);
  await assert.rejects(modelRandomisation(model, gradient, x, targets.slice(1)), /one target per image/);
  await assert.rejects(modelRandomisation(model, { ...gradient, needsBackground: true }, x, targets), /background/);
  assert.deepEqual(randomisationOrder(model, 'weights'), ['fc2', 'fc1', 'c2', 'c1']);
  x.dispose();
  model.dispose();
});

test('with a registered CAM method: the target layer is resolved on the model and named', { skip: !explainerNames().includes('gradcam') && 'gradcam not registered yet' }, async () => {
  const { model, x, targets } = await images();
  const r = await modelRandomisation(model, 'gradcam', x, targets);
  assert.equal(r.targetLayer, autoTargetLayer(model.graph));
  assert.equal(r.steps.length, 4);
  for (const s of r.steps) for (const v of s.spearman) assert.ok(Number.isFinite(v));
  await assert.rejects(modelRandomisation(model, 'gradcam', x, targets, { layer: 'fc1' }), /no spatial map/);
  x.dispose();
  model.dispose();
});
