// The distillation losses against PyTorch, value and gradient.
//
// scripts/fixtures/make_distill_fixtures.py writes every loss once more with
// PyTorch (from the papers and the anchors' code, float64) and stores fixed
// inputs, values and gradients in fixtures/ (regenerate: docs/fixtures.md).
// Here each case runs the registered loss on the same tensors in float64 and
// compares: |slimnet − torch| <= 1e-5 · max(1, |torch|), for the value and for
// every element of every gradient (student logits, student feature maps, and
// the hint adapters: the fixture applies an explicit 1x1 adapter, weight and
// bias, so the hint's gradient flows through it as in training).
// Observed: float64 agreement to ~1e-15 (the test prints the largest gap).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { F, Tensor, grad, loadTensors, randn, tensor, tidy, zerosLike } from '../../tensor/index.js';
import { DistillError } from '../errors.js';
import { distillLoss, distillLossNames, dkdWarmupFactor, resolveLossParams, type FeaturePairTensors, type LossInputs } from './index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/distill-losses.safetensors', import.meta.url));
const MANIFEST = fileURLToPath(new URL('./fixtures/distill-losses.json', import.meta.url));
const TOL = 1e-5;

interface FixtureCase {
  name: string;
  loss: string;
  params: Record<string, number>;
  epoch: number;
  pairs: { student: string; teacher: string; adapter?: string }[];
  value: number;
  /** Names of the leaves whose gradient is stored as `<case>.grad.<leaf>`. */
  grads: string[];
}

const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { cases: FixtureCase[] };
const fixture = loadTensors(FIXTURE).tensors;

function fx(name: string): Tensor {
  const t = fixture[name];
  if (!t) throw new Error(`fixture has no tensor '${name}'`);
  return t;
}

function maxGap(a: Tensor, ref: Tensor): number {
  assert.deepEqual(a.shape, ref.shape);
  const x = a.toArray();
  const r = ref.toArray();
  let gap = 0;
  for (let i = 0; i < r.length; i++) gap = Math.max(gap, Math.abs(x[i]! - r[i]!) / Math.max(1, Math.abs(r[i]!)));
  return gap;
}

/** Runs one fixture case in slimnet; returns the value and the gradient of every leaf the fixture lists. */
function runCase(c: FixtureCase): { value: number; weighted: number; grads: Record<string, Tensor | null> } {
  const loss = distillLoss(c.loss);
  const params = resolveLossParams(loss, c.params);
  const leaves = new Map<string, Tensor>();
  const leaf = (key: string): Tensor => {
    let t = leaves.get(key);
    if (!t) leaves.set(key, (t = fx(key).clone().requiresGrad_()));
    return t;
  };
  const studentLogits = leaf('logits.student');
  const pairs: FeaturePairTensors[] = c.pairs.map((p) => {
    let s = leaf(`feat.${p.student}`);
    if (p.adapter) s = F.conv2d(s, leaf(`adapter.${p.adapter}.weight`), { bias: leaf(`adapter.${p.adapter}.bias`) });
    return { student: p.student, teacher: p.teacher, s, t: fx(`feat.${p.teacher}`) };
  });
  const inputs: LossInputs = { studentLogits, teacherLogits: fx('logits.teacher'), y: fx('labels'), pairs, epoch: c.epoch };
  const out = loss.compute(inputs, params);
  assert.equal(out.numel, 1, `${c.name}: the loss is a scalar`);
  assert.equal(out.dtype, 'float64');
  const names = [...leaves.keys()];
  const gs = grad([out], names.map((n) => leaves.get(n)!), { allowUnused: true });
  const value = out.item();
  return { value, weighted: value * params.weight!, grads: Object.fromEntries(names.map((n, i) => [n, gs[i] ?? null])) };
}

test('every loss equals PyTorch, value and gradient, for the defaults and one other parameter set', (t: TestContext) => {
  let worst = 0;
  for (const c of manifest.cases) {
    tidy(() => {
      const r = runCase(c);
      const gap = Math.abs(r.value - c.value) / Math.max(1, Math.abs(c.value));
      assert.ok(gap <= TOL, `${c.name}: value ${r.value} vs torch ${c.value}`);
      worst = Math.max(worst, gap);
      assert.ok(c.grads.length > 0, `${c.name}: the fixture lists gradients`);
      for (const g of c.grads) {
        const ref = fx(`${c.name}.grad.${g}`);
        const mine = r.grads[g];
        assert.ok(mine !== undefined, `${c.name}: slimnet has no leaf '${g}'`);
        // An input the loss does not read (the logits of a feature loss): no gradient, and torch's is zero.
        const gGap = maxGap(mine ?? zerosLike(ref), ref);
        assert.ok(gGap <= TOL, `${c.name}: gradient w.r.t. ${g} differs from torch by ${gGap}`);
        worst = Math.max(worst, gGap);
      }
    });
  }
  t.diagnostic(`largest scaled difference from PyTorch over ${manifest.cases.length} cases: ${worst.toExponential(2)}`);
});

