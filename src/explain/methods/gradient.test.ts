// The gradient methods and occlusion against independent truths: IG's
// completeness (Σ attributions = f(x) − f(x')), chunking that changes no
// number, gradient × input and occlusion on a linear model (w ⊙ x, computed
// here from the weights), saliency against finite differences, SmoothGrad's
// degenerate case, seeding, GradientSHAP's sum, and memory that stays flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveNativeTensors, noGrad, tensor, tidy, type Tensor } from '../../tensor/index.js';
import { GraphBuilder, Model } from '../../graph/index.js';
import { mulberry32 } from '../../util/rng.js';
import { ExplainError, explainer, resolveExplainParams, targetLogits, type ExplainInput, type Explanation } from '../index.js';
import { gaussLegendre, integratedGradients } from './ig.js';
import { saliencyMaps } from './saliency.js';
import { gradientShap } from './gradientshap.js';

/** conv 4 (pad 1) → relu → conv 3 → relu → flatten → linear: piecewise linear, not linear. */
function reluCnn(c: number, size: number, classes: number, seed: number): Model {
  const b = new GraphBuilder('relucnn');
  let h = b.input([c, size, size]);
  h = b.relu(b.conv2d(h, 4, 3, { padding: 1, name: 'c1' }), { name: 'r1' });
  h = b.relu(b.conv2d(h, 3, 3, { name: 'c2' }), { name: 'r2' });
  h = b.linear(b.flatten(h), classes, { name: 'fc' });
  return Model.create(b.build(h), { seed });
}

/** conv 3 → tanh → flatten → linear: smooth, for finite differences. */
function tanhCnn(c: number, size: number, classes: number, seed: number): Model {
  const b = new GraphBuilder('tanhcnn');
  let h = b.input([c, size, size]);
  h = b.tanh(b.conv2d(h, 3, 3, { name: 'c1' }), { name: 't1' });
  h = b.linear(b.flatten(h), classes, { name: 'fc' });
  return Model.create(b.build(h), { seed });
}

/** conv 4 (pad 1) → tanh → conv 3 → tanh → flatten → linear: smooth and non-linear. */
function tanhCnn2(c: number, size: number, classes: number, seed: number): Model {
  const b = new GraphBuilder('tanhcnn2');
  let h = b.input([c, size, size]);
  h = b.tanh(b.conv2d(h, 4, 3, { padding: 1, name: 'c1' }), { name: 't1' });
  h = b.tanh(b.conv2d(h, 3, 3, { name: 'c2' }), { name: 't2' });
  h = b.linear(b.flatten(h), classes, { name: 'fc' });
  return Model.create(b.build(h), { seed });
}

/** flatten → linear: f_k(x) = W_k · x + b_k. */
function linearNet(c: number, size: number, classes: number, seed: number): Model {
  const b = new GraphBuilder('linear');
  const h = b.input([c, size, size]);
  return Model.create(b.build(b.linear(b.flatten(h), classes, { name: 'fc' })), { seed });
}

function weights(model: Model): { w: number[]; bias: number[] } {
  const named = new Map(model.namedParameters());
  return { w: named.get('fc.weight')!.toArray(), bias: named.get('fc.bias')!.toArray() };
}

/** Seeded values in [-1.5, 1.5), as plain numbers (the test's own copy). */
function values(n: number, seed: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => 3 * r() - 1.5);
}

function images(shape: [number, number, number, number], seed: number): { x: Tensor; v: number[] } {
  const v = values(shape.reduce((a, b) => a * b, 1), seed);
  return { x: tensor(Float32Array.from(v), shape), v };
}

function logits(model: Model, x: Tensor, targets: readonly number[]): number[] {
  return tidy(() => noGrad(() => targetLogits(model.forward(x, { training: false }), targets).toArray()));
}

async function run(name: string, input: Omit<ExplainInput, 'layer' | 'seed'> & { seed?: number }, params: Record<string, number> = {}): Promise<{ maps: number[]; shape: number[]; out: Explanation }> {
  const e = explainer(name);
  const out = await e.explain({ layer: '', seed: 0, ...input }, resolveExplainParams(e, params));
  const r = { maps: out.maps.toArray(), shape: out.maps.shape, out };
  out.maps.dispose();
  return r;
}

const maxAbs = (a: readonly number[]): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const sumOf = (a: readonly number[], from: number, to: number): number => a.slice(from, to).reduce((s, v) => s + v, 0);

