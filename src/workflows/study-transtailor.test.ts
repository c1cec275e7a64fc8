// transtailorStudyRun at --quick size with one seed and one target, then a
// second seed by resuming: every member's files and figures; the baselines
// pruned to TransTailor's MACs (never above them) from the same fine-tuned
// model; the table's means, spreads and differences against hand-computed
// numbers; an interrupted study resumed without re-running finished members;
// bad specs refused before any directory exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../data/testing.js';
import { loadCheckpoint, summarize } from '../graph/index.js';
import { RUN_FILES } from '../runs/index.js';
import { UsageError } from '../util/errors.js';
import { TRANSTAILOR_STUDY_FILES, TRANSTAILOR_STUDY_QUICK, plannedMembers, resolveTransTailorStudy, studyRows, transtailorStudyRun, type StudyMember, type TransTailorStudySpec } from './study-transtailor.js';

const DIGITS = TRANSTAILOR_STUDY_QUICK.targets.find((t) => t.name === 'digits')!;
const TINY: TransTailorStudySpec = { quick: true, targets: [DIGITS], seeds: [0] };

test('transtailorStudyRun (--quick, one target): members, files, equal-MACs baselines, and resume of an interrupted study', async (t) => {
  const root = tempDir(t, 'slimnet-study-tt-');
  const ac = new AbortController();
  const lines: string[] = [];
  // Stop right after TransTailor's α = 1 member: the rest must run on resume, the finished members must not.
  const first = await transtailorStudyRun({ ...TINY, runsDir: root }, { signal: ac.signal, onLog: (l) => (lines.push(l), l.startsWith('transtailor-digits-s0:') && ac.abort()) });
  assert.equal(first.status, 'interrupted');
  assert.deepEqual(first.members.map((m) => m.key), ['source-s0', 'transtailor-digits-s0', 'finetuned-digits-s0']);
  assert.equal(first.resumeCommand, `slimnet study transtailor --quick --runs-dir ${root} --version 0`);

  const r = await transtailorStudyRun({ quick: true, resume: 0, runsDir: root });
  assert.equal(r.status, 'complete');
  assert.equal(r.ran, 5, 'random α, the three baselines and the unpruned reference at their budget ran; the source and TransTailor were read');
  assert.equal(r.run, join(root, 'study-transtailor', 'fashion-mnist-lenet5', 'version_0'));
  for (const f of [RUN_FILES.config, RUN_FILES.status, RUN_FILES.log, TRANSTAILOR_STUDY_FILES.results, TRANSTAILOR_STUDY_FILES.csv, TRANSTAILOR_STUDY_FILES.report, TRANSTAILOR_STUDY_FILES.tradeoff, 'fig_test_balanced_accuracy_digits.png']) assert.ok(existsSync(join(r.run, f)), f);
  const members = (JSON.parse(readFileSync(join(r.run, TRANSTAILOR_STUDY_FILES.results), 'utf8')) as { members: StudyMember[] }).members;
  assert.deepEqual(members.map((m) => m.key), ['source-s0', 'transtailor-digits-s0', 'finetuned-digits-s0', 'transtailor-random-digits-s0', 'taylor-digits-s0', 'l1-digits-s0', 'random-digits-s0', 'unpruned-budget-digits-s0']);
  const by = (method: string) => members.find((m) => m.method === method)!;
  const tt = by('transtailor');
  const ft = by('finetuned');
  assert.equal(tt.iterations, 2);
  assert.equal(tt.keptIterations, 2, 'τ 100 keeps every iteration');
  assert.ok(tt.macs < ft.macs, 'TransTailor removed filters');
  for (const m of members) assert.ok(existsSync(join(r.run, m.run)), `${m.key}: ${m.run}`);
  for (const c of ['taylor', 'l1', 'random']) {
    const b = by(c);
    // Equal MACs: at most TransTailor's, and not far below (steps of 2 % of the remaining filters).
    assert.ok(b.macs <= tt.macs && b.macs >= 0.85 * tt.macs, `${c}: ${b.macs} MACs vs TransTailor ${tt.macs}`);
    assert.ok(b.testBalancedAccuracy >= 0 && b.testBalancedAccuracy <= 1);
    assert.ok(b.fineTuneEpochs! >= 1 && b.fineTuneEpochs! <= Math.max(1, tt.fineTuneEpochs!), `${c}: budget`);
    // The saved model is the one measured.
    const { model } = loadCheckpoint(join(r.run, b.run));
    assert.equal(summarize(model.graph).totals.macs, b.macs);
    model.dispose();
  }
  const ub = by('unpruned-budget');
  assert.deepEqual([ub.macs, ub.params], [ft.macs, ft.params], 'the unpruned reference keeps every filter');
  assert.ok(ub.fineTuneEpochs! >= 1 && ub.fineTuneEpochs! <= Math.max(1, tt.fineTuneEpochs!), 'the baselines\' budget');
  // The TransTailor member's run directory has its own result, and its final model is what the study measured.
  const ttResult = JSON.parse(readFileSync(join(r.run, tt.run, 'result.json'), 'utf8')) as { macs_after: number; final_test_balanced_acc: number };
  assert.deepEqual([ttResult.macs_after, ttResult.final_test_balanced_acc], [tt.macs, tt.testBalancedAccuracy]);
  const md = readFileSync(join(r.run, TRANSTAILOR_STUDY_FILES.report), 'utf8');
  for (const text of ['| digits | TransTailor (α = 1) |', '| digits | Taylor, equal MACs |', '| digits | unpruned, transfer fine-tuning only |', "| digits | unpruned, baselines' fine-tuning budget |", '| digits | TransTailor (random α) |', 'fig_accuracy_vs_macs.png', 'τ 100 pp']) assert.ok(md.includes(text), text);
  const again = await transtailorStudyRun({ quick: true, resume: 0, runsDir: root });
  assert.equal(again.status, 'already-complete');
});

