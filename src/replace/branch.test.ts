// The replacement's graph edits: at α = 1 the blended model computes exactly
// the original; at α = 0 exactly a hand-built model whose convs are 1×1
// convolutions holding the branch weights; finishing at α = 0 gives that
// model, with the parameter count the selection predicted; finishing at
// 0 < α < 1 merges the branch into the k×k kernel with outputs unchanged
// (1e-5), in slimnet and in onnxruntime; convs that cannot be replaced are
// refused with the reason. On resnet20 (residual, BatchNorm, stride 2) and a
// small plain net with a bias and a rectangular kernel. Each case also with a
// narrow branch (width 0.5: two 1×1 convs of rank r): at α = 0 it is the
// hand-built model with the 1×1 kernel B·A (composed here in JS), finishing
// there keeps both convs (c_reduce, c) with the count the selection predicts,
// the merge at α > 0 is exact too, and 'centre' starts it as the truncated SVD
// of the centre tap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, tensor, type Tensor } from '../tensor/index.js';
import { Graph, GraphBuilder, Model, summarize } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { exportOnnx } from '../export/onnx/export.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { alphaOf, attachBranches, branchInName, branchName, finishReplacement, originalKeys, reduceName, replacedConvs, setAlpha } from './branch.js';
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

/** A model with non-trivial BatchNorm statistics, in eval mode. */
function withStats(graph: Graph, seed: number): Model {
  const m = Model.create(graph, { seed });
  noGrad(() => {
    for (const [k, t] of m.namedTensors()) {
      if (k.endsWith('running_mean')) t.copy_(randn(t.shape).mul(0.1));
      if (k.endsWith('running_var')) t.copy_(randn(t.shape).abs().add(0.5));
    }
  });
  return m.eval();
}

const run = (m: Model, x: Tensor): Float32Array => noGrad(() => {
  const y = m.forward(x, { training: false });
  const out = Float32Array.from(y.data<'float32'>());
  y.dispose();
  return out;
});
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const scale = (a: Float32Array) => Math.max(1, ...Array.from(a, Math.abs));

const GRAPHS = [
  { graph: () => plainNet(), shape: [3, 9, 9], convs: ['c1', 'c2', 'c3'] },
  { graph: () => buildArch('resnet20', { inChannels: 1, classes: 10, imageSize: 16 }), shape: [1, 16, 16], convs: null },
] as const;
const CASES = [1, 0.5].flatMap((width) => GRAPHS.map((g) => ({ ...g, width })));

/** The 1×1 kernel a branch computes: its weight, or a narrow branch's B·A, multiplied here in float64 ([Cout, Cin, 1, 1] as float32). */
function branchKernel(m: Model, conv: string): Float32Array {
  const b = m.tensor(`${branchName(conv)}.weight`);
  if (!m.graph.has(branchInName(conv))) return Float32Array.from(b.data<'float32'>());
  const a = m.tensor(`${branchInName(conv)}.weight`);
  const [cout, r] = b.shape as [number, number];
  const cin = a.shape[1]!;
  const [bv, av] = [b.data<'float32'>(), a.data<'float32'>()];
  const out = new Float32Array(cout * cin);
  for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) {
    let sum = 0;
    for (let k = 0; k < r; k++) sum += bv[o * r + k]! * av[k * cin + i]!;
    out[o * cin + i] = sum;
  }
  return out;
}