test('every registered loss has a fixture for its defaults and for another parameter set', () => {
  const names = distillLossNames();
  assert.deepEqual([...names].sort(), ['at', 'dkd', 'hint', 'kd', 'logits', 'sp']);
  for (const n of names) {
    const cases = manifest.cases.filter((c) => c.loss === n);
    assert.ok(cases.some((c) => Object.keys(c.params).length === 0), `loss '${n}' has no fixture with its default parameters (scripts/fixtures/make_distill_fixtures.py)`);
    assert.ok(cases.some((c) => Object.keys(c.params).length > 0), `loss '${n}' has no fixture with non-default parameters`);
  }
});

test('every loss documents its defaults and has the anchors\' weights', () => {
  const expected: Record<string, { weight: number; ceWeight: number }> = {
    kd: { weight: 0.9, ceWeight: 0.1 },
    logits: { weight: 1, ceWeight: 0 },
    hint: { weight: 100, ceWeight: 1 },
    at: { weight: 1000, ceWeight: 1 },
    sp: { weight: 3000, ceWeight: 1 },
    dkd: { weight: 1, ceWeight: 1 },
  };
  for (const n of distillLossNames()) {
    const l = distillLoss(n);
    assert.equal(l.params.weight!.default, expected[n]!.weight, n);
    assert.equal(l.ceWeight, expected[n]!.ceWeight, n);
    assert.ok(l.source.length > 20 && l.title.length > 0, n);
    for (const [k, p] of Object.entries(l.params)) assert.ok(p.desc.length > 0, `${n}.${k} has a description`);
  }
  assert.equal(resolveLossParams(distillLoss('kd')).temperature, 4);
  assert.equal(resolveLossParams(distillLoss('at')).p, 2);
  assert.deepEqual(resolveLossParams(distillLoss('dkd')), { weight: 1, alpha: 1, beta: 8, temperature: 4, warmup: 20 });
  assert.equal(distillLoss('hint').adapt, true);
  assert.equal(distillLoss('at').sameSpatial, true);
  assert.equal(distillLoss('sp').sameSpatial, false);
});

test('resolveLossParams rejects an unknown parameter and an out-of-range value, naming the loss and the parameter', () => {
  assert.throws(() => resolveLossParams(distillLoss('kd'), { tau: 2 }), (e: unknown) => e instanceof DistillError && /'kd'/.test(e.message) && /'tau'/.test(e.message));
  assert.throws(() => resolveLossParams(distillLoss('kd'), { temperature: 0 }), (e: unknown) => e instanceof DistillError && /kd\.temperature/.test(e.message) && /> 0/.test(e.message));
  assert.throws(() => resolveLossParams(distillLoss('dkd'), { warmup: -1 }), (e: unknown) => e instanceof DistillError && /dkd\.warmup/.test(e.message));
  assert.throws(() => resolveLossParams(distillLoss('at'), { p: Number.NaN }), (e: unknown) => e instanceof DistillError && /at\.p/.test(e.message));
  assert.throws(() => distillLoss('crd'), (e: unknown) => e instanceof DistillError && /unknown distillation loss 'crd'/.test(e.message));
  assert.equal(resolveLossParams(distillLoss('dkd'), { warmup: 0 }).warmup, 0);
});

// ---- independent truths -----------------------------------------------------

function logitInputs(s: Tensor, t: Tensor, y: Tensor, epoch = 0): LossInputs {
  return { studentLogits: s, teacherLogits: t, y, pairs: [], epoch };
}

function value(name: string, inputs: LossInputs, given: Record<string, number> = {}): number {
  return tidy(() => distillLoss(name).compute(inputs, resolveLossParams(distillLoss(name), given)).item());
}

function pair(s: Tensor, t: Tensor): FeaturePairTensors {
  return { student: 'student.node', teacher: 'teacher.node', s, t };
}

