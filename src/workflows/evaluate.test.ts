// evaluateRun on a checkpoint whose weights hold NaN (a diverged run): the
// figures come with a warning that names the cause, in the report, through
// the observer and on the command line's stderr; finite weights get none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Model, saveCheckpoint } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { full } from '../tensor/index.js';
import { tempDir } from '../data/testing.js';
import { loadDataset } from '../data/index.js';
import { cli } from '../cli/testing.js';
import { evaluateRun } from './evaluate.js';

function lenetCheckpoint(path: string, poison: boolean): void {
  const model = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  try {
    if (poison) {
      const state = Object.fromEntries(model.namedTensors());
      const w = state['fc2.weight']!;
      const nan = full(w.shape, NaN);
      model.loadStateDict({ ...state, 'fc2.weight': nan });
      nan.dispose();
    }
    saveCheckpoint(path, model, { dataset: 'mnist-digits', arch: 'lenet5' });
  } finally {
    model.dispose();
  }
}

test('evaluating NaN weights warns that the outputs are not finite and names the tensor; finite weights do not', async (t) => {
  const dir = tempDir(t, 'slimnet-eval-');
  const bad = join(dir, 'nan.safetensors');
  const good = join(dir, 'ok.safetensors');
  lenetCheckpoint(bad, true);
  lenetCheckpoint(good, false);
  const lines: string[] = [];
  const r = await evaluateRun({ checkpoint: bad }, { onLog: (l) => lines.push(l) });
  assert.ok(Number.isNaN(r.loss));
  assert.equal(r.warnings.length, 1);
  // fc2 of a quarter-width LeNet: 10 × 256 weights.
  assert.match(r.warnings[0]!, /^the model's outputs are not finite \(loss NaN\): the accuracy above means nothing; 2,560 of its [\d,]+ weights are NaN or infinite \(fc2\.weight\)/);
  assert.deepEqual(lines, [`warning: ${r.warnings[0]}`]);
  assert.deepEqual((await evaluateRun({ checkpoint: good })).warnings, []);

  const c = await cli(['eval', '--checkpoint', bad, '--json']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /warning: the model's outputs are not finite/);
  assert.deepEqual((JSON.parse(c.stdout) as { warnings: string[] }).warnings, r.warnings);
});

test('an image folder is resized as the checkpoint records, else to the model input (checkpoints older than the record)', async (t) => {
  const dir = tempDir(t, 'slimnet-eval-folder-');
  const root = join(dir, 'images');
  for (const split of ['train', 'test']) {
    for (const c of ['a', 'b']) {
      mkdirSync(join(root, split, c), { recursive: true });
      await sharp(Buffer.alloc(40 * 36 * 3, c === 'a' ? 30 : 220), { raw: { width: 40, height: 36, channels: 3 } }).png().toFile(join(root, split, c, '0.png'));
    }
  }
  for (const [size, meta] of [[20, { imageSize: 20 }], [28, {}]] as const) {
    const model = Model.create(buildArch('lenet5', { inChannels: 3, classes: 2, imageSize: size, widthMultiplier: 0.25 }), { seed: 0 });
    const ckpt = join(dir, `${size}.safetensors`);
    saveCheckpoint(ckpt, model, { dataset: 'folder', root, arch: 'lenet5', ...meta });
    model.dispose();
    const r = await evaluateRun({ checkpoint: ckpt });
    assert.equal(r.count, 2, `${size} px: both test images (not the 224 px default, which the model does not take)`);
  }
});

test('a checkpoint trained on a class subset (classSubset) is evaluated on those classes, relabelled in its order', async (t) => {
  const dir = tempDir(t, 'slimnet-eval-subset-');
  const path = join(dir, 'two.safetensors');
  const model = Model.create(buildArch('lenet5', { classes: 2, widthMultiplier: 0.25 }), { seed: 0 });
  saveCheckpoint(path, model, { dataset: 'mnist-digits', arch: 'lenet5', classes: ['5', '3'], classSubset: ['5', '3'] });
  model.dispose();
  const r = await evaluateRun({ checkpoint: path });
  // Counted here on the whole test split: the 5s are class 0, the 3s class 1.
  const labels = Array.from(loadDataset('mnist-digits', 'test').labels());
  const fives = labels.filter((l) => l === 5).length;
  const threes = labels.filter((l) => l === 3).length;
  assert.deepEqual(r.classes, ['5', '3']);
  assert.equal(r.count, fives + threes);
  assert.deepEqual(r.perClass.map((c) => c.support), [fives, threes]);
  assert.deepEqual(r.confusion.map((row) => row.length), [2, 2]);
});
