// The least-squares branch init: a conv whose k×k kernel is zero but for the
// centre tap is a 1×1 conv, and the fit finds exactly that tap (and bias);
// on a random kernel the fitted branch's output is closer to the conv's than
// the centre tap's, measured directly on the blended model's two outputs, and
// no small change of the fitted weights lowers it (the least-squares
// optimum). On a plain net (bias, rectangular kernel, stride 2, no bias) and
// resnet20 (BatchNorm, residuals). A narrow branch (width 0.5, rank r): a
// centre tap of rank r is recovered exactly; on random kernels the rank-r fit
// is reported as measured, beats the truncated-SVD centre init, and no small
// change of either factor improves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, tidy, type Tensor } from '../tensor/index.js';
import { Capture, Graph, GraphBuilder, Model, conv2dGeometry } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { attachBranches, branchInName, branchName, replacedConvs } from './branch.js';
import { fitBranches } from './fit.js';
import { ReplaceError } from './errors.js';
import { selectConvs } from './select.js';

function plainNet(): Graph {
  const b = new GraphBuilder('plain');
  const x = b.input([3, 9, 9]);
  const c1 = b.relu(b.conv2d(x, 4, 3, { padding: 1, name: 'c1' }));
  const c2 = b.relu(b.conv2d(c1, 5, [3, 5], { padding: [1, 3], stride: 2, name: 'c2' }));
  const c3 = b.conv2d(c2, 6, 3, { padding: 1, bias: false, name: 'c3' });
  return b.build(b.linear(b.flatten(b.relu(c3)), 3, { name: 'fc' }));
}

const batchesOf = (shape: readonly number[], n: number, seed: number): Tensor[] => {
  manualSeed(seed);
  return Array.from({ length: n }, () => randn([8, ...shape]));
};

const values = (t: Tensor): Float32Array => Float32Array.from(t.data<'float32'>());
const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** Σ (conv − branch)² per replaced conv, from the blended model's own outputs at α = 1 (both read the original's input there). */
function residuals(blended: Model, batches: readonly Tensor[]): Record<string, number> {
  const convs = replacedConvs(blended.graph);
  const out: Record<string, number> = Object.fromEntries(convs.map((c) => [c, 0]));
  for (const x of batches) {
    const cap = new Capture(convs.flatMap((c) => [c, branchName(c)]));
    noGrad(() => tidy(() => void blended.forward(x, { training: false, hooks: cap })));
    for (const c of convs) out[c]! += tidy(() => cap.activation(c).sub(cap.activation(branchName(c))).pow(2).sum().item());
    cap.dispose();
  }
  return out;
}

test('a k×k kernel that is zero but for its centre tap: the fit recovers that tap and the bias (1e-5)', () => {
  const base = Model.create(plainNet(), { seed: 1 }).eval();
  noGrad(() => {
    for (const c of ['c1', 'c2', 'c3']) {
      const g = conv2dGeometry(base.graph.node(c));
      const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
      const w = base.tensor(`${c}.weight`);
      tidy(() => {
        const centre = w.narrow(2, ch, 1).narrow(3, cw, 1).clone();
        w.zero_();
        w.narrow(2, ch, 1).narrow(3, cw, 1).copy_(centre);
      });
    }
    // No input channel of c2 or c3 always 0 after its ReLU: a dead channel's weight is not determined by the data (the fit gives it 0).
    for (const c of ['c1', 'c2']) base.tensor(`${c}.bias`).fill_(1);
  });
  const blended = attachBranches(base, ['c1', 'c2', 'c3'], { init: 'random', seed: 4 }).eval();
  const batches = batchesOf([3, 9, 9], 3, 11);
  const before = residuals(blended, batches);
  const fits = fitBranches(base, blended, batches);
  assert.deepEqual(fits.map((f) => f.conv), ['c1', 'c2', 'c3']);
  assert.deepEqual(fits.map((f) => f.rows), [3 * 8 * 81, 3 * 8 * 30, 3 * 8 * 30], 'positions: samples × output height × width (c2: 3×5 kernel, stride 2, padding 1,3 on 9×9 → 5×6)');
  for (const c of ['c1', 'c2', 'c3']) {
    const g = conv2dGeometry(base.graph.node(c));
    const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
    const want = tidy(() => values(base.tensor(`${c}.weight`).narrow(2, ch, 1).narrow(3, cw, 1).contiguous()));
    assert.ok(maxDiff(values(blended.tensor(`${branchName(c)}.weight`)), want) < 1e-5, `${c}: weight`);
    if (g.bias) assert.ok(maxDiff(values(blended.tensor(`${branchName(c)}.bias`)), values(base.tensor(`${c}.bias`))) < 1e-5, `${c}: bias`);
  }
  const after = residuals(blended, batches);
  for (const [i, c] of ['c1', 'c2', 'c3'].entries()) {
    assert.ok(before[c]! > 1, `${c}: the random branch was off (${before[c]})`);
    assert.ok(after[c]! < 1e-8, `${c}: the fitted branch reproduces the conv (${after[c]})`);
    assert.ok(fits[i]!.mse < 1e-10, `${c}: reported mse ${fits[i]!.mse}`);
  }
});

