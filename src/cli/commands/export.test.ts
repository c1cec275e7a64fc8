// `slimnet export --verify` in a child process on a checkpoint with NaN
// weights: it exits 1 and prints what verify found (which output, which
// side, how many values), not only an infinite difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../../data/testing.js';
import { Model, saveCheckpoint } from '../../graph/index.js';
import { buildArch } from '../../models/index.js';
import { noGrad } from '../../tensor/index.js';
import { cli } from '../testing.js';

test('slimnet export --verify: NaN weights exit 1 and print the problems', async (t) => {
  const dir = tempDir(t, 'slimnet-export-cli-');
  const m = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  noGrad(() => m.namedTensors().find(([k]) => k === 'fc2.bias')![1].fill_(Number.NaN));
  const ckpt = join(dir, 'nan.safetensors');
  saveCheckpoint(ckpt, m);
  m.dispose();
  const r = await cli(['export', '--checkpoint', ckpt, '--out', join(dir, 'nan.onnx'), '--verify']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /FAILED/);
  assert.match(r.stdout, /^verify: output '.+': onnxruntime gives \d+ NaN values? of \d+ .*NaN or infinite weights/m);
  assert.match(r.stdout, /^verify: output '.+': slimnet gives \d+ NaN values? of \d+/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