test('KD, logit regression and DKD are 0 when the student equals the teacher; KD equals DKD with alpha = beta = 1 (Zhao et al. eq. 5, up to (1 − p_t) on NCKD)', () => {
  tidy(() => {
    const z = randn([6, 10], { dtype: 'float64' });
    const y = tensor([0, 3, 9, 2, 2, 5], [6], { dtype: 'int64' });
    for (const n of ['kd', 'logits', 'dkd']) assert.ok(Math.abs(value(n, logitInputs(z, z, y))) < 1e-12, n);
    // Zhao et al. eq. (5): KD = TCKD + (1 − p_t^T) NCKD, per sample; with a
    // batch of one sample we can compare KD with DKD at alpha = 1, beta = 1 − p_t^T.
    const s = randn([1, 10], { dtype: 'float64' });
    const t = randn([1, 10], { dtype: 'float64' }).mul(2);
    const y1 = tensor([4], [1], { dtype: 'int64' });
    const T = 3;
    const pt = F.softmax(t.div(T), 1).toArray()[4]!;
    const kd = value('kd', logitInputs(s, t, y1), { temperature: T });
    const dkd = value('dkd', logitInputs(s, t, y1), { temperature: T, alpha: 1, beta: 1 - pt, warmup: 0 });
    assert.ok(Math.abs(kd - dkd) < 1e-12, `KD ${kd} vs TCKD + (1 − p_t) NCKD ${dkd}`);
  });
});

test('logit regression is the squared distance per sample, batch mean', () => {
  tidy(() => {
    const s = tensor([1, 2, 3, 0, 0, 0], [2, 3], { dtype: 'float64' });
    const t = tensor([1, 0, 3, 1, 1, 1], [2, 3], { dtype: 'float64' });
    assert.equal(value('logits', logitInputs(s, t, tensor([0, 1], [2], { dtype: 'int64' }))), (4 + 3) / 2);
  });
});

test("seed 001's logit regression: the sum over output values of their MSE to the pretrained logits; the issue's sum of squared differences, per sample", () => {
  // B = 3 samples, K = 2 outputs. Seed 001: "the sum over the mean squared errors between each output value and
  // corresponding logit of the pretrained model": class 0's MSE over the batch (1 + 4 + 4) / 3 = 3, class 1's
  // (4 + 9 + 4) / 3 = 17 / 3, summed 26 / 3. Issue 18: "the sum of the squared differences between the model's logits
  // and the pre-trained model's logits", 26 over the batch, is the same per sample (a batch's loss is its mean, so the
  // step size does not grow with the batch). PyTorch's MSELoss() (mean over B·K values) is 26 / 6: this loss is K times it.
  tidy(() => {
    const s = tensor([1, 2, 3, 4, 0, 0], [3, 2], { dtype: 'float64' });
    const t = tensor([0, 0, 1, 1, 2, 2], [3, 2], { dtype: 'float64' });
    const v = value('logits', logitInputs(s, t, tensor([0, 1, 0], [3], { dtype: 'int64' })));
    assert.ok(Math.abs(v - 26 / 3) < 1e-12, String(v));
    assert.ok(Math.abs(v - 2 * (26 / 6)) < 1e-12, 'K × MSELoss(mean)');
    assert.equal(distillLoss('logits').ceWeight, 0, 'instead of cross-entropy, as in the seed');
  });
});

test('DKD warm-up: factor (epoch + 1) / warmup with the 0-based epoch (mdistiller\'s 1-based min(epoch / 20, 1)), 1 once reached, 1 with warmup 0', () => {
  assert.equal(dkdWarmupFactor(0, 20), 1 / 20);
  assert.equal(dkdWarmupFactor(4, 20), 5 / 20);
  assert.equal(dkdWarmupFactor(19, 20), 1);
  assert.equal(dkdWarmupFactor(50, 20), 1);
  assert.equal(dkdWarmupFactor(0, 0), 1);
  assert.equal(dkdWarmupFactor(1, 2.5), 0.8);
  tidy(() => {
    const s = randn([4, 5], { dtype: 'float64' });
    const t = randn([4, 5], { dtype: 'float64' });
    const y = tensor([0, 1, 2, 4], [4], { dtype: 'int64' });
    const full = value('dkd', logitInputs(s, t, y, 0), { warmup: 0 });
    assert.ok(full > 0);
    assert.ok(Math.abs(value('dkd', logitInputs(s, t, y, 0)) - full / 20) < 1e-12);
    assert.ok(Math.abs(value('dkd', logitInputs(s, t, y, 9)) - full / 2) < 1e-12);
    assert.ok(Math.abs(value('dkd', logitInputs(s, t, y, 30)) - full) < 1e-12);
  });
});

