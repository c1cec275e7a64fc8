// The main job from an ONNX file (issue 14): a LeNet trained in PyTorch on the
// bundled digits (scripts/fixtures/make_onnx_lenet_digits.py, opset 13, no
// BatchNorm, dynamic batch) is imported, evaluated in slimnet on the same
// 2,000 test digits (same split, same normalisation: slimnet's mnist preset,
// which the script trained with), pruned by pruneRun with the data set given
// explicitly (an imported checkpoint records no data provenance), and the
// pruned model exported and verified in onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataLoader, checkpointData, evalTransform } from '../data/index.js';
import { tempDir } from '../data/testing.js';
import { loadCheckpoint } from '../graph/index.js';
import { IMPORT_FIXTURES_DIR } from '../export/onnx/import-fixtures.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { evaluate } from '../train/index.js';
import { importRun } from './import.js';
import { pruneRun } from './prune.js';

const ONNX = join(IMPORT_FIXTURES_DIR, 'lenet_digits_trained.onnx');
const INFO = JSON.parse(readFileSync(join(IMPORT_FIXTURES_DIR, 'lenet_digits_trained.json'), 'utf8')) as {
  test_accuracy: number;
  test_count: number;
  normalize: { mean: number[]; std: number[] };
};

test('import story: a PyTorch-trained LeNet from ONNX evaluates as in PyTorch, prunes within its floor and exports to onnxruntime', async (t) => {
  const dir = tempDir(t, 'slimnet-import-story-');
  const ckpt = join(dir, 'imported.safetensors');
  const imp = await importRun({ model: ONNX, out: ckpt, verify: true });
  assert.ok(imp.ok, `verify: max rel diff ${imp.maxRelDiff}`);
  assert.ok(imp.maxRelDiff! <= 1e-4);

  const { model, meta } = loadCheckpoint(ckpt);
  assert.equal(meta.command, 'import');
  assert.equal(meta.source, ONNX);
  assert.equal(meta.dataset, undefined, 'an import records no data set');

  // The data prune will use: mnist-digits given explicitly, slimnet's default mnist normalisation = what PyTorch trained with.
  const data = checkpointData(meta, { dataset: 'mnist-digits' });
  assert.deepEqual(data.norm, INFO.normalize);
  assert.equal(data.test.length, INFO.test_count);
  const loader = new DataLoader(data.test, { batchSize: 500, transform: evalTransform(data.norm) });
  let acc: number;
  try {
    model.eval();
    acc = (await evaluate(model, loader, data.classes.length)).accuracy;
  } finally {
    model.dispose();
    await loader.close();
  }
  assert.ok(Math.abs(acc * 100 - INFO.test_accuracy) <= 0.1, `slimnet ${(acc * 100).toFixed(2)} % vs PyTorch ${INFO.test_accuracy} %`);

  const r = await pruneRun({
    checkpoint: ckpt, dataset: 'mnist-digits', criterion: 'l1', scope: 'global', stepFraction: 0.15, maxSteps: 2,
    retrainIters: 20, lr: 1e-3, maxDrop: 1, latencyRuns: 1, runsDir: dir,
  });
  t.diagnostic(`PyTorch ${INFO.test_accuracy} %, imported ${(acc * 100).toFixed(2)} %; prune: ${r.steps} steps, kept ${r.keptStep}, floor ${r.floor} on ${r.floorSplit}, ` +
    `base ${r.baseFloorAccuracy} → ${r.prunedFloorAccuracy}, test ${r.baseTestAccuracy} → ${r.prunedTestAccuracy}, params ${r.paramsBefore} → ${r.paramsAfter}`);
  assert.ok(Math.abs(r.baseTestAccuracy * 100 - INFO.test_accuracy) <= 0.1, `prune's base test accuracy ${r.baseTestAccuracy}`);
  assert.ok(r.keptStep >= 1, `no step met the floor: ${r.stopReason}`);
  assert.ok(r.paramsAfter < r.paramsBefore, 'channels removed');
  assert.ok(r.channels.some((c) => c.after < c.before), 'a layer lost channels');
  assert.ok(r.prunedFloorAccuracy >= r.floor!, `kept ${r.prunedFloorAccuracy} under the floor ${r.floor}`);
  assert.ok(existsSync(r.onnx));

  const pruned = loadCheckpoint(r.checkpoint).model;
  try {
    pruned.eval();
    const v = await verifyOnnx(pruned, readFileSync(r.onnx), { batch: 4, seed: 1 });
    assert.deepEqual(v.problems, []);
    assert.ok(v.maxAbsDiff <= 1e-4, `pruned.onnx vs slimnet: ${v.maxAbsDiff}`);
  } finally {
    pruned.dispose();
  }
});
