// ONNX export: every kind has a handler; hand-built graphs covering each kind
// family and the whole model zoo are exported, run in onnxruntime (CPU) and
// compared with slimnet's eval-mode forward on the same random batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, Model, allKinds, hasTrait, type Graph } from '../../graph/index.js';
import { archDef, archNames, buildArch } from '../../models/index.js';
import { keep, manualSeed, noGrad, rand, randn, tidy, type Tensor } from '../../tensor/index.js';
import { onnxHandlers } from './handlers.js';
import { exportOnnx, onnxNodeCount, saveOnnx } from './export.js';
import { verifyOnnx } from './verify.js';
import { saveCheckpoint } from '../../graph/checkpoint.js';
import { exportRun, type ExportSpec } from '../../workflows/export.js';

const { onnx } = onnxProto;
const TOL = 1e-4;

/** A model of `graph` with random weights and non-trivial BatchNorm statistics and affine parameters. */
function randomModel(graph: Graph, seed = 0, scale: Record<string, number> = {}): Model {
  const model = Model.create(graph, { seed });
  noGrad(() => {
    for (const [key, t] of model.namedTensors()) {
      const node = graph.node(key.slice(0, key.lastIndexOf('.')));
      if (hasTrait(node, 'norm')) {
        const name = key.slice(key.lastIndexOf('.') + 1);
        // running_var in [0.5, 2), the rest around 0 / 1.
        const r = name === 'running_var' ? rand(t.shape).mul_(1.5).add_(0.5) : name === 'weight' ? rand(t.shape).add_(0.5) : randn(t.shape).mul_(0.5);
        t.copy_(r);
        r.dispose();
      }
      if (hasTrait(node, 'scale')) {
        // α in [-1, 2): a scale of 1 would hide a wrong broadcast.
        const r = rand(t.shape).mul_(3).sub_(1);
        t.copy_(r);
        r.dispose();
      }
      const s = scale[key];
      if (s !== undefined) t.mul_(s);
    }
  });
  return model;
}

async function checkGraph(
  graph: Graph,
  opts: { batch?: number; seed?: number; opset?: number; scale?: Record<string, number>; model?: (g: Graph, seed: number) => Model; relative?: boolean } = {},
): Promise<{ maxAbsDiff: number; scale: number; spread: number }> {
  const model = opts.model ? opts.model(graph, opts.seed ?? 0) : randomModel(graph, opts.seed ?? 0, opts.scale);
  try {
    const bytes = exportOnnx(model, { opset: opts.opset });
    const r = await verifyOnnx(model, bytes, { batch: opts.batch ?? 3, seed: (opts.seed ?? 0) + 100 });
    assert.equal(r.outputs.length, graph.outputs.length);
    let scale = 0;
    let spread = 0;
    for (const o of r.outputs) {
      assert.deepEqual(o.shape, [opts.batch ?? 3, ...graph.shape(o.name)], `output '${o.name}' shape`);
      const mag = o.slimnet.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(mag > 0, `output '${o.name}' is all zeros: the comparison would prove nothing`);
      // Absolute tolerance; with `relative`, outputs larger than 1 get TOL · max|output|.
      const bound = opts.relative ? TOL * Math.max(1, mag) : TOL;
      assert.ok(o.maxAbsDiff <= bound, `graph '${graph.name}' output '${o.name}': max abs diff ${o.maxAbsDiff} > ${bound} (max |output| ${mag})`);
      // Small outputs cannot hide a wrong export either.
      assert.ok(o.maxAbsDiff <= 1e-3 * mag, `graph '${graph.name}' output '${o.name}': max abs diff ${o.maxAbsDiff} vs output magnitude ${mag}`);
      scale = Math.max(scale, mag);
      // How much the output varies between the samples of the batch.
      const per = o.slimnet.length / o.shape[0]!;
      for (let i = per; i < o.slimnet.length; i++) spread = Math.max(spread, Math.abs(o.slimnet[i]! - o.slimnet[i - per]!));
    }
    return { maxAbsDiff: r.maxAbsDiff, scale, spread };
  } finally {
    model.dispose();
  }
}

test('every node kind has an ONNX handler', () => {
  assert.ok(allKinds().length >= 25);
  assert.deepEqual(onnxHandlers.missing(), []);
});

