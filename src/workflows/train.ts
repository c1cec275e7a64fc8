// Training a run: a zoo architecture on a data set in a versioned run
// directory (runs/train/<dataset>-<arch>/version_N: config.json, metrics,
// best / last checkpoints, the trainer state, status.json, run.log; see
// src/runs), or resuming one exactly where it stopped.
//
// Each epoch is one Trainer.fit() call; the checkpointing callback
// (src/train/checkpointing.ts) writes the epoch's files after the trainer's
// early-stopping update. Aborting the observer's signal stops after the
// current step, saves a resumable state and returns an interrupted report; a
// non-finite loss stops with a TrainingStoppedError and leaves the last good
// checkpoint as it was.
import { basename, isAbsolute, join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { exportRun, type ExportReport } from './export.js';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { DataLoader, evalTransform, resolveData, trainTransform, type Dataset, type NormalizeSpec, type ResolvedData } from '../data/index.js';
import { Model, humanCount, loadCheckpoint, summarize, type Graph } from '../graph/index.js';
import type { Tensor } from '../tensor/index.js';
import { archNames, buildArch } from '../models/index.js';
import {
  EarlyStopping,
  LrSchedule,
  NonFiniteLossError,
  Trainer,
  buildOptimizer,
  disposeTrainerState,
  evaluate,
  loadTrainerState,
  type EpochRecord,
  type Metrics,
  type ProgressInfo,
  type TrainerOptions,
  type Optimizer,
  type BaseHyper,
} from '../train/index.js';
import { Checkpointing, bestValidation, metricsRow, type EpochSaved } from '../train/checkpointing.js';
import type { DataParallel } from '../train/data-parallel.js';
import { RUN_FILES, Run, readMetrics, type MetricsRow, type RunExtension, type RunIdentity, type RunStatusFile } from '../runs/index.js';
import { TableLines, renderTable } from '../report/table.js';
import { duration, nowIso, pctText, plural } from '../report/format.js';
import { ProgressTask, type Observer } from '../util/events.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import { checkTrainingMemory } from './train-memory.js';
import { checkImageSize, checkValidationSplit, givenOptions, loaderTransforms, optimizerOf, resolveTrainConfig, resumedConfig, scheduleOf, trainDataSpec, type TrainConfig, type TrainSpec } from './train-spec.js';

export type { TrainConfig, TrainSpec } from './train-spec.js';

/** One completed epoch. */
export interface EpochSummary {
  /** 1-based. */
  epoch: number;
  /** Learning rate (first parameter group) during the epoch. */
  lr: number;
  /** Mean training loss (with label smoothing) and accuracy over the epoch's batches, as the weights moved. */
  trainLoss: number;
  trainAccuracy: number;
  /** On the validation split held out of the training data, after the epoch; null without one. */
  valLoss: number | null;
  valAccuracy: number | null;
  valBalancedAccuracy: number | null;
  /** Wall time of the epoch (training and validation). */
  seconds: number;
}

/**
 * How the call ended: every epoch trained and tested ('complete'), stopped
 * early by early stopping and tested ('early-stopped'), stopped by the
 * signal with a resumable state ('interrupted'), or nothing to do: the run
 * to resume was already complete ('already-complete').
 */
export type TrainOutcome = 'complete' | 'early-stopped' | 'interrupted' | 'already-complete';

export interface TrainReport<Cfg extends TrainConfig = TrainConfig> {
  /** The run directory. */
  run: string;
  version: number;
  status: TrainOutcome;
  /** True when the signal stopped the call (status 'interrupted'). */
  interrupted: boolean;
  /** The run's configuration (config.json). */
  config: Cfg;
  /** Completed epochs, and every completed epoch of the run (also those of earlier, resumed calls). */
  epochsDone: number;
  history: EpochSummary[];
  /** Best validation accuracy and its 1-based epoch (the weights in best.safetensors); null without a validation split. */
  bestValAccuracy: number | null;
  bestEpoch: number | null;
  /** The final weights (last.safetensors) on the test split; null when not evaluated in this call (interrupted, already complete: see runStatus.test). */
  test: Metrics | null;
  /** best.safetensors on the test split, when its epoch is not the final weights' epoch. */
  bestTest: { epoch: number; accuracy: number; balancedAccuracy: number } | null;
  /** Parameters and MACs per sample of the model. */
  params: number | null;
  macs: number | null;
  checkpoints: { best: string; last: string; state: string };
  /** The command line that resumes (or re-opens) this run. */
  resumeCommand: string;
  /** Why it stopped early or was interrupted; null otherwise. */
  message: string | null;
  /** status.json as the call left it. */
  runStatus: Readonly<RunStatusFile>;
  /** The ONNX export of the final weights when asked (exportOnnx), else null. */
  onnx?: ExportReport | null;
}

/** Training stopped because of its data or hyper-parameters (a non-finite loss); the run's last good checkpoint is kept. */
export class TrainingStoppedError extends SlimnetError {
  constructor(
    message: string,
    readonly run: string,
    readonly lastCheckpoint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What a training workflow adds to the plain training of a zoo model: the
 * run's command, the data and the model it trains, and an extension of the
 * trainer (loss terms, a step context, hooks, auxiliary modules) with its own
 * set-up, results and clean-up. `slimnet train` is the baseline plan; the
 * distillation workflow is another plan on the same loop, run directory,
 * checkpoints, resume and NaN guard.
 */
export interface TrainPlan<Cfg extends TrainConfig = TrainConfig> {
  /** The run family (runs/<command>/<dataset>-<arch>). */
  command: string;
  data(config: Cfg): ResolvedData;
  /** The graph to train and how the log names it; `create` makes the model (new or loaded) once the memory check passed. */
  model(config: Cfg, data: ResolvedData): { graph: Graph; label: string; create(): Model };
  /** Called once the model exists, before the optimizer is built. */
  extend?(model: Model, config: Cfg, data: ResolvedData): TrainExtension;
  resumeCommand(config: Cfg, runsDir: string, version: number): string;
}

export interface TrainExtension {
  trainer: Pick<TrainerOptions, 'loss' | 'extraLosses' | 'stepContext' | 'hooks' | 'auxiliary'>;
  /** Trainable tensors outside the model, for the optimizer (the auxiliary modules'). */
  extraParams: Tensor[];
  /** Checkpoint metadata beside the data provenance. */
  meta: Record<string, unknown>;
  /** Lines for the run log, after the recipe line. */
  lines: string[];
  /** After the run directory exists, before the first step (e.g. caching a teacher's logits); false when aborted. */
  beforeFit?(say: (line: string) => void, signal?: AbortSignal): Promise<void>;
  /** After the test evaluation of the final weights: further results for the log. */
  afterTest?(model: Model, testLoader: DataLoader, say: (line: string) => void, signal?: AbortSignal): Promise<void>;
  /**
   * After each completed epoch, once its files are written (metrics row, last, best, state). A message ends the run
   * there as early-stopped with that message; the model's weights as the hook leaves them (it may restore an earlier
   * epoch's) become last.safetensors, the final weights.
   */
  afterEpoch?(row: MetricsRow, run: Run): string | null;
  dispose(): void;
}

/** The baseline plan: a zoo architecture trained from scratch. */
const BASELINE_PLAN: TrainPlan = {
  command: 'train',
  data: (config) => trainData(config),
  model(config, data) {
    const graph = buildGraph(config, data);
    return { graph, create: () => Model.create(graph, { seed: config.seed }), label: `${config.arch}${config.width !== 1 ? ` (width ${config.width})` : ''}` };
  },
  resumeCommand: (config, runsDir, version) => resumeCommand(config, runsDir, version),
};

const DEFAULT_RUNS_DIR = './runs';
const EPOCH_HEADERS = ['epoch', 'lr', 'train loss', 'train acc %', 'val loss', 'val acc %', 'val bal acc %', 'time'];

const EPOCH_ALIGN = EPOCH_HEADERS.map(() => 'right' as const);
/** Fixed decimals (losses 4, accuracies 2), so the column's numbers line up and read alike. */
const fixed = (x: number | null, digits: number): string => (x === null || Number.isNaN(x) ? '' : x.toFixed(digits));

function epochCells(r: MetricsRow, epochs: number): string[] {
  return [`${r.epoch}/${epochs}`, String(+r.lr.toPrecision(4)), fixed(r.train_loss, 4), pctText(r.train_acc), fixed(r.val_loss, 4), pctText(r.val_acc), pctText(r.val_balanced_acc), r.seconds < 60 ? `${r.seconds.toFixed(1)}s` : duration(r.seconds)];
}

/** The table of every epoch so far (the results section). */
function epochTable(rows: readonly MetricsRow[], epochs: number): string {
  return renderTable(EPOCH_HEADERS, rows.map((r) => epochCells(r, epochs)), { align: EPOCH_ALIGN });
}

/**
 * The per-epoch table as training goes: its header once, then one line per
 * epoch, in columns wide enough for any epoch (so the lines stay aligned
 * under the one header; the progress bars go to stderr in between).
 */
class EpochLines {
  private readonly table: TableLines;
  constructor(private readonly epochs: number) {
    // epoch 'N/N', lr '0.0009755', losses '12.3456', accuracies '100.00', time '59.9s' / '1m05s'.
    this.table = new TableLines(EPOCH_HEADERS, { align: EPOCH_ALIGN, minWidths: [2 * String(epochs).length + 1, 9, 7, 6, 7, 6, 6, 6] });
  }
  private first = true;
  line(r: MetricsRow): string {
    const text = this.table.line(epochCells(r, this.epochs));
    const out = this.first ? `\n${text}` : text;
    this.first = false;
    return out;
  }
}

/** A metrics row (the files' snake_case) as a report row. */
export function epochSummary(r: MetricsRow): EpochSummary {
  return { epoch: r.epoch, lr: r.lr, trainLoss: r.train_loss, trainAccuracy: r.train_acc, valLoss: r.val_loss, valAccuracy: r.val_acc, valBalancedAccuracy: r.val_balanced_acc, seconds: r.seconds };
}

function toMetricsRow(s: EpochSummary): MetricsRow {
  return { epoch: s.epoch, lr: s.lr, train_loss: s.trainLoss, train_acc: s.trainAccuracy, val_loss: s.valLoss, val_acc: s.valAccuracy, val_balanced_acc: s.valBalancedAccuracy, seconds: s.seconds };
}

/** The command line that resumes a run. */
export function resumeCommand(c: Pick<TrainConfig, 'dataset' | 'arch'>, runsDir: string, version: number): string {
  const parts = ['slimnet train', `--dataset ${c.dataset}`, `--arch ${c.arch}`];
  if (runsDir !== './runs' && runsDir !== 'runs') parts.push(`--runs-dir ${runsDir}`);
  parts.push(`--version ${version}`);
  return parts.join(' ');
}

/** A path as the user would type it from here. */
const rel = (p: string): string => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');

/**
 * The JSON `slimnet train --json` prints (its keys are the command's
 * documented output: `metrics` rows in the files' snake_case).
 */
export function trainResultJson(r: TrainReport): Record<string, unknown> {
  const metrics = r.history.map(toMetricsRow);
  if (r.status === 'already-complete') return { run: r.run, version: r.version, status: r.runStatus };
  if (r.status === 'interrupted') return { run: r.run, version: r.version, status: 'interrupted', epochsDone: r.epochsDone, metrics };
  const t = r.test!;
  return {
    run: r.run,
    version: r.version,
    status: 'complete',
    config: r.config,
    epochsDone: r.epochsDone,
    metrics,
    bestValAccuracy: r.bestValAccuracy,
    test: { accuracy: t.accuracy, balancedAccuracy: t.balancedAccuracy, loss: t.loss, perClassRecall: t.perClassRecall },
    bestTest: r.bestTest,
  };
}

/**
 * Trains a new run, or resumes `spec.resume`; see TrainReport. A new run's
 * directory is created only once the data, the model and the memory check
 * are through, so a failed set-up leaves no empty version behind. Resuming
 * with a larger `epochs` extends the run (also a complete one): see
 * resumedConfig; the extension is recorded in config.json (the new epochs)
 * and status.json (`extensions`).
 */
export async function trainRun(spec: TrainRunSpec, observer: Observer = {}): Promise<TrainReport> {
  const { exportOnnx, parallel, ...trainSpec } = spec;
  const given = givenOptions(trainSpec);
  const config = resolveTrainConfig(given);
  if (!archNames().includes(config.arch)) throw new UsageError(`unknown architecture '${config.arch}' (available: ${archNames().join(', ')})`);
  const report = await runTraining(BASELINE_PLAN, { config, given, runsDir: spec.runsDir, resume: spec.resume, ...(parallel ? { parallel } : {}) }, observer);
  return { ...report, onnx: await exportFinal(report, exportOnnx, 'model.onnx', observer) };
}

/** What trainRun takes: the training spec, and whether to write the final model as ONNX. */
export interface TrainRunSpec extends TrainSpec {
  /** Also write the final weights (last.safetensors) as ONNX, checked in onnxruntime: a path, or true for <run>/model.onnx. */
  exportOnnx?: string | boolean;
  /** Data-parallel training: this process is one rank of the group (see runTraining). */
  parallel?: DataParallel;
}

/** The final model of a finished run as ONNX (verified in onnxruntime), when asked; null otherwise. */
export async function exportFinal(report: TrainReport<TrainConfig>, exportOnnx: string | boolean | undefined, defaultName: string, observer: Observer): Promise<ExportReport | null> {
  if (!exportOnnx || !(report.status === 'complete' || report.status === 'early-stopped')) return null;
  const out = typeof exportOnnx === 'string' ? exportOnnx : join(report.run, defaultName);
  const r = await exportRun({ checkpoint: report.checkpoints.last, out, verify: true }, { onLog: observer.onLog });
  if (!r.ok) throw new SlimnetError(`the ONNX export ${out} differs from the model by ${r.maxAbsDiff} in onnxruntime (${(r.problems ?? []).join('; ')})`);
  return r;
}

/**
 * The training of a plan: a new run, or `resume` (a version of the same
 * plan's run family) where it stopped; see trainRun. `resumed(saved)`: the
 * configuration a resumed run goes on with (default: resumedConfig over the
 * training options).
 */
export async function runTraining<Cfg extends TrainConfig>(
  plan: TrainPlan<Cfg>,
  o: {
    config: Cfg;
    given: Partial<TrainConfig>;
    runsDir?: string | undefined;
    resume?: number | undefined;
    resumed?: (saved: Partial<Cfg>, version: number, progress: { epochsDone: number; complete: boolean }) => { config: Cfg; extendedFrom: number | null };
    /**
     * Data-parallel training: this process is one rank of the group, the
     * batch size is the global batch (each rank takes its part of every
     * batch), validation and test metrics are over the whole splits. Rank 0
     * alone writes the run directory; the other ranks keep theirs in a
     * temporary directory removed at the end (a resume copies the run there
     * first, so the run directory must be readable by every rank).
     */
    parallel?: DataParallel;
  },
  observer: Observer = {},
): Promise<TrainReport<Cfg>> {
  const dp = o.parallel;
  if (!dp || dp.rank === 0) return trainIn(plan, o, o.runsDir ?? DEFAULT_RUNS_DIR, dp, observer);
  if (o.resume !== undefined && !(Number.isInteger(o.resume) && o.resume >= 0)) throw new UsageError(`resume (--version) must be a run version (an integer >= 0), got ${o.resume}`);
  const shadow = mkdtempSync(join(tmpdir(), `slimnet-rank${dp.rank}-`));
  try {
    if (o.resume !== undefined) {
      // The rank resumes from a copy of the run (its config and trainer state), taken before rank 0 writes to it (rank 0 waits for this rank at the first broadcast).
      const id = { root: o.runsDir ?? DEFAULT_RUNS_DIR, command: plan.command, dataset: o.config.dataset, arch: o.config.arch };
      const from = Run.open(id, o.resume).path;
      cpSync(from, join(Run.configurationDir({ ...id, root: shadow }), basename(from)), { recursive: true });
    }
    return await trainIn(plan, o, shadow, dp, observer);
  } finally {
    rmSync(shadow, { recursive: true, force: true });
  }
}

/** runTraining with the run directories under `runsDir` (a rank other than 0: its temporary one). */
async function trainIn<Cfg extends TrainConfig>(plan: TrainPlan<Cfg>, o: Parameters<typeof runTraining<Cfg>>[1], runsDir: string, parallel: DataParallel | undefined, observer: Observer): Promise<TrainReport<Cfg>> {
  const given = o.given;
  let config = o.config;
  const spec = { resume: o.resume };
  if (spec.resume !== undefined && !(Number.isInteger(spec.resume) && spec.resume >= 0)) throw new UsageError(`resume (--version) must be a run version (an integer >= 0), got ${spec.resume}`);
  const identity: RunIdentity = { root: runsDir, command: plan.command, dataset: config.dataset, arch: config.arch };

  let run: Run | undefined;
  const say = (line: string): void => {
    run?.say(line);
    observer.onLog?.(line);
  };

  // ---- the run to resume (a new run's directory comes after the set-up) ----------------
  const resuming = spec.resume !== undefined;
  let extendedFrom: number | null = null;
  if (resuming) {
    const opened = Run.open(identity, spec.resume!);
    const prev = opened.status;
    const progress = { epochsDone: prev.epochsDone, complete: prev.status === 'complete' };
    const resumed = o.resumed ? o.resumed(opened.config<Partial<Cfg>>(), opened.version, progress) : (resumedConfig(opened.config<Partial<TrainConfig>>(), given, opened.version, progress) as { config: Cfg; extendedFrom: number | null });
    config = resumed.config;
    extendedFrom = resumed.extendedFrom;
    const statePath = opened.file(RUN_FILES.state);
    if (prev.status === 'complete' && extendedFrom === null) {
      observer.onLog?.(
        `version ${opened.version} (${opened.path}) is already complete: ${prev.epochsDone}/${prev.epochs} epochs` +
          (prev.test ? `, test accuracy ${pctText(prev.test.accuracy)} %, balanced accuracy ${pctText(prev.test.balancedAccuracy)} %` : '') +
          `; a larger --epochs extends it`,
      );
      const history = readMetrics(opened.path).map(epochSummary);
      return {
        ...baseReport(plan, opened, config, runsDir),
        status: 'already-complete',
        interrupted: false,
        epochsDone: prev.epochsDone,
        history,
        bestValAccuracy: prev.bestValAccuracy,
        bestEpoch: prev.bestEpoch,
        params: prev.params ?? null,
        macs: prev.macs ?? null,
      };
    }
    if (opened.effectiveStatus === 'running') throw new UsageError(`version ${opened.version} is being trained by process ${prev.pid}`);
    if (!existsSync(statePath)) throw new UsageError(`version ${opened.version} has no trainer state (${RUN_FILES.state}) to resume from`);
    run = opened;
  }

  const open = (): Run => (run ??= Run.create(identity, config, { epochs: config.epochs }));
  try {
    return await train(plan, { open, config, resuming, extendedFrom, runsDir, say, observer, parallel });
  } catch (e) {
    if (e instanceof TrainingStoppedError || run === undefined) throw e; // recorded already, or no run yet
    const failed = run;
    // Best effort: on a full or read-only disk these writes fail too, and the first error is the one to report.
    try {
      if (e instanceof SlimnetError) failed.say(`error: ${e.message}`);
      failed.fail(e);
    } catch {
      // keep the original error
    }
    throw e;
  }
}

function baseReport<Cfg extends TrainConfig>(plan: TrainPlan<Cfg>, run: Run, config: Cfg, runsDir: string): Omit<TrainReport<Cfg>, 'status' | 'interrupted' | 'epochsDone' | 'history' | 'bestValAccuracy' | 'bestEpoch' | 'params' | 'macs'> {
  return {
    run: run.path,
    version: run.version,
    config,
    test: null,
    bestTest: null,
    checkpoints: { best: run.file(RUN_FILES.best), last: run.file(RUN_FILES.last), state: run.file(RUN_FILES.state) },
    resumeCommand: plan.resumeCommand(config, runsDir, run.version),
    message: run.status.message ?? null,
    runStatus: run.status,
  };
}

/** The graph of the model the configuration names, on the data's shape (no weights yet). */
function buildGraph(config: TrainConfig, data: ResolvedData): Graph {
  const [ch, h, w] = data.train.sampleShape;
  const graph = buildArch(config.arch, { inChannels: ch, classes: data.train.classes.length, imageSize: h, widthMultiplier: config.width });
  if (h !== w) throw new UsageError(`${config.arch} needs square images, the data set has ${h}x${w}`);
  return graph;
}

/** What the data sets ask to be told (e.g. a test folder without some training classes), each once. */
function dataWarnings(...sets: (Dataset | undefined)[]): string[] {
  return [...new Set(sets.flatMap((d) => d?.warnings ?? []))];
}

/**
 * The data a configuration names; only image folders take --image-size
 * (checkImageSize refuses it elsewhere). `normalize`: explicit statistics
 * instead of the configuration's choice (a distillation student sees what
 * its teacher was trained on).
 */
export function trainData(config: TrainConfig, normalize?: NormalizeSpec): ResolvedData {
  const data = resolveData({ ...trainDataSpec(config), ...(normalize ? { normalize } : {}) });
  checkImageSize(config, data.train.sampleShape);
  return data;
}

/** The image size a checkpoint records (provenance imageSize): what an image folder was resized to, null for data of a fixed size. */
function recordedImageSize(config: TrainConfig, data: ResolvedData): number | [number, number] | null {
  if (config.dataset !== 'folder') return null;
  const [, h, w] = data.train.sampleShape;
  return h === w ? h : [h, w];
}

interface TrainContext<Cfg extends TrainConfig> {
  /** The run directory: the resumed run, or a new version created on the first call. */
  open(): Run;
  config: Cfg;
  resuming: boolean;
  extendedFrom: number | null;
  runsDir: string;
  say(line: string): void;
  observer: Observer;
  parallel: DataParallel | undefined;
}

async function train<Cfg extends TrainConfig>(plan: TrainPlan<Cfg>, ctx: TrainContext<Cfg>): Promise<TrainReport<Cfg>> {
  const { config, resuming, runsDir, say, observer, parallel: dp } = ctx;
  const signal = observer.signal;
  // Across processes a stop is agreed (DataParallel.stopRequested: any rank's), so that every rank leaves at the same point.
  const aborted = (): boolean => signal?.aborted === true || dp?.stopRequested === true;
  /** aborted(), agreed by every rank where there are several (each one of them must call it). */
  const agreedAbort = async (): Promise<boolean> => (dp ? dp.any(aborted()) : aborted());
  if (dp && config.batchSize < dp.size) throw new UsageError(`--batch-size ${config.batchSize} is the global batch, split over ${dp.size} processes: it needs at least one sample per process`);
  const shard = dp ? { rank: dp.rank, world: dp.size } : undefined;

  // ---- data, model, optimizer, schedule (before any run directory exists) -----------------
  const data = plan.data(config);
  checkValidationSplit(config.validation, { validation: data.validation?.length ?? 0, classes: data.train.classes.length });
  const { create, graph, label } = plan.model(config, data);
  const memory = checkTrainingMemory({
    model: label,
    graph,
    batch: Math.min(config.batchSize, data.train.length),
    batchSize: config.batchSize,
    optimizer: config.optimizer,
    momentum: config.momentum,
  });
  const model = create();
  let ext: TrainExtension | undefined;
  let optimizer: Optimizer<BaseHyper>;
  try {
    ext = plan.extend?.(model, config, data);
    optimizer = buildOptimizer(model, optimizerOf(config), ext?.extraParams ?? []);
  } catch (e) {
    ext?.dispose();
    model.dispose();
    throw e;
  }
  const totals = summarize(model.graph).totals;
  const schedule = new LrSchedule(optimizer, scheduleOf(config));
  const transforms = loaderTransforms(config, data); // training: augmentation, normalisation, noise (--noise-share); evaluation: normalisation only
  // Several ranks: each trains on its part of every global batch and evaluates its share of the splits.
  const trainLoader = new DataLoader(data.train, { batchSize: config.batchSize, shuffle: true, seed: config.seed, transform: transforms.train, ...(shard ? { shard } : {}) });
  const evalShard = shard ? { shard: { ...shard, of: 'split' as const } } : {};
  const valLoader = data.validation ? new DataLoader(data.validation, { batchSize: config.evalBatchSize, transform: transforms.eval, ...evalShard }) : undefined;
  const testLoader = new DataLoader(data.test, { batchSize: config.evalBatchSize, transform: transforms.eval, ...evalShard });
  // An extension's own test results (afterTest) are per process, on the whole split.
  const fullTestLoader = dp ? new DataLoader(data.test, { batchSize: config.evalBatchSize, transform: transforms.eval }) : testLoader;
  const evaluateAll = (m: Model, loader: DataLoader): Promise<Metrics> => (dp ? dp.evaluate(m, () => evaluate(m, loader, data.test.classes)) : evaluate(m, loader, data.test.classes));
  const earlyStopping = config.earlyStoppingPatience !== null ? new EarlyStopping({ monitor: config.earlyStoppingMonitor, minDelta: config.earlyStoppingMinDelta, patience: config.earlyStoppingPatience }) : undefined;

  try {
    const run = ctx.open();
    // The checkpoints carry the data and its split, so later commands (prune, slim) rebuild the same train / validation sets.
    const ckptMeta = (extra: Record<string, unknown>): Record<string, unknown> => ({
      command: plan.command,
      dataset: config.dataset,
      root: config.root,
      imageSize: recordedImageSize(config, data),
      arch: config.arch,
      width: config.width,
      classes: [...data.train.classes],
      // The subset by its resolved names (a name always resolves to itself), under transtailor's key: checkpointData takes it again.
      ...(config.classes !== null ? { classSubset: [...data.train.classes] } : {}),
      normalize: data.norm,
      seed: config.seed,
      validation: config.validation,
      fraction: config.fraction,
      version: run.version,
      ...ext?.meta,
      ...extra,
    });
    let saved: EpochSaved | undefined;
    const checkpointing = new Checkpointing({ run, meta: ckptMeta, onSaved: (x) => void (saved = x) });
    let stepImages = 0;
    const trainer = new Trainer({
      model,
      optimizer,
      schedule,
      ...(ext?.trainer.loss ? {} : { labelSmoothing: config.labelSmoothing }),
      ...ext?.trainer,
      ...(config.gradClip !== null ? { gradClip: config.gradClip } : {}),
      callbacks: [{ onStepEnd: (info) => void (stepImages = info.batchSize * (dp?.size ?? 1)) }, checkpointing],
      ...(dp ? { collective: dp } : {}),
    });

    // Steps of an interrupted epoch already done (where a resume starts, and what an interruption reports).
    let partialSteps = 0;
    let extension: RunExtension | undefined;
    if (resuming) {
      const st = loadTrainerState(checkpointing.paths.state);
      try {
        // An extension re-plans the schedule over the new epochs (the cosine's length): the state goes on under the new spec.
        if (ctx.extendedFrom !== null && st.meta.schedule) st.meta.schedule = { ...st.meta.schedule, spec: schedule.state().spec };
        trainer.loadState(st);
      } finally {
        disposeTrainerState(st);
      }
      partialSteps = st.meta.partial?.steps ?? 0;
      run.truncateMetrics(trainer.epoch);
      if (ctx.extendedFrom !== null) {
        extension = { fromEpochs: ctx.extendedFrom, toEpochs: config.epochs, atEpoch: trainer.epoch, date: nowIso() };
        run.writeJson(RUN_FILES.config, config);
      }
      say(
        `\n--- ${nowIso()}: ${extension ? `extending version ${run.version} from ${plural(extension.fromEpochs, 'epoch')} to ${extension.toEpochs}${config.schedule === 'cosine' ? ' (the cosine schedule re-planned over the new total)' : ''}; ` : ''}` +
          `resuming version ${run.version} at epoch ${trainer.epoch + 1}/${config.epochs}${st.meta.partial ? ` (step ${st.meta.partial.steps + 1} of ${trainLoader.length})` : ''}`,
      );
    } else checkpointing.saveInitial(trainer);
    // Rank 0's weights on every rank (each built its own); after a resume every rank loaded the same state, and this also waits for all of them.
    if (dp) await dp.broadcastModel(model, ext?.extraParams ?? []);
    const extensions = extension ? [...(run.status.extensions ?? []), extension] : run.status.extensions;
    run.start({ epochs: config.epochs, epochsDone: trainer.epoch, params: totals.params, macs: totals.macs, ...(extensions ? { extensions } : {}) });

    say(`run ${rel(run.path)} (version ${run.version})`);
    if (memory.warning) say(`warning: ${memory.warning}`);
    say(`data: ${config.dataset}: ${data.train.length} train / ${data.validation?.length ?? 0} validation / ${data.test.length} test, ${data.train.classes.length} classes${config.classes !== null ? ` (${data.train.classes.join(', ')})` : ''}, [${data.train.sampleShape.join(', ')}] per sample`);
    for (const w of dataWarnings(data.train, data.validation, data.test)) say(`warning: ${w}`);
    say(`model: ${plan.command === 'train' ? `${config.arch} (width ${config.width})` : label}: ${humanCount(totals.params)} parameters, ${humanCount(totals.macs)} MACs per sample`);
    say(
      `recipe: ${config.optimizer} lr ${config.lr}${config.lrByKind !== null ? ` (${Object.entries(config.lrByKind).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}${config.optimizer === 'sgd' ? ` momentum ${config.momentum}` : ''} weight decay ${config.weightDecay}, ${config.schedule} schedule` +
        `${config.warmupEpochs ? ` after ${plural(config.warmupEpochs, 'warm-up epoch')}` : ''}, batch ${config.batchSize}, ${plural(config.epochs, 'epoch')}, augment ${config.augment}` +
        `${config.labelSmoothing ? `, label smoothing ${config.labelSmoothing}` : ''}${config.gradClip !== null ? `, grad clip ${config.gradClip}` : ''}${config.earlyStoppingPatience !== null ? `, early stopping on ${config.earlyStoppingMonitor} (patience ${config.earlyStoppingPatience}${config.earlyStoppingMinDelta ? `, min delta ${config.earlyStoppingMinDelta}` : ''})` : ''}, seed ${config.seed}`,
    );

    if (dp) say(`data parallel: ${dp.size} processes (Gloo), each batch of ${config.batchSize} split between them; train loss and accuracy are rank 0's part, validation and test are over the whole splits`);
    for (const line of ext?.lines ?? []) say(line);
    await ext?.beforeFit?.(say, signal);

    // ---- the epochs ----------------------------------------------------------------------
    const valImages = data.validation?.length ?? 0;
    let valTask: ProgressTask | undefined;
    let trainTask: ProgressTask | undefined;
    const onProgress = (p: ProgressInfo): void => {
      const info = `loss ${p.loss.toFixed(4)} acc ${(p.accuracy * 100).toFixed(2)} %`;
      if (p.phase === 'train') {
        trainTask!.tick(stepImages, info);
        // The validation phase starts after the last training step.
        if (p.step === p.steps && valLoader) valTask = new ProgressTask(observer.onProgress, { id: 'val', label: `val   ${p.epoch + 1}/${config.epochs}`, total: valImages, unit: 'img' });
      } else {
        valTask ??= new ProgressTask(observer.onProgress, { id: 'val', label: `val   ${p.epoch + 1}/${config.epochs}`, total: valImages, unit: 'img' });
        valTask.tick(Math.min(config.evalBatchSize, valImages - (p.step - 1) * config.evalBatchSize), info);
      }
    };
    let stopMessage: string | null = null;
    const epochLines = new EpochLines(config.epochs);
    let lastRecord: EpochRecord | undefined;
    try {
      while (trainer.epoch < config.epochs && !(await agreedAbort())) {
        const images = data.train.length;
        trainTask = new ProgressTask(observer.onProgress, { id: 'train', label: `epoch ${trainer.epoch + 1}/${config.epochs}`, total: images, unit: 'img', initial: Math.min(images, partialSteps * config.batchSize) });
        valTask = undefined;
        saved = undefined;
        const records = await trainer.fit(trainLoader, { epochs: trainer.epoch + 1, ...(valLoader ? { validation: valLoader } : {}), ...(earlyStopping ? { earlyStopping } : {}), onProgress, ...(signal ? { signal } : {}) });
        lastRecord = records[records.length - 1];
        if (!lastRecord || !lastRecord.completed) {
          if (lastRecord) partialSteps = lastRecord.train.steps;
          break; // interrupted inside the epoch
        }
        partialSteps = 0;
        const s = saved as EpochSaved | undefined;
        if (s) say(`${epochLines.line(s.row)}${s.improved && s.record.val ? '   (best so far)' : ''}`);
        if (trainer.stoppedBecause === 'early stopping') {
          const restored = (earlyStopping!.bestEpoch ?? 0) + 1;
          stopMessage = `early stopping after epoch ${trainer.epoch}: no improvement of ${config.earlyStoppingMonitor} for ${plural(config.earlyStoppingPatience!, 'epoch')}; restored the weights of epoch ${restored}`;
          say(stopMessage);
          // The restored best weights are the run's final weights.
          checkpointing.saveLast(trainer, { epoch: trainer.epoch, restoredEpoch: restored });
          break;
        }
        const halt = s ? (ext?.afterEpoch?.(s.row, run) ?? null) : null;
        if (halt) {
          stopMessage = halt;
          say(halt);
          checkpointing.saveLast(trainer, { epoch: trainer.epoch, note: halt });
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof NonFiniteLossError)) throw e;
      const lastGood = trainer.epoch;
      const msg =
        `training stopped: the ${e.term} became ${e.value} at epoch ${e.epoch + 1}, step ${e.step + 1} of ${trainLoader.length} (global step ${e.globalStep}); ` +
        `the step was not applied and nothing was saved after it. The last good checkpoint is ${rel(checkpointing.paths.last)} (${lastGood === 0 ? 'the initial weights' : `after epoch ${lastGood}`}). ` +
        `Try a lower --lr${config.gradClip === null ? ' or --grad-clip' : ''}.`;
      run.say(`error: ${msg}`);
      run.fail(msg);
      throw new TrainingStoppedError(msg, run.path, checkpointing.paths.last, { cause: e });
    }

    const history = (): EpochSummary[] => trainer.history.filter((r) => r.completed).map((r) => epochSummary(metricsRow(r)));
    const best = (): { bestValAccuracy: number | null; bestEpoch: number | null } => {
      const b = bestValidation(trainer.history);
      return { bestValAccuracy: b?.accuracy ?? null, bestEpoch: b?.epoch ?? null };
    };
    const report = (status: TrainOutcome, extra: Partial<TrainReport<Cfg>> = {}): TrainReport<Cfg> => ({
      ...baseReport(plan, run, config, runsDir),
      status,
      interrupted: status === 'interrupted',
      epochsDone: trainer.epoch,
      history: history(),
      ...best(),
      params: totals.params,
      macs: totals.macs,
      ...extra,
    });

    if (await agreedAbort()) {
      checkpointing.saveState(trainer);
      const at = partialSteps > 0 ? `epoch ${trainer.epoch + 1}, step ${partialSteps} of ${trainLoader.length}` : `the end of epoch ${trainer.epoch}`;
      checkpointing.saveLast(trainer, { epoch: trainer.epoch, note: `interrupted at ${at}` });
      say(`\ninterrupted at ${at}; saved a resumable state. Resume with:\n  ${plan.resumeCommand(config, runsDir, run.version)}`);
      run.interrupt({ message: `interrupted at ${at}` });
      return report('interrupted');
    }

    // ---- results --------------------------------------------------------------------------
    say(`\n${epochTable(trainer.history.filter((r) => r.completed).map(metricsRow), config.epochs)}`);
    const test: Metrics = await evaluateAll(model, testLoader);
    if (await agreedAbort()) {
      const message = 'interrupted during the test evaluation (training is complete)';
      run.interrupt({ message });
      return report('interrupted');
    }
    const b = bestValidation(trainer.history);
    // The test figure above is the last weights'; what later commands load is
    // best.safetensors: when that is another epoch, measure it too.
    let bestTest: Metrics | undefined;
    if (b && b.epoch !== trainer.epoch && !stopMessage && existsSync(checkpointing.paths.best)) {
      const { model: bm } = loadCheckpoint(checkpointing.paths.best);
      try {
        bm.eval();
        bestTest = await evaluateAll(bm, testLoader);
      } finally {
        bm.dispose();
      }
    }
    const total = trainer.history.reduce((a, r) => a + r.seconds, 0);
    say(
      `\n${plan.command === 'train' ? config.arch : label} on ${config.dataset} (${data.test.length} test images), after ${plural(trainer.epoch, 'epoch')} (${duration(total)} of training):` +
        `\n  test accuracy           ${pctText(test.accuracy)} %\n  test balanced accuracy  ${pctText(test.balancedAccuracy)} %` +
        (b ? `\n  best validation accuracy ${pctText(b.accuracy)} % (epoch ${b.epoch}; ${rel(checkpointing.paths.best)})` : '') +
        (bestTest ? `\n  test accuracy of best.safetensors (epoch ${b!.epoch}) ${pctText(bestTest.accuracy)} % (balanced ${pctText(bestTest.balancedAccuracy)} %); the figures above are epoch ${trainer.epoch}'s weights` : '') +
        `\n  checkpoints and metrics in ${rel(run.path)}`,
    );
    await ext?.afterTest?.(model, fullTestLoader, say, signal);
    run.complete({
      epochsDone: trainer.epoch,
      test: { accuracy: test.accuracy, balancedAccuracy: test.balancedAccuracy, loss: test.loss, count: test.count },
      ...(stopMessage ? { message: stopMessage } : {}),
    });
    return report(stopMessage ? 'early-stopped' : 'complete', {
      test,
      bestTest: bestTest ? { epoch: b!.epoch, accuracy: bestTest.accuracy, balancedAccuracy: bestTest.balancedAccuracy } : null,
      message: stopMessage,
    });
  } finally {
    await trainLoader.close();
    await valLoader?.close();
    await testLoader.close();
    if (fullTestLoader !== testLoader) await fullTestLoader.close();
    earlyStopping?.dispose();
    optimizer.dispose();
    ext?.dispose();
    model.dispose();
  }
}

