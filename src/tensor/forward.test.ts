// A small conv net, forward and backward, checked against PyTorch.
//
// scripts/fixtures/make_engine_fixtures.py builds the same net from
// torch.nn.functional calls, runs it in float64 and float32, and stores the
// inputs, parameters, intermediate activations, losses and gradients in
// fixtures/engine-forward.safetensors (regenerate: see docs/fixtures.md).
// Here the net is written once more with slimnet's F ops and Tensor methods,
// and every value is compared with PyTorch's.
//
// Agreement: |slimnet - torch| <= tol * max(1, max |torch|) for every tensor,
// tol = 1e-10 in float64 and 1e-4 in float32. Observed with libtorch 1.13 on
// CPU (fixture made with 1 thread, slimnet on 1 to 16 threads), as that
// scaled max difference:
//   float64  activations, losses, BN state, gradients: 0 (bit-identical)
//   float32  losses and BN state vs torch float32: 0; logits/logp: 1.8e-7;
//            gradients: 8.0e-7 (conv1.weight), 1.4e-6 (conv1.bias, whose true
//            value is 0: train-mode BN cancels the conv bias, both sides are
//            rounding noise); all 0 with SLIMNET_NUM_THREADS=1
//            activations vs torch float64: 3.6e-7 (logits)
// The test prints the measured numbers as diagnostics (node --test shows them).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { F, Tensor, loadTensors, tidy, type DType } from './index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/engine-forward.safetensors', import.meta.url));

const PARAMS = [
  'conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias',
  'dw.weight', 'dw.bias', 'pw.weight', 'pw.bias', 'bn2.weight', 'bn2.bias',
  'branch_a.weight', 'branch_a.bias', 'branch_b.weight', 'branch_b.bias',
  'ct.weight', 'ct.bias', 'fc.weight', 'fc.bias',
] as const;
type Params = Record<(typeof PARAMS)[number], Tensor>;

/** BatchNorm running statistics; train-mode batchNorm updates them in place. */
interface BnState {
  bn1Mean: Tensor;
  bn1Var: Tensor;
  bn2Mean: Tensor;
  bn2Var: Tensor;
}

/** The net of make_engine_fixtures.py, returning every intermediate the fixture holds. */
function net(p: Params, s: BnState, x: Tensor) {
  // Stem: conv, BatchNorm in train mode (batch statistics), relu, max pool.
  const c1 = F.conv2d(x, p['conv1.weight'], { bias: p['conv1.bias'], padding: 1 });
  const bn1 = F.batchNorm(c1, {
    weight: p['bn1.weight'], bias: p['bn1.bias'],
    runningMean: s.bn1Mean, runningVar: s.bn1Var,
    training: true, momentum: 0.1, eps: 1e-5,
  });
  const p1 = F.maxPool2d(F.relu(bn1), 2);

  // Depthwise-separable block: 3x3 depthwise (groups = channels), relu6,
  // 1x1 pointwise, then a frozen BatchNorm (eval mode, given statistics).
  const dw = F.conv2d(p1, p['dw.weight'], { bias: p['dw.bias'], stride: 2, padding: 1, groups: 8 });
  const a2 = F.relu6(dw);
  const pw = F.conv2d(a2, p['pw.weight'], { bias: p['pw.bias'] });
  const bn2 = F.batchNorm(pw, {
    weight: p['bn2.weight'], bias: p['bn2.bias'],
    runningMean: s.bn2Mean, runningVar: s.bn2Var,
    training: false, eps: 1e-5,
  });
  const a3 = F.leakyRelu(bn2, 0.1);
  const ap = F.avgPool2d(a3, 2);

  // Two parallel convs concatenated along channels, plus a residual connection.
  const ba = F.conv2d(ap, p['branch_a.weight'], { bias: p['branch_a.bias'], padding: 1 });
  const bb = F.conv2d(ap, p['branch_b.weight'], { bias: p['branch_b.bias'] });
  const cat = F.cat([ba, bb], 1);
  const res = cat.add(ap);
  const drop = F.dropout(res, 0, true); // p = 0: the identity, even when training

  // Decoder: two upsamplings summed, then a stride-2 transposed conv.
  const upn = F.interpolate(drop, { scaleFactor: 2, mode: 'nearest' });
  const upb = F.interpolate(drop, { scaleFactor: 2, mode: 'bilinear', alignCorners: false });
  const ct = F.convTranspose2d(upn.add(upb), p['ct.weight'], { bias: p['ct.bias'], stride: 2 });

  // Head: adaptive pooling (3x3 over 8x8: uneven windows, and a global 1x1), linear.
  const gp = F.adaptiveAvgPool2d(ct, 3);
  const g1 = F.adaptiveAvgPool2d(a3, 1);
  const feat = F.cat([gp.flatten(1), g1.flatten(1)], 1);
  const logits = F.linear(feat, p['fc.weight'], p['fc.bias']);
  const logp = F.logSoftmax(logits, 1);

  return { c1, p1, dw, a2, pw, bn2, a3, ap, ba, bb, cat, res, drop, upn, upb, ct, gp, g1, feat, logits, logp };
}