test('random kernels: the fitted branch is closer to the conv than the centre tap, and no small change improves it', () => {
  const cases = [
    { graph: plainNet(), shape: [3, 9, 9], convs: ['c1', 'c2', 'c3'] },
    { graph: buildArch('resnet20', { inChannels: 1, classes: 10, imageSize: 16, widthMultiplier: 0.5 }), shape: [1, 16, 16], convs: null },
  ];
  for (const c of cases) {
    const base = Model.create(c.graph, { seed: 2 }).eval();
    const convs = c.convs ?? selectConvs(base.graph, { paramShare: 0.65 }).convs;
    const batches = batchesOf(c.shape, 2, 13);
    const centre = attachBranches(base, convs, { init: 'centre' }).eval();
    const fitted = attachBranches(base, convs, { init: 'centre' }).eval();
    const fits = fitBranches(base, fitted, batches);
    const rc = residuals(centre, batches);
    const rf = residuals(fitted, batches);
    for (const [i, conv] of convs.entries()) {
      const cout = conv2dGeometry(base.graph.node(conv)).outChannels;
      assert.ok(rf[conv]! <= rc[conv]! * (1 + 1e-6), `${c.graph.name} ${conv}: lsq ${rf[conv]} vs centre ${rc[conv]}`);
      // The residual the fit reports is the one measured on the model (float32 forward vs float64 algebra).
      const measured = rf[conv]! / (fits[i]!.rows * cout);
      assert.ok(Math.abs(fits[i]!.mse - measured) <= 1e-4 * measured + 1e-9, `${conv}: reported ${fits[i]!.mse}, measured ${measured}`);
    }
    assert.ok(convs.some((conv) => rf[conv]! < rc[conv]! * 0.99), `${c.graph.name}: the fit improves on the centre tap somewhere`);
    // Optimality: nudging the fitted weights of a conv in random directions never lowers its residual.
    const conv = convs[0]!;
    const w = fitted.tensor(`${branchName(conv)}.weight`);
    const fittedW = w.clone();
    manualSeed(21);
    for (let k = 0; k < 3; k++) {
      noGrad(() => tidy(() => void w.copy_(fittedW.add(randn(w.shape).mul(1e-2)))));
      const r = residuals(fitted, batches)[conv]!;
      assert.ok(r >= rf[conv]! * (1 - 1e-6), `${conv}: a nudged branch has residual ${r} < the fit's ${rf[conv]}`);
    }
    noGrad(() => void w.copy_(fittedW));
    fittedW.dispose();
    for (const b of batches) b.dispose();
  }
});

