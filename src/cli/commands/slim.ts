// `slimnet slim`: network slimming (Liu et al. 2017; seed 004) in one command.
//
//   1. sparsity training: one model per λ, each from the same start (fresh
//      weights from --seed, or --checkpoint), with the penalty λ·Σ|γ| on every
//      BatchNorm scale; per epoch the train loss / accuracy, validation
//      accuracy and the share of |γ| below --threshold;
//   2. pruning of the chosen λ's model: --prune-share of the BatchNorm-scaled
//      channels with the smallest |γ|, one global threshold, removed physically;
//   3. fine-tuning of the pruned model without the penalty;
//   4. measurement: parameters, MACs, accuracy and balanced accuracy, and
//      latency in onnxruntime (batch 1 and 64) and slimnet's engine.
//
// runs/slim/<dataset>-<arch>/version_N/ receives config.json, status.json,
// metrics.csv / metrics.jsonl (phase, lambda, epoch, ...), lambda_<λ>.safetensors
// per λ, sparsity.png, accuracy.png, gamma_hist.png, channels.csv,
// channels.png, pruned.safetensors, pruned.onnx, result.json and run.log.
import { appendFileSync, existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { Command } from 'commander';
import { DataLoader, type Dataset } from '../../data/index.js';
import { GraphError, Model, humanCount, loadCheckpoint, saveCheckpoint, summarize, type Graph } from '../../graph/index.js';
import { archNames, buildArch } from '../../models/index.js';
import { PruneError, bnGammas, bnL1Term, hasBatchNorm, slimPrune, sparsity, type SlimPruneResult } from '../../prune/index.js';
import { LatencyError, compareLatency, type CompareLatencyResult } from '../../measure/index.js';
import { PlotError, histogramPlot, linePlot, savePlot, type LineSeries } from '../../report/plot.js';
import { saveOnnx } from '../../export/onnx/export.js';
import { SlimnetError } from '../../tensor/index.js';
import { Adam, LrSchedule, NonFiniteLossError, SGD, Trainer, evaluate, paramGroupsFor, type EpochRecord, type Metrics, type Optimizer, type BaseHyper } from '../../train/index.js';
import { RunLog, configurationDir, createVersionDir, writeJson, type RunStatusFile } from '../../runs/index.js';
import { ProgressBar, formatTime } from '../progress.js';
import { renderTable } from '../../report/table.js';
import { UsageError } from '../errors.js';
import { checkpointData, type ResolvedData as CheckpointData } from '../../data/index.js';
import { writeChannelReport } from './channel-report.js';
import { makeOutput, type Output } from './common.js';
import { evalTransform, trainTransform } from '../../data/index.js';
import { fmt, nowIso, pct } from '../../report/format.js';
import type { SlimRawOptions } from './slim-options.js';

const EXIT_INTERRUPTED = 130;

/** The resolved configuration (config.json). */
export interface SlimConfig {
  dataset: string;
  root: string | null;
  arch: string;
  width: number | null;
  checkpoint: string | null;
  lambdas: number[];
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: 'sgd' | 'adam';
  lr: number;
  momentum: number;
  weightDecay: number;
  augment: 'none' | 'standard';
  threshold: number;
  pruneShare: number;
  pruneLambda: number;
  minChannels: number;
  /** Channel counts kept at multiples of this (1: any count). Runs configured before it existed read as 1. */
  roundTo?: number;
  finetuneEpochs: number;
  finetuneLr: number;
  fraction: number;
  validation: number;
  seed: number;
  latencyRuns: number;
}

/** One metrics row: an epoch of sparsity training (or fine-tuning); epoch 0 is the starting model. */
interface SlimRow {
  phase: 'sparsity' | 'finetune';
  lambda: number;
  epoch: number;
  lr: number | null;
  train_loss: number | null;
  train_acc: number | null;
  /** Mean of λ·Σ|γ| over the epoch's samples. */
  penalty: number | null;
  val_loss: number | null;
  val_acc: number | null;
  val_balanced_acc: number | null;
  /** Share of BatchNorm |γ| below the threshold. */
  sparsity: number;
  gamma_mean: number;
  seconds: number;
}

const COLUMNS: readonly (keyof SlimRow)[] = ['phase', 'lambda', 'epoch', 'lr', 'train_loss', 'train_acc', 'penalty', 'val_loss', 'val_acc', 'val_balanced_acc', 'sparsity', 'gamma_mean', 'seconds'];

interface LambdaResult {
  lambda: number;
  rows: SlimRow[];
  gammas: Float32Array;
  sparsity: number;
  gammaMean: number;
  trainAcc: number | null;
  valAcc: number | null;
  test: Metrics;
  checkpoint: string;
}

/** 0 -> '0', 1e-4 -> '1e-4', 0.5 -> '0.5'. */
export function lambdaLabel(l: number): string {
  if (l === 0) return '0';
  return l >= 0.1 && l < 1000 ? String(l) : l.toExponential().replace('e+', 'e');
}

const x = (v: number) => `${v.toFixed(2)}×`;
const ms = (v: number) => `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;
const pp = (a: number, b: number) => `${(b - a) * 100 >= 0 ? '+' : ''}${((b - a) * 100).toFixed(2)} pp`;
const epochsText = (n: number) => `${n} epoch${n === 1 ? '' : 's'}`;
const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);

/** Runs the command; returns the exit code. */
export async function slimCommand(cmd: Command): Promise<number> {
  const o = cmd.opts<SlimRawOptions>();
  const out = makeOutput(o.json === true);
  try {
    return await slim(cmd, o, out);
  } catch (e) {
    const known =
      e instanceof UsageError || e instanceof PruneError || e instanceof GraphError || e instanceof SlimnetError || e instanceof RangeError || e instanceof PlotError || (e as Error).name === 'DataError';
    if (known) {
      process.stderr.write(`slimnet slim: error: ${(e as Error).message}\n`);
      out.log?.write(`error: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}

