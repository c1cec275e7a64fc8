// The committed ONNX import fixtures are sound: every file in the manifest
// exists, stays small, holds the ops the manifest lists, and onnxruntime on it
// gives PyTorch's stored output for the stored input (max relative
// difference ≤ 1e-4), at every opset and in both the fused and unfused
// variants. The importer's tests rely on this.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { difference, IMPORT_FIXTURES_DIR, readImportFixture, readImportManifest, readImportReference, runOnnxruntime } from './import-fixtures.js';

const manifest = readImportManifest();

test('the manifest lists the small models at opsets 9, 13 and 17, fused and not, within the size limits', () => {
  const models = new Set(manifest.files.map((f) => f.model));
  for (const m of ['lenet', 'resnet_tiny', 'mobilenetv2_tiny', 'se_net', 'shufflenet_tiny', 'shuffle_slice', 'densenet_tiny', 'squeezenet_tiny', 'mobilenetv3_tiny', 'misc_ops']) {
    assert.ok(models.has(m), `manifest has no ${m}`);
  }
  assert.deepEqual(manifest.opsets, [9, 13, 17]);
  let total = 0;
  for (const f of manifest.files) {
    const size = statSync(join(IMPORT_FIXTURES_DIR, f.file)).size;
    assert.equal(size, f.bytes, f.file);
    assert.ok(size < 400 * 1024, `${f.file}: ${size} bytes`);
    total += size;
  }
  assert.ok(total < 4 * 1024 * 1024, `fixtures total ${total} bytes`);
  // what the importer must meet: unfused BN, shape subgraphs, Clip, Split, Transpose
  const unfused = manifest.files.filter((f) => !f.fused);
  assert.ok(unfused.some((f) => f.model === 'resnet_tiny' && f.ops.includes('BatchNormalization')));
  assert.ok(manifest.files.some((f) => f.ops.includes('Shape') && f.ops.includes('Gather') && f.ops.includes('Reshape')));
  assert.ok(manifest.files.some((f) => f.ops.includes('Split') && f.ops.includes('Transpose')));
  assert.ok(manifest.files.some((f) => f.ops.includes('HardSwish')));
  assert.ok(manifest.files.some((f) => f.opset === 9 && f.ops.includes('Clip')));
});

for (const f of manifest.files) {
  test(`${f.file}: onnxruntime gives PyTorch's output (relative difference ≤ 1e-4)`, async () => {
    const ref = readImportReference(f);
    assert.deepEqual(ref.input_shape, [f.batch, ...f.input_shape]);
    const out = await runOnnxruntime(readImportFixture(f), ref.input, ref.input_shape);
    assert.deepEqual(out.shape, ref.output_shape);
    const d = difference(out.data, ref.output);
    assert.ok(d.maxRel <= 1e-4, `${f.file}: max abs ${d.maxAbs}, max rel ${d.maxRel}`);
  });
}

test('difference: relative to the reference scale; a NaN or a length mismatch is infinite', () => {
  assert.deepEqual(difference([1, 2], [1, 4]), { maxAbs: 2, maxRel: 0.5 });
  assert.equal(difference([NaN], [NaN]).maxAbs, Infinity);
  assert.equal(difference([1], [1, 2]).maxRel, Infinity);
});