interface Targets {
  labels: Tensor;
  targetProbs: Tensor;
  targetLogits: Tensor;
}

function losses(logits: Tensor, logp: Tensor, t: Targets) {
  const ce = F.crossEntropy(logits, t.labels, { labelSmoothing: 0.1 });
  const kl = F.klDiv(logp, t.targetProbs, { reduction: 'batchmean' });
  const mse = F.mseLoss(logits, t.targetLogits);
  const total = ce.add(kl).add(mse);
  return { ce, kl, mse, total };
}

// ---- comparison ---------------------------------------------------------------

/** Reads the fixture; `get` throws on a missing key so a renamed tensor fails loudly. */
function loadFixture() {
  const { tensors, metadata } = loadTensors(FIXTURE);
  const get = (name: string): Tensor => {
    const t = tensors[name];
    if (t === undefined) throw new Error(`fixture has no tensor '${name}'; regenerate it (docs/fixtures.md)`);
    return t;
  };
  return { get, metadata };
}

/**
 * Max |actual - expected| over all elements, divided by max(1, max |expected|),
 * computed in JS doubles so the check does not lean on the engine under test.
 */
function scaledMaxDiff(actual: Tensor, expected: Tensor): number {
  assert.deepEqual(actual.shape, expected.shape, 'shape');
  const a = actual.toArray();
  const e = expected.toArray();
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i]! - e[i]!);
    if (Number.isNaN(d)) return NaN; // fails every `<= tol`
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(e[i]!));
  }
  return diff / scale;
}

/** Compares tensors one by one, failing with the name, and reports the worst difference per group. */
class Comparison {
  private readonly worst = new Map<string, { name: string; diff: number; n: number }>();
  constructor(
    private readonly dtype: DType,
    private readonly tol: number,
  ) {}

  check(group: string, name: string, actual: Tensor, expected: Tensor): void {
    assert.equal(actual.dtype, this.dtype, `${group} ${name}: dtype`);
    const diff = scaledMaxDiff(actual, expected);
    assert.ok(diff <= this.tol, `${group} ${name}: scaled max difference ${diff.toExponential(2)} > ${this.tol}`);
    const w = this.worst.get(group);
    if (!w) this.worst.set(group, { name, diff, n: 1 });
    else {
      w.n += 1;
      if (diff > w.diff) Object.assign(w, { name, diff });
    }
  }

  report(t: TestContext): void {
    for (const [group, w] of this.worst) {
      t.diagnostic(`${this.dtype} ${group}: ${w.n} tensors, max scaled difference ${w.diff.toExponential(2)} (${w.name})`);
    }
  }
}

/**
 * Runs the net in `dtype` from the fixture's float64 inputs and parameters
 * (rounded to float32 for the float32 run, as the script does), backpropagates
 * the total loss, and returns everything with the leaves whose grads we check.
 */