/** Zoo architectures with BatchNorm layers (for error messages). */
function batchNormArchs(): string[] {
  return archNames().filter((a) => {
    try {
      return hasBatchNorm(buildArch(a));
    } catch {
      return false;
    }
  });
}

function noBatchNorm(what: string): UsageError {
  return new UsageError(
    `${what} has no BatchNorm layers: network slimming ranks channels by their BatchNorm scale |γ| (architectures with BatchNorm: ${batchNormArchs().join(', ')}; for others use slimnet prune)`,
  );
}

function check(o: SlimRawOptions, given: (k: string) => boolean): void {
  const positiveInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`${name} must be a positive integer, got ${v}`);
  };
  if (!o.lambdas.length) throw new UsageError('--lambdas needs at least one value');
  for (const l of o.lambdas) if (!(l >= 0)) throw new UsageError(`--lambdas: every λ must be >= 0, got ${l}`);
  if (new Set(o.lambdas).size !== o.lambdas.length) throw new UsageError(`--lambdas lists a value twice: ${o.lambdas.join(',')}`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 0)) throw new UsageError(`--epochs must be a non-negative integer, got ${o.epochs}`);
  if (o.epochs === 0 && o.checkpoint === undefined) throw new UsageError('--epochs 0 prunes a model as it is: it needs --checkpoint');
  positiveInt('--batch-size', o.batchSize);
  positiveInt('--eval-batch-size', o.evalBatchSize);
  positiveInt('--min-channels', o.minChannels);
  positiveInt('--round-to', o.roundTo);
  positiveInt('--latency-runs', o.latencyRuns);
  if (!(Number.isInteger(o.finetuneEpochs) && o.finetuneEpochs >= 0)) throw new UsageError(`--finetune-epochs must be a non-negative integer, got ${o.finetuneEpochs}`);
  for (const [flag, v] of [['--lr', o.lr], ['--finetune-lr', o.finetuneLr]] as const) if (v !== undefined && !(v > 0)) throw new UsageError(`${flag} must be > 0, got ${v}`);
  if (!(o.momentum >= 0 && o.momentum < 1)) throw new UsageError(`--momentum must be in [0, 1), got ${o.momentum}`);
  if (!(o.weightDecay >= 0)) throw new UsageError(`--weight-decay must be >= 0, got ${o.weightDecay}`);
  if (!(o.threshold > 0)) throw new UsageError(`--threshold must be > 0, got ${o.threshold}`);
  if (!(o.pruneShare > 0 && o.pruneShare < 1)) throw new UsageError(`--prune-share must be in (0, 1), got ${o.pruneShare}`);
  if (o.pruneLambda !== undefined && !o.lambdas.includes(o.pruneLambda)) throw new UsageError(`--prune-lambda ${o.pruneLambda} is not one of --lambdas ${o.lambdas.join(',')}`);
  if (o.fraction !== undefined && !(o.fraction > 0 && o.fraction <= 1)) throw new UsageError(`--fraction must be in (0, 1], got ${o.fraction}`);
  if (o.validation !== undefined && !(o.validation >= 0)) throw new UsageError(`--validation must be >= 0, got ${o.validation}`);
  if (o.width !== undefined && !(o.width > 0)) throw new UsageError(`--width must be > 0, got ${o.width}`);
  if (o.checkpoint !== undefined) {
    const clash = ['arch', 'width'].filter(given);
    if (clash.length) throw new UsageError(`${clash.map((k) => `--${k}`).join(' and ')} cannot be used with --checkpoint: the checkpoint holds the model`);
  }
}

interface Start {
  config: SlimConfig;
  data: CheckpointData;
  /** The model every λ starts from (owned here). */
  model: Model;
  /** Metadata carried into every checkpoint written. */
  meta: Record<string, unknown>;
}