test('the logit losses stay finite for extreme logits (log-softmax, no log of a softmax)', () => {
  tidy(() => {
    const s = tensor([800, -800, 0, -1000, 1000, 5], [2, 3], { dtype: 'float32' });
    const t = tensor([-900, 900, 1, 1000, -1000, 3], [2, 3], { dtype: 'float32' });
    const y = tensor([0, 2], [2], { dtype: 'int64' });
    for (const n of ['kd', 'dkd']) {
      const s1 = s.clone().requiresGrad_();
      const out = distillLoss(n).compute(logitInputs(s1, t, y), resolveLossParams(distillLoss(n), n === 'dkd' ? { warmup: 0 } : {}));
      const [g] = grad([out], [s1]);
      assert.ok(Number.isFinite(out.item()) && out.item() > 0, `${n}: ${out.item()}`);
      assert.ok(g!.toArray().every(Number.isFinite), `${n}: finite gradient`);
    }
  });
});

test('AT is invariant to scaling a feature map and ignores channel counts; 0 for the same map', () => {
  tidy(() => {
    const s = randn([3, 4, 5, 5], { dtype: 'float64' });
    const t = randn([3, 9, 5, 5], { dtype: 'float64' });
    const base = value('at', { ...logitInputs(s, s, s), pairs: [pair(s, t)] });
    assert.ok(base > 0);
    const scaled = value('at', { ...logitInputs(s, s, s), pairs: [pair(s.mul(7.5), t.mul(0.01))] });
    assert.ok(Math.abs(scaled - base) < 1e-12 * Math.max(1, base), `${scaled} vs ${base}`);
    assert.ok(value('at', { ...logitInputs(s, s, s), pairs: [pair(s, s.mul(3))] }) < 1e-15);
    // Two pairs sum.
    const two = value('at', { ...logitInputs(s, s, s), pairs: [pair(s, t), pair(s, t)] });
    assert.ok(Math.abs(two - 2 * base) < 1e-12);
  });
});

test('SP is invariant to the spatial layout of the features (only the flattened samples matter) and accepts different sizes', () => {
  tidy(() => {
    const s = randn([4, 3, 4, 4], { dtype: 'float64' });
    const t = randn([4, 6, 2, 2], { dtype: 'float64' });
    const base = value('sp', { ...logitInputs(s, s, s), pairs: [pair(s, t)] });
    assert.ok(base > 0);
    // The same numbers per sample in another layout: transposed spatial axes,
    // channels-last, reshaped to another [C, H, W].
    const relaid = value('sp', { ...logitInputs(s, s, s), pairs: [pair(s.permute(0, 2, 3, 1).reshape(4, 8, 2, 3), t.transpose(2, 3))] });
    assert.ok(Math.abs(relaid - base) < 1e-12, `${relaid} vs ${base}`);
    assert.ok(value('sp', { ...logitInputs(s, s, s), pairs: [pair(s, s.mul(2))] }) < 1e-15);
  });
});

test('hints: 0 for equal maps; mean squared error over every element', () => {
  tidy(() => {
    const t = randn([2, 3, 2, 2], { dtype: 'float64' });
    assert.equal(value('hint', { ...logitInputs(t, t, t), pairs: [pair(t, t)] }), 0);
    assert.ok(Math.abs(value('hint', { ...logitInputs(t, t, t), pairs: [pair(t.add(0.5), t)] }) - 0.25) < 1e-12);
  });
});

test('feature losses refuse pairs they cannot compare, naming the pair', () => {
  tidy(() => {
    const a = randn([2, 4, 6, 6], { dtype: 'float64' });
    const b = randn([2, 4, 3, 3], { dtype: 'float64' });
    const inputs = (s: Tensor, t: Tensor): LossInputs => ({ ...logitInputs(a, a, a), pairs: [pair(s, t)] });
    const named = (re: RegExp) => (e: unknown) => e instanceof DistillError && /'student\.node' → 'teacher\.node'/.test(e.message) && re.test(e.message);
    assert.throws(() => value('at', inputs(a, b)), named(/6x6 for the student and 3x3/));
    assert.throws(() => value('hint', inputs(a, b)), named(/spatial size/));
    assert.throws(() => value('hint', inputs(a, randn([2, 5, 6, 6], { dtype: 'float64' }))), named(/4 student channels against 5/));
    assert.throws(() => value('sp', inputs(a, randn([3, 4, 6, 6], { dtype: 'float64' }))), named(/batch 2 for the student and 3/));
    assert.doesNotThrow(() => value('sp', inputs(a, b)));
    assert.throws(() => value('at', { ...logitInputs(a, a, a), pairs: [] }), (e: unknown) => e instanceof DistillError && /'at' needs at least one/.test(e.message));
  });
});