test('convolutions: same padding (odd / even / dilated kernels), strides, grouped, depthwise, transposed with output padding', async () => {
  const b = new GraphBuilder('convs');
  let x = b.input([4, 9, 10]);
  x = b.conv2d(x, 6, 4, { padding: 'same', name: 'same_even' }); // asymmetric pads
  x = b.conv2d(x, 6, [2, 3], { padding: 'same', name: 'same_mixed' }); // even in H only
  x = b.conv2d(x, 6, 3, { padding: 'same', dilation: 2, name: 'same_dilated' });
  x = b.conv2d(x, 8, [3, 2], { stride: [2, 1], padding: [1, 0], groups: 2, name: 'grouped' });
  x = b.conv2d(x, 8, 3, { padding: 1, groups: 8, bias: false, name: 'depthwise' });
  const y = b.convTranspose2d(x, 4, 3, { stride: 2, padding: 1, outputPadding: 1, name: 'deconv' });
  const z = b.convTranspose2d(y, 6, [2, 3], { stride: [1, 2], dilation: [2, 1], groups: 2, bias: false, name: 'deconv_grouped' });
  const g = b.build(z);
  assert.deepEqual(g.shape('same_even'), [6, 9, 10]);
  assert.deepEqual(g.shape('deconv'), [4, 10, 18]);
  await checkGraph(g);
});

test('batch norm: 2-D with running statistics, 1-D on features and on [C, L]', async () => {
  const b = new GraphBuilder('norms');
  const inp = b.input([3, 6, 6]);
  let x = b.relu(b.batchnorm2d(b.conv2d(inp, 5, 3, { padding: 1 }), { eps: 1e-3 }));
  const seq = b.batchnorm1d(b.reshape(x, [5, 36], { name: 'seq' }), { name: 'bn_seq' });
  let f = b.flatten(seq);
  f = b.batchnorm1d(b.linear(f, 12), { name: 'bn_feat' });
  const g = b.build(f);
  await checkGraph(g, { seed: 1 });
});

test('channel scale: per channel on maps, on [C, L] and on features (ONNX Mul)', async () => {
  const b = new GraphBuilder('scales');
  const inp = b.input([3, 6, 6]);
  const x = b.channelScale(b.conv2d(inp, 5, 3, { padding: 1 }), { name: 'alpha_maps' });
  const seq = b.channelScale(b.reshape(x, [5, 36], { name: 'seq' }), { name: 'alpha_seq' });
  const f = b.channelScale(b.linear(b.flatten(seq), 7), { name: 'alpha_feat' });
  await checkGraph(b.build(f), { seed: 2 });
});

test('activations (wide input range), softmax over axes, opset 13 and 17', async () => {
  const b = new GraphBuilder('activations');
  const inp = b.input([3, 5, 6]);
  const x = b.conv2d(inp, 4, 1, { name: 'wide' }); // weights scaled up: values far beyond ±6
  const acts = [
    b.relu(x),
    b.relu6(x),
    b.leakyRelu(x, 0.2),
    b.elu(x, 0.7),
    b.sigmoid(x),
    b.tanh(x),
    b.hardswish(x),
  ];
  const cat = b.concat(acts, { name: 'acts' });
  const s1 = b.softmax(cat, { axis: 1, name: 'softmax_c' });
  const s2 = b.softmax(cat, { axis: -1, name: 'softmax_w' });
  const g = b.build(s1, s2, cat);
  const scale = { 'wide.weight': 12, 'wide.bias': 4 };
  await checkGraph(g, { scale, opset: 17 });
  await checkGraph(g, { scale, opset: 13 }); // HardSwish via HardSigmoid · x
});