test('Gauss–Legendre on [0, 1]: weights sum to 1 and polynomials up to degree 2n − 1 integrate exactly', () => {
  for (const n of [1, 2, 5, 50]) {
    const { nodes, weights: w } = gaussLegendre(n);
    assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-13, `n=${n}`);
    assert.ok(nodes.every((t, i) => t > 0 && t < 1 && (i === 0 || t > nodes[i - 1]!)), `n=${n}: nodes ascending in (0, 1)`);
    for (let k = 0; k <= 2 * n - 1 && k <= 30; k++) {
      const q = nodes.reduce((s, t, i) => s + w[i]! * t ** k, 0);
      assert.ok(Math.abs(q - 1 / (k + 1)) < 1e-12, `n=${n}: ∫t^${k}`);
    }
  }
});

test('integrated gradients are complete on a smooth non-linear CNN: Σ attributions = f_t(x) − f_t(0) within 1 % at the default steps, per image', async () => {
  const model = tanhCnn2(2, 6, 3, 5);
  const { x } = images([4, 2, 6, 6], 11);
  const targets = [0, 1, 2, 1];
  const attr = integratedGradients(model, x, targets);
  assert.deepEqual(attr.shape, [4, 2, 6, 6]);
  const a = attr.toArray();
  const fx = logits(model, x, targets);
  const zero = tensor(new Float32Array(4 * 72), [4, 2, 6, 6]);
  const f0 = logits(model, zero, targets);
  for (let i = 0; i < 4; i++) {
    const delta = fx[i]! - f0[i]!;
    const s = sumOf(a, i * 72, (i + 1) * 72);
    assert.ok(Math.abs(delta) > 1e-2, `image ${i}: f(x) − f(0) = ${delta} is too small to test`);
    assert.ok(Math.abs(s - delta) <= 0.01 * Math.abs(delta), `image ${i}: Σ ${s} vs f(x) − f(0) ${delta}`);
  }
  // The registered method: the map is the channel sum, so its sum is the same, and no completeness warning.
  const r = await run('ig', { model, x, targets });
  assert.deepEqual(r.shape, [4, 6, 6]);
  assert.deepEqual(r.out.warnings, []);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(sumOf(r.maps, i * 36, (i + 1) * 36) - sumOf(a, i * 72, (i + 1) * 72)) < 1e-4);
  for (const t of [attr, x, zero]) t.dispose();
  model.dispose();
});

test('integrated gradients on a ReLU CNN: the completeness gap falls with the steps, and a gap over 1 % is reported', async () => {
  // A ReLU network's gradient jumps along the path, so any fixed quadrature
  // converges only like 1/steps there: the gap is measured and reported
  // (Captum's convergence delta), not assumed away.
  const model = reluCnn(2, 6, 3, 5);
  const { x } = images([8, 2, 6, 6], 15);
  const targets = [0, 1, 2, 0, 1, 2, 0, 1];
  const fx = logits(model, x, targets);
  const zero = tensor(new Float32Array(8 * 72), [8, 2, 6, 6]);
  const f0 = logits(model, zero, targets);
  const gap = (steps: number): number => {
    const a = tidy(() => integratedGradients(model, x, targets, { steps }).sum([1, 2, 3]).toArray());
    return a.reduce((m, s, i) => m + Math.abs(s - (fx[i]! - f0[i]!)) / Math.abs(fx[i]! - f0[i]!), 0) / a.length;
  };
  const coarse = gap(10);
  const fine = gap(400);
  assert.ok(fine < coarse / 4, `mean relative gap ${coarse} at 10 steps, ${fine} at 400`);
  const few = await run('ig', { model, x, targets }, { steps: 2 });
  assert.match(few.out.warnings.join('\n'), /of 8 images miss f\(x\) − f\(baseline\) by more than 1 %.*raise steps \(now 2\)/);
  for (const t of [x, zero]) t.dispose();
  model.dispose();
});

test('integrated gradients: internalBatch 7 gives the numbers of one chunk (within 1e-6)', () => {
  const model = reluCnn(2, 6, 3, 6);
  const { x } = images([3, 2, 6, 6], 12);
  const targets = [2, 0, 1];
  const one = integratedGradients(model, x, targets, { steps: 20, internalBatch: 1000 }).toArray();
  const seven = integratedGradients(model, x, targets, { steps: 20, internalBatch: 7 }).toArray();
  const scale = Math.max(1, maxAbs(one));
  assert.ok(one.every((v, i) => Math.abs(v - seven[i]!) <= 1e-6 * scale), 'chunked IG differs');
  x.dispose();
  model.dispose();
});

