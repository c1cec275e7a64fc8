// distillStudyRun on a tiny share of the bundled digits (lenet5 x0.5 -> x0.25,
// one epoch): the files and the table of every method and seed, and the
// explanation of seed 0's members (explain/, report.md's section naming the
// models, results.json's summary); an abort in the middle of a member resumes
// without re-running the finished ones, an abort in the explanation resumes
// only the explanation, and a finished explanation is read, not recomputed; the
// mean ± std and the spread rule against hand-computed numbers; bad spec
// values refused as UsageErrors naming the flag, before any directory exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../data/testing.js';
import { RUN_FILES } from '../runs/index.js';
import { UsageError } from '../util/errors.js';
import { resolveDistillStudy, withExplainDefaults } from './study-distill-spec.js';
import { explanationMarkdown } from './study-distill-explain.js';
import { DISTILL_STUDY_FILES, STUDY_EXPLAIN_DIR, beyondSpread, distillStudyRun, meanStd, methodRows, plannedMembers, type DistillStudySpec, type MemberResult, type StudyExplanation } from './study-distill.js';

const TINY: DistillStudySpec = { quick: true, epochs: 1, fraction: 0.05 };

test('distillStudyRun: the files, and a table with every method and seed', async (t) => {
  const root = tempDir(t, 'slimnet-study-distill-');
  const lines: string[] = [];
  const r = await distillStudyRun({ ...TINY, seeds: [0, 1], losses: ['kd'], runsDir: root }, { onLog: (l) => lines.push(l) });
  assert.equal(r.status, 'complete');
  assert.equal(r.run, join(root, 'study-distill', 'mnist-digits-lenet5', 'version_0'));
  for (const f of [RUN_FILES.config, RUN_FILES.status, RUN_FILES.log, ...Object.values(DISTILL_STUDY_FILES)]) assert.ok(existsSync(join(r.run, f)), f);
  const results = JSON.parse(readFileSync(join(r.run, DISTILL_STUDY_FILES.results), 'utf8')) as { members: MemberResult[] };
  assert.deepEqual(results.members.map((m) => m.key), ['teacher-s0', 'scratch-s0', 'kd-s0', 'teacher-s1', 'scratch-s1', 'kd-s1']);
  assert.equal(readFileSync(join(r.run, DISTILL_STUDY_FILES.csv), 'utf8').trim().split('\n').length, 7);
  assert.deepEqual(r.rows.map((x) => [x.method, x.seeds]), [['teacher', [0, 1]], ['scratch', [0, 1]], ['kd', [0, 1]]]);
  const teacher = results.members.find((m) => m.key === 'teacher-s0')!;
  assert.equal(teacher.agreement, null);
  assert.ok(teacher.params > results.members.find((m) => m.key === 'scratch-s0')!.params, 'the student is the teacher at half the width');
  for (const m of results.members.filter((x) => x.method !== 'teacher')) assert.ok(m.agreement !== null && m.agreement >= 0 && m.agreement <= 1, `${m.key} agreement`);
  for (const m of results.members) assert.ok(existsSync(join(r.run, m.run, 'best.safetensors')), `${m.key}: its own run under the study`);
  const kd = r.rows.find((x) => x.method === 'kd')!;
  const scratch = r.rows.find((x) => x.method === 'scratch')!;
  assert.ok(Math.abs(kd.deltaVsScratch! - (kd.testAccuracy.mean - scratch.testAccuracy.mean)) < 1e-12);
  const md = readFileSync(join(r.run, DISTILL_STUDY_FILES.report), 'utf8');
  for (const label of ['| teacher |', '| student (scratch) |', '| student + kd |', 'seed 0', 'seed 1', '±', 'Rule:']) assert.ok(md.includes(label), label);
  assert.ok(lines.some((l) => l.includes('student + kd')), 'the table is logged');
  const config = JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.equal(config.lr, 0.05);
  assert.ok(typeof config.lrNote === 'string', 'a changed lr says why');

  // The explanation: seed 0's teacher (best) and students (final weights), 2 images (--quick), gradcam + ig, for the true label.
  const ex = join(r.run, STUDY_EXPLAIN_DIR);
  for (const f of ['maps.safetensors', 'grid.png', 'report.html', 'metrics.json', 'faithfulness.csv', 'agreement.csv']) assert.ok(existsSync(join(ex, f)), `explain/${f}`);
  const e = (JSON.parse(readFileSync(join(r.run, DISTILL_STUDY_FILES.results), 'utf8')) as { explanation: StudyExplanation }).explanation;
  assert.deepEqual(r.explanation, e);
  assert.equal(r.explained, true);
  assert.equal(e.seed, 0);
  assert.deepEqual(e.methods, ['gradcam', 'ig']);
  assert.deepEqual(e.indices, [0, 1]);
  assert.deepEqual(e.models.map((m) => [m.name, m.member, m.label]), [['a', 'teacher-s0', 'teacher'], ['b', 'scratch-s0', 'student (scratch)'], ['c', 'kd-s0', 'student + kd']]);
  assert.deepEqual(e.models.map((m) => m.checkpoint), [join(teacher.run, 'best.safetensors'), ...['scratch-s0', 'kd-s0'].map((k) => join(results.members.find((m) => m.key === k)!.run, 'last.safetensors'))]);
  assert.equal(e.faithfulness.length, 3 * 2);
  for (const f of e.faithfulness) assert.ok(f.meanDeletionAuc >= 0 && f.meanDeletionAuc <= 1 && f.meanInsertionAuc >= 0 && f.meanInsertionAuc <= 1, `${f.member} ${f.method}`);
  assert.deepEqual(e.agreement.map((a) => [a.teacher, a.student, a.method]), [['teacher-s0', 'scratch-s0', 'gradcam'], ['teacher-s0', 'kd-s0', 'gradcam'], ['teacher-s0', 'scratch-s0', 'ig'], ['teacher-s0', 'kd-s0', 'ig']]);
  // The disagreement count against explainRun's own predictions (metrics.json).
  const full = JSON.parse(readFileSync(join(ex, 'metrics.json'), 'utf8')) as { models: { predictions: number[] }[]; target: string };
  assert.equal(full.target, 'label');
  const [pa, ...ps] = full.models.map((m) => m.predictions);
  assert.equal(e.disagreementImages, pa!.filter((p, i) => ps.some((q) => q[i] !== p)).length);
  assert.deepEqual(e.models.slice(1).map((m) => m.disagreesWithTeacher), ps.map((q) => q.filter((p, i) => p !== pa![i]).length));
  const section = md.slice(md.indexOf('## What the models look at'));
  assert.ok(md.includes('## What the models look at'), 'the section');
  for (const text of ['](explain/grid.png)', '](explain/report.html)', 'a = teacher, b = student (scratch), c = student + kd', '| teacher | teacher-s0 | gradcam |', '| student + kd | kd-s0 | ig |', '| teacher vs student (scratch) | gradcam |', '| teacher vs student + kd | ig |', `disagree with the teacher on ${e.disagreementImages} of 2 images`]) {
    assert.ok(section.includes(text), text);
  }
});

