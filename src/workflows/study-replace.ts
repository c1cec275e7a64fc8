// Issue 18's study as one workflow (`slimnet study replace`): for each seed, a
// source model (trainRun), seed 001's variants (replaceRun from that source,
// one factor changed at a time from the base variant), and the two baselines
// at the base variant's final size (study-replace-baseline.ts); then the
// table (mean ± std over seeds, the difference to the base variant against
// the seed spread), in runs/study-replace/<dataset>-<arch>/version_N/:
//   config.json, status.json, run.log, results.json, results.csv, report.md,
//   fig_test_accuracy.png, fig_base_alpha_{accuracy,loss}.png,
//   members/<key>/ with each member's own run.
// results.json is rewritten after every member, so an interruption keeps what
// is done; `resume: N` reads the finished members, resumes an interrupted
// source, replacement or scratch run through that run's own resume (a
// replacement that finished but was not recorded is read from its
// result.json: resuming a complete replace run would redo its finishing), and
// runs an interrupted pruning again (pruneRun does not resume).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { archNames } from '../models/index.js';
import { nowIso, pctText, plural } from '../report/format.js';
import { RUN_FILES, Run } from '../runs/index.js';
import { getNumThreads } from '../tensor/index.js';
import { memberRun, reopenStudy } from './study-open.js';
import { UsageError } from '../util/errors.js';
import { ProgressTask, type Observer } from '../util/events.js';
import { replaceRun, type ReplaceSpec } from './replace.js';
import type { ReplaceFinal, Collapse } from './replace-report.js';
import { pruneBaselineRun, scratchRun } from './study-replace-baseline.js';
import { REPLACE_STUDY_FILES, replaceStudyRows, replaceStudyTableText, writeReplaceStudyReport, writeReplaceStudyResults, type ReplaceStudyMember, type ReplaceStudyRow } from './study-replace-report.js';
import {
  REPLACE_STUDY_RESUME_FIELDS,
  REPLACE_STUDY_VARIANTS,
  checkReplaceStudy,
  replaceStudyDefaults,
  replaceStudyFlag,
  resolveReplaceStudy,
  variantOptions,
  type ReplaceStudyConfig,
  type ReplaceStudySpec,
  type ReplaceStudyVariant,
} from './study-replace-spec.js';
import { trainRun, type TrainConfig, type TrainReport } from './train.js';

export { REPLACE_STUDY_FULL, REPLACE_STUDY_QUICK, resolveReplaceStudy, variantOptions, type ReplaceStudySpec, type ReplaceStudyConfig } from './study-replace-spec.js';
export { REPLACE_STUDY_FILES, replaceStudyRows, type ReplaceStudyMember, type ReplaceStudyRow } from './study-replace-report.js';

const COMMAND_DIR = 'study-replace';
const DEFAULT_RUNS_DIR = './runs';

export type ReplaceStudyStatus = 'complete' | 'interrupted' | 'already-complete';

export interface ReplaceStudyReport {
  status: ReplaceStudyStatus;
  interrupted: boolean;
  run: string;
  version: number;
  config: ReplaceStudyConfig;
  /** Every finished member (of earlier, resumed calls too), in run order. */
  members: ReplaceStudyMember[];
  /** Members run (or read from a member run the study had not recorded) by this call. */
  ran: number;
  rows: ReplaceStudyRow[];
  /** report.md (null before any member finished). */
  report: string | null;
  seconds: number;
  /** The command that resumes an interrupted study, else null. */
  resumeCommand: string | null;
}

/** One unit of work. */
interface Planned {
  key: string;
  method: string;
  seed: number;
}

/** Every member, seed by seed: the source, the variants (base first: the baselines need its size), then the baselines. */
export function plannedMembers(c: Pick<ReplaceStudyConfig, 'seeds' | 'variants' | 'baselines'>): Planned[] {
  const variants = REPLACE_STUDY_VARIANTS.filter((v) => c.variants.includes(v));
  return c.seeds.flatMap((seed) => ['source', ...variants, ...c.baselines].map((method) => ({ key: `${method}-s${seed}`, method, seed })));
}

type Opened = { run: Run; config: ReplaceStudyConfig; members: ReplaceStudyMember[]; complete: boolean };

