// The seed-003 study on a tiny network and synthetic data: the grid's shape
// and stepping, curves monotone in the share removed, the random reference,
// the rankings, Table 4.1's rows, resuming from finished curves, and the
// files of the report (PNGs embedded in report.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, Model, summarize, type Graph } from '../graph/index.js';
import { setNumThreads } from '../tensor/index.js';
import { auc, rankCriteria } from './ranking.js';
import { FAMILIES, GLOBAL, StudyError, thesisGrid, type GridSettings } from './grid.js';
import { STUDY_FILES, readCurves, writeStudyReport, type StudyMeta } from './report.js';
import { runThesisStudy, type ThesisOptions } from './thesis.js';
import type { Curve } from './curve.js';
import { signSource as source } from '../train/testing.js';
import { gridGroups } from '../prune/index.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

function tinyNet(): Graph {
  const b = new GraphBuilder('tiny');
  const x = b.input([1, 6, 6]);
  const c1 = b.relu(b.conv2d(x, 4, 3, { padding: 1, name: 'conv1' }), { name: 'relu1' });
  const c2 = b.relu(b.conv2d(c1, 3, 3, { name: 'conv2' }), { name: 'relu2' });
  const f = b.relu(b.linear(b.flatten(c2), 6, { name: 'fc1' }), { name: 'relu3' });
  return b.build(b.linear(f, 2, { name: 'fc2' }));
}

const LENET: GridSettings = {
  layers: [
    { name: 'conv1', channels: 32 },
    { name: 'conv2', channels: 64 },
    { name: 'fc1', channels: 1024 },
  ],
  criteria: ['l1', 'activation', 'taylor', 'random'],
  norms: ['none', 'l1', 'l2'],
  retrainIters: [10, 50, 100],
  points: 20,
  retrainPoints: 12,
  protocolCriteria: ['taylor'],
  minChannels: 1,
};

test('the grid of seed 003 on lenet5: families, sizes and stepping', () => {
  const grid = thesisGrid(LENET);
  const count = (f: string) => grid.filter((e) => e.family === f).length;
  // none: 4 criteria x (3 layers + global x 3 norms); retrain: 3 N x 4 criteria x 4 scopes;
  // norm: 3 non-random criteria; protocols: 2 protocols x 1 criterion x 4 scopes.
  assert.deepEqual([count('none'), count('retrain'), count('norm'), count('protocols')], [24, 48, 3, 8]);
  assert.equal(new Set(grid.map((e) => e.id)).size, grid.length);
  const conv1 = grid.find((e) => e.id === 'none/conv1/taylor')!;
  assert.deepEqual([conv1.mapsPerStep, conv1.maxSteps], [2, 16]); // 31 removable maps
  const global = grid.find((e) => e.id === 'retrain100/global-l2/random')!;
  assert.deepEqual([global.mapsPerStep, global.maxSteps, global.scope], [94, 12, GLOBAL]); // 1,117 removable maps in 12 steps
  assert.equal(grid.filter((e) => e.criterion === 'random').length, 6 + 12); // the reference in every none and retrain setting
  assert.ok(!grid.some((e) => e.family === 'norm' && e.criterion === 'random'));
  assert.deepEqual(thesisGrid(LENET, ['protocols']).map((e) => e.protocol), [...Array(4).fill('layer-retrain'), ...Array(4).fill('once')]);
  assert.throws(() => thesisGrid({ ...LENET, points: 0 }), StudyError);
  assert.throws(() => thesisGrid({ ...LENET, criteria: ['l1', 'l1'] }), /twice/);
});

