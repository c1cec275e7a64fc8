// LIME and KernelSHAP against independent truths: the solvers on synthetic
// games (a linear game's coefficients, brute-force Shapley values of a
// non-linear one), then the whole image → masks → model → surrogate path on a
// model that is linear in its pixels — hence linear in any superpixel masks,
// with coefficient Σ_{p ∈ s} W_p · x_p for segment s, computed here in plain
// JavaScript from the segmentation the method reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveNativeTensors, noGrad, tensor, tidy } from '../../tensor/index.js';
import { GraphBuilder, Model } from '../../graph/index.js';
import { explainer, resolveExplainParams, type ExplainInput, type Explanation } from '../registry.js';
import { ExplainError } from '../errors.js';
import { targetLogits, targetProbs } from '../targets.js';
import { mulberry32 } from '../../util/rng.js';
import { shapleyRegression, weightedRidge } from './surrogate.js';
import { kernelShapCoalitions, kernelShapValues } from './kernelshap.js';
import { limeMasks, limeValues } from './lime.js';
import type { Segmentation } from '../superpixels.js';
import './index.js';

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** A model whose logits are W · flatten(x) + bias, with seeded weights (kept as plain arrays for the truth). */
function linearModel(shape: [number, number, number], classes: number, seed: number): { model: Model; w: Float32Array; bias: Float32Array } {
  const b = new GraphBuilder('linear');
  const h = b.linear(b.flatten(b.input(shape), { name: 'flat' }), classes, { name: 'fc' });
  const n = shape[0] * shape[1] * shape[2];
  const rand = mulberry32(seed);
  const w = Float32Array.from({ length: classes * n }, () => (rand() - 0.5) * 0.2);
  const bias = Float32Array.from({ length: classes }, () => rand() - 0.5);
  const model = Model.fromTensors(b.build(h), { 'fc.weight': tensor(w.slice(), [classes, n]), 'fc.bias': tensor(bias.slice(), [classes]) });
  return { model, w, bias };
}

function images(n: number, shape: [number, number, number], seed: number): Float32Array {
  const rand = mulberry32(seed);
  const [c, h, w] = shape;
  const x = new Float32Array(n * c * h * w);
  // Smooth blobs plus noise: something SLIC can segment.
  for (let i = 0; i < n; i++) {
    const cy = rand() * h;
    const cx = rand() * w;
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) x[((i * c + ch) * h + y) * w + xx] = 2 * Math.exp(-((y - cy) ** 2 + (xx - cx) ** 2) / 30) - 0.5 + 0.2 * rand();
  }
  return x;
}

/** The exact coefficient of each segment of image i for class t: Σ over the segment's pixels and all channels of W[t, p] · x[p]. */
function truth(w: Float32Array, x: Float32Array, i: number, t: number, shape: [number, number, number], seg: Segmentation): Float64Array {
  const [c, h, ww] = shape;
  const n = c * h * ww;
  const out = new Float64Array(seg.count);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * ww; p++) out[seg.labels[p]!]! += w[t * n + ch * h * ww + p]! * x[i * n + ch * h * ww + p]!;
  return out;
}

/** LIME and KernelSHAP explain synchronously. */
function sync(out: Explanation | Promise<Explanation>): Explanation {
  if (out instanceof Promise) assert.fail('expected a synchronous explanation');
  return out;
}

function input(model: Model, x: Float32Array, shape: [number, number, number], targets: number[], seed = 0): ExplainInput {
  return { model, x: tensor(x, [targets.length, ...shape]), targets, layer: '', seed };
}

test('weighted ridge (alpha 0) recovers a linear game exactly; alpha shrinks towards 0', () => {
  const k = 12;
  const rand = mulberry32(5);
  const c = Array.from({ length: k }, () => rand() * 2 - 1);
  const masks = limeMasks(k, 300, 1);
  const y = Array.from({ length: 300 }, (_, i) => 0.7 + c.reduce((a, cj, j) => a + cj * masks[i * k + j]!, 0));
  const w = Array.from({ length: 300 }, () => 0.1 + rand());
  const fit = weightedRidge(Float64Array.from(masks), y, w, k, 0);
  c.forEach((cj, j) => close(fit.coef[j]!, cj, 1e-9, `coef ${j}`));
  close(fit.intercept, 0.7, 1e-9, 'intercept');
  const shrunk = weightedRidge(Float64Array.from(masks), y, w, k, 50);
  const norm = (v: ArrayLike<number>): number => Math.hypot(...Array.from(v));
  assert.ok(norm(shrunk.coef) < norm(fit.coef));
});

