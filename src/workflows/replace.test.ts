// replaceRun in-process on a small share of the bundled MNIST digits, from a
// resnet20 at width 0.25 trained by trainRun: a complete run (α per epoch as
// the schedule says, the originals removed at α = 0 with the parameter count
// counted from the original's kernels, ONNX equal), frozen originals left
// bit for bit with the logit regression's teacher run once per step, a
// collapse that stops the schedule and merges at α > 0, a resumed run equal
// to an uninterrupted one, a narrow branch (--branch-width 0.5) kept as two
// 1×1 convs at α = 0 with the count its ranks give, --alpha per-layer (the
// convs through the schedule one after another in graph order, a collapse
// finishing each conv at its own α), and bad input refused before any run
// directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, summarize, type Model } from '../graph/index.js';
import { loadTensors, manualSeed, noGrad, randn, type Tensor } from '../tensor/index.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { alphaOf } from '../replace/index.js';
import { RUN_FILES } from '../runs/index.js';
import { UsageError } from '../util/errors.js';
import { trainRun } from './train.js';
import { replaceRun, type ReplaceSpec } from './replace.js';

let root = '';
let original = '';
const RUN = { batchSize: 16, latencyRuns: 2 } as const;
// 8,000 × 0.05 = 400 images, 40 held out: 360 training images, 23 batches of 16.
const STEPS_PER_EPOCH = 23;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'slimnet-wf-replace-'));
  const r = await trainRun({ dataset: 'mnist-digits', fraction: 0.05, batchSize: 16, arch: 'resnet20', width: 0.25, epochs: 2, optimizer: 'adam', lr: 0.01, runsDir: root });
  original = r.checkpoints.last;
});
after(() => rmSync(root, { recursive: true, force: true }));

function weights(path: string, keys?: readonly string[]): Record<string, string> {
  const { tensors } = loadTensors(path);
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (!keys || keys.includes(k)) {
      const d = t.data<'float32'>();
      out[k] = Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
    }
    t.dispose();
  }
  return out;
}

const outputs = (m: Model, x: Tensor): Float32Array =>
  noGrad(() => {
    const y = m.forward(x, { training: false });
    const o = Float32Array.from(y.data<'float32'>());
    y.dispose();
    return o;
  });
const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** The final model computes what the run's last (blended) weights compute, and its ONNX file the same. */
async function checkFinal(finalPath: string, onnxPath: string, lastPath: string): Promise<Model> {
  const fin = loadCheckpoint(finalPath).model.eval();
  const last = loadCheckpoint(lastPath).model.eval();
  manualSeed(3);
  const x = randn([4, 1, 28, 28]);
  const want = outputs(last, x);
  assert.ok(maxDiff(outputs(fin, x), want) <= 1e-4 * Math.max(1, ...Array.from(want, Math.abs)), 'finishing changed the outputs');
  const v = await verifyOnnx(fin, readFileSync(onnxPath), { batch: 2 });
  assert.ok(v.problems.length === 0 && v.maxAbsDiff <= 1e-4, `final.onnx differs by ${v.maxAbsDiff}`);
  assert.ok(!fin.graph.nodes.some((n) => n.kind === 'blend' || n.name.endsWith('_branch')), 'no blend node or branch left');
  x.dispose();
  last.dispose();
  return fin;
}

