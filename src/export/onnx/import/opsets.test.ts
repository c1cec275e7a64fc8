// ONNX import at opsets 18–21 (PyTorch here exports up to 17): hand-written
// files for what changed in those opsets for classifier ops, each imported and
// compared with onnxruntime (and exported again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../../graph/index.js';
import { exportOnnx } from '../export.js';
import { verifyOnnx } from '../verify.js';
import { importOnnx } from './import.js';
import { OnnxWriter } from './testing.js';

async function check(w: OnnxWriter, out: string, kinds: string[]): Promise<void> {
  const bytes = w.bytes(out);
  const { graph, tensors } = importOnnx(bytes);
  const m = Model.fromTensors(graph, tensors, 'imported tensors').eval();
  for (const k of kinds) assert.ok(m.graph.nodes.some((n) => n.kind === k), `no ${k} node in ${m.graph.nodes.map((n) => n.kind).join(', ')}`);
  const r = await verifyOnnx(m, bytes, { batch: 3 });
  const scale = Math.max(1e-6, ...r.outputs.map((o) => o.onnx.reduce((a, b) => Math.max(a, Math.abs(b)), 0)));
  const rel = r.maxAbsDiff / scale;
  assert.ok(rel <= 1e-4 && r.problems.length === 0, `imported vs onnxruntime: ${r.maxAbsDiff} (${rel}) ${r.problems.join('; ')}`);
  const again = await verifyOnnx(m, exportOnnx(m), { batch: 3 });
  assert.ok(again.maxAbsDiff <= 1e-4, `re-export: ${again.maxAbsDiff}`);
  m.dispose();
}

test('opset 18: ReduceMean with axes as an input', async () => {
  const w = new OnnxWriter([3, 5, 5], 18);
  let v = w.node('Conv', ['x', w.floats('cw', [4, 3, 3, 3])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  v = w.node('ReduceMean', [v, w.ints('axes', [-1, 2])], { keepdims: 0 });
  v = w.node('Gemm', [v, w.floats('W', [5, 4]), w.floats('b', [5])], { transB: 1 });
  await check(w, v, ['conv2d', 'linear']);
});

test('opset 18: Split with num_outputs (equal and uneven parts)', async () => {
  for (const [ch, n] of [[6, 2], [7, 3]] as const) {
    const w = new OnnxWriter([3, 4, 4], 18);
    const c = w.node('Conv', ['x', w.floats('cw', [ch, 3, 1, 1])], { kernel_shape: [1, 1] });
    const outs = Array.from({ length: n }, (_, i) => `s${i}`);
    w.node('Split', [c], { axis: 1, num_outputs: n }, outs);
    const cat = w.node('Concat', outs.slice().reverse(), { axis: 1 });
    await check(w, cat, ['channel_slice', 'concat']);
  }
});

test('opset 18: Pad with an axes input folds into the next Conv', async () => {
  const w = new OnnxWriter([2, 5, 5], 18);
  const p = w.node('Pad', ['x', w.ints('pads', [1, 2, 1, 2]), w.floats('zero', [], [0]), w.ints('axes', [2, 3])], { mode: 'constant' });
  const v = w.node('Conv', [p, w.floats('cw', [4, 2, 3, 3])], { kernel_shape: [3, 3] });
  await check(w, v, ['conv2d']);
});

test('opset 19: AveragePool (dilations attribute of 1) and MaxPool with dilations', async () => {
  const w = new OnnxWriter([2, 9, 9], 19);
  let v = w.node('Conv', ['x', w.floats('cw', [4, 2, 3, 3])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  v = w.node('AveragePool', [v], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1], count_include_pad: 1 });
  v = w.node('MaxPool', [v], { kernel_shape: [2, 2], dilations: [2, 2], ceil_mode: 1 });
  await check(w, v, ['avgpool2d', 'maxpool2d']);
  const d = new OnnxWriter([2, 9, 9], 19);
  const a = d.node('AveragePool', ['x'], { kernel_shape: [3, 3], dilations: [2, 2] });
  assert.throws(() => importOnnx(d.bytes(a), { source: 'dil.onnx' }), /dil\.onnx[\s\S]*AveragePool with dilations/);
});

test('opset 21: conv-bn-relu-pool-gemm', async () => {
  const w = new OnnxWriter([3, 8, 8], 21);
  let v = w.node('Conv', ['x', w.floats('cw', [6, 3, 3, 3]), w.floats('cb', [6])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  v = w.node('BatchNormalization', [v, w.floats('g', [6], [1, 1.5, 0.5, 2, 0.8, 1.2]), w.floats('b', [6]), w.floats('m', [6]), w.floats('var', [6], [1, 2, 0.5, 1.5, 0.7, 1.1])]);
  v = w.node('Relu', [v]);
  v = w.node('MaxPool', [v], { kernel_shape: [2, 2], strides: [2, 2] });
  v = w.node('GlobalAveragePool', [v]);
  v = w.node('Flatten', [v], { axis: 1 });
  v = w.node('Gemm', [v, w.floats('W', [10, 6]), w.floats('C', [10])], { transB: 1 });
  await check(w, v, ['conv2d', 'batchnorm2d', 'relu', 'maxpool2d', 'global_avgpool', 'linear']);
});