test('KernelSHAP: exact Shapley values of a non-linear game when every coalition fits the budget', () => {
  const k = 5;
  const f = (z: ArrayLike<number>): number => 3 * z[0]! * z[1]! + z[2]! - 2 * Math.max(z[3]!, z[4]!) + 0.5 * z[0]! * z[2]! * z[4]! + 1;
  // Brute force: φ_i = Σ_{S ∌ i} |S|! (k − |S| − 1)! / k! · (f(S ∪ i) − f(S)).
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  const exact = Array.from({ length: k }, (_, i) => {
    let phi = 0;
    for (let s = 0; s < 1 << k; s++) {
      if (s & (1 << i)) continue;
      const z = Array.from({ length: k }, (_, j) => (s >> j) & 1);
      const size = z.reduce((a, b) => a + b, 0);
      const zi = [...z];
      zi[i] = 1;
      phi += ((fact(size) * fact(k - size - 1)) / fact(k)) * (f(zi) - f(z));
    }
    return phi;
  });
  const plan = kernelShapCoalitions(k, 2048, 0);
  assert.equal(plan.n, 2 ** k - 2, 'the budget is capped at every non-trivial coalition');
  close(plan.weights.reduce((a, b) => a + b, 0), 1, 1e-12, 'kernel weights sum to 1');
  const y = Array.from({ length: plan.n }, (_, i) => f(plan.masks.subarray(i * k, (i + 1) * k)));
  const phi = shapleyRegression(Float64Array.from(plan.masks), y, plan.weights, k, f([1, 1, 1, 1, 1]), f([0, 0, 0, 0, 0]));
  exact.forEach((e, i) => close(phi[i]!, e, 1e-9, `φ${i}`));
});

test('KernelSHAP: sampled coalitions recover a linear game, efficiency exact, seeded plans', () => {
  const k = 24;
  const rand = mulberry32(9);
  const c = Array.from({ length: k }, () => rand() * 2 - 1);
  const plan = kernelShapCoalitions(k, 400, 3);
  assert.equal(plan.n, 400);
  for (let i = 0; i < plan.n; i++) {
    const on = plan.masks.subarray(i * k, (i + 1) * k).reduce((a, b) => a + b, 0);
    assert.ok(on > 0 && on < k, 'neither the empty nor the full coalition');
  }
  close(plan.weights.reduce((a, b) => a + b, 0), 1, 1e-12, 'kernel weights sum to 1');
  assert.deepEqual(kernelShapCoalitions(k, 400, 3), plan, 'same seed, same plan');
  assert.notDeepEqual(kernelShapCoalitions(k, 400, 4).masks, plan.masks);
  const y = Array.from({ length: plan.n }, (_, i) => -0.3 + c.reduce((a, cj, j) => a + cj * plan.masks[i * k + j]!, 0));
  const phi = shapleyRegression(Float64Array.from(plan.masks), y, plan.weights, k, -0.3 + c.reduce((a, b) => a + b, 0), -0.3);
  c.forEach((cj, j) => close(phi[j]!, cj, 1e-9, `φ${j}`));
});

test('LIME and KernelSHAP on a model linear in the superpixels recover its coefficients (SLIC, 28x28 grey and 16x16 colour)', () => {
  for (const shape of [[1, 28, 28], [3, 16, 16]] as [number, number, number][]) {
    const { model, w, bias } = linearModel(shape, 3, 11);
    const x = images(2, shape, 4);
    const targets = [2, 0];
    const seg = { segments: 0, compactness: 0.3, grid: 0, batch: 128, logit: 1 };
    const lime = limeValues(input(model, x, shape, targets), resolveExplainParams(explainer('lime'), { ...seg, samples: 300, alpha: 1e-9 }));
    const shap = kernelShapValues(input(model, x, shape, targets), resolveExplainParams(explainer('kernelshap'), { ...seg, samples: 200 }));
    targets.forEach((t, i) => {
      const c = truth(w, x, i, t, shape, lime[i]!.seg);
      assert.ok(lime[i]!.seg.count > 10, `${lime[i]!.seg.count} segments`);
      c.forEach((cs, s) => close(lime[i]!.coef[s]!, cs, 1e-4, `LIME ${shape} image ${i} segment ${s}`));
      close(lime[i]!.intercept, bias[t]!, 1e-4, 'LIME intercept = the logit with every segment off');
      const cs = truth(w, x, i, t, shape, shap[i]!.seg);
      cs.forEach((v, s) => close(shap[i]!.values[s]!, v, 1e-4, `KernelSHAP ${shape} image ${i} segment ${s}`));
      close(shap[i]!.f0, bias[t]!, 1e-5, 'f(all off) = the bias');
    });
    model.dispose();
  }
});