test('gradient × input on a linear model is Σ_c w_t ⊙ x per pixel', async () => {
  const model = linearNet(3, 4, 5, 7);
  const { x, v } = images([2, 3, 4, 4], 13);
  const targets = [4, 1];
  const { w } = weights(model);
  const r = await run('gradxinput', { model, x, targets });
  assert.deepEqual(r.shape, [2, 4, 4]);
  for (let b = 0; b < 2; b++) {
    for (let p = 0; p < 16; p++) {
      let want = 0;
      for (let c = 0; c < 3; c++) want += w[targets[b]! * 48 + c * 16 + p]! * v[b * 48 + c * 16 + p]!;
      assert.ok(Math.abs(r.maps[b * 16 + p]! - want) < 1e-6, `image ${b} pixel ${p}: ${r.maps[b * 16 + p]} vs ${want}`);
    }
  }
  x.dispose();
  model.dispose();
});

test('saliency is max over channels of |∂f_t/∂x| from central finite differences (1e-3 relative)', async () => {
  const model = tanhCnn(2, 5, 3, 8);
  const { v } = images([2, 2, 5, 5], 14);
  const x = tensor(Float32Array.from(v), [2, 2, 5, 5]);
  const targets = [1, 2];
  const r = await run('saliency', { model, x, targets });
  const per = 50;
  const eps = 3e-3;
  for (let b = 0; b < 2; b++) {
    // All ±eps perturbations of image b in one batch.
    const batch = new Float32Array(2 * per * per);
    for (let j = 0; j < per; j++) {
      for (const [k, sgn] of [[0, 1], [1, -1]] as const) {
        const row = (2 * j + k) * per;
        for (let i = 0; i < per; i++) batch[row + i] = v[b * per + i]!;
        batch[row + j] = v[b * per + j]! + sgn * eps;
      }
    }
    const xt = tensor(batch, [2 * per, 2, 5, 5]);
    const f = logits(model, xt, new Array<number>(2 * per).fill(targets[b]!));
    xt.dispose();
    const fd = Array.from({ length: per }, (_, j) => (f[2 * j]! - f[2 * j + 1]!) / (2 * eps));
    const want = Array.from({ length: 25 }, (_, p) => Math.max(Math.abs(fd[p]!), Math.abs(fd[25 + p]!)));
    const got = r.maps.slice(b * 25, (b + 1) * 25);
    const scale = maxAbs(want);
    assert.ok(scale > 1e-2);
    got.forEach((g, p) => assert.ok(Math.abs(g - want[p]!) <= 1e-3 * scale, `image ${b} pixel ${p}: ${g} vs ${want[p]}`));
  }
  x.dispose();
  model.dispose();
});

test('SmoothGrad with one sample and σ = 0 is saliency; the same seed gives the same map, another seed another', async () => {
  const model = reluCnn(2, 6, 3, 9);
  const { x } = images([2, 2, 6, 6], 15);
  const targets = [0, 2];
  const sal = saliencyMaps(model, x, targets);
  const plain = await run('smoothgrad', { model, x, targets }, { samples: 1, sigma: 0 });
  assert.deepEqual(plain.maps, sal.toArray());
  sal.dispose();
  const a = await run('smoothgrad', { model, x, targets, seed: 3 }, { samples: 6, internalBatch: 5 });
  const b = await run('smoothgrad', { model, x, targets, seed: 3 }, { samples: 6, internalBatch: 64 });
  const c = await run('smoothgrad', { model, x, targets, seed: 4 }, { samples: 6 });
  assert.ok(a.maps.every((v, i) => Math.abs(v - b.maps[i]!) <= 1e-6 * Math.max(1, maxAbs(a.maps))), 'same seed, other chunking: same map');
  assert.ok(a.maps.some((v, i) => Math.abs(v - c.maps[i]!) > 1e-4), 'another seed: another map');
  x.dispose();
  model.dispose();
});

