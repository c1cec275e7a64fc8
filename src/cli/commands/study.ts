// `slimnet study thesis`: seed 003's experiment grid on a lenet5 base (a
// checkpoint, or one trained here with the thesis recipe), Table 4.1 and a
// report, in runs/study-thesis/<dataset>-<arch>/version_N/:
//   config.json, status.json, run.log, base.safetensors (a base trained here),
//   results.json (every curve's points, rankings, Table 4.1), curves.csv,
//   table41.csv, fig*.png (one per thesis figure and scope), report.md,
//   pruned.safetensors and scratch.safetensors (Table 4.1's models).
// results.json and curves.csv are rewritten after every curve, so Ctrl-C
// (or a crash) keeps the finished curves and --version N resumes after them.
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { DataLoader, DataError, fraction as takeFraction, loadDataset, type DatasetName } from '../../data/index.js';
import { GraphError, Model, loadCheckpoint, saveCheckpoint, summarize, type LoadedCheckpoint } from '../../graph/index.js';
import { LatencyError, ortChannelBlock } from '../../measure/index.js';
import { buildArch } from '../../models/index.js';
import { NORMS, PruneError, criterionNames, type Norm } from '../../prune/index.js';
import { PlotError } from '../../report/plot.js';
import { RUN_FILES, RunLog, configurationDir, createVersionDir, effectiveStatus, readJson, readStatus, versionDir, writeJson } from '../../runs/index.js';
import {
  PARTS,
  STUDY_FILES,
  planThesis,
  StudyError,
  describe,
  duration,
  readCurves,
  runThesisStudy,
  trainForIterations,
  writeProgress,
  writeStudyReport,
  type Curve,
  type Part,
  type Recipe,
  type StudyMeta,
  type StudyPlan,
  type Table41,
  type ThesisOptions,
  type ThesisResult,
} from '../../study/index.js';
import { SlimnetError, getNumThreads } from '../../tensor/index.js';
import { evaluate } from '../../train/index.js';
import { ProgressBar } from '../progress.js';
import { renderTable } from '../../report/table.js';
import { UsageError } from '../errors.js';
import { checkpointData, type ResolvedData as CheckpointData, type DataOverrides } from '../../data/index.js';
import { makeOutput, type Output } from './common.js';
import { evalTransform } from '../../data/index.js';
import { nowIso, pct } from '../../report/format.js';
import type { StudyRawOptions } from './study-options.js';

const EXIT_INTERRUPTED = 130;
const COMMAND_DIR = 'study-thesis';
const BASE_FILE = 'base.safetensors';

