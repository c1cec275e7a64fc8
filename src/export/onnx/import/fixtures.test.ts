// H12's fixtures (PyTorch exports at opsets 9, 13, 17, fused and not, and a
// hand-built file of another exporter's idioms), iterated over the manifest:
// each supported one imports to outputs equal to PyTorch's reference and to
// onnxruntime on the original (relative 1e-4), exports again to the same
// function, trains one step with BatchNorm in training mode and gradients on
// every parameter, and saves and reloads bit-exactly. The others (none today)
// must fail with one OnnxImportError naming the file and listing their
// unsupported ops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model, hasTrait, loadCheckpoint, saveCheckpoint } from '../../../graph/index.js';
import { F, noGrad, randint, randn, tensor, tidy } from '../../../tensor/index.js';
import { exportOnnx } from '../export.js';
import { difference, readImportFixture, readImportManifest, readImportReference, runOnnxruntime } from '../import-fixtures.js';
import { importOnnx, OnnxImportError } from './import.js';

/** Fixtures the importer does not support yet, with the op types its error must list. */
const UNSUPPORTED_FIXTURES: Readonly<Record<string, readonly string[]>> = {
};

const manifest = readImportManifest();

for (const f of manifest.files) {
  const expectFail = UNSUPPORTED_FIXTURES[f.model];
  test(`fixture ${f.file}: ${expectFail ? 'one error listing its unsupported ops' : 'imports, equals PyTorch and onnxruntime, exports again, trains, reloads'}`, async () => {
    const bytes = readImportFixture(f);
    if (expectFail) {
      assert.throws(
        () => importOnnx(bytes, { source: f.file }),
        (e: unknown) => {
          assert.ok(e instanceof OnnxImportError, String(e));
          const msg = (e as Error).message;
          assert.ok(msg.startsWith(`${f.file}: cannot import`), msg);
          for (const op of expectFail) assert.match(msg, new RegExp(`^  ${op}: '`, 'm'), `${f.file}: ${op} not listed in\n${msg}`);
          return true;
        },
      );
      return;
    }
    const { graph, tensors } = importOnnx(bytes, { source: f.file });
    const model = Model.fromTensors(graph, tensors).eval();
    try {
      const ref = readImportReference(f);
      const x = tensor(ref.input, [f.batch, ...f.input_shape]);
      const y = noGrad(() => model.forward(x));
      const vsTorch = difference(y.data<'float32'>(), ref.output);
      assert.ok(vsTorch.maxRel <= 1e-4, `${f.file}: slimnet vs PyTorch ${vsTorch.maxRel}`);
      const ortOrig = await runOnnxruntime(bytes, ref.input, [f.batch, ...f.input_shape]);
      assert.ok(difference(y.data<'float32'>(), ortOrig.data).maxRel <= 1e-4, `${f.file}: slimnet vs onnxruntime`);
      const ortAgain = await runOnnxruntime(exportOnnx(model), ref.input, [f.batch, ...f.input_shape]);
      assert.ok(difference(ortAgain.data, ortOrig.data).maxRel <= 1e-4, `${f.file}: re-exported file vs the original in onnxruntime`);

      const dir = mkdtempSync(join(tmpdir(), 'slimnet-import-fx-'));
      try {
        const path = join(dir, 'm.safetensors');
        saveCheckpoint(path, model, { command: 'import', source: f.file });
        const loaded = loadCheckpoint(path).model.eval();
        const z = noGrad(() => loaded.forward(x));
        assert.equal(difference(z.data<'float32'>(), y.data<'float32'>()).maxAbs, 0, `${f.file}: reload changed outputs`);
        z.dispose();
        loaded.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }

      model.train();
      tidy(() => {
        const logits = model.forward(randn([2, ...f.input_shape]));
        F.crossEntropy(logits, randint(0, logits.size(1), [2])).backward();
      });
      for (const [k, p] of model.namedParameters()) {
        const g = p.grad;
        assert.ok(g, `${f.file}: no gradient for ${k}`);
        g.dispose();
      }
      if (!f.fused) assert.ok(model.graph.nodes.some((n) => hasTrait(n, 'norm')) || !f.ops.includes('BatchNormalization'), `${f.file}: BatchNormalization should stay a norm node`);
      for (const t of [x, y]) t.dispose();
    } finally {
      model.dispose();
    }
  });
}