test('distillStudyRun: an abort inside a member, then --version resumes it without re-running the finished ones', async (t) => {
  const root = tempDir(t, 'slimnet-study-distill-resume-');
  const spec: DistillStudySpec = { ...TINY, seeds: [0], losses: ['kd'], runsDir: root };
  const ac = new AbortController();
  let studyDone = 0;
  const first = await distillStudyRun(spec, {
    signal: ac.signal,
    onProgress: (e) => {
      if (e.id === 'study') studyDone = e.done;
      // In the scratch student's first epoch (the teacher is done).
      if (e.id === 'train' && studyDone === 1 && e.done > 0) ac.abort();
    },
  });
  assert.equal(first.status, 'interrupted');
  assert.ok(first.resumeCommand?.includes('--version 0'));
  assert.deepEqual(first.members.map((m) => m.key), ['teacher-s0']);
  const teacherRun = join(first.run, first.members[0]!.run);
  const teacherStamp = statSync(join(teacherRun, 'last.safetensors')).mtimeMs;
  const scratchFamily = join(first.run, 'members', 'scratch-s0', 'train');
  assert.equal(JSON.parse(readFileSync(join(scratchFamily, readdirSync(scratchFamily)[0]!, 'version_0', RUN_FILES.status), 'utf8')).status, 'interrupted');

  // The resume finishes the members, then is stopped after the explanation's first map.
  const ac2 = new AbortController();
  const second = await distillStudyRun({ runsDir: root, quick: true, resume: first.version }, { signal: ac2.signal, onProgress: (e) => e.id === 'explain' && e.done === 1 && ac2.abort() });
  assert.equal(second.status, 'interrupted');
  assert.equal(second.ran, 2, 'scratch (resumed) and kd: the teacher is read, not re-run');
  assert.deepEqual(second.members.map((m) => m.key), ['teacher-s0', 'scratch-s0', 'kd-s0']);
  assert.equal(second.explanation, null);
  assert.equal(statSync(join(teacherRun, 'last.safetensors')).mtimeMs, teacherStamp, "the teacher's run is untouched");
  assert.deepEqual(readdirSync(join(scratchFamily, readdirSync(scratchFamily)[0]!)).filter((d) => d.startsWith('version_')), ['version_0'], 'the scratch member resumed its own run');
  assert.ok(readFileSync(join(second.run, DISTILL_STUDY_FILES.report), 'utf8').includes('## What the models look at\n\nInterrupted'), 'report.md says the explanation was interrupted');

  // Members finished, explanation not: the resume runs only the explanation.
  const stamps = () => second.members.map((m) => statSync(join(second.run, m.run, 'last.safetensors')).mtimeMs);
  const before = stamps();
  const lines: string[] = [];
  const third = await distillStudyRun({ runsDir: root, quick: true, resume: first.version }, { onLog: (l) => lines.push(l) });
  assert.equal(third.status, 'complete');
  assert.equal(third.ran, 0, 'no member runs again');
  assert.equal(third.explained, true);
  assert.deepEqual(third.explanation?.models.map((m) => m.member), ['teacher-s0', 'scratch-s0', 'kd-s0']);
  assert.deepEqual(stamps(), before, 'the member checkpoints are untouched');
  assert.ok(!lines.some((l) => /^(teacher|scratch|kd)-s0:/.test(l)), 'no member is reported as run');
  const metrics = join(third.run, STUDY_EXPLAIN_DIR, 'metrics.json');
  const metricsStamp = statSync(metrics).mtimeMs;

  // A study stopped after its explanation finished (but before it was marked complete): the explanation is read, not recomputed.
  const statusPath = join(third.run, RUN_FILES.status);
  writeFileSync(statusPath, JSON.stringify({ ...JSON.parse(readFileSync(statusPath, 'utf8')), status: 'interrupted' }));
  const fourth = await distillStudyRun({ runsDir: root, quick: true, resume: first.version });
  assert.equal(fourth.status, 'complete');
  assert.equal(fourth.explained, false);
  assert.deepEqual(fourth.explanation, third.explanation);
  assert.equal(statSync(metrics).mtimeMs, metricsStamp, 'explain/ is not rewritten');

  const again = await distillStudyRun({ runsDir: root, quick: true, resume: first.version });
  assert.equal(again.status, 'already-complete');
  assert.equal(again.ran, 0);
  assert.deepEqual(again.explanation, third.explanation);
});

