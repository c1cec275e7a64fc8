// Deletion / insertion against independent truths: on a model whose target
// probability is a monotone function of a linear score of the pixels, the map
// of each pixel's exact contribution is the best possible ranking (removing
// the top-n contributions minimises the score for every n), so its curves
// bound those of random maps point by point; the curve of a constant map is
// computed here in plain JavaScript from the weights (ties: pixel order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveNativeTensors, manualSeed, noGrad, randn, tensor, tidy, type Tensor } from '../tensor/index.js';
import { GraphBuilder, Model } from '../graph/index.js';
import { ExplainError } from './errors.js';
import { deletionInsertion, gaussianBlur, perturbationCurve, pixelOrder, trapezoid } from './faithfulness.js';

const [B, C, H, W] = [4, 2, 6, 6];

/** input [2, 6, 6] → flatten → linear 2: p(class 0) = sigmoid(Σ (w0 − w1) ⊙ x + b0 − b1). */
function linearModel(): Model {
  const b = new GraphBuilder('linear');
  const h = b.flatten(b.input([C, H, W]), { name: 'flat' });
  return Model.create(b.build(b.linear(h, 2, { name: 'fc' })), { seed: 5 }).eval();
}

/** Per pixel (summed over channels), the exact contribution (w0 − w1) ⊙ (x − base) to the class-0 score. */
function contributions(model: Model, x: Tensor, base: Tensor): Tensor {
  return tidy(() =>
    noGrad(() => {
      const wt = model.tensor('fc.weight');
      const d = wt.index(0).sub(wt.index(1)).reshape([1, C, H, W]);
      return x.sub(base).mul(d).sum(1);
    }),
  );
}

function images(seed: number): Tensor {
  manualSeed(seed);
  return tidy(() => randn([B, C, H, W]).mul(2));
}

const targets = new Array<number>(B).fill(0);