function openStudy(spec: ReplaceStudySpec): Opened {
  const runsDir = spec.runsDir ?? DEFAULT_RUNS_DIR;
  if (spec.resume === undefined) {
    const config = resolveReplaceStudy(spec);
    if (!archNames().includes(config.arch)) throw new UsageError(`--arch: unknown architecture '${config.arch}' (available: ${archNames().join(', ')})`);
    const run = Run.create({ root: runsDir, command: COMMAND_DIR, dataset: config.dataset, arch: config.arch }, config, { command: 'study replace' });
    return { run, config, members: [], complete: false };
  }
  const d = replaceStudyDefaults(spec.quick);
  return reopenStudy<ReplaceStudyConfig, ReplaceStudyMember>({
    resume: spec.resume,
    given: (Object.keys(spec) as (keyof ReplaceStudySpec)[]).filter((k) => spec[k] !== undefined && !REPLACE_STUDY_RESUME_FIELDS.has(k)),
    flagOf: replaceStudyFlag,
    id: { root: runsDir, command: COMMAND_DIR, dataset: d.dataset, arch: d.arch },
    what: 'replacement study',
    sameFlags: '--quick and --runs-dir',
    resultsFile: REPLACE_STUDY_FILES.results,
    load: (saved) => (checkReplaceStudy(saved), saved),
  });
}

/** What the study reads of a replace run's result.json. */
interface ReplaceResultFile {
  final: Pick<ReplaceFinal, 'checkpoint' | 'params' | 'macs' | 'accuracy' | 'balancedAccuracy' | 'alpha'>;
  collapse: Pick<Collapse, 'epoch'> | null;
  epochs: unknown[];
}

const readResult = (dir: string): ReplaceResultFile => JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as ReplaceResultFile;

/** A training member's test figures: this call's, or status.json's for a run that was complete already. */
function trainFigures(r: TrainReport): { accuracy: number; balancedAccuracy: number; params: number; macs: number } {
  const t = r.test ?? r.runStatus.test;
  if (!t) throw new UsageError(`${r.run} finished without test figures: delete its member directory and resume the study`);
  return { accuracy: t.accuracy, balancedAccuracy: t.balancedAccuracy, params: r.params ?? r.runStatus.params ?? 0, macs: r.macs ?? r.runStatus.macs ?? 0 };
}