test('auc is the mean accuracy over the covered share; rankings sort by it', () => {
  assert.equal(auc([{ share: 0, accuracy: 1 }, { share: 0.5, accuracy: 1 }, { share: 1, accuracy: 0 }]), 0.75);
  assert.equal(auc([{ share: 0, accuracy: 0.9 }]), 0.9);
  const curve = (criterion: string, accs: number[]): Curve => ({
    experiment: { ...thesisGrid(LENET, ['none'])[0]!, criterion, id: `none/conv1/${criterion}` },
    points: accs.map((accuracy, i) => ({ step: i, share: i / (accs.length - 1), accuracy, balancedAccuracy: accuracy, params: 1, macs: 1, paramsReduction: 1, macsReduction: 1, seconds: 0, channels: {} })),
    complete: true,
    stopReason: '',
    seconds: 0,
  });
  const [r] = rankCriteria([curve('random', [1, 0.5, 0.1]), curve('taylor', [1, 0.9, 0.3]), curve('l1', [1, 0.8, 0.2])]);
  assert.deepEqual(r!.entries.map((e) => e.value), ['taylor', 'l1', 'random']);
});

test('runThesisStudy on a tiny network: every curve, Table 4.1, the report files, and resuming', async () => {
  const model = Model.create(tinyNet(), { seed: 5 });
  const data = { train: source(4, 16, 1), curves: source(2, 32, 2), floor: source(2, 32, 2), test: source(2, 32, 3), classes: 2 };
  const o: ThesisOptions = {
    criteria: ['l1', 'activation', 'taylor', 'random'],
    norms: ['none', 'l2'],
    retrainIters: [1, 2],
    points: 2,
    retrainPoints: 2,
    protocolCriteria: 'best',
    parts: ['none', 'retrain', 'norm', 'protocols', 'table'],
    lr: 1e-3,
    scoreBatches: 1,
    minChannels: 1,
    seed: 0,
    table: { criterion: 'taylor', norm: 'l2', protocol: 'retrain', maxDrop: 50, stepFraction: 0.3, patience: 0, backtrack: false, maxSteps: 2, snapTo: 2, snapIters: 2, snapTries: 2, refineSteps: 2, latencyRuns: 2, recipe: { iterations: 3, lr: 1e-3 } },
  };
  let units = 0;
  let planned = 0;
  const result = await runThesisStudy(model, data, o, { onPlan: (p) => (planned = p.units), onWork: (u) => (units += u) });
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-study-'));
  try {
    // none: 4 x (3 layers + 2 norms); retrain: 2 N x 4 x 4 scopes; norm: 3; protocols: 2 x 1 x 4.
    assert.equal(result.curves.length, 20 + 32 + 3 + 8);
    assert.equal(result.plan.curves, result.curves.length);
    // The plan counts the protocol comparison with a stand-in criterion until 'best' is known:
    // a criterion reading no data makes its steps lighter by the scoring batches.
    assert.ok(units <= planned && units >= planned - 8 * 2 * o.scoreBatches, `units ${units} vs planned ${planned}`);
    for (const f of FAMILIES) assert.ok(result.curves.some((c) => c.experiment.family === f), f);
    assert.ok(result.curves.filter((c) => c.experiment.criterion === 'random').length >= 5 + 8);
    for (const c of result.curves) {
      const shares = c.points.map((p) => p.share);
      assert.equal(shares[0], 0);
      assert.ok(shares.every((s, i) => i === 0 || s > shares[i - 1]!), `${c.experiment.id}: ${shares.join(', ')}`);
      assert.ok(shares[shares.length - 1]! > 0.5 && shares[shares.length - 1]! < 1, c.experiment.id);
      assert.ok(c.points.every((p) => p.accuracy >= 0 && p.accuracy <= 1));
      assert.equal(c.complete, true);
    }
    // conv1 has 4 maps, 3 removable in 2 steps of 2: 0, 1/2, 3/4.
    assert.deepEqual(result.curves.find((c) => c.experiment.id === 'none/conv1/l1')!.points.map((p) => p.share), [0, 0.5, 0.75]);
    assert.equal(result.protocolCriteria.length, 1);
    assert.notEqual(result.protocolCriteria[0], 'random');
    assert.ok(result.curves.some((c) => c.experiment.id === `once2/global-l2/${result.protocolCriteria[0]}`));
    assert.ok(result.rankings.criteria.length > 0 && result.rankings.norms.length > 0 && result.rankings.iters.length > 0 && result.rankings.protocols.length > 0);

    const t = result.table!;
    assert.deepEqual(t.rows.map((r) => r.model), ['base', 'pruned', 'scratch']);
    const [b, p, s] = t.rows;
    assert.equal(b!.paramsReduction, 1);
    assert.equal(p!.params, s!.params);
    assert.ok(p!.params <= b!.params && p!.speedupB1 > 0 && p!.speedupB64 > 0);
    // The grid step ran on the kept model and (with a 50 pp floor) was kept: it left the convolutions on even counts.
    assert.ok(t.snap?.kept, 'grid step kept');
    const convs = gridGroups(t.pruned.graph);
    assert.ok(convs.size > 0);
    for (const layer of convs) {
      const n = t.snap.step.channels[layer]!;
      assert.ok(n % 2 === 0 || n < 2, `${layer}: ${n} maps after the grid step`);
    }
    // Then two MAC refinement steps (a 50 pp floor keeps them); the table's channels are the final model's.
    assert.equal(t.refine?.length, 2);
    assert.ok(t.refine.every((r) => r.kept));
    assert.deepEqual(t.channels, t.refine[1]!.step.channels);
    assert.ok(Object.entries(t.channels).every(([layer, n]) => n <= t.snap!.step.channels[layer]!));
    assert.ok(convs.has(t.refine[0]!.step.layers.split(':')[0]!), 'the refinement cuts convolutions only');
    assert.equal(p!.params, summarize(result.table!.pruned.graph).totals.params);

    const meta: StudyMeta = {
      dataset: 'synthetic',
      arch: 'tiny',
      curveData: 'validation split, 64 images',
      floorSplit: 'validation',
      base: { source: 'a test model', params: b!.params, macs: b!.macs },
      threads: 1,
      started: new Date().toISOString(),
      command: 'test',
      options: {},
      warnings: [],
    };
    const files = await writeStudyReport(dir, { meta, result, recipeIterations: 3 });
    for (const f of [STUDY_FILES.results, STUDY_FILES.curves, STUDY_FILES.table, STUDY_FILES.report]) assert.ok(files.includes(f) && existsSync(join(dir, f)), f);
    const pngs = files.filter((f) => f.endsWith('.png'));
    assert.ok(pngs.some((f) => f.startsWith('fig4-1_')) && pngs.some((f) => f.startsWith('fig4-16_')), pngs.join(' '));
    const report = readFileSync(join(dir, STUDY_FILES.report), 'utf8');
    for (const f of pngs) {
      assert.ok(readFileSync(join(dir, f)).subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])), f);
      assert.ok(report.includes(`](${f})`), `report.md embeds ${f}`);
    }
    assert.match(report, /## Table 4\.1/);
    assert.match(report, /grid step/);
    assert.match(report, /ranks best/);
    assert.equal(readFileSync(join(dir, STUDY_FILES.curves), 'utf8').trim().split('\n').length, 1 + result.curves.reduce((a, c) => a + c.points.length, 0));

    // Resuming: finished curves are taken as they are, nothing is run again.
    const again = readCurves(join(dir, STUDY_FILES.results));
    let started = 0;
    const resumed = await runThesisStudy(model, data, { ...o, parts: ['none'], done: again }, { onCurveStart: () => started++ });
    assert.equal(started, 0);
    assert.deepEqual(resumed.curves.map((c) => c.experiment.id), result.curves.filter((c) => c.experiment.family === 'none').map((c) => c.experiment.id));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    result.table?.pruned.dispose();
    result.table?.scratch.dispose();
    model.dispose();
  }
});
