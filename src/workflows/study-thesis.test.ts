// thesisStudyRun in process (the CLI test runs the whole --quick grid with
// Ctrl-C and a resume in child processes): a dry run plans without a run
// directory, an already-aborted signal stops before one exists, a study's
// report is what its files hold (results.json's curves, table41.csv, status),
// a finished version resumes to 'already-complete', and a resume that would
// change the saved configuration is refused naming the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setNumThreads } from '../tensor/index.js';
import { tempDir } from '../data/testing.js';
import { UsageError } from '../util/errors.js';
import { thesisStudyRun, thesisSummaryJson, type ThesisStudySpec } from './study-thesis.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

// The --quick study without the retraining families: the greedy curves and Table 4.1.
const SMALL: ThesisStudySpec = { quick: true, parts: ['none', 'table'] };

test('thesisStudyRun: dry run and an aborted signal leave no run directory', async (t) => {
  const runsDir = tempDir(t, 'slimnet-study-wf-');
  const lines: string[] = [];
  const planned = await thesisStudyRun({ ...SMALL, runsDir, dryRun: true }, { onLog: (l) => lines.push(l) });
  assert.equal(planned.status, 'planned');
  assert.equal(planned.run, null);
  assert.equal(planned.plan!.curves, planned.plan!.families.find((f) => f.family === 'none')!.curves);
  assert.ok(lines.some((l) => l.startsWith(`grid: ${planned.plan!.curves} curves`)));

  const stop = new AbortController();
  stop.abort();
  const stopped = await thesisStudyRun({ ...SMALL, runsDir }, { signal: stop.signal });
  assert.equal(stopped.status, 'interrupted');
  assert.equal(stopped.stoppedIn, 'plan');
  // A validation split of one image cannot carry the curves or the floor: refused, naming the option.
  await assert.rejects(thesisStudyRun({ ...SMALL, runsDir, validation: 1 }), (e: unknown) => e instanceof UsageError && /^--validation 1 holds out 1 image for 10 classes/.test(e.message));
  assert.ok(!existsSync(join(runsDir, 'study-thesis')), 'no run directory');
});

test('thesisStudyRun: the report is what results.json, table41.csv and status.json hold; a finished version resumes to already-complete', async (t) => {
  const runsDir = tempDir(t, 'slimnet-study-wf-');
  const r = await thesisStudyRun({ ...SMALL, runsDir });
  assert.equal(r.status, 'complete');
  assert.equal(r.run, join(runsDir, 'study-thesis', 'mnist-digits-lenet5', 'version_0'));
  const run = r.run!;
  assert.equal(r.curves.length, r.plan!.curves);
  assert.ok(r.curves.every((c) => c.experiment.family === 'none' && c.complete));

  const results = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8')) as { curves: { experiment: { id: string }; points: { accuracy: number }[] }[]; table41: { floor: number; kept_step: number } };
  assert.deepEqual(results.curves.map((c) => c.experiment.id), r.curves.map((c) => c.experiment.id));
  assert.deepEqual(results.curves.map((c) => c.points.map((p) => p.accuracy)), r.curves.map((c) => c.points.map((p) => p.accuracy)));
  const table = r.table!;
  assert.deepEqual([results.table41.floor, results.table41.kept_step], [table.floor, table.keptStep]);
  const csv = readFileSync(join(run, 'table41.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  assert.deepEqual(csv.slice(1).map((c) => [c[0], Number(c[1])]), table.rows.map((x) => [x.model, x.testAccuracy]));
  // The base row is the base the report describes; the floor is maxDrop (5 pp with --quick) under its floor-split accuracy.
  assert.equal(table.rows[0]!.testAccuracy, r.base!.testAccuracy);
  assert.ok(Math.abs(table.floor - (r.base!.floorAccuracy - 0.05)) < 1e-12);
  for (const f of r.files) assert.ok(existsSync(join(run, f)), f);
  const status = JSON.parse(readFileSync(join(run, 'status.json'), 'utf8')) as { status: string; params: number; test: { accuracy: number } };
  assert.equal(status.status, 'complete');
  assert.deepEqual([status.params, status.test.accuracy], [r.base!.params, r.base!.testAccuracy]);
  const summary = thesisSummaryJson(r);
  assert.equal(summary.pruned_test_acc, table.rows[1]!.testAccuracy);
  assert.equal(summary.curves, r.curves.length);

  const again = await thesisStudyRun({ runsDir, resume: 0 });
  assert.equal(again.status, 'already-complete');
  assert.deepEqual(thesisSummaryJson(again), { run, version: 0, status: 'complete', report: join(run, 'report.md') });
  await assert.rejects(thesisStudyRun({ runsDir, resume: 0, points: 5, tableSnapTo: 8 }), (e: unknown) => e instanceof UsageError && /drop --points, --table-snap-to/.test(e.message));
  await assert.rejects(thesisStudyRun({ runsDir, resume: 3 }), (e: unknown) => e instanceof UsageError && /no study version 3/.test(e.message));
});
