// explainRun and `slimnet explain` on tiny lenet5 checkpoints (random
// weights, mnist-digits provenance), 3 images: the files and their contents
// (maps at the layer's or the input's resolution, targets, metadata), the
// self-contained report.html, a model compared with itself agreeing exactly,
// an interruption keeping whole methods, and each bad input failing with one
// clear error before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model, saveCheckpoint } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { loadTensors } from '../tensor/index.js';
import { tempDir } from '../data/testing.js';
import { loadDataset } from '../data/index.js';
import { cli, isPng } from '../cli/testing.js';
import { SlimnetError } from '../util/errors.js';
import { ExplainError } from '../explain/index.js';
import { listRuns } from './runs.js';
import { explainRun, type ExplainSpec } from './explain.js';

function checkpoint(path: string, opts: { width: number; seed: number; imageSize?: number }): string {
  const model = Model.create(buildArch('lenet5', { widthMultiplier: opts.width, ...(opts.imageSize ? { imageSize: opts.imageSize } : {}) }), { seed: opts.seed });
  saveCheckpoint(path, model, { dataset: 'mnist-digits', arch: 'lenet5' });
  model.dispose();
  return path;
}

function setup(t: { after(fn: () => void): void }): { dir: string; a: string; b: string } {
  const dir = tempDir(t, 'slimnet-explain-');
  return { dir, a: checkpoint(join(dir, 'a.safetensors'), { width: 0.25, seed: 3 }), b: checkpoint(join(dir, 'b.safetensors'), { width: 0.5, seed: 1 }) };
}

const FAST: Partial<ExplainSpec> = { images: 3, methods: ['gradcam', 'saliency', 'lime'], methodParams: { lime: { samples: 48 } } };