test('pooling: ceil mode (incl. the last-window rule), padding, count_include_pad, global and adaptive', async () => {
  const b = new GraphBuilder('pools');
  const inp = b.input([3, 6, 7]);
  const outs = [
    b.maxpool2d(inp, 2, { stride: 2, padding: 1, ceilMode: true, name: 'max_ceil_pad' }), // in W the last window would start in the right padding
    b.maxpool2d(inp, 3, { stride: 2, ceilMode: true, name: 'max_ceil' }),
    b.maxpool2d(inp, [3, 2], { stride: [1, 2], padding: [1, 1], name: 'max_pad' }),
    b.avgpool2d(inp, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: true, name: 'avg_ceil_incl' }),
    b.avgpool2d(inp, 2, { stride: 2, padding: 1, ceilMode: true, countIncludePad: true, name: 'avg_ceil_incl_edge' }),
    b.avgpool2d(inp, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false, name: 'avg_ceil_excl' }),
    b.avgpool2d(inp, 2, { stride: 2, ceilMode: true, name: 'avg_ceil_nopad' }),
    b.avgpool2d(inp, [3, 3], { stride: 1, padding: 1, countIncludePad: true, name: 'avg_pad' }),
    b.avgpool2d(inp, 2, { name: 'avg' }),
  ];
  const wide = b.conv2d(inp, 2, [1, 1], { name: 'c8' });
  const big = b.convTranspose2d(wide, 2, 2, { stride: 2, name: 'up' }); // [2, 12, 14]
  outs.push(
    b.globalAvgPool(inp, { name: 'gap' }),
    b.adaptiveAvgPool(big, [4, 7], { name: 'adaptive_div' }),
    b.adaptiveAvgPool(big, 1, { name: 'adaptive_1x1' }),
    b.adaptiveAvgPool(big, [5, 4], { name: 'adaptive_uneven' }),
    b.adaptiveAvgPool(inp, [7, 7], { name: 'adaptive_up' }),
    b.adaptiveAvgPool(inp, [6, 7], { name: 'adaptive_same' }),
  );
  const g = b.build(...outs);
  assert.deepEqual(g.shape('max_ceil_pad'), [3, 4, 4]); // W: 5 windows by the ceil formula, 4 by PyTorch's rule
  await checkGraph(g, { seed: 2 });
  await checkGraph(g, { seed: 3, opset: 13 });
});

test('structure and merging: flatten, reshape, identity, dropout, add (2 and 3 inputs), mul broadcast (incl. lower rank), concat, two inputs', async () => {
  const b = new GraphBuilder('merges');
  const a = b.input([4, 6, 6], { name: 'image' });
  const aux = b.input([4, 6, 6], { name: 'aux' });
  const c1 = b.conv2d(a, 8, 3, { padding: 1 });
  const c2 = b.conv2d(aux, 8, 1);
  const sum2 = b.add([c1, c2]);
  const sum3 = b.add([c1, c2, sum2]);
  const gate = b.sigmoid(b.conv2d(b.adaptiveAvgPool(sum3, 1), 8, 1)); // [8, 1, 1]
  const se = b.mul(sum3, gate, { name: 'se' }); // [8, 6, 6] * [8, 1, 1]
  const cat = b.concat([se, b.identity(c1), b.dropout(c2, 0.3)], { name: 'cat_c' });
  const catW = b.concat([cat, cat], { axis: 3, name: 'cat_w' });
  const r = b.reshape(catW, [-1, 12], { name: 'rows' });
  const r2 = b.reshape(r, [24, 3, -1], { name: 'cube' });
  const out = b.linear(b.dropout(b.flatten(r2)), 10, { name: 'head' });
  const rowScale = b.mul(c1, b.linear(b.globalAvgPool(c1), 6), { name: 'rank_mismatch' }); // [8, 6, 6] * [6]
  const g = b.build(out, r2, rowScale);
  await checkGraph(g, { seed: 3 });
  await checkGraph(g, { seed: 4, batch: 1 });
  await checkGraph(g, { seed: 5, opset: 13 }); // Reshape without allowzero
});

