// `slimnet import` in a child process: the summary table after --verify, the
// JSON report, and an unsupported file as one line with no stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../data/testing.js';
import { Model } from '../../graph/index.js';
import { buildArch } from '../../models/index.js';
import { exportOnnx } from '../../export/onnx/export.js';
import { OnnxWriter } from '../../export/onnx/import/testing.js';
import { cli } from '../testing.js';

test('slimnet import --verify prints the lines and the summary table; --json one object; an unsupported file one line', async (t) => {
  const dir = tempDir(t, 'slimnet-import-cli-');
  const file = join(dir, 'lenet.onnx');
  const m = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 }).eval();
  writeFileSync(file, exportOnnx(m));
  m.dispose();
  const r = await cli(['import', file, '--verify']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^verify: .* \(ok, tolerance 0\.0001\)$/m);
  assert.match(r.stdout, /^name +kind +output shape/m);
  assert.ok(existsSync(join(dir, 'lenet.safetensors')));
  const j = await cli(['import', file, '--out', join(dir, 'x.safetensors'), '--json']);
  assert.equal(j.code, 0, j.stderr);
  const report = JSON.parse(j.stdout) as { out: string; summary: { totals: { params: number } }; params: number };
  assert.equal(report.summary.totals.params, report.params);
  const w = new OnnxWriter([1, 4, 4]);
  const bad = join(dir, 'bad.onnx');
  writeFileSync(bad, w.bytes(w.node('Celu', ['x'])));
  const e = await cli(['import', bad]);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /bad\.onnx: cannot import 1 node/);
  assert.doesNotMatch(e.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!existsSync(join(dir, 'bad.safetensors')));
});