function resolve(o: SlimRawOptions, given: (k: string) => boolean): Start {
  const pick = <K extends keyof SlimRawOptions>(k: K) => (given(k) ? o[k] : undefined);
  const lr = o.lr ?? (o.optimizer === 'sgd' ? 0.1 : 1e-3);
  const common = {
    lambdas: o.lambdas,
    epochs: o.epochs,
    batchSize: o.batchSize,
    evalBatchSize: o.evalBatchSize,
    optimizer: o.optimizer,
    lr,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    augment: o.augment,
    threshold: o.threshold,
    pruneShare: o.pruneShare,
    pruneLambda: o.pruneLambda ?? Math.max(...o.lambdas),
    minChannels: o.minChannels,
    roundTo: o.roundTo,
    finetuneEpochs: o.finetuneEpochs,
    finetuneLr: o.finetuneLr ?? lr / 10,
    latencyRuns: o.latencyRuns,
  };
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  if (o.checkpoint !== undefined) {
    if (!existsSync(o.checkpoint)) throw new UsageError(`no checkpoint at ${o.checkpoint}`);
    const { model, meta } = loadCheckpoint(o.checkpoint);
    try {
      const arch = typeof meta.arch === 'string' ? meta.arch : model.graph.name;
      if (!hasBatchNorm(model.graph)) throw noBatchNorm(`the checkpoint's model '${arch}'`);
      const sameData = o.dataset === undefined || o.dataset === meta.dataset;
      // The resolved split, written to config.json and to every checkpoint of the run.
      // A checkpoint that does not record its split may have trained on every image: no validation split then.
      const validation = pick('validation') ?? (sameData ? (num(meta.validation) ?? 0) : 0.1);
      const fraction = pick('fraction') ?? (sameData ? num(meta.fraction) : undefined) ?? 1;
      const data = checkpointData(meta, { dataset: o.dataset, root: o.root, validation, fraction, seed: pick('seed') }, `checkpoint ${o.checkpoint}`);
      checkShapes(model.graph, data.train, `the checkpoint's model '${arch}'`);
      const width = num(meta.width) ?? null;
      const root = o.root ?? (sameData && typeof meta.root === 'string' ? meta.root : null);
      const config: SlimConfig = { dataset: data.dataset, root, arch, width, checkpoint: o.checkpoint, ...common, fraction, validation, seed: data.seed };
      return { config, data, model, meta: { dataset: data.dataset, root, arch, width, classes: [...data.classes], normalize: data.norm, seed: data.seed, validation, fraction, slimmedFrom: o.checkpoint } };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const arch = o.arch ?? 'vgg11_bn';
  if (!archNames().includes(arch)) throw new UsageError(`unknown architecture '${arch}' (available: ${archNames().join(', ')})`);
  if (!hasBatchNorm(buildArch(arch))) throw noBatchNorm(`architecture '${arch}'`);
  const dataset = o.dataset ?? 'fashion-mnist';
  const validation = o.validation ?? 0.1;
  const fraction = o.fraction ?? 1;
  const seed = o.seed ?? 0;
  const width = o.width ?? 1;
  const data = checkpointData({ dataset }, { root: o.root, validation, fraction, seed }, 'the command line');
  const [ch, h, w] = data.train.sampleShape;
  if (h !== w) throw new UsageError(`${arch} needs square images, the data set has ${h}x${w}`);
  const graph = buildArch(arch, { inChannels: ch, classes: data.classes.length, imageSize: h, widthMultiplier: width });
  const model = Model.create(graph, { seed });
  const config: SlimConfig = { dataset, root: o.root ?? null, arch, width, checkpoint: null, ...common, fraction, validation, seed };
  return { config, data, model, meta: { dataset, root: o.root ?? null, arch, width, classes: [...data.classes], normalize: data.norm, seed, validation, fraction } };
}

function checkShapes(graph: Graph, ds: Dataset, what: string): void {
  const inputs = graph.inputs;
  if (inputs.length !== 1) throw new UsageError(`${what} has ${inputs.length} inputs; slimnet slim trains single-input classifiers`);
  const want = graph.shape(inputs[0]!.name);
  if (want.join() !== ds.sampleShape.join()) throw new UsageError(`${what} takes inputs [${want.join(', ')}], the data set has [${ds.sampleShape.join(', ')}]`);
  const classes = graph.shape(graph.outputs[0]!)[0];
  if (classes !== ds.classes.length) throw new UsageError(`${what} has ${classes} outputs, the data set has ${ds.classes.length} classes`);
}

function makeOptimizer(model: Model, c: SlimConfig, lr: number): Optimizer<BaseHyper> {
  const groups = paramGroupsFor(model, { weightDecay: c.weightDecay, noDecayOnNormAndBias: true });
  return c.optimizer === 'sgd' ? new SGD(groups, { lr, momentum: c.momentum, weightDecay: c.weightDecay }) : new Adam(groups, { lr, weightDecay: c.weightDecay });
}

/** A progress bar per epoch and phase, with throughput and ETA (as `slimnet train` draws them). */
function progress(label: string, trainImages: number, valImages: number, evalBatch: number) {
  let bar: ProgressBar | undefined;
  let key = '';
  let stepImages = 0;
  let phaseStart = performance.now();
  return {
    onStepEnd: (info: { batchSize: number }) => void (stepImages = info.batchSize),
    onProgress: (p: { phase: 'train' | 'val'; epoch: number; epochs: number; step: number; loss: number; accuracy: number }) => {
      const k = `${p.phase}${p.epoch}`;
      const images = p.phase === 'train' ? trainImages : valImages;
      if (k !== key) {
        bar?.finish();
        key = k;
        bar = new ProgressBar({ total: images, label: `${label} ${p.phase === 'train' ? 'epoch' : 'val  '} ${p.epoch + 1}/${p.epochs}`, unit: 'img', startTime: phaseStart });
      }
      const n = p.phase === 'train' ? stepImages : Math.min(evalBatch, images - (p.step - 1) * evalBatch);
      bar!.tick(n, `loss ${p.loss.toFixed(4)} acc ${(p.accuracy * 100).toFixed(2)} %`);
      phaseStart = performance.now();
    },
    close: () => {
      bar?.finish();
      bar = undefined;
      key = '';
      phaseStart = performance.now();
    },
  };
}

function rowOf(phase: SlimRow['phase'], lambda: number, r: EpochRecord, model: Model, threshold: number): SlimRow {
  const g = bnGammas(model);
  return {
    phase,
    lambda,
    epoch: r.epoch + 1,
    lr: r.lr,
    train_loss: r.train.loss,
    train_acc: r.train.accuracy,
    penalty: r.train.extra.bn_l1 ?? 0,
    val_loss: r.val?.loss ?? null,
    val_acc: r.val?.accuracy ?? null,
    val_balanced_acc: r.val?.balancedAccuracy ?? null,
    sparsity: sparsity(model, threshold),
    gamma_mean: mean(g),
    seconds: r.seconds,
  };
}

const EPOCH_HEADERS = ['λ', 'epoch', 'lr', 'train loss', 'penalty', 'train acc %', 'val acc %', 'sparsity %', 'mean |γ|', 'time'];
function epochCells(r: SlimRow, epochs: number): (string | number)[] {
  return [
    lambdaLabel(r.lambda),
    `${r.epoch}/${epochs}`,
    r.lr === null ? '' : +r.lr.toPrecision(4),
    fmt(r.train_loss),
    r.penalty === null ? '' : +r.penalty.toPrecision(4),
    pct(r.train_acc),
    pct(r.val_acc),
    pct(r.sparsity),
    +r.gamma_mean.toPrecision(4),
    `${r.seconds.toFixed(1)}s`,
  ];
}

async function slim(cmd: Command, o: SlimRawOptions, out: Output): Promise<number> {
  const json = o.json === true;
  const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
  check(o, given);
  const start = resolve(o, given);
  const { config: c, data } = start;
  let startModel: Model | null = start.model;
  let sparse: Model | null = null;
  let pruned: SlimPruneResult | null = null;

  // ---- the run directory -----------------------------------------------------------
  const { version, path: runPath } = createVersionDir(configurationDir(o.runsDir, 'slim', c.dataset, c.arch));
  writeJson(join(runPath, 'config.json'), c);
  out.log = new RunLog(join(runPath, 'run.log'));
  const rel = (p: string) => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');
  const totalEpochs = c.lambdas.length * c.epochs + c.finetuneEpochs;
  let status: RunStatusFile = { status: 'running', command: 'slim', dataset: c.dataset, arch: c.arch, version, epochsDone: 0, epochs: totalEpochs, bestValAccuracy: null, bestEpoch: null, pid: process.pid, created: nowIso(), updated: nowIso() };
  const writeStatus = (patch: Partial<RunStatusFile>) => {
    status = { ...status, ...patch, updated: nowIso() };
    writeJson(join(runPath, 'status.json'), status);
  };
  writeStatus({});
  const metricsCsv = join(runPath, 'metrics.csv');
  appendFileSync(metricsCsv, `${COLUMNS.join(',')}\n`);
  const appendRow = (r: SlimRow) => {
    appendFileSync(metricsCsv, COLUMNS.map((k) => (r[k] === null || (typeof r[k] === 'number' && Number.isNaN(r[k])) ? '' : String(r[k]))).join(',') + '\n');
    appendFileSync(join(runPath, 'metrics.jsonl'), `${JSON.stringify(r)}\n`);
  };

  const trainLoader = new DataLoader(data.train, { batchSize: c.batchSize, shuffle: true, seed: c.seed, transform: trainTransform(c.dataset, data.train, c.augment, data.norm) });
  const valLoader = data.validation ? new DataLoader(data.validation, { batchSize: c.evalBatchSize, transform: evalTransform(data.norm) }) : undefined;
  const testLoader = new DataLoader(data.test, { batchSize: c.evalBatchSize, transform: evalTransform(data.norm) });
  const valImages = data.validation?.length ?? 0;
  const ckptMeta = (extra: Record<string, unknown>) => ({ command: 'slim', ...start.meta, version, ...extra });

  let interrupted = false;
  let current: Trainer | undefined;
  const onSigint = () => {
    if (interrupted) {
      process.stderr.write('\nsecond Ctrl-C: exiting\n');
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = true;
    current?.stop('interrupted');
    process.stderr.write('\ninterrupt: stopping after the current step (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  const stopInterrupted = (where: string): number => {
    out.say(`\ninterrupted during ${where}; the files written so far are in ${rel(runPath)}`);
    writeStatus({ status: 'interrupted', message: `interrupted during ${where}`, pid: undefined });
    return EXIT_INTERRUPTED;
  };

  try {
    const s0 = summarize(startModel.graph).totals;
    out.say(`run ${rel(runPath)} (version ${version})`);
    out.say(`data: ${c.dataset}: ${data.train.length} train / ${valImages} validation / ${data.test.length} test, ${data.classes.length} classes, [${data.train.sampleShape.join(', ')}] per sample`);
    out.say(
      `model: ${c.arch}${c.width !== null ? ` (width ${c.width})` : ''}${c.checkpoint ? ` from ${c.checkpoint}` : ', from scratch'}: ${s0.params.toLocaleString('en-US')} parameters, ${s0.macs.toLocaleString('en-US')} MACs per sample, ${bnGammas(startModel).length} BatchNorm channels`,
    );
    out.say(
      `sparsity training: λ ∈ {${c.lambdas.map(lambdaLabel).join(', ')}} × ${epochsText(c.epochs)}, ${c.optimizer} lr ${c.lr}${c.optimizer === 'sgd' ? ` momentum ${c.momentum}` : ''} (cosine) weight decay ${c.weightDecay}, batch ${c.batchSize}, |γ| < ${c.threshold} counts as near zero`,
    );
    out.say(`then: prune ${(c.pruneShare * 100).toFixed(1)} % of the channels of the λ = ${lambdaLabel(c.pruneLambda)} model by global |γ|, fine-tune ${epochsText(c.finetuneEpochs)} at lr ${c.finetuneLr}`);
    writeStatus({ params: s0.params, macs: s0.macs });

    // ---- the starting point (epoch 0 of every λ) -------------------------------------
    const val0 = valLoader ? await evaluate(startModel, valLoader, data.classes) : undefined;
    const g0 = bnGammas(startModel);
    const row0 = (lambda: number): SlimRow => ({
      phase: 'sparsity', lambda, epoch: 0, lr: null, train_loss: null, train_acc: null, penalty: null,
      val_loss: val0?.loss ?? null, val_acc: val0?.accuracy ?? null, val_balanced_acc: val0?.balancedAccuracy ?? null,
      sparsity: sparsity(startModel!, c.threshold), gamma_mean: mean(g0), seconds: 0,
    });

    // ---- 1. sparsity training, one model per λ -----------------------------------------
    const results: LambdaResult[] = [];
    let epochsDone = 0;
    for (const lambda of c.lambdas) {
      const model = startModel.clone();
      const rows: SlimRow[] = [row0(lambda)];
      appendRow(rows[0]!);
      const optimizer = makeOptimizer(model, c, c.lr);
      const bar = progress(`λ=${lambdaLabel(lambda)}`, data.train.length, valImages, c.evalBatchSize);
      const trainer = new Trainer({
        model,
        optimizer,
        schedule: new LrSchedule(optimizer, { type: 'cosine', length: Math.max(1, c.epochs), unit: 'epoch' }),
        extraLosses: lambda > 0 ? [bnL1Term(lambda)] : [],
        callbacks: [
          {
            onStepEnd: bar.onStepEnd,
            onEpochEnd: (r, t) => {
              bar.close();
              const row = rowOf('sparsity', lambda, r, t.model, c.threshold);
              rows.push(row);
              appendRow(row);
              writeStatus({ epochsDone: ++epochsDone });
              out.say(renderTable(EPOCH_HEADERS, [epochCells(row, c.epochs)]));
            },
          },
        ],
      });
      current = trainer;
      let keepModel = false;
      try {
        if (c.epochs > 0) {
          try {
            await trainer.fit(trainLoader, { epochs: c.epochs, ...(valLoader ? { validation: valLoader } : {}), onProgress: bar.onProgress });
          } catch (e) {
            bar.close();
            if (e instanceof NonFiniteLossError) {
              throw new UsageError(`sparsity training with λ = ${lambdaLabel(lambda)} diverged: ${e.message}; try a smaller --lr or λ`);
            }
            throw e;
          }
          bar.close();
        }
        current = undefined;
        if (interrupted) return stopInterrupted(`the sparsity training with λ = ${lambdaLabel(lambda)}`);
        const test = await evaluate(model, testLoader, data.classes);
        const last = rows[rows.length - 1]!;
        const checkpoint = join(runPath, `lambda_${lambdaLabel(lambda)}.safetensors`);
        saveCheckpoint(checkpoint, model, ckptMeta({ lambda, epochs: c.epochs, sparsity: last.sparsity, threshold: c.threshold, valAccuracy: last.val_acc, testAccuracy: test.accuracy }));
        results.push({ lambda, rows, gammas: bnGammas(model), sparsity: last.sparsity, gammaMean: last.gamma_mean, trainAcc: last.train_acc, valAcc: last.val_acc, test, checkpoint });
        if (lambda === c.pruneLambda) {
          sparse = model;
          keepModel = true;
        }
      } finally {
        optimizer.dispose();
        if (!keepModel) model.dispose();
      }
    }
    startModel.dispose();
    startModel = null;

    out.say(`\nafter ${epochsText(c.epochs)} of sparsity training:`);
    out.say(
      renderTable(
        ['λ', `sparsity % (|γ| < ${c.threshold})`, 'mean |γ|', 'train acc %', 'val acc %', 'test acc %', 'test bal acc %', 'checkpoint'],
        results.map((r) => [lambdaLabel(r.lambda), pct(r.sparsity), +r.gammaMean.toPrecision(4), pct(r.trainAcc), pct(r.valAcc), pct(r.test.accuracy), pct(r.test.balancedAccuracy), rel(r.checkpoint)]),
      ),
    );
    await trainingPlots(runPath, results, c, valLoader !== undefined);

    // ---- 2. pruning by the global |γ| threshold ---------------------------------------
    const before = sparse!;
    const chosen = results.find((r) => r.lambda === c.pruneLambda)!;
    pruned = await slimPrune(before, c.pruneShare, { minChannels: c.minChannels, roundTo: c.roundTo ?? 1 });
    const pm = pruned.model;
    const sB = summarize(before.graph).totals;
    const sA = summarize(pm.graph).totals;
    out.say(
      `\npruned the λ = ${lambdaLabel(c.pruneLambda)} model: ${pruned.removed} of ${pruned.total} channels (${pct(pruned.share)} %) with |γ| ≤ ${pruned.threshold.toPrecision(4)}` +
        `${pruned.removed < Math.round(c.pruneShare * pruned.total) ? ` (fewer than asked: --min-channels ${c.minChannels}${(c.roundTo ?? 1) > 1 ? ` / --round-to ${c.roundTo}` : ''} holds)` : ''}`,
    );
    const channelRows = pruned.channels.map((ch) => ({ layer: ch.name, before: ch.before, after: ch.after }));
    await writeChannelReport(runPath, channelRows, `Channels per layer: ${c.arch}, λ = ${lambdaLabel(c.pruneLambda)}, ${pct(pruned.share, 1)} % pruned`, (l) => out.say(l));

    const valNoFt = valLoader ? await evaluate(pm, valLoader, data.classes) : undefined;
    const testNoFt = await evaluate(pm, testLoader, data.classes);
    out.say(`right after pruning: ${valNoFt ? `validation accuracy ${pct(valNoFt.accuracy)} %, ` : ''}test accuracy ${pct(testNoFt.accuracy)} % (before pruning ${pct(chosen.test.accuracy)} %)`);

    // ---- 3. fine-tuning ------------------------------------------------------------------
    if (c.finetuneEpochs > 0) {
      const optimizer = makeOptimizer(pm, c, c.finetuneLr);
      const bar = progress('fine-tune', data.train.length, valImages, c.evalBatchSize);
      const trainer = new Trainer({
        model: pm,
        optimizer,
        schedule: new LrSchedule(optimizer, { type: 'cosine', length: c.finetuneEpochs, unit: 'epoch' }),
        callbacks: [
          {
            onStepEnd: bar.onStepEnd,
            onEpochEnd: (r, t) => {
              bar.close();
              const row = rowOf('finetune', c.pruneLambda, r, t.model, c.threshold);
              appendRow(row);
              writeStatus({ epochsDone: ++epochsDone });
              out.say(renderTable(['fine-tune', 'lr', 'train loss', 'train acc %', 'val acc %', 'time'], [[`${row.epoch}/${c.finetuneEpochs}`, +row.lr!.toPrecision(4), fmt(row.train_loss), pct(row.train_acc), pct(row.val_acc), `${row.seconds.toFixed(1)}s`]]));
            },
          },
        ],
      });
      current = trainer;
      try {
        await trainer.fit(trainLoader, { epochs: c.finetuneEpochs, ...(valLoader ? { validation: valLoader } : {}), onProgress: bar.onProgress });
      } catch (e) {
        bar.close();
        if (e instanceof NonFiniteLossError) throw new UsageError(`fine-tuning diverged: ${e.message}; try a smaller --finetune-lr`);
        throw e;
      } finally {
        optimizer.dispose();
        current = undefined;
      }
      bar.close();
      if (interrupted) return stopInterrupted('the fine-tuning');
    }
    const valFt = valLoader ? await evaluate(pm, valLoader, data.classes) : undefined;
    const testFt = await evaluate(pm, testLoader, data.classes);

    // ---- files of the pruned model ---------------------------------------------------------
    const prunedCkpt = join(runPath, 'pruned.safetensors');
    saveCheckpoint(
      prunedCkpt,
      pm,
      ckptMeta({
        lambda: c.pruneLambda,
        pruneShare: c.pruneShare,
        channelsRemovedShare: pruned.share,
        channels: Object.fromEntries(channelRows.map((r) => [r.layer, [r.before, r.after]])),
        finetuneEpochs: c.finetuneEpochs,
        valAccuracy: valFt?.accuracy ?? null,
        testAccuracy: testFt.accuracy,
      }),
    );
    const onnxPath = join(runPath, 'pruned.onnx');
    let onnxWritten = true;
    try {
      saveOnnx(pm, onnxPath);
    } catch (e) {
      onnxWritten = false;
      out.say(`warning: could not write ${rel(onnxPath)}: ${(e as Error).message}`);
    }

    // ---- 4. latency and the before / after table ---------------------------------------------
    let lat: CompareLatencyResult | null = null;
    out.say(`\nmeasuring latency (onnxruntime CPU and slimnet, batch 1 and 64, ${c.latencyRuns} runs each, interleaved)...`);
    try {
      lat = await compareLatency(before, pm, { batches: [1, 64], runs: c.latencyRuns, warmup: Math.min(5, c.latencyRuns) });
    } catch (e) {
      if (!(e instanceof LatencyError)) throw e;
      out.say(`warning: latency not measured: ${e.message}`);
    }
    if (interrupted) return stopInterrupted('the latency measurement');
    const rows: (string | number)[][] = [
      ['parameters', sB.params, sA.params, x(sB.params / sA.params)],
      ['MACs / sample', sB.macs, sA.macs, x(sB.macs / sA.macs)],
      ['test accuracy %', pct(chosen.test.accuracy), pct(testFt.accuracy), pp(chosen.test.accuracy, testFt.accuracy)],
      ['test balanced accuracy %', pct(chosen.test.balancedAccuracy), pct(testFt.balancedAccuracy), pp(chosen.test.balancedAccuracy, testFt.balancedAccuracy)],
      ['  without fine-tuning %', pct(chosen.test.accuracy), pct(testNoFt.accuracy), pp(chosen.test.accuracy, testNoFt.accuracy)],
    ];
    if (valFt && chosen.valAcc !== null) rows.push(['validation accuracy %', pct(chosen.valAcc), pct(valFt.accuracy), pp(chosen.valAcc, valFt.accuracy)]);
    if (lat) {
      for (const b of [1, 64]) {
        const r = lat.ort[b];
        if (r) rows.push([`onnxruntime latency b${b}`, ms(r.before.median_ms), ms(r.after.median_ms), x(r.speedup)]);
      }
      for (const b of [1, 64]) {
        const r = lat.engine?.[b];
        if (r) rows.push([`slimnet latency b${b}`, ms(r.before.median_ms), ms(r.after.median_ms), x(r.speedup)]);
      }
    }
    out.say(`\n${c.arch} on ${c.dataset}, λ = ${lambdaLabel(c.pruneLambda)}: before (sparsity-trained) and after (${pct(pruned.share, 1)} % of channels pruned, ${epochsText(c.finetuneEpochs)} of fine-tuning)`);
    out.say(renderTable(['', 'before', 'after', 'change'], rows.map((r) => r.map((v) => (typeof v === 'number' ? humanCount(v) : v)))));
    const files = ['metrics.csv', 'sparsity.png', 'accuracy.png', 'gamma_hist.png', 'channels.png', 'pruned.safetensors', ...(onnxWritten ? ['pruned.onnx'] : [])];
    out.say(`\nfiles in ${rel(runPath)}: ${files.join(', ')}, lambda_<λ>.safetensors`);

    const ort = (b: number) => lat?.ort[b] ?? null;
    const eng = (b: number) => lat?.engine?.[b] ?? null;
    const result = {
      run: runPath,
      version,
      arch: c.arch,
      dataset: c.dataset,
      lambda: c.pruneLambda,
      prune_share: c.pruneShare,
      channels_removed: pruned.removed,
      channels_total: pruned.total,
      channels_removed_share: pruned.share,
      gamma_threshold: Number.isNaN(pruned.threshold) ? null : pruned.threshold,
      base_acc: chosen.test.accuracy,
      base_balanced_acc: chosen.test.balancedAccuracy,
      base_val_acc: chosen.valAcc,
      pruned_acc: testFt.accuracy,
      pruned_balanced_acc: testFt.balancedAccuracy,
      pruned_val_acc: valFt?.accuracy ?? null,
      pruned_acc_no_finetune: testNoFt.accuracy,
      pruned_balanced_acc_no_finetune: testNoFt.balancedAccuracy,
      pruned_val_acc_no_finetune: valNoFt?.accuracy ?? null,
      params_before: sB.params,
      params_after: sA.params,
      params_x: sB.params / sA.params,
      macs_before: sB.macs,
      macs_after: sA.macs,
      macs_x: sB.macs / sA.macs,
      speedup_ort_b1: ort(1)?.speedup ?? null,
      speedup_ort_b64: ort(64)?.speedup ?? null,
      speedup_engine_b1: eng(1)?.speedup ?? null,
      speedup_engine_b64: eng(64)?.speedup ?? null,
      latency_ms: {
        ort_b1: ort(1) && [ort(1)!.before.median_ms, ort(1)!.after.median_ms],
        ort_b64: ort(64) && [ort(64)!.before.median_ms, ort(64)!.after.median_ms],
        engine_b1: eng(1) && [eng(1)!.before.median_ms, eng(1)!.after.median_ms],
        engine_b64: eng(64) && [eng(64)!.before.median_ms, eng(64)!.after.median_ms],
      },
      channels: channelRows,
      per_lambda: results.map((r) => ({
        lambda: r.lambda,
        sparsity: r.sparsity,
        gamma_mean: r.gammaMean,
        train_acc: r.trainAcc,
        val_acc: r.valAcc,
        test_acc: r.test.accuracy,
        test_balanced_acc: r.test.balancedAccuracy,
        checkpoint: r.checkpoint,
      })),
      checkpoint: prunedCkpt,
      onnx: onnxWritten ? onnxPath : null,
    };
    writeJson(join(runPath, 'result.json'), result);
    writeStatus({
      status: 'complete',
      params: sA.params,
      macs: sA.macs,
      bestValAccuracy: valFt?.accuracy ?? null,
      test: { accuracy: testFt.accuracy, balancedAccuracy: testFt.balancedAccuracy, loss: testFt.loss, count: testFt.count },
      pid: undefined,
    });
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (e) {
    writeStatus({ status: 'failed', message: (e as Error).message, pid: undefined });
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    startModel?.dispose();
    sparse?.dispose();
    pruned?.model.dispose();
    await trainLoader.close();
    await valLoader?.close();
    await testLoader.close();
  }
}

/** sparsity.png, accuracy.png and gamma_hist.png of the sparsity training. */
async function trainingPlots(runPath: string, results: LambdaResult[], c: SlimConfig, haveVal: boolean): Promise<void> {
  const label = (l: number) => `λ=${lambdaLabel(l)}`;
  const finite = (s: LineSeries) => s.y.some((v) => Number.isFinite(v));
  const epochs = (r: LambdaResult) => r.rows.map((row) => row.epoch);
  const v = (n: number | null) => (n === null ? NaN : n * 100);
  await savePlot(
    linePlot({
      title: `Share of BatchNorm |γ| below ${c.threshold}: ${c.arch} on ${c.dataset}`,
      xLabel: 'epoch',
      yLabel: 'sparsity (%)',
      series: results.map((r) => ({ name: label(r.lambda), x: epochs(r), y: r.rows.map((row) => row.sparsity * 100) })),
      yRange: [0, 100],
    }),
    join(runPath, 'sparsity.png'),
  );
  const acc: LineSeries[] = results.flatMap((r) => [
    { name: `${label(r.lambda)} train`, x: epochs(r), y: r.rows.map((row) => v(row.train_acc)) },
    ...(haveVal ? [{ name: `${label(r.lambda)} val`, x: epochs(r), y: r.rows.map((row) => v(row.val_acc)), dashed: true }] : []),
  ]);
  const shown = acc.filter(finite);
  if (shown.length) {
    await savePlot(linePlot({ title: `Accuracy during sparsity training: ${c.arch} on ${c.dataset}`, xLabel: 'epoch', yLabel: 'accuracy (%)', series: shown }), join(runPath, 'accuracy.png'));
  }
  await savePlot(
    histogramPlot({
      title: `BatchNorm scale |γ| after ${epochsText(c.epochs)} of sparsity training, per λ`,
      xLabel: '|γ|',
      yLabel: 'channels',
      series: results.map((r) => ({ name: label(r.lambda), values: Array.from(r.gammas) })),
      bins: 50,
      logY: true,
    }),
    join(runPath, 'gamma_hist.png'),
  );
}