test('explain writes maps.safetensors, grids, tables and a self-contained report.html; a model compared with itself agrees exactly', async (t) => {
  const { dir, a, b } = setup(t);
  const out = join(dir, 'out');
  const lines: string[] = [];
  const r = await explainRun({ checkpoint: a, compare: [b, a], out, ...FAST }, { onLog: (l) => lines.push(l) });
  assert.equal(r.interrupted, false);
  assert.deepEqual(r.models.map((m) => m.name), ['a', 'b', 'c']);
  assert.deepEqual(r.indices, [0, 1, 2]);
  for (const f of ['maps.safetensors', 'grid.png', 'report.html', 'metrics.json', 'faithfulness.csv', 'agreement.csv', 'per_class.csv', 'disagreements.csv', 'run.log']) assert.ok(existsSync(join(out, f)), f);
  assert.ok(isPng(join(out, 'grid.png')));

  // maps.safetensors: the batch, int64 targets, raw float32 maps (CAMs at the layer's resolution, pixel methods at the input's), and their provenance.
  const { tensors, metadata } = loadTensors(join(out, 'maps.safetensors'));
  try {
    assert.deepEqual(tensors.input!.shape, [3, 1, 28, 28]);
    const layerA = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
    const [, lh, lw] = layerA.graph.shape(r.models[0]!.layer!);
    layerA.dispose();
    assert.ok(lh! < 28 && lh! > 1, `CAM layer resolution ${lh}`);
    for (const m of ['a', 'b', 'c']) {
      assert.equal(tensors[`targets.${m}`]!.dtype, 'int64');
      assert.deepEqual(tensors[`targets.${m}`]!.shape, [3]);
      assert.deepEqual(tensors[`${m}.gradcam`]!.shape, [3, lh, lw]);
      for (const px of ['saliency', 'lime']) assert.deepEqual(tensors[`${m}.${px}`]!.shape, [3, 28, 28], `${m}.${px}`);
      for (const method of ['gradcam', 'saliency', 'lime']) assert.equal(tensors[`${m}.${method}`]!.dtype, 'float32');
    }
    assert.equal(metadata['a.checkpoint'], a);
    assert.equal(metadata['b.checkpoint'], b);
    assert.equal(metadata['a.layer'], r.models[0]!.layer);
    const methods = JSON.parse(metadata.methods!) as Record<string, { resolution: string; params: Record<string, number> }>;
    assert.equal(methods.gradcam!.resolution, 'layer');
    assert.equal(methods.lime!.resolution, 'input');
    assert.equal(methods.lime!.params.samples, 48);
    assert.deepEqual(tensors['targets.a']!.toArray(), r.models[0]!.targets);
  } finally {
    for (const x of Object.values(tensors)) x.dispose();
  }

  // The model compared with itself: the same maps, so Spearman 1 and IoU 1 for every (deterministic, seeded) method.
  for (const p of r.agreement.filter((p) => p.a === 'a' && p.b === 'c')) {
    assert.ok(p.spearman.every((v) => Math.abs(v - 1) < 1e-12), `${p.method} spearman ${p.spearman}`);
    assert.deepEqual(p.topIoU, [1, 1, 1], p.method);
  }
  assert.equal(r.agreement.length, 3 * 3, '3 pairs x 3 methods');
  assert.equal(r.faithfulness.length, 3 * 3 * 3, 'images x models x methods');
  assert.ok(r.faithfulness.every((f) => f.deletionAuc >= 0 && f.deletionAuc <= 1 && f.insertionAuc >= 0 && f.insertionAuc <= 1));

  // report.html: one file, the PNGs embedded, the tables there, nothing fetched or run.
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<img src="data:image\/png;base64,[A-Za-z0-9+/]{100,}/);
  for (const h of ['Faithfulness', 'Agreement between models', 'Per class', 'mean deletion AUC', 'mean Spearman', 'Deletion AUC (RISE)']) assert.ok(html.includes(h), h);
  assert.doesNotMatch(html, /<script|<link|src="http|url\(http/);
  assert.ok(lines.some((l) => /model a: .*CAM layer/.test(l)));
  assert.ok(lines.some((l) => /compared models may explain different classes/.test(l)));
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { models: { name: string }[] };
  assert.deepEqual(metrics.models.map((m) => m.name), ['a', 'b', 'c']);
});

test('a run directory under runs/explain is listed by slimnet runs; an interruption keeps the methods finished for every model', async (t) => {
  const { dir, a, b } = setup(t);
  const runsDir = join(dir, 'runs');
  const ctl = new AbortController();
  // Abort once the first method is done for both models: gradcam stays, saliency never starts.
  const r = await explainRun({ checkpoint: a, compare: [b], runsDir, images: 2, methods: ['gradcam', 'saliency'], faithfulness: false }, { signal: ctl.signal, onProgress: (e) => e.done === 2 && ctl.abort() });
  assert.equal(r.interrupted, true);
  assert.deepEqual(r.methods.map((m) => m.name), ['gradcam']);
  assert.equal(r.version, 0);
  const rows = listRuns(runsDir);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.command, 'explain');
  assert.equal(rows[0]!.status, 'interrupted');
  const { tensors } = loadTensors(join(r.files.dir, 'maps.safetensors'));
  assert.deepEqual(Object.keys(tensors).sort(), ['a.gradcam', 'b.gradcam', 'input', 'targets.a', 'targets.b']);
  for (const x of Object.values(tensors)) x.dispose();
  assert.ok(existsSync(join(r.files.dir, 'report.html')));
});

