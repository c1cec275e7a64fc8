// importRun: an ONNX file becomes a checkpoint (provenance command 'import'),
// verified against onnxruntime on the original; unsupported files write
// nothing; imported graphs with residual adds, concat, depthwise convs and
// squeeze-and-excitation prune (30 % of the channels, global L1) and export
// again, checked in onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model, loadCheckpoint, summarize } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { exportOnnx } from '../export/onnx/export.js';
import { importOnnx, OnnxImportError } from '../export/onnx/import/import.js';
import { OnnxWriter, SMALL_ZOO, randomModel } from '../export/onnx/import/testing.js';
import { UsageError } from '../util/errors.js';
import { importRun, defaultImportOut } from './import.js';
import { pruneAndVerify } from '../prune/testing.js';

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slimnet-import-run-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'importRun writes a checkpoint with provenance and verifies against onnxruntime on the original file',
  withDir(async (dir) => {
    const file = join(dir, 'resnet20.onnx');
    const original = randomModel(buildArch('resnet20', { widthMultiplier: 0.25 }), 2);
    writeFileSync(file, exportOnnx(original));
    original.dispose();
    const lines: string[] = [];
    const r = await importRun({ model: file, verify: true }, { onLog: (l) => lines.push(l) });
    assert.equal(r.out, join(dir, 'resnet20.safetensors'));
    assert.equal(defaultImportOut('a/b.onnx'), 'a/b.safetensors');
    assert.ok(r.ok && r.maxRelDiff! <= 1e-4, `verify: ${r.maxRelDiff}`);
    assert.ok(lines.some((l) => l.startsWith('verify: ')));
    const { model, meta } = loadCheckpoint(r.out);
    assert.equal(meta.command, 'import');
    assert.equal(meta.source, file);
    assert.equal(summarize(model.graph).totals.params, r.params);
    model.dispose();
    await assert.rejects(importRun({ model: file, tolerance: 1 }), UsageError);
  }),
);

test(
  'importRun on a file with unsupported ops: one error listing them, nothing written',
  withDir(async (dir) => {
    const w = new OnnxWriter([2, 4, 4]);
    const file = join(dir, 'bad.onnx');
    writeFileSync(file, w.bytes(w.node('Erf', [w.node('Celu', ['x'])])));
    await assert.rejects(importRun({ model: file, out: join(dir, 'bad.safetensors') }), (e: unknown) => e instanceof OnnxImportError && /Celu: 'Celu_\d+'/.test((e as Error).message) && /Erf: 'Erf_\d+'/.test((e as Error).message));
    assert.ok(!existsSync(join(dir, 'bad.safetensors')));
  }),
);


for (const [arch, opts] of SMALL_ZOO.filter(([a]) => ['resnet20', 'mobilenetv2', 'densenet_cifar'].includes(a))) {
  test(`imported ${arch} (residual adds, depthwise convs, concat): prunes 30 % global L1, exports and verifies`, async () => {
    const original = randomModel(buildArch(arch, opts), 3);
    const { graph, tensors } = importOnnx(exportOnnx(original));
    original.dispose();
    const model = Model.fromTensors(graph, tensors).eval();
    await pruneAndVerify(model, arch);
    model.dispose();
  });
}

test('imported squeeze-and-excitation block (written by hand: GlobalAveragePool, 1x1 convs, Sigmoid, broadcast Mul): prunes and verifies', async () => {
  const w = new OnnxWriter([3, 6, 6], 17);
  const c1 = w.node('Relu', [w.node('Conv', ['x', w.floats('w1', [8, 3, 3, 3]), w.floats('b1', [8])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
  const dw = w.node('Relu', [w.node('Conv', [c1, w.floats('dw', [8, 1, 3, 3])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 })]);
  const sq = w.node('Relu', [w.node('Conv', [w.node('GlobalAveragePool', [dw]), w.floats('w2', [4, 8, 1, 1]), w.floats('b2', [4])], { kernel_shape: [1, 1] })]);
  const ex = w.node('Sigmoid', [w.node('Conv', [sq, w.floats('w3', [8, 4, 1, 1]), w.floats('b3', [8])], { kernel_shape: [1, 1] })]);
  const se = w.node('Mul', [dw, ex]);
  const out = w.node('Gemm', [w.node('Flatten', [w.node('GlobalAveragePool', [se])]), w.floats('fc', [5, 8]), w.floats('fcb', [5])], { transB: 1 });
  const { graph, tensors } = importOnnx(w.bytes(out));
  const model = Model.fromTensors(graph, tensors).eval();
  await pruneAndVerify(model, 'se');
  model.dispose();
});

// ShuffleNet's channel_shuffle and channel_slice pin the channels they touch
// (see their rules in src/prune/channels.ts); the convs inside the branches prune.
test("H12's PyTorch fixtures with residual adds, concat, depthwise convs, SE and channel shuffle / split (opset 13, BatchNorm unfused): 30 % pruned (global L1), exported and verified", async () => {
  const { readImportFixture, readImportManifest } = await import('../export/onnx/import-fixtures.js');
  const wanted = ['resnet_tiny', 'mobilenetv2_tiny', 'se_net', 'densenet_tiny', 'squeezenet_tiny', 'mobilenetv3_tiny', 'shufflenet_tiny', 'shuffle_slice'];
  const files = readImportManifest().files.filter((f) => wanted.includes(f.model) && f.opset === 13 && !f.fused);
  assert.equal(files.length, wanted.length);
  for (const f of files) {
    const { graph, tensors } = importOnnx(readImportFixture(f), { source: f.file });
    const model = Model.fromTensors(graph, tensors).eval();
    await pruneAndVerify(model, f.file);
    model.dispose();
  }
});