test('resolveDistillStudy: the explanation defaults (first seed, 8 images or 2 with --quick, gradcam + ig) and --no-explain', () => {
  const full = resolveDistillStudy({});
  assert.deepEqual([full.explain, full.explainSeed, full.explainImages, full.explainMethods], [true, 0, 8, ['gradcam', 'ig']]);
  const quick = resolveDistillStudy({ quick: true, seeds: [4, 2] });
  assert.deepEqual([quick.explainSeed, quick.explainImages], [4, 2]);
  assert.equal(resolveDistillStudy({ explain: false }).explain, false);
  // A config.json from before the explanation: its defaults are filled in.
  const { explain: _e, explainSeed: _s, explainImages: _i, explainMethods: _m, ...old } = quick;
  assert.deepEqual(withExplainDefaults(old), { ...old, explain: true, explainSeed: 4, explainImages: 2, explainMethods: ['gradcam', 'ig'] });
  assert.deepEqual(explanationMarkdown(null, 'Not run (--no-explain).'), ['## What the models look at', '', 'Not run (--no-explain).', '']);
});

test('meanStd: mean and sample standard deviation (n - 1) against hand-computed numbers', () => {
  const a = meanStd([0.9, 0.92, 0.94]);
  assert.ok(Math.abs(a.mean - 0.92) < 1e-12);
  assert.ok(Math.abs(a.std! - 0.02) < 1e-12);
  const b = meanStd([1, 2, 3, 4]);
  assert.equal(b.mean, 2.5);
  assert.ok(Math.abs(b.std! - Math.sqrt(5 / 3)) < 1e-12); // ((1.5² + 0.5²) * 2) / 3
  assert.deepEqual(meanStd([0.7]), { mean: 0.7, std: null, n: 1 });
});