test('bad input fails with one clear error before anything is written', async (t) => {
  const { dir, a, b } = setup(t);
  const big = checkpoint(join(dir, 'big.safetensors'), { width: 0.25, seed: 0, imageSize: 32 });
  const runsDir = join(dir, 'runs');
  const cases: [Partial<ExplainSpec>, RegExp, typeof SlimnetError][] = [
    [{ methods: ['gradcam', 'nope'] }, /unknown explanation method 'nope' \(available: .*gradcam/, ExplainError],
    [{ methodParams: { lime: { samples: 10, bogus: 1 } }, methods: ['lime'] }, /method 'lime' has no parameter 'bogus'/, ExplainError],
    [{ layer: 'conv9' }, /has no node 'conv9'/, ExplainError],
    [{ layer: 'fc1', methods: ['gradcam'] }, /layer 'fc1' of .* no spatial map for a CAM/, ExplainError],
    [{ compare: [big] }, /different input shapes.*\[1, 28, 28\].*\[1, 32, 32\]/, ExplainError],
    [{ compare: [join(dir, 'missing.safetensors')] }, /missing\.safetensors.*cannot read/, SlimnetError],
    [{ images: 2, indices: [1] }, /either --images N or --indices/, SlimnetError],
    [{ indices: [999999] }, /--indices: image 999999 is not in mnist-digits\/test/, SlimnetError],
  ];
  for (const [spec, what, kind] of cases) {
    await assert.rejects(explainRun({ checkpoint: a, runsDir, ...spec }), (e: unknown) => e instanceof kind && what.test((e as Error).message), JSON.stringify(spec));
  }
  assert.ok(!existsSync(runsDir), 'nothing written');
  // The CLI: one line naming the problem, exit 1; --help lists the options.
  const bad = await cli(['explain', '--checkpoint', a, '--compare', b, '--methods', 'gradcam,nope', '--runs-dir', runsDir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^slimnet explain: error: unknown explanation method 'nope'/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
  const help = await cli(['explain', '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--checkpoint', '--compare', '--methods', '--images', '--indices', '--dataset', '--split', '--target', '--layer', '--seed', '--method-param', '--no-faithfulness', '--sanity', '--out', '--json']) assert.ok(help.stdout.includes(flag), flag);
  assert.ok(!existsSync(runsDir), 'nothing written');
});

test('slimnet explain prints the tables and the files, or one JSON object with --json', async (t) => {
  const { dir, a } = setup(t);
  const out = join(dir, 'cli');
  const r = await cli(['explain', '--checkpoint', a, '--compare', a, '--indices', '4,9', '--methods', 'saliency,gradcam', '--target', 'label', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mean deletion AUC\s+mean insertion AUC/);
  assert.match(r.stdout, /a\|b\s+saliency\s+1\s+1\n/);
  assert.match(r.stdout, /wrote .*maps\.safetensors, grid\.png, report\.html/);
  const j = await cli(['explain', '--checkpoint', a, '--indices', '4', '--methods', 'saliency', '--no-faithfulness', '--out', join(dir, 'json'), '--json']);
  assert.equal(j.code, 0, j.stderr);
  const report = JSON.parse(j.stdout) as { indices: number[]; faithfulness: unknown[]; models: { targets: number[] }[] };
  assert.deepEqual(report.indices, [4]);
  assert.deepEqual(report.faithfulness, []);
  assert.equal(report.models[0]!.targets.length, 1);
});

test('a checkpoint trained on a class subset (classSubset) explains images of those classes, labelled in its order', async (t) => {
  const dir = tempDir(t, 'slimnet-explain-subset-');
  const path = join(dir, 'two.safetensors');
  const model = Model.create(buildArch('lenet5', { classes: 2, widthMultiplier: 0.25 }), { seed: 0 });
  saveCheckpoint(path, model, { dataset: 'mnist-digits', arch: 'lenet5', classes: ['5', '3'], classSubset: ['5', '3'] });
  model.dispose();
  const r = await explainRun({ checkpoint: path, out: join(dir, 'out'), images: 4, methods: ['saliency'], target: 'label', faithfulness: false });
  assert.deepEqual(r.classes, ['5', '3']);
  // The subset's first 4 images: found here in the whole test split, 5 → 0 and 3 → 1.
  const labels = Array.from(loadDataset('mnist-digits', 'test').labels());
  const first = labels.flatMap((l, i) => (l === 5 || l === 3 ? [i] : [])).slice(0, 4);
  assert.deepEqual(r.labels, first.map((i) => (labels[i] === 5 ? 0 : 1)));
  const { tensors } = loadTensors(join(dir, 'out', 'maps.safetensors'));
  try {
    assert.deepEqual(Array.from(tensors['targets.a']!.data<'int64'>(), Number), r.labels, '--target label explains each image\'s own class');
  } finally {
    for (const x of Object.values(tensors)) x.dispose();
  }
});