test('the exact-contribution map beats random maps point by point (deletion lower, insertion higher), zero and blur baselines', () => {
  const model = linearModel();
  const x = images(1);
  const before = liveNativeTensors().handles;
  for (const baseline of ['zero', 'blur'] as const) {
    const base = baseline === 'zero' ? x.mul(0) : gaussianBlur(x, 1);
    const exact = contributions(model, x, base);
    const opts = { baseline, blurSigma: 1 };
    const good = deletionInsertion(model, x, targets, exact, opts);
    const randomAuc = { deletion: [] as number[], insertion: [] as number[] };
    for (let r = 0; r < 5; r++) {
      manualSeed(100 + r);
      const rnd = randn([B, H, W]);
      const res = deletionInsertion(model, x, targets, rnd, opts);
      for (let i = 0; i < B; i++) {
        for (let k = 0; k <= res.deletion.steps; k++) {
          assert.ok(good.deletion.curves[i]![k]! <= res.deletion.curves[i]![k]! + 1e-6, `${baseline} deletion, image ${i}, step ${k}`);
          assert.ok(good.insertion.curves[i]![k]! >= res.insertion.curves[i]![k]! - 1e-6, `${baseline} insertion, image ${i}, step ${k}`);
        }
      }
      randomAuc.deletion.push(...res.deletion.auc);
      randomAuc.insertion.push(...res.insertion.auc);
      rnd.dispose();
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    assert.ok(mean(good.deletion.auc) < mean(randomAuc.deletion) - 0.02, `${baseline}: deletion ${mean(good.deletion.auc)} vs random ${mean(randomAuc.deletion)}`);
    assert.ok(mean(good.insertion.auc) > mean(randomAuc.insertion) + 0.02, `${baseline}: insertion ${mean(good.insertion.auc)} vs random ${mean(randomAuc.insertion)}`);
    assert.equal(good.deletion.baseline, baseline);
    // Both curves end where they must: all pixels removed = the baseline's probability, all revealed = the image's.
    for (let i = 0; i < B; i++) {
      assert.ok(Math.abs(good.deletion.curves[i]![good.deletion.steps]! - good.insertion.curves[i]![0]!) < 1e-6);
      assert.ok(Math.abs(good.deletion.curves[i]![0]! - good.insertion.curves[i]![good.insertion.steps]!) < 1e-6);
    }
    base.dispose();
    exact.dispose();
  }
  assert.equal(liveNativeTensors().handles, before, 'no tensor outlives the curves');
  x.dispose();
  model.dispose();
});

test('a constant map removes pixels in index order: its curve and AUC equal a plain JavaScript computation', () => {
  const model = linearModel();
  const x = images(2);
  const steps = 7; // 36 pixels: uneven steps (round(k·36/7))
  const res = perturbationCurve(model, x, targets, tensor(new Float32Array(B * H * W).fill(0.5), [B, H, W]), 'deletion', { steps, baseline: 'zero' });
  const contrib = contributions(model, x, x.mul(0));
  const c = contrib.data<'float32'>();
  const bias = model.tensor('fc.bias').toArray();
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  assert.deepEqual(res.fractions, Array.from({ length: steps + 1 }, (_, k) => Math.round((k * 36) / steps) / 36));
  for (let i = 0; i < B; i++) {
    const expected = res.fractions.map((f) => {
      const removed = Math.round(f * 36);
      let s = bias[0]! - bias[1]!;
      for (let p = removed; p < 36; p++) s += c[i * 36 + p]!;
      return sigmoid(s);
    });
    for (let k = 0; k <= steps; k++) assert.ok(Math.abs(res.curves[i]![k]! - expected[k]!) < 1e-5, `image ${i} step ${k}: ${res.curves[i]![k]} vs ${expected[k]}`);
    assert.ok(Math.abs(res.auc[i]! - trapezoid(res.fractions, expected)) < 1e-5);
  }
  // Same as a map that decreases with the pixel index.
  const byIndex = tensor(Float32Array.from({ length: B * 36 }, (_, j) => -(j % 36)), [B, H, W]);
  const same = perturbationCurve(model, x, targets, byIndex, 'deletion', { steps, baseline: 'zero' });
  assert.deepEqual(same.auc, res.auc);
  x.dispose();
  contrib.dispose();
  model.dispose();
});

test('a map at a layer resolution is upsampled bilinearly; chunking does not change the curves', () => {
  const model = linearModel();
  const x = images(3);
  // [1, 2] → [6, 6] bilinear (align_corners false): columns weigh 0, 0, 1/3, 2/3, 1, 1 of the right value.
  // Within the two tied column pairs the interpolation's rounding orders pixels, so the curves are compared
  // where whole columns are gone: 6 steps of 6 pixels, points 0, 2 (cols 4-5), 3 (col 3), 4 (col 2), 6.
  const small = tensor(Float32Array.from({ length: B * 2 }, (_, j) => (j % 2 === 0 ? -1 : 2)), [B, 1, 2]);
  const col = [0, 0, 1 / 3, 2 / 3, 1, 1].map((t) => -1 + 3 * t);
  const full = tensor(Float32Array.from({ length: B * 36 }, (_, j) => col[j % 6]!), [B, H, W]);
  const a = deletionInsertion(model, x, targets, small, { baseline: 'zero', steps: 6 });
  const b = deletionInsertion(model, x, targets, full, { baseline: 'zero', steps: 6, batchSize: 1 });
  for (const m of ['deletion', 'insertion'] as const) {
    for (let i = 0; i < B; i++) for (const k of [0, 2, 3, 4, 6]) assert.ok(Math.abs(a[m].curves[i]![k]! - b[m].curves[i]![k]!) < 1e-6, `${m} ${i} ${k}`);
  }
  // Chunking: one step per forward against all steps in one.
  const one = deletionInsertion(model, x, targets, full, { batchSize: 1 });
  const all = deletionInsertion(model, x, targets, full, { batchSize: 1000 });
  assert.equal(one.deletion.steps, 28, 'default: 28 steps');
  for (const m of ['deletion', 'insertion'] as const) {
    for (let i = 0; i < B; i++) for (let k = 0; k <= 28; k++) assert.ok(Math.abs(one[m].curves[i]![k]! - all[m].curves[i]![k]!) < 1e-6, `${m} ${i} ${k}`);
  }
  assert.equal(one.insertion.baseline, 'blur', 'insertion starts from a blurred image by default (RISE)');
  assert.equal(one.deletion.baseline, 'zero');
  x.dispose();
  model.dispose();
});

test('the blur baseline keeps a constant image constant (normalised at the borders) and smooths a spike symmetrically', () => {
  const flat = tensor(new Float32Array(2 * 3 * 8 * 8).fill(1.5), [2, 3, 8, 8]);
  const out = gaussianBlur(flat, 1.3).toArray();
  assert.ok(out.every((v) => Math.abs(v - 1.5) < 1e-5));
  const spike = new Float32Array(9 * 9);
  spike[40] = 1;
  const s = gaussianBlur(tensor(spike, [1, 1, 9, 9]), 1).toArray();
  assert.ok(Math.abs(s.reduce((a, v) => a + v, 0) - 1) < 1e-5, 'mass kept away from the borders');
  assert.ok(Math.abs(s[39]! - s[41]!) < 1e-7 && Math.abs(s[31]! - s[49]!) < 1e-7 && s[40]! > s[39]!);
  assert.ok(Math.abs(s[39]! / s[40]! - Math.exp(-0.5)) < 1e-5, 'Gaussian weights');
  flat.dispose();
});

test('pixel order: descending, ties by index, NaN last', () => {
  assert.deepEqual(pixelOrder([1, 3, 3, NaN, 2, 1]), [1, 2, 4, 0, 5, 3]);
});

test('bad input is refused with a clear error', () => {
  const model = linearModel();
  const x = images(4);
  assert.throws(() => perturbationCurve(model, x, targets, randn([B + 1, H, W]), 'deletion'), ExplainError);
  assert.throws(() => perturbationCurve(model, x, [0], randn([B, H, W]), 'deletion'), /one target per image/);
  assert.throws(() => perturbationCurve(model, x, targets, randn([B, H, W]), 'deletion', { steps: 0 }), /steps/);
  x.dispose();
  model.dispose();
});