test('GradientSHAP on a linear model sums exactly to f(x) − f(x\') draw by draw; seeded', async () => {
  const model = linearNet(2, 4, 3, 10);
  const { x } = images([2, 2, 4, 4], 16);
  const { x: bg } = images([1, 2, 4, 4], 17);
  const targets = [2, 0];
  const r = await run('gradientshap', { model, x, targets, background: bg, seed: 1 }, { samples: 5 });
  assert.deepEqual(r.shape, [2, 4, 4]);
  const fx = logits(model, x, targets);
  const bg2 = tidy(() => bg.expand(2, 2, 4, 4).contiguous());
  const fb = logits(model, bg2, targets);
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(sumOf(r.maps, i * 16, (i + 1) * 16) - (fx[i]! - fb[i]!)) < 1e-5, `image ${i}`);
  // Several background images: each draw gives f(x) − f(x'_j), so the sum is f(x) − the mean over the drawn x'_j.
  const { x: bgs } = images([3, 2, 4, 4], 18);
  const same1 = await run('gradientshap', { model, x, targets, background: bgs, seed: 7 }, { samples: 8, internalBatch: 3 });
  const same2 = await run('gradientshap', { model, x, targets, background: bgs, seed: 7 }, { samples: 8 });
  const other = await run('gradientshap', { model, x, targets, background: bgs, seed: 8 }, { samples: 8 });
  assert.ok(same1.maps.every((v, i) => Math.abs(v - same2.maps[i]!) < 1e-6), 'same seed: same map');
  assert.ok(same1.maps.some((v, i) => Math.abs(v - other.maps[i]!) > 1e-4), 'another seed: another map');
  // Noise on the input (stdevs) is drawn from the seed too.
  const noisy1 = await run('gradientshap', { model, x, targets, background: bgs, seed: 7 }, { samples: 8, stdevs: 0.2, internalBatch: 5 });
  const noisy2 = await run('gradientshap', { model, x, targets, background: bgs, seed: 7 }, { samples: 8, stdevs: 0.2 });
  assert.ok(noisy1.maps.every((v, i) => Math.abs(v - noisy2.maps[i]!) < 1e-6), 'same seed with noise: same map');
  assert.ok(noisy1.maps.some((v, i) => Math.abs(v - same1.maps[i]!) > 1e-4), 'noise changes the map');
  for (const t of [x, bg, bg2, bgs]) t.dispose();
  model.dispose();
});

test('GradientSHAP on a non-linear model sums, in expectation, to f(x) − E[f(background)]', () => {
  const model = tanhCnn2(2, 6, 3, 11);
  const { x } = images([2, 2, 6, 6], 19);
  const { x: bg } = images([4, 2, 6, 6], 20);
  const targets = [1, 0];
  const attr = gradientShap(model, x, targets, { background: bg, samples: 4000, internalBatch: 500, seed: 2 });
  const a = attr.toArray();
  const fx = logits(model, x, targets);
  const fbs = [0, 1].map((t) => logits(model, bg, [t, t, t, t]));
  for (let i = 0; i < 2; i++) {
    const fb = fbs[targets[i]!]!;
    const want = fx[i]! - fb.reduce((s, v) => s + v, 0) / 4;
    const got = sumOf(a, i * 72, (i + 1) * 72);
    const spread = Math.max(...fb.map((v) => Math.abs(fx[i]! - v)));
    assert.ok(Math.abs(got - want) <= 0.05 * spread, `image ${i}: Σ ${got} vs f(x) − E f(bg) ${want} (spread ${spread})`);
  }
  for (const t of [attr, x, bg]) t.dispose();
  model.dispose();
});

test('GradientSHAP without a background, or with one of another shape, is an ExplainError', async () => {
  const model = linearNet(2, 4, 3, 10);
  const { x } = images([1, 2, 4, 4], 16);
  const { x: wrong } = images([2, 1, 4, 4], 16);
  await assert.rejects(async () => run('gradientshap', { model, x, targets: [0] }), (e: unknown) => e instanceof ExplainError && /background/.test(e.message));
  await assert.rejects(async () => run('gradientshap', { model, x, targets: [0], background: wrong }), (e: unknown) => e instanceof ExplainError && /\[2, 1, 4, 4\]/.test(e.message));
  x.dispose();
  wrong.dispose();
  model.dispose();
});

