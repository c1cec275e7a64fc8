// Pruning around the node kinds the ONNX importer added for other exporters'
// files (sub, div, pad2d): 30 % of the channels pruned (global L1) in H12's
// misc_ops (x − sigmoid(y), / 2) and other_exporter (Pad → BatchNormalization)
// fixtures and in a hand-written file, then exported and verified in onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../graph/index.js';
import { readImportFixture, readImportManifest } from '../export/onnx/import-fixtures.js';
import { importOnnx } from '../export/onnx/import/import.js';
import { OnnxWriter } from '../export/onnx/import/testing.js';
import { DependencyGraph } from './index.js';
import { pruneAndVerify } from './testing.js';

test('imported misc_ops and other_exporter fixtures (sub, div, pad2d): 30 % pruned (global L1), exported and verified', async () => {
  const files = readImportManifest().files.filter((f) => ['misc_ops', 'other_exporter'].includes(f.model) && f.opset === 13 && !f.fused);
  assert.equal(files.length, 2);
  for (const f of files) {
    const { graph, tensors } = importOnnx(readImportFixture(f), { source: f.file });
    const model = Model.fromTensors(graph, tensors).eval();
    await pruneAndVerify(model, f.file);
    model.dispose();
  }
});

test('hand-written Sub / Div of two convs and a Pad before a BatchNormalization: the tied convs prune together', async () => {
  const w = new OnnxWriter([3, 6, 6], 13);
  const a = w.node('Conv', ['x', w.floats('c1', [8, 3, 3, 3])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const b = w.node('Sigmoid', [w.node('Conv', ['x', w.floats('c2', [8, 3, 1, 1])], { kernel_shape: [1, 1] })]);
  const d = w.node('Div', [w.node('Sub', [a, b]), w.node('Sigmoid', [w.node('GlobalAveragePool', [a])])]);
  let v = w.node('Pad', [d, w.ints('pads', [0, 0, 1, 1, 0, 0, 1, 1])]);
  v = w.node('BatchNormalization', [v, w.floats('g', [8], [1, 1.5, 0.5, 2, 1, 1.5, 0.5, 2]), w.floats('bb', [8]), w.floats('m', [8]), w.floats('var', [8], [1, 2, 0.5, 1.5, 1, 2, 0.5, 1.5])]);
  v = w.node('Relu', [w.node('Conv', [v, w.floats('c3', [6, 8, 3, 3])], { kernel_shape: [3, 3] })]);
  const out = w.node('Gemm', [w.node('Flatten', [w.node('GlobalAveragePool', [v])]), w.floats('fc', [5, 6]), w.floats('fcb', [5])], { transB: 1 });
  const { graph, tensors } = importOnnx(w.bytes(out));
  assert.ok(['sub', 'div', 'pad2d'].every((k) => graph.nodes.some((n) => n.kind === k)));
  const model = Model.fromTensors(graph, tensors).eval();
  const dep = new DependencyGraph(model.graph);
  const convs = graph.nodes.filter((n) => n.kind === 'conv2d').map((n) => n.name);
  assert.ok(dep.groups.some((g) => g.sources.includes(convs[0]!) && g.sources.includes(convs[1]!) && g.channels.length === 8), `the two convs feeding Sub should share a group of 8 prunable channels: ${dep.groups.map((g) => `${g.name} ${g.channels.length}`).join('; ')}`);
  await pruneAndVerify(model, 'sub-div-pad');
  model.dispose();
});