/** The resolved configuration (config.json): everything a resumed run needs. */
export interface StudyConfig {
  /** The base model to study, or null: train a lenet5 here. */
  checkpoint: string | null;
  /** With a checkpoint: overrides of its data settings; without: the data settings themselves. */
  data: DataOverrides & { dataset: string };
  arch: string;
  width: number;
  recipe: Recipe;
  criteria: string[];
  norms: Norm[];
  retrainIters: number[];
  points: number;
  retrainPoints: number;
  protocolCriteria: string[] | 'best';
  parts: Part[];
  scoreBatches: number;
  curveSamples: number;
  evalBatchSize: number;
  table: { criterion: string; maxDrop: number; stepFraction: number; patience: number; backtrack: boolean; maxSteps: number; snapTo: number; snapIters: number; snapTries: number; refineSteps: number; latencyRuns: number };
  seed: number;
  quick: boolean;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function resolveConfig(o: StudyRawOptions, ckptMeta: Record<string, unknown> | undefined): StudyConfig {
  const q = o.quick === true;
  const pick = <T>(given: T | undefined, full: T, quick: T): T => given ?? (q ? quick : full);
  const dataset = o.dataset ?? (typeof ckptMeta?.dataset === 'string' ? ckptMeta.dataset : 'mnist-digits');
  const seed = o.seed ?? num(ckptMeta?.seed) ?? 0;
  let data: StudyConfig['data'];
  if (ckptMeta) {
    if (o.width !== undefined) throw new UsageError('--width sets the width of a base trained here; it cannot change a --checkpoint');
    data = { dataset, ...(o.root !== undefined && { root: o.root }), ...(o.seed !== undefined && { seed: o.seed }), ...(o.validation !== undefined && { validation: o.validation }), ...(o.fraction !== undefined && { fraction: o.fraction }) };
  } else {
    const fraction = pick(o.fraction, 1, 0.05);
    if (!(fraction > 0 && fraction <= 1)) throw new UsageError(`--fraction must be in (0, 1], got ${fraction}`);
    // The thesis held out 5,000 of MNIST's 60,000; the 8,000 bundled digits can spare a fifth.
    const trainCount = Math.round(loadDataset(dataset as DatasetName, 'train', o.root !== undefined ? { root: o.root } : {}).length * fraction);
    const validation = o.validation ?? (q ? 0.2 : Math.min(5000, Math.floor(trainCount / 5)));
    data = { dataset, root: o.root, seed, validation, fraction };
  }
  const iterations = o.iterations ?? (q ? 100 : dataset === 'mnist-digits' ? 3000 : 10_000);
  return {
    checkpoint: o.checkpoint ?? null,
    data,
    arch: 'lenet5',
    width: pick(o.width, 1, 0.25),
    recipe: { iterations, batchSize: pick(o.batchSize, 100, 32), lr: pick(o.lr, 1e-4, 1e-3) },
    criteria: o.criteria,
    norms: o.norms as Norm[],
    retrainIters: pick(o.retrainIters, [10, 50, 100], [1, 2, 3]),
    points: pick(o.points, 16, 2),
    retrainPoints: pick(o.retrainPoints, 10, 2),
    protocolCriteria: o.protocolCriteria.length === 1 && o.protocolCriteria[0] === 'best' ? 'best' : o.protocolCriteria,
    parts: o.parts as Part[],
    scoreBatches: pick(o.scoreBatches, 10, 2),
    curveSamples: pick(o.curveSamples, 1000, 100),
    evalBatchSize: o.evalBatchSize,
    table: { criterion: o.tableCriterion, maxDrop: pick(o.maxDrop, 0.3, 5), stepFraction: pick(o.tableStepFraction, 0.05, 0.25), patience: pick(o.tablePatience, 2, 1), backtrack: o.tableBacktrack !== false, maxSteps: pick(o.tableMaxSteps, 200, 3), snapTo: o.tableSnapTo ?? ortChannelBlock(), snapIters: pick(o.tableSnapIters, 2000, 3), snapTries: o.tableSnapTries ?? 3, refineSteps: pick(o.tableRefineSteps, 6, 1), latencyRuns: pick(o.latencyRuns, 100, 3) },
    seed,
    quick: q,
  };
}

function check(c: StudyConfig): void {
  const known = criterionNames();
  const oneOf = (flag: string, values: readonly string[], allowed: readonly string[]) => {
    for (const v of values) if (!allowed.includes(v)) throw new UsageError(`--${flag}: '${v}' is not one of ${allowed.join(', ')}`);
  };
  oneOf('criteria', c.criteria, known);
  oneOf('norms', c.norms, NORMS);
  oneOf('parts', c.parts, PARTS);
  if (c.protocolCriteria !== 'best') oneOf('protocol-criteria', c.protocolCriteria, known);
  oneOf('table-criterion', [c.table.criterion], known);
  const posInt: [string, number][] = [
    ['iterations', c.recipe.iterations],
    ['batch-size', c.recipe.batchSize],
    ['points', c.points],
    ['retrain-points', c.retrainPoints],
    ['score-batches', c.scoreBatches],
    ['curve-samples', c.curveSamples],
    ['eval-batch-size', c.evalBatchSize],
    ['table-max-steps', c.table.maxSteps],
    ['table-snap-to', c.table.snapTo],
    ['table-snap-iters', c.table.snapIters],
    ['table-snap-tries', c.table.snapTries],
    ['table-refine-steps', c.table.refineSteps],
    ['latency-runs', c.table.latencyRuns],
    ...c.retrainIters.map((n): [string, number] => ['retrain-iters', n]),
  ];
  for (const [flag, v] of posInt) if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
  if (!(Number.isInteger(c.table.patience) && c.table.patience >= 0)) throw new UsageError(`--table-patience must be a non-negative integer, got ${c.table.patience}`);
  if (!(c.recipe.lr > 0)) throw new UsageError(`--lr must be > 0, got ${c.recipe.lr}`);
  if (!(c.width > 0)) throw new UsageError(`--width must be > 0, got ${c.width}`);
  if (!(c.table.maxDrop >= 0 && c.table.maxDrop < 100)) throw new UsageError(`--max-drop is in percentage points, e.g. 0.3; got ${c.table.maxDrop}`);
  if (!(c.table.stepFraction > 0 && c.table.stepFraction <= 1)) throw new UsageError(`--table-step-fraction must be in (0, 1], got ${c.table.stepFraction}`);
}

function loadData(c: StudyConfig, ckptMeta: Record<string, unknown> | undefined): CheckpointData {
  return ckptMeta ? checkpointData(ckptMeta, c.data, c.checkpoint!) : checkpointData({ ...c.data }, {}, 'the study');
}

const fmtX = (x: number) => `${x.toFixed(x >= 10 ? 1 : 2)}x`;

/** Runs the command; returns the exit code. */
export async function studyThesisCommand(o: StudyRawOptions, fromCli: readonly string[] = []): Promise<number> {
  const out = makeOutput(o.json === true);
  try {
    return await study(o, fromCli, out);
  } catch (e) {
    const known = [UsageError, StudyError, PruneError, GraphError, SlimnetError, RangeError, PlotError, DataError, LatencyError].some((k) => e instanceof k);
    if (known) {
      process.stderr.write(`slimnet study thesis: error: ${(e as Error).message}\n`);
      out.log?.write(`error: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}

/** Flags a resumed run accepts: the rest would contradict its saved configuration. */
const RESUME_FLAGS = new Set(['version', 'runsDir', 'dataset', 'json', 'dryRun']);

type Opened =
  | { kind: 'complete'; runPath: string; version: number }
  | { kind: 'new'; config: StudyConfig; ckpt: LoadedCheckpoint | undefined }
  | { kind: 'resume'; config: StudyConfig; ckpt: LoadedCheckpoint | undefined; runPath: string; version: number; done: Curve[] };

/** The configuration of a new study, or of the version to resume with its finished curves. */
function openStudy(o: StudyRawOptions, fromCli: readonly string[]): Opened {
  if (o.version === undefined) {
    const ckpt = o.checkpoint ? loadCheckpoint(o.checkpoint) : undefined;
    const config = resolveConfig(o, ckpt?.meta);
    check(config);
    return { kind: 'new', config, ckpt };
  }
  const extra = fromCli.filter((k) => !RESUME_FLAGS.has(k));
  if (extra.length) {
    const flags = extra.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
    throw new UsageError(`--version resumes a study with its own configuration (config.json): drop ${flags}, or start a new study without --version`);
  }
  const runPath = versionDir(configurationDir(o.runsDir, COMMAND_DIR, o.dataset ?? 'mnist-digits', 'lenet5'), o.version);
  if (!existsSync(join(runPath, RUN_FILES.config))) throw new UsageError(`no study version ${o.version} in ${runPath} (give the same --dataset and --runs-dir as the run)`);
  const prev = readStatus(runPath);
  if (prev && effectiveStatus(prev) === 'running') throw new UsageError(`study version ${o.version} is being run by process ${prev.pid}`);
  if (prev?.status === 'complete') return { kind: 'complete', runPath, version: o.version };
  const saved = readJson<StudyConfig>(join(runPath, RUN_FILES.config));
  // Studies saved before the grid step existed ran without it.
  const config: StudyConfig = { ...saved, table: { ...saved.table, snapTo: saved.table.snapTo ?? 1, snapIters: saved.table.snapIters ?? 1000, snapTries: saved.table.snapTries ?? 1, refineSteps: saved.table.refineSteps ?? 0 } };
  const results = join(runPath, STUDY_FILES.results);
  const done = existsSync(results) ? readCurves(results).filter((c) => c.complete) : [];
  return { kind: 'resume', config, ckpt: config.checkpoint ? loadCheckpoint(config.checkpoint) : undefined, runPath, version: o.version, done };
}

function thesisOptions(c: StudyConfig, done: readonly Curve[]): ThesisOptions {
  return {
    criteria: c.criteria,
    norms: c.norms,
    retrainIters: c.retrainIters,
    points: c.points,
    retrainPoints: c.retrainPoints,
    protocolCriteria: c.protocolCriteria,
    parts: c.parts,
    lr: c.recipe.lr,
    scoreBatches: c.scoreBatches,
    minChannels: 1,
    seed: c.seed,
    table: { criterion: c.table.criterion, norm: 'l2', protocol: 'retrain', maxDrop: c.table.maxDrop, stepFraction: c.table.stepFraction, patience: c.table.patience, backtrack: c.table.backtrack, maxSteps: c.table.maxSteps, snapTo: c.table.snapTo, snapIters: c.table.snapIters, snapTries: c.table.snapTries, refineSteps: c.table.refineSteps, latencyRuns: c.table.latencyRuns, recipe: c.recipe },
    done,
  };
}

/** The options as report.md lists them. */
function optionsForReport(c: StudyConfig): Record<string, unknown> {
  const t = c.table;
  return {
    criteria: c.criteria,
    normalisations: c.norms,
    'retraining iterations': c.retrainIters,
    'steps per curve (none / retrain)': `${c.points} / ${c.retrainPoints}`,
    retraining: `Adam lr ${c.recipe.lr}, batch ${c.recipe.batchSize}`,
    'score batches': c.scoreBatches,
    'Table 4.1': `${t.criterion}, global, l2, retrain ${Math.max(...c.retrainIters)}, ${t.stepFraction * 100} % of the removable maps per step, floor ${t.maxDrop} pp (patience ${t.patience} steps${t.backtrack ? ', then back to the kept model with half the step' : ''}), at most ${t.maxSteps} steps${t.snapTo > 1 ? `, then every convolution down to its multiple of ${t.snapTo} (${t.snapIters} retraining iterations, kept if it meets the floor; up to ${t.snapTries} starting models)` : ''}${t.refineSteps > 0 ? `, then up to ${t.refineSteps} MAC refinement steps` : ''}`,
    seed: c.seed,
    quick: c.quick,
  };
}

function planLines(plan: StudyPlan, baseIterations: number, table: boolean): string[] {
  const cal = plan.calibration;
  const base = baseIterations > 0 ? `, plus about ${duration((baseIterations * cal.iterMs) / 1000)} to train the base` : '';
  if (plan.curves === 0) return [`grid: no curves in these --parts${table ? '; Table 4.1 only' : ''}${base ? ` (${base.slice(2)})` : ''}`];
  return [
    `grid: ${plan.curves} curves, ${plan.steps.toLocaleString('en-US')} pruning steps, ${plan.retrainIterations.toLocaleString('en-US')} retraining iterations (${plan.families.map((f) => `${f.family} ${f.curves} curves / ${f.steps} steps`).join(', ')})`,
    `estimate: at most ${duration(plan.estimatedSeconds)} for the grid at the base model's speed (${cal.iterMs.toFixed(1)} ms per training iteration, ${cal.evalMs.toFixed(0)} ms per curve evaluation; pruned models are faster and the ETA adapts)${base}${table ? ', plus Table 4.1 (pruning to the floor, training from scratch, latency)' : ''}`,
  ];
}

function printTable41(say: (s: string) => void, t: Table41, floorSplit: string): void {
  const names = { base: 'base', pruned: 'pruned', scratch: 'from scratch' } as const;
  const snap = t.snap ? `; grid step to multiples of ${t.snap.to} (${t.snap.step.layers}): ${pct(t.snap.step.accuracy)} %, ${t.snap.kept ? 'kept' : 'under the floor, not kept'}` : '';
  const refine = t.refine?.length ? `; MAC refinement: ${t.refine.map((r) => `${r.step.layers} ${pct(r.step.accuracy)} %${r.kept ? '' : ' (not kept)'}`).join(', ')}` : '';
  say(`\nTable 4.1 (accuracy on the test split; floor ${pct(t.floor, 3)} % on the ${floorSplit} split, kept step ${t.keptStep}${snap}${refine}):`);
  say(
    renderTable(
      ['model', 'test acc %', 'loss pp', `${floorSplit} acc %`, 'params', 'params x', 'MACs', 'MACs x', 'ort b1 ms', 'b1 x', 'ort b64 ms', 'b64 x'],
      t.rows.map((r) => [names[r.model], pct(r.test_accuracy), +r.test_loss_pp.toFixed(3), pct(r.floor_accuracy), r.params, fmtX(r.params_x), r.macs, fmtX(r.macs_x), +r.ort_b1_ms.toFixed(3), fmtX(r.speedup_b1), +r.ort_b64_ms.toFixed(2), fmtX(r.speedup_b64)]),
    ),
  );
}

/** The --json line: Table 4.1 in numbers (test accuracies; the floor split's on the side). */
function summaryOf(x: { runPath: string; version: number; dataset: string; floorSplit: string; result: ThesisResult; baseTest: number; baseFloor: number }): Record<string, unknown> {
  const t = x.result.table;
  const row = (m: 'base' | 'pruned' | 'scratch') => t?.rows.find((r) => r.model === m);
  return {
    run: x.runPath,
    version: x.version,
    report: join(x.runPath, STUDY_FILES.report),
    dataset: x.dataset,
    floor_split: x.floorSplit,
    curves: x.result.curves.length,
    steps: x.result.curves.reduce((a, c) => a + c.points.length - 1, 0),
    seconds: x.result.seconds,
    interrupted: x.result.interrupted,
    protocol_criteria: x.result.protocolCriteria,
    floor: t?.floor ?? null,
    kept_step: t?.keptStep ?? null,
    snap: t?.snap ? { to: t.snap.to, iters: t.snap.iters, kept: t.snap.kept, from: t.snap.from, tries: t.snap.tries, layers: t.snap.step.layers, floor_acc: t.snap.step.accuracy } : null,
    refine: t?.refine ? t.refine.map((r) => ({ layers: r.step.layers, floor_acc: r.step.accuracy, kept: r.kept })) : null,
    channels: t?.channels ?? null,
    base_test_acc: x.baseTest,
    pruned_test_acc: row('pruned')?.test_accuracy ?? null,
    scratch_test_acc: row('scratch')?.test_accuracy ?? null,
    pruned_loss_pp: row('pruned')?.test_loss_pp ?? null,
    scratch_loss_pp: row('scratch')?.test_loss_pp ?? null,
    base_floor_acc: x.baseFloor,
    pruned_floor_acc: row('pruned')?.floor_accuracy ?? null,
    params_x: row('pruned')?.params_x ?? null,
    macs_x: row('pruned')?.macs_x ?? null,
    speedup_ort_b1: row('pruned')?.speedup_b1 ?? null,
    speedup_ort_b64: row('pruned')?.speedup_b64 ?? null,
  };
}

/** `fromCli`: the option keys given on the command line (commander's value source 'cli'). */
async function study(o: StudyRawOptions, fromCli: readonly string[], out: Output): Promise<number> {
  // Lines printed before the run directory exists go to run.log once it does.
  const early: string[] = [];
  const say = (s: string) => {
    out.say(s);
    if (!out.log) early.push(s);
  };
  const rel = (p: string) => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');

  const opened = openStudy(o, fromCli);
  if (opened.kind === 'complete') {
    say(`study version ${opened.version} is already complete: ${rel(join(opened.runPath, STUDY_FILES.report))}`);
    if (o.json) process.stdout.write(`${JSON.stringify({ run: opened.runPath, version: opened.version, status: 'complete', report: join(opened.runPath, STUDY_FILES.report) })}\n`);
    return 0;
  }
  const { config, ckpt } = opened;
  const done = opened.kind === 'resume' ? opened.done : [];
  const data = loadData(config, ckpt?.meta);
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
  let base: Model | undefined;
  let table: Table41 | undefined;
  let runPath: string | undefined;
  let interrupted = false;
  const stop = new AbortController();
  let version = opened.kind === 'resume' ? opened.version : -1;
  const onSigint = () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    stop.abort();
    process.stderr.write(`\nCtrl-C: stopping after this step; the finished curves are kept and reported (resume with --version ${version}; Ctrl-C again quits at once)\n`);
  };
  const created = nowIso();
  const status = (s: Record<string, unknown>) => runPath && writeJson(join(runPath, RUN_FILES.status), { command: 'study thesis', dataset: data.dataset, arch: config.arch, version, created, updated: nowIso(), ...s });
  try {
    const warnings: string[] = [];
    if (!data.validation) warnings.push('the base has no validation split: the curves and the Table 4.1 floor are measured on the test split');
    say(`data: ${data.dataset}: ${data.train.length} train / ${data.validation?.length ?? 0} validation / ${data.test.length} test; curves on ${curveSet.length} ${floorSplit} images, the floor on all ${evalSet.length}`);
    for (const w of warnings) say(`warning: ${w}`);

    // ---- the base (or an untrained twin to time), the plan ------------------------------------
    const basePath = opened.kind === 'resume' ? join(opened.runPath, BASE_FILE) : undefined;
    let baseSource: string;
    let toTrain = false;
    if (ckpt) {
      base = ckpt.model;
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
    const plan = await planThesis(base, { train: loaders.train, curves: loaders.curves, classes }, options);
    for (const line of planLines(plan, toTrain ? config.recipe.iterations : 0, config.parts.includes('table'))) say(line);
    if (o.dryRun) return 0;

    // ---- the run directory ----------------------------------------------------------------------
    if (opened.kind === 'new') {
      ({ version, path: runPath } = createVersionDir(configurationDir(o.runsDir, COMMAND_DIR, data.dataset, config.arch)));
      writeJson(join(runPath, RUN_FILES.config), config);
    } else runPath = opened.runPath;
    const run = runPath;
    out.log = new RunLog(join(run, RUN_FILES.log));
    for (const line of early) out.log.write(line);
    say(`run ${rel(run)} (version ${version})${done.length ? `, resuming after ${done.length} finished curves` : ''}`);
    status({ status: 'running', pid: process.pid });
    process.on('SIGINT', onSigint);

    if (toTrain) {
      const r = config.recipe;
      say(`base: training ${config.arch}${config.width !== 1 ? ` (width ${config.width})` : ''} with the thesis recipe: Adam lr ${r.lr}, batch ${r.batchSize}, ${r.iterations} iterations`);
      const bar = new ProgressBar({ total: r.iterations, label: 'base', unit: 'it' });
      const trained = await trainForIterations(base, loaders.train, r, { onIteration: (_i, _n, loss) => bar.tick(1, `loss ${loss.toFixed(4)}`), signal: stop.signal });
      bar.finish();
      if (interrupted) {
        say(`interrupted while training the base (${trained.iterations}/${r.iterations} iterations): nothing kept; --version ${version} starts it again`);
        status({ status: 'interrupted' });
        return EXIT_INTERRUPTED;
      }
      saveCheckpoint(join(run, BASE_FILE), base, {
        command: 'study-thesis',
        dataset: data.dataset,
        root: config.data.root ?? null,
        arch: config.arch,
        width: config.width,
        classes: [...data.classes],
        normalize: data.norm,
        // The split, so --checkpoint (here or in slimnet prune) rebuilds the same train / validation sets.
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
    base.eval();
    const s0 = summarize(base.graph).totals;
    const baseTest = await evaluate(base, loaders.test, classes);
    const baseFloor = data.validation ? await evaluate(base, loaders.floor, classes) : baseTest;
    say(`base: ${s0.params.toLocaleString('en-US')} parameters, ${s0.macs.toLocaleString('en-US')} MACs; ${data.validation ? `${floorSplit} accuracy ${pct(baseFloor.accuracy)} %, ` : ''}test accuracy ${pct(baseTest.accuracy)} %`);
    const meta: StudyMeta = {
      dataset: data.dataset,
      arch: config.arch,
      curveData: `${floorSplit} split, ${curveSet.length.toLocaleString('en-US')} images`,
      floorSplit,
      base: { source: baseSource, params: s0.params, macs: s0.macs, testAccuracy: baseTest.accuracy, floorAccuracy: baseFloor.accuracy },
      threads: getNumThreads(),
      started: nowIso(),
      command: ['slimnet', ...process.argv.slice(2)].join(' '),
      options: optionsForReport(config),
      warnings,
    };

    // ---- the grid and Table 4.1 ---------------------------------------------------------------
    let bar: ProgressBar | undefined;
    let where = '';
    let step = 0;
    let scratchBar: ProgressBar | undefined;
    const finished: Curve[] = [];
    const tableIters = Math.max(...config.retrainIters);
    writeProgress(run, meta, done, plan);
    const result = await runThesisStudy(
      base,
      { ...loaders, classes },
      options,
      {
        signal: stop.signal,
        onPlan: (_plan, doneUnits) => (bar = new ProgressBar({ total: plan.units, label: 'grid', unit: 'it-eq', initial: doneUnits })),
        onCurveStart: (e, i, n) => {
          where = `${i}/${n} ${describe(e)}`;
          step = 0;
          bar?.tick(0, `curve ${where}`);
        },
        onWork: (units) => bar?.tick(units, `curve ${where} · step ${step + 1}`),
        onStep: () => void step++,
        onCurve: (c, i, n) => {
          finished.push(c);
          writeProgress(run, meta, [...finished, ...done.filter((d) => !finished.includes(d))], plan);
          const last = c.points[c.points.length - 1]!;
          if (!done.includes(c)) out.log?.write(`curve ${i}/${n} ${describe(c.experiment)}: ${c.points.length - 1} steps, ${pct(last.share, 1)} % removed, accuracy ${pct(c.points[0]!.accuracy)} -> ${pct(last.accuracy)} %, ${duration(c.seconds)}`);
        },
        onNote: (line) => say(`\n${line}`),
        table: {
          onPhase: (phase, detail) => {
            bar?.finish();
            bar = undefined;
            const what = {
              prune: `pruning with ${config.table.criterion}, global l2, retrain ${tableIters}; ${detail}`,
              snap: `the grid step: ${detail}`,
              refine: `MAC refinement: ${detail}`,
              scratch: `training the pruned architecture from scratch: ${detail}`,
              latency: `measuring latency: ${detail}`,
            }[phase];
            say(`\nTable 4.1: ${what}`);
            if (phase === 'scratch') scratchBar = new ProgressBar({ total: config.recipe.iterations, label: 'scratch', unit: 'it' });
            if (phase === 'latency') scratchBar?.finish();
          },
          onStep: (r) =>
            say(`  step ${r.step}: -${r.removed} maps (${r.layers}); ${r.params.toLocaleString('en-US')} params (${fmtX(r.params_x)}), ${fmtX(r.macs_x)} MACs, ${floorSplit} acc ${pct(r.accuracy)} %${r.meets_floor ? '' : ' < floor'}, ${r.seconds.toFixed(1)}s`),
          onScratch: (_i, _n, loss) => scratchBar?.tick(1, `loss ${loss.toFixed(4)}`),
        },
      },
      plan,
    );
    bar?.finish();
    table = result.table;

    // ---- files and the summary ------------------------------------------------------------------
    const files = await writeStudyReport(run, { meta, result, recipeIterations: config.recipe.iterations });
    if (table) {
      const m = { ...(ckpt?.meta ?? {}), dataset: data.dataset, command: 'study-thesis', version };
      saveCheckpoint(join(run, 'pruned.safetensors'), table.pruned, { ...m, criterion: config.table.criterion });
      saveCheckpoint(join(run, 'scratch.safetensors'), table.scratch, { ...m, note: 'the pruned architecture trained from scratch' });
      files.push('pruned.safetensors', 'scratch.safetensors');
    }
    const compared = result.curves.some((c) => c.experiment.family === 'protocols') ? `; protocol comparison with ${result.protocolCriteria.join(', ')}` : '';
    say(`\n${result.curves.length} curves in ${duration(result.seconds)}${compared}`);
    if (table) printTable41(say, table, floorSplit);
    say(`\nreport: ${rel(join(run, STUDY_FILES.report))} (${files.length} files in ${rel(run)})`);
    status({ status: result.interrupted ? 'interrupted' : 'complete', params: s0.params, macs: s0.macs, test: { accuracy: baseTest.accuracy, balancedAccuracy: baseTest.balancedAccuracy } });
    if (o.json) process.stdout.write(`${JSON.stringify(summaryOf({ runPath: run, version, dataset: data.dataset, floorSplit, result, baseTest: baseTest.accuracy, baseFloor: baseFloor.accuracy }))}\n`);
    if (result.interrupted) {
      const again = [`--version ${version}`, ...(data.dataset !== 'mnist-digits' ? [`--dataset ${data.dataset}`] : []), ...(o.runsDir !== './runs' ? [`--runs-dir ${o.runsDir}`] : [])].join(' ');
      say(`interrupted: resume with slimnet study thesis ${again}`);
      return EXIT_INTERRUPTED;
    }
    return 0;
  } catch (e) {
    status({ status: 'failed', message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    table?.pruned.dispose();
    table?.scratch.dispose();
    base?.dispose();
    await Promise.all(Object.values(loaders).map((l) => l.close()));
  }
}