test('α = 1 is the original exactly; α = 0 is a hand-built 1×1 model; finishing at α = 0 gives it, with the selection\'s parameter count', () => {
  for (const c of CASES) {
    const base = withStats(c.graph(), 3);
    const share = c.width === 1 ? 0.65 : 0.6;
    const convs = c.convs ? [...c.convs] : selectConvs(base.graph, { paramShare: share, width: c.width }).convs;
    const blended = attachBranches(base, convs, { init: 'random', seed: 5, width: c.width }).eval();
    manualSeed(9);
    const x = randn([2, ...c.shape]);
    assert.deepEqual(alphaOf(blended), Object.fromEntries(convs.map((n) => [n, 1])));
    assert.deepEqual(Array.from(run(blended, x)), Array.from(run(base, x)), `${base.graph.name}: α = 1 must compute the original exactly`);

    setAlpha(blended, 0);
    // The independent model: each replaced conv rebuilt by hand as a 1×1 conv with the branch's stride and the centre tap's padding, weights copied.
    const nodes = base.graph.nodes.map((n) => {
      if (!convs.includes(n.name)) return n;
      const k = n.attrs.kernel as number | number[];
      const [kh, kw] = Array.isArray(k) ? k : [k, k];
      const p = n.attrs.padding as number | number[] | undefined;
      const [ph, pw] = Array.isArray(p) ? p : [p ?? 0, p ?? 0];
      return { ...n, attrs: { ...n.attrs, kernel: 1, padding: [ph! - (kh! - 1) / 2, pw! - (kw! - 1) / 2] } };
    });
    const byHand = base.derive(new Graph({ name: 'byhand', nodes, outputs: [...base.graph.outputs] })).eval();
    noGrad(() => {
      for (const n of convs) {
        byHand.tensor(`${n}.weight`).copy_(tensor(branchKernel(blended, n), byHand.tensor(`${n}.weight`).shape));
        if (base.graph.tensorSpecs(base.graph.node(n)).params.bias) byHand.tensor(`${n}.bias`).copy_(blended.tensor(`${branchName(n)}.bias`));
      }
    });
    const want = run(byHand, x);
    // One 1×1 conv is the same computation; two (B then A) round differently from B·A.
    const tol = c.width === 1 ? 0 : 1e-5 * scale(want);
    assert.ok(maxDiff(run(blended, x), want) <= tol, `${base.graph.name} width ${c.width}: α = 0 must compute the branch-only model (${maxDiff(run(blended, x), want)})`);
    const finished = finishReplacement(blended).eval();
    assert.ok(maxDiff(run(finished, x), want) <= Math.max(tol, 1e-6 * scale(want)), `${base.graph.name} width ${c.width}: the finished α = 0 model`);
    assert.ok(!finished.graph.nodes.some((n) => n.kind === 'blend' || n.name.includes('_branch')));
    assert.deepEqual(finished.graph.nodes.map((n) => n.name), base.graph.nodes.flatMap((n) => (c.width < 1 && convs.includes(n.name) ? [reduceName(n.name), n.name] : [n.name])), 'names kept (a narrow branch\'s first conv before each)');
    if (c.width < 1) {
      for (const n of convs) {
        const [cout, cin] = base.tensor(`${n}.weight`).shape as [number, number];
        const r = Math.max(1, Math.round(0.5 * Math.min(cin, cout)));
        assert.deepEqual([finished.tensor(`${reduceName(n)}.weight`).shape, finished.tensor(`${n}.weight`).shape], [[r, cin, 1, 1], [cout, r, 1, 1]], `${n}: rank ${r}`);
      }
    }
    // The count by hand: each replaced o×i×kh×kw kernel becomes o×i weights (width 1) or r·(i + o) (narrow), biases kept.
    const removed = convs.reduce((a, n) => {
      const [o, i, kh, kw] = base.tensor(`${n}.weight`).shape as [number, number, number, number];
      const r = Math.max(1, Math.round(0.5 * Math.min(i, o)));
      return a + o * i * kh * kw - (c.width === 1 ? o * i : r * (i + o));
    }, 0);
    assert.equal(summarize(finished.graph).totals.params, summarize(base.graph).totals.params - removed);
    if (!c.convs) assert.equal(summarize(finished.graph).totals.params, selectConvs(base.graph, { paramShare: share, width: c.width }).paramsAfter);
    for (const m of [base, blended, byHand, finished]) m.dispose();
    x.dispose();
  }
});

