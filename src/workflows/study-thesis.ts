// Seed 003's study as one workflow: the experiment grid on a lenet5 base (a
// checkpoint, or one trained here with the thesis recipe), Table 4.1 and a
// report, in runs/study-thesis/<dataset>-<arch>/version_N/:
//   config.json, status.json, run.log, base.safetensors (a base trained here),
//   results.json (every curve's points, rankings, Table 4.1), curves.csv,
//   table41.csv, fig*.png (one per thesis figure and scope), report.md,
//   pruned.safetensors and scratch.safetensors (Table 4.1's models).
// results.json and curves.csv are rewritten after every curve, so an
// interruption (or a crash) keeps the finished curves and `resume: N` goes
// on after them.
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { DataLoader, checkpointData, evalTransform, fraction as takeFraction, type ResolvedData } from '../data/index.js';
import { Model, humanCount, loadCheckpoint, saveCheckpoint, summarize, type LoadedCheckpoint } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { nowIso, pctText, plural, times } from '../report/format.js';
import { RUN_FILES, Run, effectiveStatus, readJson, readStatus, versionDir, type RunIdentity } from '../runs/index.js';
import { STUDY_FILES, describe, duration, planThesis, readCurves, runThesisStudy, trainForIterations, writeProgress, writeStudyReport, type Curve, type StudyMeta, type Table41 } from '../study/index.js';
import { getNumThreads } from '../tensor/index.js';
import { evaluate } from '../train/index.js';
import { UsageError } from '../util/errors.js';
import { ProgressTask, type Observer } from '../util/events.js';
import { checkStudyConfig, optionsForReport, resolveStudyConfig, savedStudyConfig, thesisOptions, type StudyConfig } from './study-thesis-config.js';
import { curveLine, planLines, table41Text, type Table41Record, type ThesisStudyReport } from './study-thesis-report.js';
import { checkValidationSplit } from './train-spec.js';
import { RESUME_FIELDS, THESIS_STUDY_DEFAULTS, flagOf, type ThesisStudySpec } from './study-thesis-spec.js';

export { THESIS_STUDY_DATASETS, THESIS_STUDY_DEFAULTS, type ThesisStudySpec } from './study-thesis-spec.js';
export type { StudyConfig } from './study-thesis-config.js';
export { thesisSummaryJson, type Table41Record, type ThesisStudyBase, type ThesisStudyReport, type ThesisStudyStatus } from './study-thesis-report.js';

const COMMAND_DIR = 'study-thesis';
const BASE_FILE = 'base.safetensors';
const ARCH = 'lenet5';

type Opened =
  | { kind: 'complete'; run: Run }
  | { kind: 'new'; config: StudyConfig; ckpt: LoadedCheckpoint | undefined }
  | { kind: 'resume'; config: StudyConfig; ckpt: LoadedCheckpoint | undefined; run: Run; done: Curve[] };

/** The configuration of a new study, or the run to resume with its finished curves. */
function openStudy(spec: ThesisStudySpec): Opened {
  if (spec.resume === undefined) {
    const ckpt = spec.checkpoint ? loadCheckpoint(spec.checkpoint) : undefined;
    try {
      const config = resolveStudyConfig(spec, ckpt?.meta);
      checkStudyConfig(config);
      return { kind: 'new', config, ckpt };
    } catch (e) {
      ckpt?.model.dispose();
      throw e;
    }
  }
  const extra = (Object.keys(spec) as (keyof ThesisStudySpec)[]).filter((k) => spec[k] !== undefined && !RESUME_FIELDS.has(k));
  if (extra.length) throw new UsageError(`--version resumes a study with its own configuration (config.json): drop ${extra.map(flagOf).join(', ')}, or start a new study without --version`);
  const id: RunIdentity = { root: spec.runsDir ?? THESIS_STUDY_DEFAULTS.runsDir, command: COMMAND_DIR, dataset: spec.dataset ?? THESIS_STUDY_DEFAULTS.dataset, arch: ARCH };
  const path = versionDir(Run.configurationDir(id), spec.resume);
  if (!existsSync(join(path, RUN_FILES.config))) throw new UsageError(`no study version ${spec.resume} in ${path} (give the same --dataset and --runs-dir as the run)`);
  const prev = readStatus(path);
  if (prev && effectiveStatus(prev) === 'running') throw new UsageError(`study version ${spec.resume} is being run by process ${prev.pid}`);
  const run = Run.open(id, spec.resume);
  if (prev?.status === 'complete') return { kind: 'complete', run };
  const config = savedStudyConfig(readJson<StudyConfig>(run.file(RUN_FILES.config)));
  const results = run.file(STUDY_FILES.results);
  const done = existsSync(results) ? readCurves(results).filter((c) => c.complete) : [];
  return { kind: 'resume', config, ckpt: config.checkpoint ? loadCheckpoint(config.checkpoint) : undefined, run, done };
}