/** Runs (or resumes) the replacement study; an interrupted study returns its report with `interrupted: true`. */
export async function replaceStudyRun(spec: ReplaceStudySpec, observer: Observer = {}): Promise<ReplaceStudyReport> {
  const t0 = performance.now();
  const signal = observer.signal;
  const opened = openStudy(spec);
  const { run, config: c } = opened;
  const say = (line: string): void => {
    run.say(line);
    observer.onLog?.(line);
  };
  const members = [...opened.members];
  const runsDir = spec.runsDir ?? DEFAULT_RUNS_DIR;
  const resumeCommand = ['slimnet study replace', ...(c.quick ? ['--quick'] : []), ...(runsDir !== DEFAULT_RUNS_DIR ? [`--runs-dir ${runsDir}`] : []), `--version ${run.version}`].join(' ');
  const report = (status: ReplaceStudyStatus, ran: number, path: string | null): ReplaceStudyReport => ({
    status,
    interrupted: status === 'interrupted',
    run: run.path,
    version: run.version,
    config: c,
    members,
    ran,
    rows: replaceStudyRows(members),
    report: path,
    seconds: (performance.now() - t0) / 1000,
    resumeCommand: status === 'interrupted' ? resumeCommand : null,
  });
  if (opened.complete) {
    say(`study version ${run.version} is already complete: ${run.file(REPLACE_STUDY_FILES.report)}`);
    return report('already-complete', 0, run.file(REPLACE_STUDY_FILES.report));
  }
  if (spec.resume !== undefined) run.start();
  const planned = plannedMembers(c);
  const done = new Set(members.map((m) => m.key));
  const started = nowIso();
  say(`${spec.resume !== undefined ? `--- ${started}: resuming` : 'replacement study'} ${run.path} (version ${run.version}): ${c.arch} x${c.width} on ${c.dataset} (fraction ${c.fraction}), ${c.paramShare * 100} % of the parameters replaced; variants ${c.variants.join(',')}; baselines ${c.baselines.join(',') || 'none'}; seeds ${c.seeds.join(',')}; ${planned.length} members${done.size ? `, ${done.size} already finished` : ''}`);
  say(`sizes: ${c.sizing}`);

  const task = new ProgressTask(observer.onProgress, { id: 'study', label: 'study', total: planned.length, unit: 'member', initial: done.size });
  const sub: Observer = { ...(signal ? { signal } : {}), ...(observer.onProgress ? { onProgress: observer.onProgress } : {}) };
  const find = (method: string, seed: number): ReplaceStudyMember => members.find((m) => m.method === method && m.seed === seed)!;
  const train = (seed: number, epochs: number) => ({ dataset: c.dataset as TrainConfig['dataset'], arch: c.arch, width: c.width, fraction: c.fraction, seed, epochs, lr: c.sourceLr, batchSize: c.batchSize });
  let ran = 0;
  let interrupted = false;
  try {
    for (const p of planned) {
      if (done.has(p.key)) continue;
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      const dir = join(run.path, 'members', p.key);
      const m0 = performance.now();
      task.tick(0, p.key);
      const seconds = (): number => (performance.now() - m0) / 1000;
      const rel = (path: string): string => relative(run.path, path);
      let m: ReplaceStudyMember;
      if (p.method === 'source') {
        const existing = memberRun(dir, 'train');
        const r = await trainRun({ ...train(p.seed, c.sourceEpochs), runsDir: dir, ...(existing ? { resume: 0 } : {}) }, sub);
        if (r.interrupted) {
          interrupted = true;
          break;
        }
        const f = trainFigures(r);
        // The final weights (the cosine schedule's end), whose test figures every resume path has.
        m = { key: p.key, method: 'source', seed: p.seed, run: rel(r.checkpoints.last), testAccuracy: f.accuracy, testBalancedAccuracy: f.balancedAccuracy, params: f.params, macs: f.macs, epochs: r.epochsDone, finalAlpha: null, collapseEpoch: null, seconds: seconds() };
      } else if ((REPLACE_STUDY_VARIANTS as readonly string[]).includes(p.method)) {
        const source = join(run.path, find('source', p.seed).run);
        const existing = memberRun(dir, 'replace');
        let resultDir = existing;
        // A replace run that finished (result.json written) before the study recorded it is read: resuming it would redo its finishing.
        if (!existing || !existsSync(join(existing, 'result.json'))) {
          const o = variantOptions(p.method as ReplaceStudyVariant, c);
          const rs: ReplaceSpec = existing
            ? // A resumed run takes its own configuration; the checkpoint is compared as config.json spells it.
              { checkpoint: (JSON.parse(readFileSync(join(existing, RUN_FILES.config), 'utf8')) as { checkpoint: string }).checkpoint, resume: 0 }
            : { checkpoint: source, paramShare: c.paramShare, ...o, lr: c.lr, batchSize: c.batchSize, collapsePp: c.collapsePp };
          const r = await replaceRun({ ...rs, latencyRuns: c.latencyRuns, runsDir: dir }, sub);
          if (r.status === 'interrupted') {
            interrupted = true;
            break;
          }
          resultDir = r.run;
        }
        const j = readResult(resultDir!);
        m = {
          key: p.key, method: p.method, seed: p.seed, run: rel(j.final.checkpoint), testAccuracy: j.final.accuracy, testBalancedAccuracy: j.final.balancedAccuracy, params: j.final.params, macs: j.final.macs,
          epochs: j.epochs.length, finalAlpha: j.final.alpha, collapseEpoch: j.collapse?.epoch ?? null, seconds: seconds(),
        };
      } else if (p.method === 'scratch') {
        const base = find('base', p.seed);
        const source = find('source', p.seed);
        const existing = memberRun(dir, 'scratch');
        const r = await scratchRun({ graphOf: join(run.path, base.run), train: train(p.seed, source.epochs + base.epochs), runsDir: dir, resume: existing !== null }, sub);
        if (r.interrupted) {
          interrupted = true;
          break;
        }
        const f = trainFigures(r);
        m = { key: p.key, method: 'scratch', seed: p.seed, run: rel(r.checkpoints.last), testAccuracy: f.accuracy, testBalancedAccuracy: f.balancedAccuracy, params: f.params, macs: f.macs, epochs: r.epochsDone, finalAlpha: null, collapseEpoch: null, seconds: seconds() };
      } else {
        const base = find('base', p.seed);
        const source = find('source', p.seed);
        if (base.macs >= source.macs) {
          // The base variant collapsed at its first α and kept the source's size: at those MACs the baseline is the source itself.
          m = { ...source, key: p.key, method: 'prune', epochs: 0, seconds: 0, note: 'the base variant kept the source\'s MACs (its schedule collapsed at once): the source model, unpruned' };
        } else {
          // pruneRun does not resume: an interrupted pruning starts again.
          rmSync(dir, { recursive: true, force: true });
          const r = await pruneBaselineRun(
            { checkpoint: join(run.path, source.run), criterion: c.pruneCriterion, targetMacs: base.macs, sourceMacs: source.macs, stepShare: c.pruneStepShare, retrainIters: c.pruneRetrainIters, finetuneEpochs: base.epochs, lr: c.lr, batchSize: c.batchSize, latencyRuns: c.latencyRuns, runsDir: dir },
            sub,
          );
          if (r.interrupted) {
            interrupted = true;
            break;
          }
          m = {
            key: p.key, method: 'prune', seed: p.seed, run: rel(r.checkpoint), testAccuracy: r.prunedTestAccuracy, testBalancedAccuracy: r.prunedTestBalancedAccuracy, params: r.paramsAfter, macs: r.macsAfter,
            epochs: r.finetune?.epochs ?? 0, finalAlpha: null, collapseEpoch: null, seconds: seconds(),
            ...(r.finetune && !r.finetune.kept ? { note: 'the fine-tuning lowered validation accuracy, so the pruned weights from before it are kept' } : {}),
          };
        }
      }
      members.push(m);
      done.add(p.key);
      ran++;
      writeReplaceStudyResults(run, members);
      task.tick(1, p.key);
      say(`${p.key}: test accuracy ${pctText(m.testAccuracy)} % (balanced ${pctText(m.testBalancedAccuracy)} %), ${m.params.toLocaleString('en-US')} params, ${m.macs.toLocaleString('en-US')} MACs${m.finalAlpha !== null ? `, final α ${+m.finalAlpha.toPrecision(3)}` : ''}, ${plural(m.epochs, 'epoch')} (${m.run})`);
    }
    task.end();
    const rows = replaceStudyRows(members);
    const path = await writeReplaceStudyReport(run, { config: c, members, rows, invocation: spec.invocation ?? 'replaceStudyRun', started, seconds: (performance.now() - t0) / 1000, threads: getNumThreads() });
    if (rows.length) say(`\n${replaceStudyTableText(rows)}`);
    if (path) say(`\nreport: ${path}`);
    if (interrupted) {
      say(`interrupted after ${members.length} of ${planned.length} members: resume with ${resumeCommand}`);
      run.interrupt({ message: `interrupted after ${members.length} of ${planned.length} members` });
      return report('interrupted', ran, path);
    }
    run.complete();
    return report('complete', ran, path);
  } catch (e) {
    run.fail(e);
    run.say(`error: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
}

/** The `--json` line: the table in numbers (fractions). */
export function replaceStudyJson(r: ReplaceStudyReport): Record<string, unknown> {
  return {
    run: r.run,
    version: r.version,
    status: r.status,
    report: r.report,
    members: r.members.length,
    rows: r.rows.map((x) => ({
      method: x.method,
      seeds: x.seeds,
      test_acc: { mean: x.testAccuracy.mean, std: x.testAccuracy.std },
      test_balanced_acc: { mean: x.testBalancedAccuracy.mean, std: x.testBalancedAccuracy.std },
      params: x.params.mean,
      macs: x.macs.mean,
      final_alpha: x.finalAlphas,
      delta_pp: x.deltaToBase,
      beyond_spread: x.beyondSpread,
    })),
  };
}