test('finishing at 0 < α < 1 merges the branch into the k×k kernel exactly (1e-5), in slimnet and in onnxruntime; the blended graph exports too', async () => {
  for (const c of CASES) {
    const base = withStats(c.graph(), 4);
    const convs = c.convs ? [...c.convs] : selectConvs(base.graph, { paramShare: 0.5, width: c.width }).convs;
    const blended = attachBranches(base, convs, { init: 'random', seed: 6, width: c.width }).eval();
    setAlpha(blended, Object.fromEntries(convs.map((n, i) => [n, [0.3, 0.7, 0.55][i % 3]!])));
    manualSeed(10);
    const x = randn([3, ...c.shape]);
    const want = run(blended, x);
    const merged = finishReplacement(blended).eval();
    assert.ok(maxDiff(run(merged, x), want) <= 1e-5 * scale(want), `${base.graph.name} width ${c.width}: merge changed the outputs by ${maxDiff(run(merged, x), want)}`);
    assert.equal(summarize(merged.graph).totals.params, summarize(base.graph).totals.params, 'one k×k conv per layer again');
    for (const m of [merged, blended]) {
      const r = await verifyOnnx(m, exportOnnx(m), { batch: 2 });
      const s = Math.max(1, ...r.outputs.flatMap((o) => Array.from(o.onnx, Math.abs)));
      assert.ok(r.problems.length === 0 && r.maxAbsDiff <= 1e-5 * s, `${base.graph.name} width ${c.width} (${m === merged ? 'merged' : 'blended'}): onnxruntime differs by ${r.maxAbsDiff}`);
    }
    for (const m of [base, blended, merged]) m.dispose();
    x.dispose();
  }
});

test('the centre-tap initialisation copies the k×k kernel\'s centre and the bias; originalKeys names the replaced convs\' parameters', () => {
  const base = withStats(plainNet(), 1);
  const m = attachBranches(base, ['c2', 'c3']);
  const w = base.tensor('c2.weight');
  const centre = w.narrow(2, 1, 1).narrow(3, 2, 1);
  assert.deepEqual(Array.from(m.tensor('c2_branch.weight').data<'float32'>()), Array.from(centre.data<'float32'>()));
  assert.deepEqual(Array.from(m.tensor('c2_branch.bias').data<'float32'>()), Array.from(base.tensor('c2.bias').data<'float32'>()));
  assert.deepEqual(replacedConvs(m.graph), ['c2', 'c3']);
  assert.deepEqual(originalKeys(m), ['c2.weight', 'c2.bias', 'c3.weight']);
  centre.dispose();
  base.dispose();
  m.dispose();
});

/** Eigenvalues of a small symmetric matrix (cyclic Jacobi rotations), largest first. */
function eigenvalues(m: number[][]): number[] {
  const a = m.map((r) => [...r]);
  const n = a.length;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p]![q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p]![q]!) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const [akp, akq] = [a[k]![p]!, a[k]![q]!];
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const [apk, aqk] = [a[p]![k]!, a[q]![k]!];
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
      }
    }
  }
  return a.map((r, i) => r[i]!).sort((x, y) => y - x);
}