test('a narrow branch (width 0.5): a centre tap of rank r alone is recovered exactly (B·A and the bias)', () => {
  const base = Model.create(plainNet(), { seed: 1 }).eval();
  const ranks: Record<string, number> = { c1: 2, c2: 2, c3: 3 }; // round(0.5 · min(Cin, Cout))
  manualSeed(17);
  noGrad(() => {
    for (const c of ['c1', 'c2', 'c3']) {
      const g = conv2dGeometry(base.graph.node(c));
      const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
      const w = base.tensor(`${c}.weight`);
      tidy(() => {
        const lowRank = randn([g.outChannels, ranks[c]!]).matmul(randn([ranks[c]!, g.inChannels])).mul(0.5);
        w.zero_();
        w.narrow(2, ch, 1).narrow(3, cw, 1).copy_(lowRank.reshape([g.outChannels, g.inChannels, 1, 1]));
      });
    }
    for (const c of ['c1', 'c2']) base.tensor(`${c}.bias`).fill_(1);
  });
  const blended = attachBranches(base, ['c1', 'c2', 'c3'], { init: 'random', seed: 4, width: 0.5 }).eval();
  const batches = batchesOf([3, 9, 9], 3, 11);
  const before = residuals(blended, batches);
  const fits = fitBranches(base, blended, batches);
  const after = residuals(blended, batches);
  for (const [i, c] of ['c1', 'c2', 'c3'].entries()) {
    const g = conv2dGeometry(base.graph.node(c));
    const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
    assert.deepEqual(blended.tensor(`${branchInName(c)}.weight`).shape, [ranks[c], g.inChannels, 1, 1]);
    const product = tidy(() => values(blended.tensor(`${branchName(c)}.weight`).reshape([g.outChannels, ranks[c]!]).matmul(blended.tensor(`${branchInName(c)}.weight`).reshape([ranks[c]!, g.inChannels])).contiguous()));
    const want = tidy(() => values(base.tensor(`${c}.weight`).narrow(2, ch, 1).narrow(3, cw, 1).contiguous()));
    assert.ok(maxDiff(product, want) < 1e-4, `${c}: B·A is the rank-${ranks[c]} centre tap (${maxDiff(product, want)})`);
    if (g.bias) assert.ok(maxDiff(values(blended.tensor(`${branchName(c)}.bias`)), values(base.tensor(`${c}.bias`))) < 1e-4, `${c}: bias`);
    assert.ok(before[c]! > 1 && after[c]! < 1e-6, `${c}: residual ${before[c]} → ${after[c]}`);
    assert.ok(fits[i]!.mse < 1e-9, `${c}: reported mse ${fits[i]!.mse}`);
  }
});

test('a narrow branch on random kernels: the rank-r fit is reported as measured, beats the truncated-SVD centre init, and no small change of A or B improves it', () => {
  const base = Model.create(plainNet(), { seed: 2 }).eval();
  const convs = ['c1', 'c2', 'c3'];
  const batches = batchesOf([3, 9, 9], 2, 13);
  const centre = attachBranches(base, convs, { init: 'centre', width: 0.5 }).eval();
  const fitted = attachBranches(base, convs, { init: 'centre', width: 0.5 }).eval();
  const full = attachBranches(base, convs, { init: 'centre' }).eval();
  const fits = fitBranches(base, fitted, batches);
  fitBranches(base, full, batches);
  const [rc, rf, rfull] = [residuals(centre, batches), residuals(fitted, batches), residuals(full, batches)];
  for (const [i, conv] of convs.entries()) {
    const cout = conv2dGeometry(base.graph.node(conv)).outChannels;
    assert.ok(rf[conv]! < rc[conv]!, `${conv}: rank-r lsq ${rf[conv]} vs centre SVD ${rc[conv]}`);
    assert.ok(rf[conv]! >= rfull[conv]! * (1 - 1e-6), `${conv}: a rank-r fit cannot beat the full 1×1 fit (${rf[conv]} < ${rfull[conv]})`);
    const measured = rf[conv]! / (fits[i]!.rows * cout);
    assert.ok(Math.abs(fits[i]!.mse - measured) <= 1e-4 * measured + 1e-9, `${conv}: reported ${fits[i]!.mse}, measured ${measured}`);
  }
  manualSeed(23);
  for (const conv of ['c2', 'c3']) {
    for (const key of [`${branchInName(conv)}.weight`, `${branchName(conv)}.weight`, ...(conv === 'c2' ? [`${branchName(conv)}.bias`] : [])]) {
      const t = fitted.tensor(key);
      const kept = t.clone();
      for (let k = 0; k < 3; k++) {
        noGrad(() => tidy(() => void t.copy_(kept.add(randn(t.shape).mul(1e-2)))));
        const r = residuals(fitted, batches)[conv]!;
        assert.ok(r >= rf[conv]! * (1 - 1e-6), `${key}: a nudged factor has residual ${r} < the fit's ${rf[conv]}`);
      }
      noGrad(() => void t.copy_(kept));
      kept.dispose();
    }
  }
  for (const b of batches) b.dispose();
});

test('without branches or without data the fit is refused', () => {
  const base = Model.create(plainNet(), { seed: 1 }).eval();
  assert.throws(() => fitBranches(base, base, batchesOf([3, 9, 9], 1, 1)), (e: unknown) => e instanceof ReplaceError && /no replaced convolution/.test(e.message));
  const blended = attachBranches(base, ['c1'], {}).eval();
  assert.throws(() => fitBranches(base, blended, []), (e: unknown) => e instanceof ReplaceError && /at least one batch/.test(e.message));
});