test('the spread rule: |Δmean| > std_a + std_b, on a hand-made example', () => {
  const s = (mean: number, std: number | null) => ({ mean, std, n: 3 });
  assert.equal(beyondSpread(s(0.9, 0.01), s(0.93, 0.01)), true); // 3 pp > 2 pp
  assert.equal(beyondSpread(s(0.9, 0.01), s(0.915, 0.01)), false); // 1.5 pp < 2 pp
  assert.equal(beyondSpread(s(0.9, null), s(0.95, 0.01)), null);
  const member = (method: string, seed: number, acc: number): MemberResult => ({
    key: `${method}-s${seed}`, method, seed, run: '', epochs: 1, testAccuracy: acc, testBalancedAccuracy: acc, bestEpochTestAccuracy: acc, bestEpoch: 1, bestValAccuracy: acc, valAccuracy: [acc], agreement: method === 'teacher' ? null : 0.9, trainingSeconds: 1, params: 1, macs: 1,
  });
  // scratch 0.80/0.81/0.82 (std 0.01); kd 0.84/0.85/0.86: +4 pp > 2 pp; at 0.80/0.82/0.84 (std 0.02): +1 pp < 3 pp.
  const ms = [0, 1, 2].flatMap((i) => [member('teacher', i, 0.9), member('scratch', i, 0.8 + i / 100), member('kd', i, 0.84 + i / 100), member('at', i, 0.8 + (2 * i) / 100)]);
  const rows = methodRows(ms, ['teacher', 'scratch', 'kd', 'at']);
  const by = (m: string) => rows.find((r) => r.method === m)!;
  assert.ok(Math.abs(by('kd').deltaVsScratch! - 0.04) < 1e-12);
  assert.equal(by('kd').beyondSpread, true);
  assert.ok(Math.abs(by('at').deltaVsScratch! - 0.01) < 1e-12);
  assert.equal(by('at').beyondSpread, false);
  assert.equal(by('teacher').deltaVsScratch, null);
  assert.equal(by('teacher').agreement, null);
});

test('plannedMembers: seed by seed, teacher then scratch then each loss', () => {
  assert.deepEqual(plannedMembers({ seeds: [3, 5], losses: ['kd', 'at'] }).map((m) => m.key), ['teacher-s3', 'scratch-s3', 'kd-s3', 'at-s3', 'teacher-s5', 'scratch-s5', 'kd-s5', 'at-s5']);
});

test('distillStudyRun: bad spec values are UsageErrors naming the flag, before any run directory exists', async (t) => {
  const root = tempDir(t, 'slimnet-study-distill-bad-');
  const cases: [DistillStudySpec, RegExp][] = [
    [{ seeds: [] }, /--seeds/],
    [{ seeds: [0, 0] }, /--seeds/],
    [{ seeds: [-1] }, /--seeds/],
    [{ losses: ['kd', 'nope'] }, /--losses.*nope/],
    [{ losses: [] }, /--losses/],
    [{ teacherArch: 'nope' }, /--teacher-arch.*nope/],
    [{ studentArch: 'nope' }, /--student-arch.*nope/],
    [{ studentWidth: 0 }, /--student-width/],
    [{ fraction: 2 }, /--fraction/],
    [{ epochs: 0 }, /--epochs/],
    [{ lr: -1 }, /--lr/],
    [{ dataset: 'imagenet' }, /--dataset/],
    [{ explainSeed: 5 }, /--explain-seed/],
    [{ explainImages: 0 }, /--explain-images/],
    [{ explainMethods: ['gradcam', 'nope'] }, /--explain-methods.*nope/],
    [{ explainMethods: ['ig', 'ig'] }, /--explain-methods/],
  ];
  const resumes: [DistillStudySpec, RegExp][] = [
    [{ quick: true, resume: 0, epochs: 3 }, /drop --epochs/],
    [{ quick: true, resume: 7 }, /--version 7/],
  ];
  for (const [spec, message] of [...cases.map(([s, m]) => [{ ...TINY, ...s }, m] as const), ...resumes]) {
    await assert.rejects(distillStudyRun({ ...spec, runsDir: root }), (e: unknown) => e instanceof UsageError && message.test(e.message), JSON.stringify(spec));
  }
  assert.equal(existsSync(join(root, 'study-distill')), false);
});