test('exported file: initializers named by slimnet keys, dynamic batch, save and reload from disk', async () => {
  const model = randomModel(buildArch('lenet5'), 5);
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-onnx-'));
  try {
    const path = join(dir, 'nested', 'lenet.onnx');
    const bytes = saveOnnx(model, path, { producer: 'slimnet-test' });
    assert.equal(Buffer.compare(readFileSync(path), bytes), 0, 'file content equals the returned bytes');
    const proto = onnx.ModelProto.decode(bytes);
    assert.equal(proto.producerName, 'slimnet-test');
    assert.equal(Number(proto.opsetImport[0]!.version), 17);
    const names = proto.graph!.initializer!.map((t) => t.name).sort();
    assert.deepEqual(names, model.namedTensors().map(([k]) => k).sort());
    const inDims = proto.graph!.input![0]!.type!.tensorType!.shape!.dim!;
    assert.equal(inDims[0]!.dimParam, 'batch');
    assert.deepEqual(inDims.slice(1).map((d) => Number(d.dimValue)), [1, 28, 28]);
    assert.equal(onnxNodeCount(bytes), proto.graph!.node!.length);
    // Another batch size through the file on disk.
    const session = await ort.InferenceSession.create(path);
    manualSeed(9);
    const x = randn([5, 1, 28, 28]);
    const out = await session.run({ input: new ort.Tensor('float32', x.data<'float32'>(), x.shape) });
    const ref = noGrad(() => model.forward(x, { training: false }));
    const got = out.fc2!.data as Float32Array;
    const want = ref.data<'float32'>();
    assert.deepEqual([...out.fc2!.dims], [5, 10]);
    let d = 0;
    for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i]! - want[i]!));
    assert.ok(d <= TOL, `max abs diff ${d}`);
    x.dispose();
    ref.dispose();
    await session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
});

test('opsets outside 13..21 are rejected', () => {
  const model = Model.create(buildArch('lenet5'), { seed: 0 });
  try {
    assert.throws(() => exportOnnx(model, { opset: 12 }), /opset 12 is not supported/);
  } finally {
    model.dispose();
  }
});

