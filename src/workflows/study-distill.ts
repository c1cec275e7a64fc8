// Seed 002's distillation study as one workflow: for each seed a teacher, a
// student from scratch and the student distilled with each loss, all with the
// seed002 recipe, then the table (mean ± std over seeds, best- and last-epoch
// figures, agreement with the teacher, training time, the difference to
// scratch against the seed spread), in
// runs/study-distill/<dataset>-<teacherArch>/version_N/:
//   config.json, status.json, run.log, results.json, results.csv, report.md,
//   fig_val_accuracy.png, fig_test_accuracy.png, members/<key>/ with each
//   member's own run (trainRun / distillRun, version_0 of its own runs dir),
//   and explain/: once every member has finished, `slimnet explain` of one
//   seed's teacher and students (study-distill-explain.ts), summarised in
//   results.json and report.md.
// results.json is rewritten after every member, so an interruption keeps what
// is done; `resume: N` reads the finished members and resumes an interrupted
// member through its own run's resume; a finished explanation is read, not
// recomputed.
import { join, relative } from 'node:path';
import { DataLoader, checkpointData, evalTransform } from '../data/index.js';
import { loadCheckpoint } from '../graph/index.js';
import { archNames } from '../models/index.js';
import { agreement, distillLoss } from '../distill/index.js';
import { nowIso, pctText, plural, duration } from '../report/format.js';
import { Run, readMetrics, readStatus } from '../runs/index.js';
import { getNumThreads } from '../tensor/index.js';
import { evaluate } from '../train/index.js';
import { explainer } from '../explain/index.js';
import { memberRun, reopenStudy } from './study-open.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import { ProgressTask, type Observer } from '../util/events.js';
import { distillRun } from './distill.js';
import { trainRun, type TrainConfig, type TrainReport } from './train.js';
import { DISTILL_RESUME_FIELDS, checkDistillStudy, flagOf, resolveDistillStudy, studyDefaults, withExplainDefaults, type DistillStudyConfig, type DistillStudySpec } from './study-distill-spec.js';
import { STUDY_EXPLAIN_DIR, explainStudy, readStudyExplanation, type StudyExplanation } from './study-distill-explain.js';
import { DISTILL_STUDY_FILES, writeResults, writeStudyReport, type DistillStudyReport } from './study-distill-report.js';
import { methodOrder, methodRows, tableText, type MemberResult } from './study-distill-table.js';

export { DISTILL_STUDY_DATASETS, DISTILL_STUDY_FULL, DISTILL_STUDY_QUICK, type DistillStudySpec, type DistillStudyConfig } from './study-distill-spec.js';
export { distillStudyJson, DISTILL_STUDY_FILES, type DistillStudyReport, type DistillStudyStatus } from './study-distill-report.js';
export { STUDY_EXPLAIN_DIR, type StudyExplanation, type StudyExplainedModel } from './study-distill-explain.js';
export { meanStd, beyondSpread, methodRows, SPREAD_RULE, type MemberResult, type MethodRow, type Spread } from './study-distill-table.js';

const COMMAND_DIR = 'study-distill';
const DEFAULT_RUNS_DIR = './runs';

/** One member to run: its key, method and seed. */
interface PlannedMember {
  key: string;
  method: string;
  seed: number;
}

/** Every member of a configuration, seed by seed (so an interrupted study has whole seeds first): teacher, scratch, each loss. */
export function plannedMembers(c: Pick<DistillStudyConfig, 'seeds' | 'losses'>): PlannedMember[] {
  return c.seeds.flatMap((seed) => methodOrder(c.losses).map((method) => ({ key: `${method}-s${seed}`, method, seed })));
}

