// replaceStudyRun at --quick size with one seed: stopped in the middle of a
// replacement member, then resumed (the interrupted run resumes itself, a
// recorded member is not run again, a finished but unrecorded one is read or
// only finished again); every member's files, the equal-size baselines (the
// from-scratch model has the base variant's final parameters exactly, the
// pruned one its MACs within the last step), report.md and the figures; the
// table's means, stds and differences against hand-computed numbers; the
// variants' options; bad specs refused before any directory exists (the
// flags: src/cli/commands/study-replace-options.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../data/testing.js';
import { loadCheckpoint, summarize } from '../graph/index.js';
import { RUN_FILES, readMetrics } from '../runs/index.js';
import { UsageError } from '../util/errors.js';
import { scheduleAlphas } from './study-replace-spec.js';
import { REPLACE_STUDY_FILES, plannedMembers, replaceStudyRows, replaceStudyRun, resolveReplaceStudy, variantOptions, type ReplaceStudyMember, type ReplaceStudySpec } from './study-replace.js';

const ONE_SEED: ReplaceStudySpec = { quick: true, seeds: [0] };
const KEYS = ['source-s0', 'base-s0', 'logit-mse-s0', 'frozen-s0', 'scratch-s0', 'prune-s0'];

/** The member's replace (or other) run directory: version_0 under members/<key>/<command>/<family>. */
function memberDir(study: string, key: string, command: string): string {
  const root = join(study, 'members', key, command);
  const families = readdirSync(root);
  assert.equal(families.length, 1, `${key}: one run family`);
  const versions = readdirSync(join(root, families[0]!));
  assert.deepEqual(versions, ['version_0'], `${key}: one run, no second version`);
  return join(root, families[0]!, 'version_0');
}