function runNet(get: (name: string) => Tensor, dtype: DType) {
  // .to() makes a fresh leaf (a copy for float32, the same tensor for float64:
  // clone so the fixture's tensors never gain requiresGrad or change in place).
  const fresh = (name: string) => get(name).to(dtype).clone();
  const params = Object.fromEntries(PARAMS.map((n) => [n, fresh(`param.${n}`).requiresGrad_()])) as Params;
  const x = fresh('input.x').requiresGrad_();
  const state: BnState = {
    bn1Mean: fresh('state.bn1.running_mean'),
    bn1Var: fresh('state.bn1.running_var'),
    bn2Mean: fresh('state.bn2.running_mean'),
    bn2Var: fresh('state.bn2.running_var'),
  };
  const targets: Targets = {
    labels: get('input.labels'),
    targetProbs: fresh('input.target_probs'),
    targetLogits: fresh('input.target_logits'),
  };
  const acts = net(params, state, x);
  const loss = losses(acts.logits, acts.logp, targets);
  loss.total.backward();
  const leaves: [string, Tensor][] = [['x', x], ...PARAMS.map((n): [string, Tensor] => [n, params[n]])];
  return { acts, loss, state, leaves };
}

test('fixture was made by PyTorch from the script in the repo', () => {
  tidy(() => {
    const { metadata } = loadFixture();
    assert.match(metadata['torch_version'] ?? '', /^\d+\.\d+/);
    assert.equal(metadata['generator'], 'scripts/fixtures/make_engine_fixtures.py');
  });
});

test('float64: every activation, loss and gradient matches PyTorch within 1e-10', (t) => {
  tidy(() => {
    const { get } = loadFixture();
    const cmp = new Comparison('float64', 1e-10);
    const { acts, loss, state, leaves } = runNet(get, 'float64');

    for (const [name, value] of Object.entries(acts)) {
      if (name === 'drop') continue; // checked below: it must be the identity
      cmp.check('activations', name, value, get(`f64.act.${name}`));
    }
    assert.deepEqual(acts.drop.toArray(), acts.res.toArray(), 'dropout with p = 0 is the identity');

    for (const [name, value] of Object.entries(loss)) cmp.check('losses', name, value, get(`f64.loss.${name}`));
    // Train-mode batchNorm updated the running statistics in place, as PyTorch did.
    cmp.check('bn state', 'bn1.running_mean', state.bn1Mean, get('f64.state.bn1.running_mean'));
    cmp.check('bn state', 'bn1.running_var', state.bn1Var, get('f64.state.bn1.running_var'));
    // The eval-mode one did not touch its statistics.
    assert.deepEqual(state.bn2Mean.toArray(), get('state.bn2.running_mean').toArray());
    assert.deepEqual(state.bn2Var.toArray(), get('state.bn2.running_var').toArray());

    for (const [name, leaf] of leaves) {
      const g = leaf.grad;
      assert.ok(g, `${name} has a gradient after backward()`);
      cmp.check('gradients', name, g, get(`f64.grad.${name}`));
    }
    cmp.report(t);
  });
});

test('float32: every activation, loss and gradient matches PyTorch within 1e-4', (t) => {
  tidy(() => {
    const { get } = loadFixture();
    const cmp = new Comparison('float32', 1e-4);
    const { acts, loss, state, leaves } = runNet(get, 'float32');

    // The fixture keeps only PyTorch's float64 activations (file size), so the
    // float32 activations are held to the float64 reference at float32 tolerance.
    for (const [name, value] of Object.entries(acts)) {
      if (name === 'drop') continue;
      cmp.check('activations vs torch float64', name, value, get(`f64.act.${name}`));
    }
    assert.deepEqual(acts.drop.toArray(), acts.res.toArray(), 'dropout with p = 0 is the identity');
    cmp.check('activations', 'logits', acts.logits, get('f32.act.logits'));
    cmp.check('activations', 'logp', acts.logp, get('f32.act.logp'));

    for (const [name, value] of Object.entries(loss)) cmp.check('losses', name, value, get(`f32.loss.${name}`));
    cmp.check('bn state', 'bn1.running_mean', state.bn1Mean, get('f32.state.bn1.running_mean'));
    cmp.check('bn state', 'bn1.running_var', state.bn1Var, get('f32.state.bn1.running_var'));

    for (const [name, leaf] of leaves) {
      const g = leaf.grad;
      assert.ok(g, `${name} has a gradient after backward()`);
      cmp.check('gradients', name, g, get(`f32.grad.${name}`));
    }
    cmp.report(t);
  });
});