test('replaceRun: α per epoch follows the schedule; at α = 0 the originals are gone, with the parameter count their kernels give; ONNX equal', async () => {
  const lines: string[] = [];
  const r = await replaceRun({ ...RUN, checkpoint: original, paramShare: 0.65, alphaSchedule: 'linear:2', patience: 2, collapsePp: 100, runsDir: root }, { onLog: (l) => lines.push(l) });
  assert.equal(r.status, 'complete');
  assert.equal(r.run, join(root, 'replace', 'mnist-digits-resnet20', 'version_0'));
  // linear:2 is α 0.5 then 0, each held two epochs.
  assert.deepEqual(r.epochs.map((e) => e.alpha), [0.5, 0.5, 0, 0]);
  assert.equal(r.config.epochs, 4);
  assert.equal(r.config.schedule, 'constant', 'the learning rate stays put across the α schedule');
  const config = JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.equal(config.alphaSchedule, 'linear:2');
  assert.deepEqual(config.layers, r.selection.convs);

  // The predicted count, from the original's own kernels: each replaced o×i×3×3 kernel keeps o×i weights.
  const orig = loadCheckpoint(original).model;
  const saved = r.selection.convs.reduce((a, c) => {
    const [o, i, kh, kw] = orig.tensor(`${c}.weight`).shape as number[];
    return a + o! * i! * (kh! * kw! - 1);
  }, 0);
  const before = summarize(orig.graph).totals.params;
  assert.ok(saved / before >= 0.65, 'the share asked is reached');
  assert.ok(r.final && !r.final.merged && r.final.alpha === 0);
  assert.equal(r.final.params, before - saved);
  const fin = await checkFinal(r.final.checkpoint, r.final.onnx, r.checkpoints.last);
  assert.equal(summarize(fin.graph).totals.params, before - saved);
  for (const c of r.selection.convs) assert.deepEqual(fin.tensor(`${c}.weight`).shape.slice(2), [1, 1], `${c} is a 1×1 conv`);
  assert.deepEqual(alphaOf(loadCheckpoint(r.checkpoints.last).model), Object.fromEntries(r.selection.convs.map((c) => [c, 0])));
  fin.dispose();
  orig.dispose();

  const result = JSON.parse(readFileSync(join(r.run, 'result.json'), 'utf8')) as { final: { params: number }; epochs: { alpha: number }[] };
  assert.equal(result.final.params, before - saved);
  for (const png of ['accuracy.png', 'loss.png']) assert.deepEqual([...readFileSync(join(r.run, png)).subarray(1, 4)], [...Buffer.from('PNG')]);
  assert.ok(existsSync(join(r.run, 'epochs.csv')));
  assert.ok(lines.some((l) => /original .* ms/.test(l)) && lines.some((l) => /replaced \(α = 0\)/.test(l)), 'the final table is in the log');
});

test('replaceRun: frozen originals are not updated (bit for bit); logit-mse runs the original as teacher once per step', async () => {
  const r = await replaceRun({ ...RUN, checkpoint: original, layers: 'layer3.0.conv2,layer3.1.conv1', alphaSchedule: 'step:0.5,0', freezeOriginal: true, loss: 'logit-mse', collapsePp: 100, runsDir: root });
  assert.equal(r.status, 'complete');
  assert.equal(r.teacherForwards, 2 * STEPS_PER_EPOCH, 'one teacher forward per training step, none in validation');
  const frozen = ['layer3.0.conv2.weight', 'layer3.1.conv1.weight'];
  assert.deepEqual(weights(r.checkpoints.last, frozen), weights(original, frozen), 'the replaced convs\' original kernels are unchanged');
  const others = ['layer3.0.conv1.weight', 'layer3.0.conv2_branch.weight'];
  const trained = weights(r.checkpoints.last, others);
  const start = loadCheckpoint(original).model;
  assert.notEqual(trained['layer3.0.conv1.weight'], weights(original, others)['layer3.0.conv1.weight'], 'the other layers train');
  // The centre-tap branch started as the kernel's centre; it trained away from it.
  const centre = start.tensor('layer3.0.conv2.weight').narrow(2, 1, 1).narrow(3, 1, 1).contiguous().data<'float32'>();
  assert.notEqual(trained['layer3.0.conv2_branch.weight'], Buffer.from(centre.buffer, centre.byteOffset, centre.byteLength).toString('base64'));
  start.dispose();
});

test('replaceRun: a collapse stops the schedule, keeps the last epoch within the bound and merges there (α > 0)', async () => {
  // Epoch 1 at α 0.99 barely moves the model; epoch 2 at α 0.01 is nearly the random 1×1 branches alone: chance accuracy.
  const r = await replaceRun({ ...RUN, checkpoint: original, paramShare: 0.65, alphaSchedule: 'step:0.99,0.01,0', branchInit: 'random', optimizer: 'adam', lr: 1e-7, collapsePp: 15, runsDir: root });
  assert.equal(r.status, 'early-stopped');
  assert.equal(r.epochsDone, 2, 'the third α never trained');
  assert.ok(r.collapse && r.collapse.epoch === 2 && r.collapse.keptEpoch === 1);
  assert.ok(Math.abs(r.collapse.keptAlpha - 0.99) < 1e-7);
  assert.ok(r.collapse.valAccuracy < r.original.valAccuracy - 0.15);
  assert.ok(r.final && r.final.merged && Math.abs(r.final.alpha - 0.99) < 1e-7);
  assert.equal(r.final.params, r.original.params, 'merged: one k×k conv per layer again');
  // last.safetensors holds the kept epoch's weights, not the collapsed ones.
  assert.deepEqual(weights(r.checkpoints.last), weights(join(r.run, 'kept.safetensors')));
  const fin = await checkFinal(r.final.checkpoint, r.final.onnx, r.checkpoints.last);
  fin.dispose();
});