test('replaceStudyRun (--quick, one seed): stopped in a replacement, resumed; members, files, equal-size baselines', async (t) => {
  const root = tempDir(t, 'slimnet-study-replace-');
  const ac = new AbortController();
  let current = '';
  // Stop in the frozen variant's second epoch: its run is interrupted mid-way and must resume itself.
  const first = await replaceStudyRun(
    { ...ONE_SEED, runsDir: root },
    {
      signal: ac.signal,
      onProgress: (e) => {
        if (e.id === 'study' && e.info) current = e.info;
        if (current === 'frozen-s0' && e.id === 'train' && e.label.startsWith('epoch 2/') && e.done > e.total / 2) ac.abort();
      },
    },
  );
  assert.equal(first.status, 'interrupted');
  assert.deepEqual(first.members.map((m) => m.key), KEYS.slice(0, 3));
  assert.equal(first.resumeCommand, `slimnet study replace --quick --runs-dir ${root} --version 0`);
  const study = first.run;
  const frozen = memberDir(study, 'frozen-s0', 'replace');
  assert.equal(readMetrics(frozen).length, 1, 'the frozen run stopped in its second epoch');

  // As if the study had stopped after base and logit-mse finished but before it recorded them: base's run is
  // complete with its result.json (read, not run), logit-mse's lost its result.json (finished again, not retrained).
  const results = join(study, REPLACE_STUDY_FILES.results);
  const recorded = (JSON.parse(readFileSync(results, 'utf8')) as { members: ReplaceStudyMember[] }).members;
  writeFileSync(results, JSON.stringify({ members: recorded.slice(0, 1) }));
  const base = memberDir(study, 'base-s0', 'replace');
  const baseResult = statSync(join(base, 'result.json')).mtimeMs;
  const logit = memberDir(study, 'logit-mse-s0', 'replace');
  rmSync(join(logit, 'result.json'));
  const sourceRun = memberDir(study, 'source-s0', 'train');
  const sourceLast = statSync(join(sourceRun, RUN_FILES.last)).mtimeMs;

  const r = await replaceStudyRun({ quick: true, resume: 0, runsDir: root });
  assert.equal(r.status, 'complete');
  assert.equal(r.ran, 5, 'base read, logit-mse finished again, frozen resumed, scratch and prune run; the source was recorded');
  assert.equal(r.run, join(root, 'study-replace', 'mnist-digits-resnet20', 'version_0'));
  assert.deepEqual(r.members.map((m) => m.key), KEYS);
  assert.equal(statSync(join(sourceRun, RUN_FILES.last)).mtimeMs, sourceLast, 'the source was not trained again');
  assert.equal(statSync(join(base, 'result.json')).mtimeMs, baseResult, 'the finished base run was read, not run again');
  assert.ok(existsSync(join(logit, 'result.json')));
  assert.equal(readMetrics(logit).length, 2, 'logit-mse was finished again, not retrained');
  assert.equal(memberDir(study, 'frozen-s0', 'replace'), frozen);
  assert.deepEqual(readMetrics(frozen).map((m) => m.epoch), [1, 2], 'the frozen run resumed its second epoch');
  const recordedBase = recorded.find((m) => m.key === 'base-s0')!;
  assert.deepEqual(r.members.find((m) => m.key === 'base-s0'), { ...recordedBase, seconds: r.members.find((m) => m.key === 'base-s0')!.seconds }, 'base read from its result.json: the same figures');

  for (const f of [RUN_FILES.config, RUN_FILES.status, RUN_FILES.log, ...Object.values(REPLACE_STUDY_FILES)]) assert.ok(existsSync(join(r.run, f)), f);
  for (const png of [REPLACE_STUDY_FILES.accuracy, REPLACE_STUDY_FILES.baseAccuracy]) assert.deepEqual([...readFileSync(join(r.run, png)).subarray(1, 4)], [...Buffer.from('PNG')], png);
  const by = (method: string) => r.members.find((m) => m.method === method)!;
  for (const m of r.members) {
    assert.ok(existsSync(join(r.run, m.run)), `${m.key}: ${m.run}`);
    assert.ok(m.testAccuracy >= 0 && m.testAccuracy <= 1 && m.testBalancedAccuracy >= 0 && m.testBalancedAccuracy <= 1, m.key);
    // The saved model is the one measured.
    const { model } = loadCheckpoint(join(r.run, m.run));
    const s = summarize(model.graph).totals;
    assert.deepEqual([s.params, s.macs], [m.params, m.macs], `${m.key}: params and MACs of its model file`);
    model.dispose();
  }
  const source = by('source');
  const b = by('base');
  assert.equal(b.finalAlpha, 0, 'collapse off (--quick): the originals removed');
  assert.ok(b.params <= (1 - 0.65) * source.params, 'the base variant removed 65 % of the parameters');
  for (const v of ['logit-mse', 'frozen']) assert.deepEqual([by(v).params, by(v).macs], [b.params, b.macs], `${v}: the same size as base`);
  // Equal size: from scratch is the base variant's architecture exactly; pruning stops at the first step at or under its MACs.
  const scratch = by('scratch');
  assert.deepEqual([scratch.params, scratch.macs], [b.params, b.macs]);
  assert.equal(scratch.epochs, source.epochs + b.epochs, 'from scratch for the epochs the replaced model saw in all');
  const prune = by('prune');
  assert.ok(prune.macs <= b.macs && prune.macs >= 0.95 * b.macs, `pruned ${prune.macs} MACs vs base ${b.macs}`);
  assert.equal(prune.epochs, b.epochs, 'fine-tuned for the base variant\'s epochs');

  assert.deepEqual(r.rows.map((x) => x.method), ['source', 'base', 'logit-mse', 'frozen', 'scratch', 'prune']);
  const md = readFileSync(join(r.run, REPLACE_STUDY_FILES.report), 'utf8');
  for (const text of ['| base (exp schedule, CE, trainable, centre init) | 1 |', '| baseline: base architecture from scratch |', '| baseline: channel pruning to equal MACs |', 'std_a + std_b', `![test accuracy per method](${REPLACE_STUDY_FILES.accuracy})`, REPLACE_STUDY_FILES.baseAccuracy, 'schedule exp:0.8'])
    assert.ok(md.includes(text), text);
  const csv = readFileSync(join(r.run, REPLACE_STUDY_FILES.csv), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + KEYS.length);
  const again = await replaceStudyRun({ quick: true, resume: 0, runsDir: root });
  assert.equal(again.status, 'already-complete');
});