test('exportRun (slimnet export): a checkpoint (trained-like BN statistics) and an architecture, with --verify and its problems; usage errors', async () => {
  const b = new GraphBuilder('small');
  let x = b.input([3, 12, 12]);
  x = b.relu6(b.batchnorm2d(b.conv2d(x, 6, 3, { stride: 2, padding: 1 })));
  x = b.linear(b.flatten(b.avgpool2d(x, 3, { stride: 2, ceilMode: true })), 4);
  const model = randomModel(b.build(x), 11);
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-onnx-cli-'));
  try {
    const ckpt = join(dir, 'small.safetensors');
    saveCheckpoint(ckpt, model);
    const lines: string[] = [];
    const r = await exportRun({ checkpoint: ckpt, out: join(dir, 'small.onnx'), verify: true }, { onLog: (l) => lines.push(l) });
    assert.ok(r.ok && r.maxAbsDiff !== undefined && r.maxAbsDiff <= TOL, lines.join('\n'));
    assert.equal(r.bytes, readFileSync(join(dir, 'small.onnx')).length);
    assert.equal(r.nodes, 7); // Conv, BatchNormalization, Clip, Pad + AveragePool (ceil mode past the padding), Flatten, Gemm
    assert.match(lines.join('\n'), /max abs difference/);
    const a = await exportRun({ arch: 'lenet5', out: join(dir, 'lenet.onnx'), opset: 14, imageSize: 32, width: 0.25 });
    assert.equal(a.opset, 14);
    assert.equal(a.nodes, 10); // (Conv, Relu, MaxPool) x 2, Flatten, Gemm, Relu, Gemm
    await assert.rejects(exportRun({ arch: 'lenet5', checkpoint: ckpt, out: join(dir, 'x.onnx') }), /either --arch or --checkpoint/);
    await assert.rejects(exportRun({ arch: 'no_such_arch', out: join(dir, 'x.onnx') }), /unknown architecture 'no_such_arch'/);
    await assert.rejects(exportRun({ arch: 'lenet5' }), /--out/);
    // A tolerance of 0 cannot be met by float32 arithmetic in two engines: --verify reports failure.
    const strict = await exportRun({ arch: 'resnet20', out: join(dir, 'r.onnx'), verify: true, tolerance: 0 });
    assert.ok(strict.maxAbsDiff! > 0 && !strict.ok);
    await assert.rejects(exportRun({ checkpoint: ckpt, out: join(dir, 'x.onnx'), imageSize: 8 }), /--image-size applies only to --arch/);
    await assert.rejects(exportRun({ checkpoint: ckpt, out: join(dir, 'x.onnx'), imageSize: 8, classes: 3 } satisfies ExportSpec), /--image-size, --classes apply only to --arch/);

    // NaN weights: verify fails, and says why (which output, which side, how many values), not only 'Infinity'.
    noGrad(() => model.namedTensors().find(([k]) => k.endsWith('.weight'))![1].fill_(Number.NaN));
    const nanCkpt = join(dir, 'nan.safetensors');
    saveCheckpoint(nanCkpt, model);
    const nanLines: string[] = [];
    const nan = await exportRun({ checkpoint: nanCkpt, out: join(dir, 'nan.onnx'), verify: true }, { onLog: (l) => nanLines.push(l) });
    assert.equal(nan.ok, false);
    assert.ok(nan.problems!.length > 0 && nan.problems!.every((p) => /NaN or infinite/.test(p)), nan.problems!.join('\n'));
    for (const p of nan.problems!) assert.ok(nanLines.includes(`verify: ${p}`), `logged: ${p}`);
    assert.deepEqual(r.problems, [], 'a clean export has no problems');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
});

/**
 * A zoo model whose output actually depends on its input: with the default
 * initialisers deep plain networks (VGG) shrink activations until every
 * sample gives the same logits, which would make the comparison vacuous.
 * Conv / linear weights get He-normal (fan-in) initialisation and every
 * BatchNorm gets random affine parameters and running statistics measured on
 * a calibration batch in train mode, so activations stay near unit scale.
 */
function zooModel(graph: Graph, seed: number): Model {
  const model = Model.create(graph, {
    seed,
    init: (e) => (e.kind === 'param' && e.name === 'weight' && e.spec.shape.length === 4 ? { kind: 'kaiming_normal', fan: e.spec.shape.slice(1).reduce((a, b) => a * b, 1) } : undefined),
  });
  const bnOf = new Map<string, string[]>();
  for (const n of graph.nodes) if (hasTrait(n, 'norm')) bnOf.set(n.inputs[0]!, [...(bnOf.get(n.inputs[0]!) ?? []), n.name]);
  const stats = new Map<string, [Tensor, Tensor]>();
  noGrad(() => {
    for (const [key, t] of model.namedTensors()) {
      const bn = hasTrait(graph.node(key.slice(0, key.lastIndexOf('.'))), 'norm');
      if (bn && key.endsWith('.weight')) t.copy_(tidy(() => rand(t.shape).add(0.5)));
      if (bn && key.endsWith('.bias')) t.copy_(tidy(() => randn(t.shape).mul(0.2)));
    }
    const x = randn([4, ...graph.shape(graph.inputs[0]!.name)]);
    const hooks = {
      onOutput(node: { name: string }, out: Tensor) {
        for (const bn of bnOf.get(node.name) ?? []) {
          const dims = out.ndim === 2 ? [0] : out.ndim === 3 ? [0, 2] : [0, 2, 3];
          stats.set(bn, [keep(out.mean(dims)), keep(out.var(dims))]);
        }
      },
    };
    for (const o of model.forwardAll(x, { training: true, hooks })) o.dispose();
    x.dispose();
    for (const [bn, [mean, variance]] of stats) {
      model.tensor(`${bn}.running_mean`).copy_(mean);
      model.tensor(`${bn}.running_var`).copy_(variance);
      mean.dispose();
      variance.dispose();
    }
  });
  return model;
}

/** The smallest image size each zoo architecture is checked at (its default when that is small). */
function zooImageSize(name: string): number {
  const d = archDef(name).defaults.imageSize;
  return d <= 64 ? d : 64;
}

test('every zoo architecture exports and matches slimnet in onnxruntime', async () => {
  const names = archNames();
  assert.ok(names.includes('lenet5'));
  for (const name of names) {
    let graph: Graph;
    let size = zooImageSize(name);
    try {
      graph = buildArch(name, { imageSize: size });
    } catch {
      size = archDef(name).defaults.imageSize;
      graph = buildArch(name, { imageSize: size });
    }
    const t0 = performance.now();
    // Deep networks accumulate float32 rounding (resnet50: relative error grows
    // steadily from 5e-7 after conv1 to ~4e-5 at the logits), so the bound
    // scales with the logits once they exceed 1.
    const d = await checkGraph(graph, { batch: 2, seed: 7, model: zooModel, relative: true });
    // The two samples must give clearly different logits, or the comparison proves little.
    assert.ok(d.spread > 1e-2, `${name}: outputs barely depend on the input (spread ${d.spread})`);
    console.log(
      `${name}@${size}: max abs diff ${d.maxAbsDiff.toExponential(2)}, max |output| ${d.scale.toExponential(2)}, between-sample spread ${d.spread.toExponential(2)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
});