test('a narrow branch\'s centre init is the best rank-r approximation of the centre tap: B·A holds the top r singular values\' energy and its residual is orthogonal to A and B', () => {
  const base = withStats(plainNet(), 2);
  const m = attachBranches(base, ['c2', 'c3'], { width: 0.5 });
  for (const [conv, [cout, cin, r, ch, cw]] of [['c2', [5, 4, 2, 1, 2]], ['c3', [6, 5, 3, 1, 1]]] as const) {
    const w = base.tensor(`${conv}.weight`).data<'float32'>();
    const kw = conv === 'c2' ? 5 : 3;
    const centre = Array.from({ length: cout }, (_, o) => Array.from({ length: cin }, (_, i) => w[((o * cin + i) * 3 + ch) * kw + cw]!));
    assert.deepEqual([m.tensor(`${branchInName(conv)}.weight`).shape, m.tensor(`${branchName(conv)}.weight`).shape], [[r, cin, 1, 1], [cout, r, 1, 1]]);
    const ba = branchKernel(m, conv);
    const lambda = eigenvalues(Array.from({ length: cin }, (_, i) => Array.from({ length: cin }, (_, j) => centre.reduce((s, row) => s + row[i]! * row[j]!, 0))));
    const energy = ba.reduce((s, v) => s + v * v, 0);
    const top = lambda.slice(0, r).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(energy - top) <= 1e-5 * top, `${conv}: ‖B·A‖² ${energy} vs the top ${r} squared singular values ${top}`);
    const resid = centre.map((row, o) => row.map((v, i) => v - ba[o * cin + i]!));
    const a = m.tensor(`${branchInName(conv)}.weight`).data<'float32'>();
    const b = m.tensor(`${branchName(conv)}.weight`).data<'float32'>();
    for (let k = 0; k < r; k++) {
      for (let i = 0; i < cin; i++) assert.ok(Math.abs(resid.reduce((s, row, o) => s + b[o * r + k]! * row[i]!, 0)) < 1e-5, `${conv}: Bᵀ·R = 0`);
      for (let o = 0; o < cout; o++) assert.ok(Math.abs(resid[o]!.reduce((s, v, i) => s + v * a[k * cin + i]!, 0)) < 1e-5, `${conv}: R·Aᵀ = 0`);
    }
  }
  assert.deepEqual(Array.from(m.tensor('c2_branch.bias').data<'float32'>()), Array.from(base.tensor('c2.bias').data<'float32'>()));
  assert.deepEqual(originalKeys(m), ['c2.weight', 'c2.bias', 'c3.weight']);
  assert.throws(() => attachBranches(base, ['c2'], { width: 1.5 }), (e: unknown) => e instanceof ReplaceError && /branch width must be in \(0, 1\]/.test(e.message));
  base.dispose();
  m.dispose();
});

test('bad input: not a conv, a valid (unpadded) conv, an even or grouped kernel, α out of range: ReplaceErrors that say why', () => {
  const lenet = Model.create(buildArch('lenet5', { inChannels: 1, classes: 10, imageSize: 28 }), { seed: 0 });
  const fc = lenet.graph.nodes.find((n) => n.kind === 'linear')!.name;
  assert.throws(() => attachBranches(lenet, [fc]), (e: unknown) => e instanceof ReplaceError && new RegExp(`'${fc}' is a linear node, not a convolution`).test(e.message));
  assert.throws(() => attachBranches(lenet, ['nope']), (e: unknown) => e instanceof ReplaceError && /there is no node 'nope'/.test(e.message));
  const b = new GraphBuilder('odd');
  const x = b.input([4, 8, 8]);
  const g = b.build(b.conv2d(b.conv2d(b.conv2d(x, 4, 4, { padding: 'same', name: 'even' }), 4, 3, { padding: 1, groups: 2, name: 'grouped' }), 4, 5, { name: 'valid' }));
  const m = Model.create(g, { seed: 0 });
  // A 5×5 conv without padding shrinks its input by 4: a 1×1 branch's output could not be blended with it.
  assert.throws(() => attachBranches(m, ['valid']), (e: unknown) => e instanceof ReplaceError && /'valid' convolution/.test(e.message));
  assert.throws(() => attachBranches(m, ['even']), (e: unknown) => e instanceof ReplaceError && /even kernel/.test(e.message));
  assert.throws(() => attachBranches(m, ['grouped']), (e: unknown) => e instanceof ReplaceError && /grouped convolution/.test(e.message));
  const plain = withStats(plainNet(), 0);
  const p = attachBranches(plain, ['c1']);
  assert.throws(() => setAlpha(p, 1.5), (e: unknown) => e instanceof ReplaceError && /α must be in \[0, 1\]/.test(e.message));
  assert.throws(() => setAlpha(p, { c2: 0.5 }), (e: unknown) => e instanceof ReplaceError && /'c2' has no blend/.test(e.message));
  for (const z of [lenet, m, plain, p]) z.dispose();
});