test('replaceRun: an aborted run resumed with --version ends with the same weights as one run straight through', async () => {
  const spec: ReplaceSpec = { ...RUN, checkpoint: original, paramShare: 0.5, alphaSchedule: 'step:0.5,0', branchInit: 'random', collapsePp: 100, runsDir: root };
  const straight = await replaceRun(spec);
  const ac = new AbortController();
  const first = await replaceRun(spec, {
    signal: ac.signal,
    onProgress: (e) => {
      if (e.id === 'train' && e.label.startsWith('epoch 2/') && e.done >= 3 * 16) ac.abort(); // inside the second epoch (the second α)
    },
  });
  assert.equal(first.status, 'interrupted');
  assert.equal(first.final, null);
  // A config.json written before --alpha (no alphaMode) resumes as shared, also when --alpha shared is given.
  const configPath = join(first.run, RUN_FILES.config);
  const { alphaMode, ...older } = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  assert.equal(alphaMode, 'shared', 'config.json records the α mode');
  writeFileSync(configPath, JSON.stringify(older));
  const resumed = await replaceRun({ ...spec, alphaMode: 'shared', resume: first.version });
  assert.equal(resumed.status, 'complete');
  assert.deepEqual(resumed.epochs.map((e) => e.alpha), [0.5, 0]);
  assert.deepEqual(weights(resumed.checkpoints.last), weights(straight.checkpoints.last));
  assert.deepEqual(weights(resumed.final!.checkpoint), weights(straight.final!.checkpoint));
  await assert.rejects(replaceRun({ ...spec, alphaSchedule: 'step:0.25,0', resume: first.version }), (e: unknown) => e instanceof UsageError && /was run with --schedule "step:0.5,0"/.test((e as Error).message));
  await assert.rejects(replaceRun({ ...spec, alphaMode: 'per-layer', resume: first.version }), (e: unknown) => e instanceof UsageError && /was run with --alpha "shared"/.test((e as Error).message));
});

