// Issue 17's study as one workflow (`slimnet study transtailor`): for each
// seed, a source model (trainRun on the source data set); for each target,
// TransTailor with α = 1 (transtailorRun: the transfer, the fine-tuned
// unpruned model, the loop), TransTailor with random α, and the
// fine-tune-then-prune baselines at TransTailor's MACs
// (study-transtailor-baseline.ts); then the table per target (mean ± std over
// seeds, the difference to TransTailor against the seed spread), in
// runs/study-transtailor/<source>-<arch>/version_N/:
//   config.json, status.json, run.log, results.json, results.csv, report.md,
//   fig_test_balanced_accuracy_<target>.png, fig_accuracy_vs_macs.png,
//   members/<key>/ with each member's own run.
// results.json is rewritten after every member, so an interruption keeps what
// is done; `resume: N` reads the finished members, resumes an interrupted
// source or TransTailor run through that run's own resume, and runs an
// interrupted baseline again (they are short).
import { mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { datasetNames } from '../data/index.js';
import { archNames } from '../models/index.js';
import { nowIso, pctText, plural } from '../report/format.js';
import { Run, readStatus } from '../runs/index.js';
import { getNumThreads } from '../tensor/index.js';
import { memberRun, reopenStudy } from './study-open.js';
import { UsageError } from '../util/errors.js';
import { ProgressTask, type Observer } from '../util/events.js';
import { trainRun, type TrainConfig } from './train.js';
import { transtailorRun, type TransTailorReport } from './transtailor.js';
import type { TransTailorIteration } from '../prune/transtailor/loop.js';
import { pruneBaseline } from './study-transtailor-baseline.js';
import { TRANSTAILOR_STUDY_FILES, studyRows, tableText, writeStudyResults, writeTransTailorStudyReport, type StudyMember, type StudyRow } from './study-transtailor-report.js';
import { TRANSTAILOR_STUDY_RESUME_FIELDS, checkTransTailorStudy, resolveTransTailorStudy, studyFlagOf, transtailorStudyDefaults, type StudyTarget, type TransTailorStudyConfig, type TransTailorStudySpec } from './study-transtailor-spec.js';

export { TRANSTAILOR_STUDY_FULL, TRANSTAILOR_STUDY_QUICK, resolveTransTailorStudy, type TransTailorStudySpec, type TransTailorStudyConfig, type StudyTarget } from './study-transtailor-spec.js';
export { TRANSTAILOR_STUDY_FILES, studyRows, type StudyMember, type StudyRow } from './study-transtailor-report.js';

const COMMAND_DIR = 'study-transtailor';
const DEFAULT_RUNS_DIR = './runs';
/**
 * The unpruned model fine-tuned on with the baselines' budget: the transfer
 * fine-tuning alone is shorter than what TransTailor's iterations and the
 * baselines add, so this is the unpruned reference at equal training.
 */
const UNPRUNED_BUDGET = 'unpruned-budget';

/** The baselines prune in steps of this share of the remaining filters, so their last step overshoots TransTailor's MACs by little. */
const BASELINE_STEP = 0.02;

export type TransTailorStudyStatus = 'complete' | 'interrupted' | 'already-complete';

export interface TransTailorStudyReport {
  status: TransTailorStudyStatus;
  interrupted: boolean;
  run: string;
  version: number;
  config: TransTailorStudyConfig;
  /** Every finished member (of earlier, resumed calls too), in run order. */
  members: StudyMember[];
  /** Members run by this call. */
  ran: number;
  rows: StudyRow[];
  /** report.md (null when no target member finished). */
  report: string | null;
  seconds: number;
  /** The command that resumes an interrupted study, else null. */
  resumeCommand: string | null;
}

/** One unit of work. */
interface Planned {
  key: string;
  method: string;
  target: StudyTarget | null;
  seed: number;
}

/** Every member, seed by seed: the source, then per target TransTailor, random α and the baselines (which need TransTailor's result). */
export function plannedMembers(c: Pick<TransTailorStudyConfig, 'seeds' | 'targets' | 'baselines'>): Planned[] {
  return c.seeds.flatMap((seed) => [
    { key: `source-s${seed}`, method: 'source', target: null, seed },
    ...c.targets.flatMap((t) => ['transtailor', 'transtailor-random', ...c.baselines, UNPRUNED_BUDGET].map((method) => ({ key: `${method}-${t.name}-s${seed}`, method, target: t, seed }))),
  ]);
}

function checkNames(c: TransTailorStudyConfig): void {
  if (!archNames().includes(c.arch)) throw new UsageError(`--arch: unknown architecture '${c.arch}' (available: ${archNames().join(', ')})`);
  for (const d of [c.sourceDataset, ...c.targets.map((t) => t.dataset)]) {
    if (!(datasetNames() as string[]).includes(d)) throw new UsageError(`unknown data set '${d}' (available: ${datasetNames().join(', ')})`);
  }
}

type Opened = { run: Run; config: TransTailorStudyConfig; members: StudyMember[]; complete: boolean };

function openStudy(spec: TransTailorStudySpec): Opened {
  const runsDir = spec.runsDir ?? DEFAULT_RUNS_DIR;
  if (spec.resume === undefined) {
    const config = resolveTransTailorStudy(spec);
    checkNames(config);
    const run = Run.create({ root: runsDir, command: COMMAND_DIR, dataset: config.sourceDataset, arch: config.arch }, config, { command: 'study transtailor' });
    return { run, config, members: [], complete: false };
  }
  const d = transtailorStudyDefaults(spec.quick);
  return reopenStudy<TransTailorStudyConfig, StudyMember>({
    resume: spec.resume,
    given: (Object.keys(spec) as (keyof TransTailorStudySpec)[]).filter((k) => spec[k] !== undefined && !TRANSTAILOR_STUDY_RESUME_FIELDS.has(k)),
    flagOf: studyFlagOf,
    id: { root: runsDir, command: COMMAND_DIR, dataset: d.sourceDataset, arch: d.arch },
    what: 'TransTailor study',
    sameFlags: '--quick and --runs-dir',
    resultsFile: TRANSTAILOR_STUDY_FILES.results,
    load: (saved) => (checkTransTailorStudy(saved), saved),
  });
}

/** What the study reads of a TransTailor run. */
type TransTailorFigures = Pick<TransTailorReport, 'run' | 'finalTestBalancedAccuracy' | 'finalValBalancedAccuracy' | 'fineTunedTestBalancedAccuracy' | 'fineTunedValBalancedAccuracy' | 'paramsBefore' | 'paramsAfter' | 'macsBefore' | 'macsAfter' | 'transferEpochs' | 'keptIterations' | 'stoppedBecause' | 'iterations' | 'interrupted'>;

const ttMember = (p: Planned, study: string, r: TransTailorFigures, seconds: number): StudyMember => ({
  key: p.key,
  method: p.method,
  target: p.target!.name,
  seed: p.seed,
  run: relative(study, r.run),
  testBalancedAccuracy: r.finalTestBalancedAccuracy,
  testAccuracy: null,
  valBalancedAccuracy: r.finalValBalancedAccuracy,
  params: r.paramsAfter,
  macs: r.macsAfter,
  fineTuneEpochs: keptFineTuneEpochs(r),
  iterations: r.iterations.length,
  keptIterations: r.keptIterations,
  stoppedBecause: r.stoppedBecause,
  seconds,
});

/** The parts of a complete transtailorRun's report the study reads, from its result.json and iterations.jsonl. */
function transtailorReportFromFiles(dir: string): TransTailorFigures {
  const j = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as Record<string, number> & { stop_reason: string };
  const iterations = readFileSync(join(dir, 'iterations.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TransTailorIteration);
  return {
    run: dir, finalTestBalancedAccuracy: j.final_test_balanced_acc, finalValBalancedAccuracy: j.final_val_balanced_acc, fineTunedTestBalancedAccuracy: j.finetuned_test_balanced_acc,
    fineTunedValBalancedAccuracy: j.finetuned_val_balanced_acc, paramsBefore: j.params_before, paramsAfter: j.params_after, macsBefore: j.macs_before, macsAfter: j.macs_after,
    transferEpochs: j.transfer_epochs, keptIterations: j.kept_iterations, stoppedBecause: j.stop_reason, iterations, interrupted: false,
  } as TransTailorFigures;
}

/** Fine-tuning epochs of the kept iterations: the budget the baselines get. */
const keptFineTuneEpochs = (r: TransTailorFigures): number => r.iterations.filter((it) => it.kept).reduce((a, it) => a + it.fineTuneEpochs, 0);

/** Runs (or resumes) the TransTailor study; an interrupted study returns its report with `interrupted: true`. */
export async function transtailorStudyRun(spec: TransTailorStudySpec, observer: Observer = {}): Promise<TransTailorStudyReport> {
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
  const resumeCommand = ['slimnet study transtailor', ...(c.quick ? ['--quick'] : []), ...(runsDir !== DEFAULT_RUNS_DIR ? [`--runs-dir ${runsDir}`] : []), `--version ${run.version}`].join(' ');
  const targets = c.targets.map((t) => t.name);
  const report = (status: TransTailorStudyStatus, ran: number, path: string | null): TransTailorStudyReport => ({
    status,
    interrupted: status === 'interrupted',
    run: run.path,
    version: run.version,
    config: c,
    members,
    ran,
    rows: studyRows(members, targets),
    report: path,
    seconds: (performance.now() - t0) / 1000,
    resumeCommand: status === 'interrupted' ? resumeCommand : null,
  });
  const planned = plannedMembers(c);
  const done = new Set(members.map((m) => m.key));
  // A study completed before this version planned more members (the unpruned reference at the baselines' budget) runs just those.
  if (opened.complete && planned.every((p) => done.has(p.key))) {
    say(`study version ${run.version} is already complete: ${run.file(TRANSTAILOR_STUDY_FILES.report)}`);
    return report('already-complete', 0, run.file(TRANSTAILOR_STUDY_FILES.report));
  }
  if (spec.resume !== undefined) run.start();
  const started = nowIso();
  say(`${spec.resume !== undefined ? `--- ${started}: resuming` : 'TransTailor study'} ${run.path} (version ${run.version}): ${c.arch} x${c.width} from ${c.sourceDataset} to ${c.targets.map((t) => t.name).join(', ')}; seeds ${c.seeds.join(',')}; ${planned.length} members${done.size ? `, ${planned.filter((p) => done.has(p.key)).length} already finished` : ''}`);
  say(`sizes: ${c.sizing}`);

  const task = new ProgressTask(observer.onProgress, { id: 'study', label: 'study', total: planned.length, unit: 'member', initial: planned.filter((p) => done.has(p.key)).length });
  const sub = { signal, onProgress: observer.onProgress };
  const find = (method: string, target: string | null, seed: number) => members.find((m) => m.method === method && m.target === target && m.seed === seed);
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
      const add: StudyMember[] = [];
      if (p.method === 'source') {
        const existing = memberRun(dir, 'train');
        const r = await trainRun({ dataset: c.sourceDataset as TrainConfig['dataset'], arch: c.arch, width: c.width, seed: p.seed, epochs: c.sourceEpochs, fraction: c.sourceFraction, lr: c.sourceLr, runsDir: dir, ...(existing ? { resume: 0 } : {}) }, sub);
        if (r.interrupted || !r.test) {
          interrupted = r.interrupted;
          if (!interrupted) throw new UsageError(`${p.key}: the source run ${r.run} has no test figures (was it finished elsewhere?): delete ${dir} and resume`);
          break;
        }
        const t = r.bestTest ?? r.test;
        add.push({ key: p.key, method: 'source', target: null, seed: p.seed, run: relative(run.path, join(r.run, 'best.safetensors')), testBalancedAccuracy: t.balancedAccuracy, testAccuracy: t.accuracy, valBalancedAccuracy: null, params: r.params ?? 0, macs: r.macs ?? 0, fineTuneEpochs: null, seconds: (performance.now() - m0) / 1000 });
      } else if (p.method === 'transtailor' || p.method === 'transtailor-random') {
        const t = p.target!;
        const source = find('source', null, p.seed)!;
        const existing = memberRun(dir, 'transtailor');
        // A member run that completed before the study recorded it (stopped in between) is read, not run again.
        const r = existing && readStatus(existing)?.status === 'complete' ? transtailorReportFromFiles(existing) : await transtailorRun(
          {
            source: join(run.path, source.run), dataset: t.dataset, ...(t.classes ? { classes: t.classes } : {}), fraction: t.fraction, seed: p.seed,
            tau: c.tau, pruneShare: c.pruneShare, alphaIters: c.alphaIters, finetuneEpochs: c.finetuneEpochs, patience: c.patience, maxIterations: c.maxIterations,
            batchSize: c.batchSize, latencyRuns: c.latencyRuns, alphaInit: p.method === 'transtailor' ? 'ones' : 'random', runsDir: dir, ...(existing ? { resume: 0 } : {}),
          },
          sub,
        );
        if (r.interrupted) {
          interrupted = true;
          break;
        }
        add.push(ttMember(p, run.path, r, (performance.now() - m0) / 1000));
        // The α = 1 run's fine-tuned model is the unpruned reference (the random-α run's is the same model: same seed, same data).
        if (p.method === 'transtailor') {
          add.push({ key: `finetuned-${t.name}-s${p.seed}`, method: 'finetuned', target: t.name, seed: p.seed, run: relative(run.path, join(r.run, 'finetuned.safetensors')), testBalancedAccuracy: r.fineTunedTestBalancedAccuracy, testAccuracy: null, valBalancedAccuracy: r.fineTunedValBalancedAccuracy, params: r.paramsBefore, macs: r.macsBefore, fineTuneEpochs: r.transferEpochs, seconds: 0 });
        }
      } else {
        const t = p.target!;
        const tt = find('transtailor', t.name, p.seed)!;
        const ft = find('finetuned', t.name, p.seed)!;
        if (tt.macs >= ft.macs && p.method !== UNPRUNED_BUDGET) {
          // TransTailor kept no pruned model: at its MACs the baseline is the unpruned model itself.
          add.push({ ...ft, key: p.key, method: p.method, fineTuneEpochs: 0, seconds: 0, note: 'TransTailor kept no iteration: the unpruned model' });
          members.push(...add);
          done.add(p.key);
          ran++;
          writeStudyResults(run, members);
          task.tick(1, p.key);
          say(`${p.key}: TransTailor kept no iteration, so the baseline at its MACs is the unpruned model`);
          continue;
        }
        mkdirSync(dir, { recursive: true });
        const r = await pruneBaseline(
          { finetuned: join(run.path, ft.run), criterion: p.method === UNPRUNED_BUDGET ? null : p.method, targetMacs: tt.macs, stepShare: BASELINE_STEP, fineTuneEpochs: Math.max(c.finetuneEpochs, tt.fineTuneEpochs ?? 0), patience: c.patience, batchSize: c.batchSize, seed: p.seed, out: join(dir, 'final.safetensors') },
          signal,
        );
        if (r.interrupted) {
          interrupted = true;
          break;
        }
        add.push({ key: p.key, method: p.method, target: t.name, seed: p.seed, run: relative(run.path, join(dir, 'final.safetensors')), testBalancedAccuracy: r.testBalancedAccuracy, testAccuracy: r.testAccuracy, valBalancedAccuracy: r.valBalancedAccuracy, params: r.params, macs: r.macs, fineTuneEpochs: r.fineTuneEpochs, seconds: r.seconds });
      }
      members.push(...add);
      done.add(p.key);
      ran++;
      writeStudyResults(run, members);
      task.tick(1, p.key);
      const m = add[0]!;
      say(`${p.key}: test balanced accuracy ${pctText(m.testBalancedAccuracy)} %, ${m.macs.toLocaleString('en-US')} MACs${m.keptIterations !== undefined ? `, ${m.keptIterations} of ${plural(m.iterations ?? 0, 'iteration')} kept` : ''} (${m.run})`);
    }
    task.end();
    const rows = studyRows(members, targets);
    const path = await writeTransTailorStudyReport(run, { config: c, members, rows, invocation: spec.invocation ?? 'transtailorStudyRun', started, seconds: (performance.now() - t0) / 1000, threads: getNumThreads() });
    if (rows.length) say(`\n${tableText(rows)}`);
    if (path) say(`\nreport: ${path}`);
    if (interrupted) {
      const finished = planned.filter((p) => done.has(p.key)).length;
      say(`interrupted after ${finished} of ${planned.length} members: resume with ${resumeCommand}`);
      run.interrupt({ message: `interrupted after ${finished} of ${planned.length} members` });
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
export function transtailorStudyJson(r: TransTailorStudyReport): Record<string, unknown> {
  return {
    run: r.run,
    version: r.version,
    status: r.status,
    report: r.report,
    members: r.members.length,
    rows: r.rows.map((x) => ({ target: x.target, method: x.method, seeds: x.seeds, test_balanced_acc: { mean: x.testBalancedAccuracy.mean, std: x.testBalancedAccuracy.std }, macs: x.macs.mean, params: x.params.mean, delta_pp: x.deltaToTransTailor, beyond_spread: x.beyondSpread })),
  };
}