test('replaceStudyRows: mean ± std over seeds, the difference to base against the spread, final α, by hand', () => {
  const m = (method: string, seed: number, acc: number, o: Partial<ReplaceStudyMember> = {}): ReplaceStudyMember => ({
    key: `${method}-s${seed}`, method, seed, run: '', testAccuracy: acc, testBalancedAccuracy: acc - 0.01, params: 100, macs: 1000, epochs: 6, finalAlpha: null, collapseEpoch: null, seconds: 1, ...o,
  });
  const rows = replaceStudyRows([
    m('prune', 0, 0.8, { params: 90, macs: 990 }), m('prune', 1, 0.82, { params: 110, macs: 1010 }),
    m('base', 1, 0.92, { finalAlpha: 0 }), m('base', 0, 0.9, { finalAlpha: 0 }),
    m('frozen', 0, 0.91, { finalAlpha: 0 }), m('frozen', 1, 0.9, { finalAlpha: 0.216, collapseEpoch: 3 }),
  ]);
  assert.deepEqual(rows.map((r) => r.method), ['base', 'frozen', 'prune'], 'in the table\'s order');
  const [base, frozen, prune] = rows;
  assert.deepEqual(base!.seeds, [0, 1]);
  assert.ok(Math.abs(base!.testAccuracy.mean - 0.91) < 1e-12);
  assert.ok(Math.abs(base!.testAccuracy.std! - Math.SQRT2 * 0.01) < 1e-12, 'sample std of 0.90, 0.92');
  assert.ok(Math.abs(base!.testBalancedAccuracy.mean - 0.9) < 1e-12);
  assert.equal(base!.deltaToBase, null);
  assert.ok(Math.abs(prune!.deltaToBase! - -10) < 1e-9);
  assert.equal(prune!.beyondSpread, true, '10 pp apart, stds 1.4 pp each');
  assert.deepEqual([prune!.params.mean, prune!.macs.mean], [100, 1000]);
  assert.ok(Math.abs(prune!.params.std! - Math.SQRT2 * 10) < 1e-9);
  assert.ok(Math.abs(frozen!.deltaToBase! - -0.5) < 1e-9);
  assert.equal(frozen!.beyondSpread, false, '0.5 pp apart, within 1.4 + 0.7 pp');
  assert.deepEqual([frozen!.finalAlphas, frozen!.collapsed], [[0, 0.216], 1]);
  assert.deepEqual(prune!.finalAlphas, []);
  assert.equal(replaceStudyRows([m('base', 0, 0.9), m('lsq', 0, 0.95)])[1]!.beyondSpread, null, 'one seed: no spread');
});

test('variantOptions: one factor changed from base; the schedule variants keep its epoch budget', () => {
  const c = resolveReplaceStudy({});
  const epochs = (v: Parameters<typeof variantOptions>[0]) => {
    const o = variantOptions(v, c);
    return scheduleAlphas(o.alphaSchedule).length * o.patience;
  };
  assert.deepEqual(scheduleAlphas(c.schedule).map((a) => +a.toFixed(4)), [0.6, 0.36, 0.216, 0.1296, 0.0778, 0], 'exp:0.4: six α values');
  for (const v of ['linear', 'cosine', 'step'] as const) assert.equal(epochs(v), 6, v);
  assert.equal(variantOptions('step', c).alphaSchedule, 'step:0.67,0.33,0');
  assert.deepEqual(variantOptions('base', c), { alphaSchedule: 'exp:0.4', patience: 1, loss: 'ce', freezeOriginal: false, branchInit: 'centre' });
  assert.deepEqual(variantOptions('noise', c), { ...variantOptions('base', c), noiseShare: 0.5, noiseStd: 0.5 });
  assert.deepEqual(variantOptions('random-init', c), { ...variantOptions('base', c), branchInit: 'random' });
  assert.deepEqual(
    plannedMembers(resolveReplaceStudy({ quick: true, variants: ['frozen', 'base'] })).map((p) => p.key),
    ['source-s0', 'base-s0', 'frozen-s0', 'scratch-s0', 'prune-s0', 'source-s1', 'base-s1', 'frozen-s1', 'scratch-s1', 'prune-s1'],
    'seed by seed, base before the other variants and the baselines that need its size',
  );
  assert.equal(plannedMembers(c).length, 3 * 12);
});

test('replaceStudyRun: bad specs are UsageErrors naming the flag, before any directory exists', async (t) => {
  const root = tempDir(t, 'slimnet-study-replace-bad-');
  for (const [spec, re] of [
    [{ arch: 'nope' }, /--arch: unknown architecture 'nope'/],
    [{ variants: ['base', 'swap'] }, /--variants: unknown 'swap'/],
    [{ variants: ['frozen'] }, /--variants must include 'base'/],
    [{ baselines: ['distill'] }, /--baselines: unknown 'distill'/],
    [{ schedule: 'exp:2' }, /--schedule: schedule 'exp:2': the decay rate must be in \(0, 1\)/],
    [{ seeds: [0, 0] }, /--seeds lists a seed twice/],
    [{ paramShare: 1 }, /--param-share must be in \(0, 1\)/],
    [{ pruneCriterion: 'apoz' }, /--prune-criterion must be one of taylor, l1/],
    [{ dataset: 'cub' }, /--dataset must be one of/],
    [{ resume: 3 }, /--version 3: no replacement study version 3/],
    [{ resume: 0, lr: 0.1 }, /drop --lr/],
  ] as const) {
    await assert.rejects(replaceStudyRun({ quick: true, runsDir: root, ...spec } as ReplaceStudySpec), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(spec));
  }
  assert.ok(!existsSync(join(root, 'study-replace')), 'no run directory');
});