test('replaceRun: bad input is one UsageError naming the flag, before any run directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-wf-replace-bad-'));
  try {
    const fc = loadCheckpoint(original).model.graph.nodes.find((n) => n.kind === 'linear')!.name;
    const cases: [Partial<ReplaceSpec> & Record<string, unknown>, RegExp][] = [
      [{ layers: fc }, new RegExp(`^--layers: cannot replace '${fc}': '${fc}' is a linear node, not a convolution`)],
      [{ layers: 'nope' }, /^--layers: cannot replace 'nope': there is no node 'nope'/],
      [{ paramShare: 0.95 }, /^--param-share: .*less than the 95\.0 % asked/],
      [{ alphaSchedule: 'expo:0.1' }, /^--schedule: schedule 'expo:0\.1': unknown schedule 'expo'/],
      [{ alphaSchedule: 'step:0.5,0.7' }, /^--schedule: .*must decrease strictly/],
      [{ patience: 0 }, /^--patience must be a whole number/],
      [{ layers: 'layer1.0.conv1', paramShare: 0.5 }, /either --layers or --param-share/],
      [{ epochs: 3 }, /^--epochs does not apply to replace/],
      [{ dataset: 'fashion-mnist' }, /^--dataset does not apply to replace/],
      [{ collapsePp: -1 }, /^--collapse-pp must be in \[0, 100\]/],
      [{ loss: 'kd' as 'ce' }, /^--loss must be one of ce, logit-mse/],
      [{ branchWidth: 0 }, /^--branch-width must be in \(0, 1\]/],
      [{ alphaMode: 'each' as 'shared' }, /^--alpha must be one of shared, per-layer/],
      [{ branchWidth: 1.5 }, /^--branch-width must be in \(0, 1\]/],
      [{ checkpoint: join(dir, 'missing.safetensors') }, /^--checkpoint .*missing\.safetensors does not exist/],
    ];
    for (const [spec, re] of cases) {
      await assert.rejects(
        replaceRun({ ...RUN, checkpoint: original, runsDir: dir, ...spec } as ReplaceSpec),
        (e: unknown) => e instanceof UsageError && re.test((e as Error).message),
        `${JSON.stringify(spec)} → ${re}`,
      );
    }
    assert.deepEqual(readdirSync(dir), [], 'no run directory was created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replaceRun --branch-init lsq: the branches start from the least-squares fit (logged per conv), not the centre tap', async () => {
  const dir = join(root, 'lsq');
  const common: ReplaceSpec = { ...RUN, checkpoint: original, paramShare: 0.5, alphaSchedule: 'step:0', optimizer: 'sgd', lr: 1e-12, collapsePp: 100, runsDir: dir };
  const lines: string[] = [];
  const lsq = await replaceRun({ ...common, branchInit: 'lsq' }, { onLog: (l) => lines.push(l) });
  const centre = await replaceRun({ ...common, branchInit: 'centre' });
  const fit = lines.find((l) => l.startsWith('lsq branch init on 512 training images'));
  const convs = lsq.selection.convs;
  assert.ok(fit && convs.every((c) => fit.includes(c)), `the fit is logged per conv: ${fit}`);
  const a = weights(lsq.final!.checkpoint, convs.map((c) => `${c}.weight`));
  const b = weights(centre.final!.checkpoint, convs.map((c) => `${c}.weight`));
  assert.deepEqual(Object.keys(a), Object.keys(b));
  assert.ok(Object.keys(a).every((k) => a[k] !== b[k]), 'lsq and centre give other branch weights');
});

test('replaceRun --branch-width 0.5: at α = 0 each replaced conv is two 1×1 convs (c_reduce, c) of rank round(0.5 · min(Cin, Cout)), with the parameter count those ranks give; ONNX equal', async () => {
  const dir = join(root, 'narrow');
  const lines: string[] = [];
  const r = await replaceRun({ ...RUN, checkpoint: original, paramShare: 0.5, branchWidth: 0.5, alphaSchedule: 'step:0.5,0', collapsePp: 100, runsDir: dir }, { onLog: (l) => lines.push(l) });
  assert.equal(r.status, 'complete');
  const config = JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.equal(config.branchWidth, 0.5);
  const orig = loadCheckpoint(original).model;
  // By hand: each replaced o×i×kh×kw kernel becomes r·(i + o) weights.
  const ranks = new Map<string, number>();
  const saved = r.selection.convs.reduce((a, c) => {
    const [o, i, kh, kw] = orig.tensor(`${c}.weight`).shape as number[];
    ranks.set(c, Math.max(1, Math.round(0.5 * Math.min(i!, o!))));
    return a + o! * i! * kh! * kw! - ranks.get(c)! * (i! + o!);
  }, 0);
  const before = summarize(orig.graph).totals.params;
  assert.ok(saved / before >= 0.5, 'the share asked is reached');
  assert.ok(r.final && !r.final.merged && r.final.alpha === 0);
  assert.equal(r.final.params, before - saved);
  assert.equal(r.selection.paramsAfter, before - saved);
  const fin = await checkFinal(r.final.checkpoint, r.final.onnx, r.checkpoints.last);
  assert.equal(summarize(fin.graph).totals.params, before - saved);
  for (const c of r.selection.convs) {
    const [o, i] = orig.tensor(`${c}.weight`).shape as number[];
    assert.deepEqual([fin.tensor(`${c}_reduce.weight`).shape, fin.tensor(`${c}.weight`).shape], [[ranks.get(c), i, 1, 1], [o, ranks.get(c), 1, 1]], `${c}: rank ${ranks.get(c)}`);
  }
  assert.ok(!fin.graph.nodes.some((n) => n.name.includes('_branch')), 'no branch node left');
  assert.ok(lines.some((l) => /narrow 1×1 branches \(width 0\.5/.test(l)), 'the log says the branches are narrow');
  fin.dispose();
  orig.dispose();
});

/** alpha.jsonl's per-conv maps, epoch by epoch. */
const alphaMaps = (run: string): Record<string, number>[] =>
  readFileSync(join(run, 'alpha.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { alphas: Record<string, number> }).alphas);

test('replaceRun --alpha per-layer: the convs run through the schedule one after another in graph order (epochs = convs × values × patience); at α = 0 the parameter count of their kernels', async () => {
  const dir = join(root, 'per-layer');
  // Named out of graph order: layer2.0.conv1 (a) still goes first.
  const r = await replaceRun({ ...RUN, checkpoint: original, layers: 'layer3.0.conv2,layer2.0.conv1', alphaMode: 'per-layer', alphaSchedule: 'step:0.5,0', patience: 1, collapsePp: 100, runsDir: dir });
  assert.equal(r.status, 'complete');
  assert.equal(r.config.epochs, 4);
  const config = JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.equal(config.alphaMode, 'per-layer');
  const [a, b] = ['layer2.0.conv1', 'layer3.0.conv2'];
  const want = [{ [a]: 0.5, [b]: 1 }, { [a]: 0, [b]: 1 }, { [a]: 0, [b]: 0.5 }, { [a]: 0, [b]: 0 }];
  assert.deepEqual(alphaMaps(r.run), want);
  assert.deepEqual(r.epochs.map((e) => e.alphas), want);
  assert.deepEqual(r.epochs.map((e) => e.alpha), [0.75, 0.5, 0.25, 0], 'the plots\' α is the mean over the convs');
  const orig = loadCheckpoint(original).model;
  const saved = [a, b].reduce((s, c) => {
    const [o, i, kh, kw] = orig.tensor(`${c}.weight`).shape as number[];
    return s + o! * i! * (kh! * kw! - 1);
  }, 0);
  const before = summarize(orig.graph).totals.params;
  assert.ok(r.final && !r.final.merged && r.final.alpha === 0);
  assert.deepEqual(r.final.alphas, { [a]: 0, [b]: 0 });
  assert.equal(r.final.params, before - saved);
  const fin = await checkFinal(r.final.checkpoint, r.final.onnx, r.checkpoints.last);
  assert.equal(summarize(fin.graph).totals.params, before - saved);
  fin.dispose();
  orig.dispose();
});

test('replaceRun --alpha per-layer: a collapse keeps the last epoch within the bound and finishes each conv at its own α (one branch alone, one merged)', async () => {
  const dir = join(root, 'per-layer-collapse');
  // layer1.0.conv1 goes through α 0.99, 0.01, 0 and holds; then layer1.0.conv2 at 0.99 holds, and at 0.01 (nearly its random branch alone) accuracy falls to chance.
  const [a, b] = ['layer1.0.conv1', 'layer1.0.conv2'];
  const r = await replaceRun({ ...RUN, checkpoint: original, layers: `${a},${b}`, alphaMode: 'per-layer', alphaSchedule: 'step:0.99,0.01,0', branchInit: 'random', optimizer: 'adam', lr: 1e-7, collapsePp: 15, runsDir: dir });
  assert.equal(r.status, 'early-stopped');
  assert.equal(r.epochsDone, 5);
  const f32 = (x: number): number => Math.fround(x);
  assert.ok(r.collapse && r.collapse.epoch === 5 && r.collapse.keptEpoch === 4);
  assert.deepEqual(r.collapse.keptAlphas, { [a]: 0, [b]: f32(0.99) });
  assert.deepEqual(r.collapse.alphas, { [a]: 0, [b]: f32(0.01) });
  assert.ok(r.final && r.final.merged);
  assert.deepEqual(r.final.alphas, { [a]: 0, [b]: f32(0.99) });
  // a is its 1×1 branch alone, b one merged 3×3 kernel again.
  const orig = loadCheckpoint(original).model;
  const [o, i, kh, kw] = orig.tensor(`${a}.weight`).shape as number[];
  assert.equal(r.final.params, summarize(orig.graph).totals.params - o! * i! * (kh! * kw! - 1));
  const fin = await checkFinal(r.final.checkpoint, r.final.onnx, r.checkpoints.last);
  assert.deepEqual([fin.tensor(`${a}.weight`).shape.slice(2), fin.tensor(`${b}.weight`).shape.slice(2)], [[1, 1], [kh, kw]]);
  fin.dispose();
  orig.dispose();
});