test('KernelSHAP efficiency on a CNN: Σ values = f(x) − f(all off) (probability), checked against the model itself', () => {
  const b = new GraphBuilder('cnn');
  let h = b.input([1, 16, 16]);
  h = b.relu(b.conv2d(h, 4, 3, { padding: 1, name: 'conv1' }));
  h = b.linear(b.flatten(b.maxpool2d(h, 4)), 3, { name: 'fc' });
  const model = Model.create(b.build(h), { seed: 2 });
  const shape: [number, number, number] = [1, 16, 16];
  const x = images(2, shape, 8);
  const targets = [1, 2];
  const res = kernelShapValues(input(model, x, shape, targets), resolveExplainParams(explainer('kernelshap'), { samples: 64 }));
  const [fx, f0] = tidy(() =>
    noGrad(() => {
      const xs = tensor(x, [2, ...shape]);
      return [targetProbs(model.forward(xs), targets).toArray(), targetProbs(model.forward(xs.mul(0)), targets).toArray()];
    }),
  );
  res.forEach((r, i) => {
    close(r.fx, fx![i]!, 1e-6, 'f(x)');
    close(r.f0, f0![i]!, 1e-6, 'f(all off)');
    const sum = r.values.reduce((a, v) => a + v, 0);
    assert.ok(Math.abs(sum - (r.fx - r.f0)) <= 1e-5 * Math.max(1e-3, Math.abs(r.fx - r.f0)), `Σφ ${sum} vs ${r.fx - r.f0}`);
  });
  model.dispose();
});

test('the registered methods: [B, H, W] maps at the input resolution, each pixel its segment value, seeded, everything freed', () => {
  const shape: [number, number, number] = [1, 8, 8]; // below 16 px: the grid
  const { model, w } = linearModel(shape, 2, 1);
  const x = images(3, shape, 2);
  const targets = [0, 1, 1];
  const before = liveNativeTensors().handles;
  for (const name of ['lime', 'kernelshap']) {
    const e = explainer(name);
    const params = resolveExplainParams(e, { samples: 100, segments: 16, logit: 1, batch: 32, ...(name === 'lime' ? { alpha: 1e-9 } : {}) });
    const inp = input(model, x, shape, targets, 7);
    const r = sync(e.explain(inp, params));
    assert.deepEqual(r.maps.shape, [3, 8, 8]);
    assert.equal(r.resolution, 'input');
    const maps = r.maps.toArray();
    // 2x2 grid cells: the map is constant on each, equal to the exact coefficient.
    const grid = { labels: Int32Array.from({ length: 64 }, (_, p) => Math.floor(Math.floor(p / 8) / 2) * 4 + Math.floor((p % 8) / 2)), count: 16, h: 8, w: 8 };
    targets.forEach((t, i) => {
      const c = truth(w, x, i, t, shape, grid);
      for (let p = 0; p < 64; p++) close(maps[i * 64 + p]!, c[grid.labels[p]!]!, 1e-4, `${name} image ${i} pixel ${p}`);
    });
    const inAgain = input(model, x, shape, targets, 7);
    const again = sync(e.explain(inAgain, params));
    assert.deepEqual(again.maps.toArray(), maps, 'same seed, same map');
    // Probabilities (the default): another seed gives another LIME sample, hence another map.
    const prob = resolveExplainParams(e, { samples: 100, segments: 16 });
    const i1 = input(model, x, shape, targets, 1);
    const i2 = input(model, x, shape, targets, 2);
    const m1 = sync(e.explain(i1, prob)).maps;
    const m2 = sync(e.explain(i2, prob)).maps;
    assert.ok(m1.toArray().every(Number.isFinite));
    if (name === 'lime') assert.notDeepEqual(m1.toArray(), m2.toArray());
    for (const t of [inp.x, inAgain.x, r.maps, again.maps, i1.x, i2.x, m1, m2]) t.dispose();
  }
  const after = liveNativeTensors().handles;
  assert.ok(after <= before, `live tensors ${before} → ${after}: the methods leave nothing behind`);
  model.dispose();
});

test('bad parameters: one clear error each', () => {
  const shape: [number, number, number] = [1, 8, 8];
  const { model } = linearModel(shape, 2, 1);
  const x = images(1, shape, 2);
  assert.throws(() => limeValues(input(model, x, shape, [0]), resolveExplainParams(explainer('lime'), { grid: 2 })), (e: unknown) => e instanceof ExplainError && /lime\.grid must be 0 or 1, got 2/.test(e.message));
  assert.throws(() => limeValues(input(model, x, shape, [0]), resolveExplainParams(explainer('lime'), { kernelWidth: 0 })), /lime\.kernelWidth must be > 0/);
  assert.throws(() => resolveExplainParams(explainer('kernelshap'), { sample: 10 }), /method 'kernelshap' has no parameter 'sample'/);
  assert.throws(() => resolveExplainParams(explainer('kernelshap'), { samples: 1.5 }), /kernelshap\.samples must be an integer/);
  model.dispose();
});

test('targetLogits helper agrees with the linear truth (sanity of the fixture)', () => {
  const shape: [number, number, number] = [1, 4, 4];
  const { model, w, bias } = linearModel(shape, 2, 3);
  const x = images(1, shape, 1);
  const got = tidy(() => noGrad(() => targetLogits(model.forward(tensor(x, [1, ...shape])), [1]).toArray()))[0]!;
  const want = bias[1]! + Array.from({ length: 16 }, (_, p) => w[16 + p]! * x[p]!).reduce((a, b) => a + b, 0);
  close(got, want, 1e-5, 'logit');
  model.dispose();
});