test('studyRows: mean ± std over seeds and the difference to TransTailor against the spread, by hand', () => {
  const m = (method: string, seed: number, ba: number, macs = 100): StudyMember => ({ key: `${method}-t-s${seed}`, method, target: 't', seed, run: '', testBalancedAccuracy: ba, testAccuracy: null, valBalancedAccuracy: null, params: 10, macs, fineTuneEpochs: 1, seconds: 1 });
  const rows = studyRows([m('transtailor', 0, 0.9), m('transtailor', 1, 0.92), m('l1', 0, 0.8, 90), m('l1', 1, 0.82, 110), m('random', 0, 0.91), m('random', 1, 0.9)], ['t']);
  assert.deepEqual(rows.map((r) => r.method), ['transtailor', 'l1', 'random']);
  const [tt, l1, rnd] = rows;
  assert.ok(Math.abs(tt!.testBalancedAccuracy.mean - 0.91) < 1e-12);
  assert.ok(Math.abs(tt!.testBalancedAccuracy.std! - Math.SQRT2 * 0.01) < 1e-12, 'sample std of 0.90, 0.92');
  assert.equal(l1!.macs.mean, 100);
  assert.ok(Math.abs(l1!.deltaToTransTailor! - -10) < 1e-9);
  assert.equal(l1!.beyondSpread, true, '10 pp apart, stds 1.4 pp each');
  assert.ok(Math.abs(rnd!.deltaToTransTailor! - -0.5) < 1e-9);
  assert.equal(rnd!.beyondSpread, false);
  assert.equal(tt!.deltaToTransTailor, null);
});

test('transtailorStudyRun: bad specs are UsageErrors naming the flag, before any directory exists', async (t) => {
  const root = tempDir(t, 'slimnet-study-tt-bad-');
  for (const [spec, re] of [
    [{ arch: 'nope' }, /--arch: unknown architecture 'nope'/],
    [{ tau: 101 }, /--tau must be in \[0, 100\]/],
    [{ seeds: [0, 0] }, /--seeds lists a seed twice/],
    [{ pruneShare: 1 }, /--prune-share must be in \(0, 1\)/],
    [{ targets: [{ ...DIGITS, dataset: 'cub' }] }, /unknown data set 'cub'/],
    [{ resume: 3 }, /--version 3: no TransTailor study version 3/],
    [{ resume: 0, tau: 2 }, /drop --tau/],
  ] as const) {
    await assert.rejects(transtailorStudyRun({ quick: true, runsDir: root, ...spec } as TransTailorStudySpec), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(spec));
  }
  assert.ok(!existsSync(join(root, 'study-transtailor')), 'no run directory');
});

test('plannedMembers: seed by seed, the source first, TransTailor before the baselines that need its MACs', () => {
  const c = resolveTransTailorStudy({ quick: true });
  const keys = plannedMembers(c).map((p) => p.key);
  assert.equal(keys.length, 2 * (1 + 2 * 6));
  assert.deepEqual(keys.slice(0, 8), ['source-s0', 'transtailor-digits-s0', 'transtailor-random-digits-s0', 'taylor-digits-s0', 'l1-digits-s0', 'random-digits-s0', 'unpruned-budget-digits-s0', 'transtailor-fashion-tops-s0']);
});