function loadData(c: StudyConfig, ckptMeta: Record<string, unknown> | undefined): ResolvedData {
  return ckptMeta ? checkpointData(ckptMeta, c.data, c.checkpoint!) : checkpointData({ ...c.data }, {}, 'the study');
}

const rel = (p: string): string => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');

/** Runs (or resumes) the seed-003 study; an interrupted study returns its report with `interrupted: true`. */
export async function thesisStudyRun(spec: ThesisStudySpec, observer: Observer = {}): Promise<ThesisStudyReport> {
  const signal = observer.signal;
  // Lines said before the run directory exists go to run.log once it does.
  let run: Run | undefined;
  const early: string[] = [];
  const say = (line: string): void => {
    observer.onLog?.(line);
    if (run) run.say(line);
    else early.push(line);
  };

  const opened = openStudy(spec);
  if (opened.kind === 'complete') {
    const report = opened.run.file(STUDY_FILES.report);
    say(`study version ${opened.run.version} is already complete: ${rel(report)}`);
    return { ...nothingRun(), status: 'already-complete', run: opened.run.path, version: opened.run.version, report };
  }
  const { config, ckpt } = opened;
  const done = opened.kind === 'resume' ? opened.done : [];
  let data: ResolvedData;
  try {
    data = loadData(config, ckpt?.meta);
    // The curves and the floor are measured on the validation split: fewer images than classes measure nothing.
    if (data.validation) checkValidationSplit(config.data.validation ?? data.validation.length, { validation: data.validation.length, classes: data.classes.length });
  } catch (e) {
    ckpt?.model.dispose();
    throw e;
  }
  const classes = data.classes.length;
  const evalSet = data.validation ?? data.test;
  const floorSplit = data.validation ? 'validation' : 'test';
  const curveSet = config.curveSamples < evalSet.length ? takeFraction(evalSet, config.curveSamples / evalSet.length, data.seed) : evalSet;
  const transform = evalTransform(data.norm);
  const loaders = {
    train: new DataLoader(data.train, { batchSize: config.recipe.batchSize, shuffle: true, seed: data.seed + 1, transform }),
    curves: new DataLoader(curveSet, { batchSize: config.evalBatchSize, transform }),
    floor: new DataLoader(evalSet, { batchSize: config.evalBatchSize, transform }),
    test: new DataLoader(data.test, { batchSize: config.evalBatchSize, transform }),
  };
  let base: Model | undefined = ckpt?.model;
  let table: Table41 | undefined;
  const runsDir = spec.runsDir ?? THESIS_STUDY_DEFAULTS.runsDir;
  const partial = (x: Partial<ThesisStudyReport>): ThesisStudyReport => ({
    ...nothingRun(),
    run: run?.path ?? null,
    version: run?.version ?? null,
    report: run ? run.file(STUDY_FILES.report) : null,
    dataset: data.dataset,
    floorSplit,
    ...x,
  });
  try {
    const warnings: string[] = [];
    if (!data.validation) warnings.push('the base has no validation split: the curves and the Table 4.1 floor are measured on the test split');
    say(`data: ${data.dataset}: ${data.train.length} train / ${data.validation?.length ?? 0} validation / ${data.test.length} test; curves on ${curveSet.length} ${floorSplit} images, the floor on all ${evalSet.length}`);
    for (const w of warnings) say(`warning: ${w}`);

    // ---- the base (or an untrained twin to time), the plan ------------------------------------
    const basePath = opened.kind === 'resume' ? opened.run.file(BASE_FILE) : undefined;
    let baseSource: string;
    let toTrain = false;
    if (ckpt) {
      baseSource = `checkpoint ${rel(config.checkpoint!)}`;
    } else if (basePath && existsSync(basePath)) {
      base = loadCheckpoint(basePath).model;
      baseSource = `${BASE_FILE}, trained by this run (${config.recipe.iterations} iterations)`;
    } else {
      const [ch, h] = data.train.sampleShape;
      base = Model.create(buildArch(config.arch, { inChannels: ch, classes, imageSize: h, widthMultiplier: config.width }), { seed: config.seed });
      baseSource = `lenet5 trained by this run (${config.recipe.iterations} iterations; ${BASE_FILE})`;
      toTrain = true;
    }
    const options = thesisOptions(config, done);
    say('calibrating (a few training iterations and one evaluation)...');
    const plan = await planThesis(base!, { train: loaders.train, curves: loaders.curves, classes }, options);
    for (const line of planLines(plan, toTrain ? config.recipe.iterations : 0, config.parts.includes('table'))) say(line);
    if (spec.dryRun) return partial({ status: 'planned', plan });
    if (signal?.aborted) return partial({ status: 'interrupted', interrupted: true, stoppedIn: 'plan', plan });

    // ---- the run directory ----------------------------------------------------------------------
    if (opened.kind === 'new') {
      run = Run.create({ root: runsDir, command: COMMAND_DIR, dataset: data.dataset, arch: config.arch }, config, { command: 'study thesis' });
    } else {
      run = opened.run;
      run.start();
    }
    for (const line of early) run.say(line);
    const version = run.version;
    say(`run ${rel(run.path)} (version ${version})${done.length ? `, resuming after ${plural(done.length, 'finished curve')}` : ''}`);
    const resumeCommand = `slimnet study thesis ${[`--version ${version}`, ...(data.dataset !== THESIS_STUDY_DEFAULTS.dataset ? [`--dataset ${data.dataset}`] : []), ...(runsDir !== THESIS_STUDY_DEFAULTS.runsDir ? [`--runs-dir ${runsDir}`] : [])].join(' ')}`;

    if (toTrain) {
      const r = config.recipe;
      say(`base: training ${config.arch}${config.width !== 1 ? ` (width ${config.width})` : ''} with the thesis recipe: Adam lr ${r.lr}, batch ${r.batchSize}, ${r.iterations} iterations`);
      const task = new ProgressTask(observer.onProgress, { id: 'base', label: 'base', total: r.iterations, unit: 'it' });
      const trained = await trainForIterations(base!, loaders.train, r, { onIteration: (_i, _n, loss) => task.tick(1, `loss ${loss.toFixed(4)}`), signal });
      task.end();
      if (signal?.aborted) {
        say(`interrupted while training the base (${trained.iterations}/${r.iterations} iterations): nothing kept; --version ${version} starts it again`);
        run.interrupt();
        return partial({ status: 'interrupted', interrupted: true, stoppedIn: 'base', plan, resumeCommand });
      }
      saveCheckpoint(run.file(BASE_FILE), base!, {
        command: 'study-thesis',
        dataset: data.dataset,
        root: config.data.root ?? null,
        arch: config.arch,
        width: config.width,
        classes: [...data.classes],
        normalize: data.norm,
        // The split, so a checkpoint (here or in slimnet prune) rebuilds the same train / validation sets.
        seed: data.seed,
        validation: config.data.validation,
        fraction: config.data.fraction,
        iterations: r.iterations,
        lr: r.lr,
        batchSize: r.batchSize,
        version,
      });
      baseSource = `lenet5 trained by this run (${r.iterations} iterations, ${duration(trained.seconds)}; ${BASE_FILE})`;
    }
    base!.eval();
    const s0 = summarize(base!.graph).totals;
    const baseTest = await evaluate(base!, loaders.test, classes);
    const baseFloor = data.validation ? await evaluate(base!, loaders.floor, classes) : baseTest;
    say(`base: ${humanCount(s0.params)} parameters, ${humanCount(s0.macs)} MACs per sample; ${data.validation ? `${floorSplit} accuracy ${pctText(baseFloor.accuracy)} %, ` : ''}test accuracy ${pctText(baseTest.accuracy)} %`);
    const meta: StudyMeta = {
      dataset: data.dataset,
      arch: config.arch,
      curveData: `${floorSplit} split, ${curveSet.length.toLocaleString('en-US')} images`,
      floorSplit,
      base: { source: baseSource, params: s0.params, macs: s0.macs, testAccuracy: baseTest.accuracy, floorAccuracy: baseFloor.accuracy },
      threads: getNumThreads(),
      started: nowIso(),
      command: spec.invocation ?? 'thesisStudyRun',
      options: optionsForReport(config),
      warnings,
    };

    // ---- the grid and Table 4.1 ---------------------------------------------------------------
    let grid: ProgressTask | undefined;
    let scratch: ProgressTask | undefined;
    let where = '';
    let step = 0;
    const finished: Curve[] = [];
    const tableIters = Math.max(...config.retrainIters);
    const dir = run.path;
    writeProgress(dir, meta, done, plan);
    const result = await runThesisStudy(
      base!,
      { ...loaders, classes },
      options,
      {
        signal,
        onPlan: (_plan, doneUnits) => (grid = new ProgressTask(observer.onProgress, { id: 'grid', label: 'grid', total: plan.units, unit: 'it-eq', initial: doneUnits })),
        onCurveStart: (e, i, n) => {
          where = `${i}/${n} ${describe(e)}`;
          step = 0;
          grid?.tick(0, `curve ${where}`);
        },
        onWork: (units) => grid?.tick(units, `curve ${where} · step ${step + 1}`),
        onStep: () => void step++,
        onCurve: (c, i, n) => {
          finished.push(c);
          writeProgress(dir, meta, [...finished, ...done.filter((d) => !finished.includes(d))], plan);
          if (!done.includes(c)) run!.say(curveLine(c, i, n, describe));
        },
        onNote: (line) => say(`\n${line}`),
        table: {
          onPhase: (phase, detail) => {
            grid?.end();
            grid = undefined;
            const what = {
              prune: `pruning with ${config.table.criterion}, global l2, retrain ${tableIters}; ${detail}`,
              snap: `the grid step: ${detail}`,
              refine: `MAC refinement: ${detail}`,
              scratch: `training the pruned architecture from scratch: ${detail}`,
              latency: `measuring latency: ${detail}`,
            }[phase];
            say(`\nTable 4.1: ${what}`);
            if (phase === 'scratch') scratch = new ProgressTask(observer.onProgress, { id: 'scratch', label: 'scratch', total: config.recipe.iterations, unit: 'it' });
            if (phase === 'latency') scratch?.end();
          },
          onStep: (r) =>
            say(`  step ${r.step}: -${r.removed} maps (${r.layers}); ${humanCount(r.params)} params (${times(r.params_x)}), ${times(r.macs_x)} fewer MACs, ${floorSplit} acc ${pctText(r.accuracy)} %${r.meets_floor ? '' : ' < floor'}, ${r.seconds.toFixed(1)}s`),
          onScratch: (_i, _n, loss) => scratch?.tick(1, `loss ${loss.toFixed(4)}`),
        },
      },
      plan,
    );
    grid?.end();
    table = result.table;

    // ---- files and the summary ------------------------------------------------------------------
    const files = await writeStudyReport(dir, { meta, result, recipeIterations: config.recipe.iterations });
    if (table) {
      const m = { ...(ckpt?.meta ?? {}), dataset: data.dataset, command: 'study-thesis', version };
      saveCheckpoint(run.file('pruned.safetensors'), table.pruned, { ...m, criterion: config.table.criterion });
      saveCheckpoint(run.file('scratch.safetensors'), table.scratch, { ...m, note: 'the pruned architecture trained from scratch' });
      files.push('pruned.safetensors', 'scratch.safetensors');
    }
    const compared = result.curves.some((c) => c.experiment.family === 'protocols') ? `; protocol comparison with ${result.protocolCriteria.join(', ')}` : '';
    say(`\n${plural(result.curves.length, 'curve')} in ${duration(result.seconds)}${compared}`);
    if (table) say(table41Text(table, floorSplit));
    say(`\nreport: ${rel(run.file(STUDY_FILES.report))} (${files.length} files in ${rel(dir)})`);
    const finalStatus = { params: s0.params, macs: s0.macs, test: { accuracy: baseTest.accuracy, balancedAccuracy: baseTest.balancedAccuracy, loss: baseTest.loss, count: baseTest.count } };
    if (result.interrupted) run.interrupt(finalStatus);
    else run.complete(finalStatus);
    if (result.interrupted) say(`interrupted: resume with ${resumeCommand}`);
    return partial({
      status: result.interrupted ? 'interrupted' : 'complete',
      interrupted: result.interrupted,
      // Table 4.1 runs only after the whole grid: a table means the stop came during it.
      stoppedIn: !result.interrupted ? null : table ? 'table' : 'grid',
      plan,
      base: { source: baseSource, params: s0.params, macs: s0.macs, testAccuracy: baseTest.accuracy, testBalancedAccuracy: baseTest.balancedAccuracy, floorAccuracy: baseFloor.accuracy },
      curves: result.curves,
      rankings: result.rankings,
      protocolCriteria: result.protocolCriteria,
      protocolCriteriaReason: result.protocolCriteriaReason,
      table: table ? tableRecord(table) : null,
      seconds: result.seconds,
      files,
      resumeCommand: result.interrupted ? resumeCommand : null,
    });
  } catch (e) {
    run?.fail(e);
    run?.say(`error: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  } finally {
    table?.pruned.dispose();
    table?.scratch.dispose();
    base?.dispose();
    await Promise.all(Object.values(loaders).map((l) => l.close()));
  }
}

/** The fields of a report where nothing (more) ran. */
function nothingRun(): Omit<ThesisStudyReport, 'run' | 'version' | 'report' | 'dataset' | 'floorSplit'> & Pick<ThesisStudyReport, 'dataset' | 'floorSplit'> {
  return { status: 'complete', interrupted: false, stoppedIn: null, dataset: null, floorSplit: null, plan: null, base: null, curves: [], rankings: null, protocolCriteria: [], protocolCriteriaReason: '', table: null, seconds: 0, files: [], resumeCommand: null };
}

/** Table 4.1 without its models. */
function tableRecord(t: Table41): Table41Record {
  const { pruned: _pruned, scratch: _scratch, ...rest } = t;
  return rest;
}