test('occlusion on a linear model: window 1 gives Σ_c w_t ⊙ (x − baseline); larger windows average the windows covering a pixel', async () => {
  const model = linearNet(2, 5, 3, 12);
  const { x, v } = images([2, 2, 5, 5], 21);
  const targets = [1, 2];
  const { w } = weights(model);
  const base = 0.25;
  const contrib = (b: number, p: number): number => {
    let s = 0;
    for (let c = 0; c < 2; c++) s += w[targets[b]! * 50 + c * 25 + p]! * (v[b * 50 + c * 25 + p]! - base);
    return s;
  };
  const one = await run('occlusion', { model, x, targets }, { window: 1, stride: 1, baseline: base, internalBatch: 9 });
  assert.deepEqual(one.shape, [2, 5, 5]);
  for (let b = 0; b < 2; b++) for (let p = 0; p < 25; p++) assert.ok(Math.abs(one.maps[b * 25 + p]! - contrib(b, p)) < 1e-5, `image ${b} pixel ${p}`);
  // Window 3, stride 2 on 5×5: starts 0 and 2 per side (the second flush with the edge).
  const three = await run('occlusion', { model, x, targets }, { window: 3, stride: 2, baseline: base });
  const starts = [0, 2];
  for (let b = 0; b < 2; b++) {
    for (let p = 0; p < 25; p++) {
      const [pr, pc] = [Math.floor(p / 5), p % 5];
      const covering: number[] = [];
      for (const r0 of starts) {
        for (const c0 of starts) {
          if (pr < r0 || pr >= r0 + 3 || pc < c0 || pc >= c0 + 3) continue;
          let drop = 0;
          for (let r = r0; r < r0 + 3; r++) for (let c = c0; c < c0 + 3; c++) drop += contrib(b, r * 5 + c);
          covering.push(drop);
        }
      }
      const want = covering.reduce((s, d) => s + d, 0) / covering.length;
      assert.ok(Math.abs(three.maps[b * 25 + p]! - want) < 1e-5, `window 3: image ${b} pixel ${p}`);
    }
  }
  await assert.rejects(async () => run('occlusion', { model, x, targets }, { window: 6 }), ExplainError);
  await assert.rejects(async () => run('occlusion', { model, x, targets }, { window: 2, stride: 3 }), ExplainError);
  x.dispose();
  model.dispose();
});

test('every gradient method: a map [B, H, W] at the input resolution; bad input and an aborted signal are refused', async () => {
  const model = reluCnn(2, 6, 3, 13);
  const { x } = images([2, 2, 6, 6], 22);
  const { x: bg } = images([3, 2, 6, 6], 23);
  for (const name of ['saliency', 'gradxinput', 'ig', 'smoothgrad', 'gradientshap', 'occlusion']) {
    const e = explainer(name);
    assert.equal(e.usesLayer, false);
    assert.equal(e.needsBackground, name === 'gradientshap');
    const small: Record<string, number> = name === 'ig' ? { steps: 4 } : name === 'smoothgrad' || name === 'gradientshap' ? { samples: 2 } : {};
    const r = await run(name, { model, x, targets: [0, 1], background: bg }, small);
    assert.deepEqual(r.shape, [2, 6, 6], name);
    assert.equal(r.out.resolution, 'input');
    assert.ok(r.maps.every(Number.isFinite), name);
    await assert.rejects(async () => run(name, { model, x, targets: [0], background: bg }, small), (err: unknown) => err instanceof ExplainError && /one target per image/.test(err.message), name);
  }
  assert.throws(() => resolveExplainParams(explainer('ig'), { stepz: 3 }), /no parameter 'stepz'/);
  assert.throws(() => resolveExplainParams(explainer('ig'), { steps: 0 }), ExplainError);
  const ac = new AbortController();
  ac.abort(new Error('stopped'));
  await assert.rejects(async () => run('ig', { model, x, targets: [0, 1], signal: ac.signal }), /stopped/);
  // No parameter gradient is left behind by any of them.
  assert.ok(model.parameters().every((p) => p.grad === null));
  x.dispose();
  bg.dispose();
  model.dispose();
});

test('memory: 200 integrated-gradients calls leave the live native tensors where they started', async () => {
  const model = reluCnn(1, 6, 2, 14);
  const { x } = images([2, 1, 6, 6], 24);
  const e = explainer('ig');
  const params = resolveExplainParams(e, {});
  const warm = await e.explain({ model, x, targets: [0, 1], layer: '', seed: 0 }, params);
  warm.maps.dispose();
  const before = liveNativeTensors();
  for (let i = 0; i < 200; i++) {
    const out = await e.explain({ model, x, targets: [i % 2, 1], layer: '', seed: 0 }, params);
    out.maps.dispose();
  }
  const after = liveNativeTensors();
  // At most where it started (the garbage collector may free earlier tests' garbage meanwhile; a leak of one handle per call would show 200).
  assert.ok(after.handles <= before.handles, `${before.handles} live handles before, ${after.handles} after`);
  assert.ok(after.bytes <= before.bytes, `${before.bytes} bytes before, ${after.bytes} after`);
  x.dispose();
  model.dispose();
});