/** The engine-side checks: architectures, loss and explanation method names (a UsageError naming the flag). */
function checkNames(c: DistillStudyConfig): void {
  for (const m of c.explainMethods) {
    try {
      explainer(m);
    } catch (e) {
      if (!(e instanceof SlimnetError)) throw e;
      throw new UsageError(`--explain-methods: ${e.message}`);
    }
  }
  for (const [flag, arch] of [['--teacher-arch', c.teacherArch], ['--student-arch', c.studentArch]] as const) {
    if (!archNames().includes(arch)) throw new UsageError(`${flag}: unknown architecture '${arch}' (available: ${archNames().join(', ')})`);
  }
  for (const l of c.losses) {
    try {
      distillLoss(l);
    } catch (e) {
      throw new UsageError(`--losses: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

type Opened = { run: Run; config: DistillStudyConfig; members: MemberResult[]; complete: boolean };

function openStudy(spec: DistillStudySpec): Opened {
  const runsDir = spec.runsDir ?? DEFAULT_RUNS_DIR;
  if (spec.resume === undefined) {
    const config = resolveDistillStudy(spec);
    checkNames(config);
    const run = Run.create({ root: runsDir, command: COMMAND_DIR, dataset: config.dataset, arch: config.teacherArch }, config, { command: 'study distill' });
    return { run, config, members: [], complete: false };
  }
  const d = studyDefaults(spec.quick);
  return reopenStudy<DistillStudyConfig, MemberResult>({
    resume: spec.resume,
    given: (Object.keys(spec) as (keyof DistillStudySpec)[]).filter((k) => spec[k] !== undefined && !DISTILL_RESUME_FIELDS.has(k)),
    flagOf,
    id: { root: runsDir, command: COMMAND_DIR, dataset: spec.dataset ?? d.dataset, arch: spec.teacherArch ?? d.teacherArch },
    what: 'distillation study',
    sameFlags: '--dataset, --teacher-arch, --quick and --runs-dir',
    resultsFile: DISTILL_STUDY_FILES.results,
    // A study started before the explanation existed explains with its defaults.
    load: (saved) => {
      const config = withExplainDefaults(saved);
      checkDistillStudy(config);
      return config;
    },
  });
}

/** Test metrics of a checkpoint, and its agreement with a teacher checkpoint, on the teacher's test split and normalisation. */
async function measureCheckpoint(path: string, teacherPath: string | null, signal?: AbortSignal): Promise<{ accuracy: number; balancedAccuracy: number; agreement: number | null }> {
  const student = loadCheckpoint(path);
  const teacher = teacherPath ? loadCheckpoint(teacherPath) : null;
  const data = checkpointData(teacher?.meta ?? student.meta, {}, teacherPath ?? path);
  const loader = new DataLoader(data.test, { batchSize: 500, transform: evalTransform(data.norm) });
  try {
    student.model.eval();
    teacher?.model.eval();
    const m = await evaluate(student.model, loader, data.test.classes);
    const a = teacher ? await agreement(teacher.model, student.model, loader, signal) : null;
    return { accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, agreement: a ? a.rate : null };
  } finally {
    await loader.close();
    student.model.dispose();
    teacher?.model.dispose();
  }
}

/** A finished member's figures from its report (a run trained to the end in this call). */
function fromReport(p: PlannedMember, study: string, r: TrainReport & { agreement?: number | null }, agree: number | null): MemberResult {
  const t = r.test!;
  return {
    key: p.key,
    method: p.method,
    seed: p.seed,
    run: relative(study, r.run),
    epochs: r.epochsDone,
    testAccuracy: t.accuracy,
    testBalancedAccuracy: t.balancedAccuracy,
    bestEpochTestAccuracy: r.bestTest?.accuracy ?? t.accuracy,
    bestEpoch: r.bestEpoch,
    bestValAccuracy: r.bestValAccuracy,
    valAccuracy: r.history.map((h) => h.valAccuracy),
    agreement: agree,
    trainingSeconds: r.history.reduce((a, h) => a + h.seconds, 0),
    params: r.params ?? 0,
    macs: r.macs ?? 0,
  };
}

/**
 * A member whose run was already complete but not in results.json (the study
 * stopped between the two): its figures from the run's files, the best epoch
 * and the agreement measured again from its checkpoints.
 */
async function fromFiles(p: PlannedMember, study: string, dir: string, teacherPath: string | null, signal?: AbortSignal): Promise<MemberResult> {
  const s = readStatus(dir)!;
  const rows = readMetrics(dir);
  const last = await measureCheckpoint(join(dir, 'last.safetensors'), teacherPath, signal);
  const best = s.bestEpoch !== null && s.bestEpoch !== s.epochsDone ? await measureCheckpoint(join(dir, 'best.safetensors'), null, signal) : last;
  return {
    key: p.key,
    method: p.method,
    seed: p.seed,
    run: relative(study, dir),
    epochs: s.epochsDone,
    testAccuracy: s.test?.accuracy ?? last.accuracy,
    testBalancedAccuracy: s.test?.balancedAccuracy ?? last.balancedAccuracy,
    bestEpochTestAccuracy: best.accuracy,
    bestEpoch: s.bestEpoch,
    bestValAccuracy: s.bestValAccuracy,
    valAccuracy: rows.map((r) => r.val_acc),
    agreement: teacherPath ? last.agreement : null,
    trainingSeconds: rows.reduce((a, r) => a + r.seconds, 0),
    params: s.params ?? 0,
    macs: s.macs ?? 0,
  };
}

/** Runs (or resumes) the distillation study; an interrupted study returns its report with `interrupted: true`. */
export async function distillStudyRun(spec: DistillStudySpec, observer: Observer = {}): Promise<DistillStudyReport> {
  const t0 = performance.now();
  const signal = observer.signal;
  const opened = openStudy(spec);
  const { run, config: c } = opened;
  const say = (line: string): void => {
    run.say(line);
    observer.onLog?.(line);
  };
  const members = [...opened.members];
  const order = methodOrder(c.losses);
  const runsDir = spec.runsDir ?? DEFAULT_RUNS_DIR;
  const d = studyDefaults(c.quick);
  const resumeCommand = ['slimnet study distill', ...(c.quick ? ['--quick'] : []), ...(c.dataset !== d.dataset ? [`--dataset ${c.dataset}`] : []), ...(c.teacherArch !== d.teacherArch ? [`--teacher-arch ${c.teacherArch}`] : []), ...(runsDir !== DEFAULT_RUNS_DIR ? [`--runs-dir ${runsDir}`] : []), `--version ${run.version}`].join(' ');
  let explanation: StudyExplanation | null = null;
  let explained = false;
  const report = (status: DistillStudyReport['status'], ran: number, path: string | null): DistillStudyReport => ({
    status,
    interrupted: status === 'interrupted',
    run: run.path,
    version: run.version,
    config: c,
    members,
    ran,
    rows: methodRows(members, order),
    report: path,
    seconds: (performance.now() - t0) / 1000,
    resumeCommand: status === 'interrupted' ? resumeCommand : null,
    explanation,
    explained,
  });
  if (opened.complete) {
    explanation = readStudyExplanation(run, c, members);
    say(`study version ${run.version} is already complete: ${run.file(DISTILL_STUDY_FILES.report)}`);
    return report('already-complete', 0, run.file(DISTILL_STUDY_FILES.report));
  }
  if (spec.resume !== undefined) run.start();
  const planned = plannedMembers(c);
  const done = new Set(members.map((m) => m.key));
  const started = nowIso();
  say(`${spec.resume !== undefined ? `--- ${started}: resuming` : 'distillation study'} ${run.path} (version ${run.version}): ${c.teacherArch} x${c.teacherWidth} -> ${c.studentArch} x${c.studentWidth} on ${c.dataset} (fraction ${c.fraction}), ${plural(c.epochs, 'epoch')}, seeds ${c.seeds.join(',')}, losses ${c.losses.join(',')}; ${planned.length} member runs${done.size ? `, ${done.size} already finished` : ''}`);
  say(`recipe seed002, lr ${c.lr}${c.lrNote ? ` (${c.lrNote})` : ''}; sizes: ${c.sizing}`);

  const task = new ProgressTask(observer.onProgress, { id: 'study', label: 'study', total: planned.length, unit: 'run', initial: done.size });
  const member = { signal, onProgress: observer.onProgress };
  const common = { dataset: c.dataset as TrainConfig['dataset'], ...(c.root !== null ? { root: c.root } : {}), recipe: 'seed002' as const, epochs: c.epochs, fraction: c.fraction, batchSize: c.batchSize, lr: c.lr };
  const teacherOf = (seed: number): string => {
    const t = members.find((m) => m.method === 'teacher' && m.seed === seed);
    return join(run.path, t!.run, 'best.safetensors');
  };
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
      const command = p.method === 'teacher' || p.method === 'scratch' ? 'train' : 'distill';
      const existing = memberRun(dir, command);
      const resume = existing ? { resume: 0 } : {};
      const teacherPath = p.method === 'teacher' ? null : teacherOf(p.seed);
      task.tick(0, `${p.key}${existing ? ' (resumed)' : ''}`);
      let r: TrainReport & { agreement?: number | null };
      if (p.method === 'teacher') r = await trainRun({ ...common, arch: c.teacherArch, width: c.teacherWidth, seed: p.seed, runsDir: dir, ...resume }, member);
      else if (p.method === 'scratch') r = await trainRun({ ...common, arch: c.studentArch, width: c.studentWidth, seed: p.seed, runsDir: dir, ...resume }, member);
      else r = await distillRun({ ...common, teacher: teacherPath!, student: c.studentArch, width: c.studentWidth, loss: [p.method], seed: p.seed, runsDir: dir, ...resume }, member);
      if (r.interrupted) {
        interrupted = true;
        break;
      }
      let m: MemberResult;
      if (r.test) {
        // The scratch student's agreement is measured here, as distillRun measures a distilled one's.
        const agree = p.method === 'teacher' ? null : p.method === 'scratch' ? (await measureCheckpoint(r.checkpoints.last, teacherPath, signal)).agreement : (r.agreement ?? null);
        if (signal?.aborted) {
          interrupted = true; // the agreement may be partial: the resume measures it again from the files
          break;
        }
        m = fromReport(p, run.path, r, agree);
      } else m = await fromFiles(p, run.path, r.run, teacherPath, signal);
      if (signal?.aborted && !r.test) {
        interrupted = true;
        break;
      }
      members.push(m);
      done.add(p.key);
      ran++;
      writeResults(run, members);
      task.tick(1, p.key);
      say(`${p.key}: test ${pctText(m.testAccuracy)} % (best epoch ${pctText(m.bestEpochTestAccuracy)} %), balanced ${pctText(m.testBalancedAccuracy)} %${m.agreement !== null ? `, agreement ${pctText(m.agreement)} %` : ''}, ${duration(m.trainingSeconds)} (${m.run})`);
    }
    task.end();
    // The explanation needs every member of its seed; it runs once all members are done (a resumed study with finished members runs only this).
    let explanationNote = `Not run yet: it runs once every member has finished (seed ${c.explainSeed}'s teacher and students; \`--version ${run.version}\` resumes).`;
    if (!c.explain) explanationNote = 'Not run (--no-explain).';
    else if (!interrupted && spec.explain === false) explanationNote = `Skipped in this call (--no-explain with --version); \`${resumeCommand}\` without --no-explain runs it.`;
    else if (!interrupted) {
      const e = await explainStudy(run, c, members, observer);
      explanation = e.explanation;
      explained = e.ran;
      if (e.interrupted) {
        interrupted = true;
        explanationNote = `Interrupted: \`${resumeCommand}\` runs it again (only it: the members are finished).`;
      } else if (!e.ran) say(`explanation: already in ${run.file(STUDY_EXPLAIN_DIR)}, not recomputed`);
      if (explanation) say(`explanation of seed ${c.explainSeed}: ${explanation.models.map((m) => `${m.name} = ${m.label}`).join(', ')}; the students disagree with the teacher on ${explanation.disagreementImages} of ${explanation.indices.length} images (${join(run.path, explanation.html ?? explanation.dir)})`);
    }
    writeResults(run, members, explanation);
    const rows = methodRows(members, order);
    const path = await writeStudyReport(run, { config: c, members, rows, invocation: spec.invocation ?? 'distillStudyRun', started, seconds: (performance.now() - t0) / 1000, threads: getNumThreads(), explanation, explanationNote });
    if (rows.length) say(`\n${tableText(rows)}`);
    if (path) say(`\nreport: ${path}`);
    if (interrupted) {
      const what = members.length === planned.length ? `all ${plural(planned.length, 'member')} finished, the explanation did not` : `${plural(members.length, 'finished member')} of ${planned.length}`;
      say(`interrupted after ${what}: resume with ${resumeCommand}`);
      run.interrupt({ message: members.length === planned.length ? `interrupted in the explanation (all ${planned.length} members finished)` : `interrupted after ${members.length} of ${planned.length} members` });
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
