// `slimnet train`: a versioned, resumable training run.
//
// runs/train/<dataset>-<arch>/version_N/ receives config.json, metrics.csv /
// metrics.jsonl, best / last checkpoints, the trainer state and run.log (see
// src/runs). Each epoch runs as one Trainer.fit() call, after which the
// metrics row, the checkpoints, the trainer state and the status are written
// (in that order: a resume truncates metrics rows newer than the state).
// Ctrl-C stops after the current step and saves a resumable state (exit
// 130); a non-finite loss stops with a message, the last checkpoint written
// before it stays as it was (exit 1). `--version N` resumes run N exactly.
import { existsSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { Command } from 'commander';
import { DataLoader, fraction, loadDataset, splitDataset, type Dataset, type DatasetName } from '../../data/index.js';
import { Model, loadCheckpoint, saveCheckpoint, summarize, GraphError } from '../../graph/index.js';
import { archNames, buildArch } from '../../models/index.js';
import { SlimnetError } from '../../tensor/index.js';
import {
  Adam,
  AdamW,
  EarlyStopping,
  LrSchedule,
  NonFiniteLossError,
  SGD,
  Trainer,
  disposeTrainerState,
  evaluate,
  loadTrainerState,
  paramGroupsFor,
  saveTrainerState,
  type EpochRecord,
  type Metrics,
  type ScheduleSpec,
} from '../../train/index.js';
import {
  RUN_FILES,
  RunLog,
  appendMetrics,
  configurationDir,
  createVersionDir,
  effectiveStatus,
  listVersions,
  readJson,
  readStatus,
  truncateMetrics,
  versionDir,
  writeJson,
  type MetricsRow,
  type RunStatusFile,
} from '../../runs/index.js';
import { ProgressBar, formatTime } from '../progress.js';
import { renderTable } from '../../report/table.js';
import { UsageError } from '../errors.js';
import { makeOutput, type Output } from './common.js';
import { evalTransform, normalizationFor, trainTransform, type NormalizeSpec } from '../../data/index.js';
import { fmt, nowIso, pct, shortDate } from '../../report/format.js';
import { flagOf, readConfigFile, resolveTrainConfig, trainConfigKeys, validateConfig, type TrainConfig, type TrainMetaOptions } from './train-options.js';

export const EXIT_INTERRUPTED = 130;

function metricsRow(r: EpochRecord): MetricsRow {
  return {
    epoch: r.epoch + 1,
    lr: r.lr,
    train_loss: r.train.loss,
    train_acc: r.train.accuracy,
    val_loss: r.val?.loss ?? null,
    val_acc: r.val?.accuracy ?? null,
    val_balanced_acc: r.val?.balancedAccuracy ?? null,
    seconds: r.seconds,
  };
}

const EPOCH_HEADERS = ['epoch', 'lr', 'train loss', 'train acc %', 'val loss', 'val acc %', 'val bal acc %', 'time'];
function epochCells(r: MetricsRow, epochs: number): (string | number)[] {
  return [`${r.epoch}/${epochs}`, +r.lr.toPrecision(4), fmt(r.train_loss), pct(r.train_acc), fmt(r.val_loss), pct(r.val_acc), pct(r.val_balanced_acc), r.seconds < 60 ? `${r.seconds.toFixed(1)}s` : formatTime(r.seconds)];
}

/** The command line that resumes a run. */
function resumeCommand(c: TrainConfig, runsDir: string, version: number): string {
  const parts = ['slimnet train', `--dataset ${c.dataset}`, `--arch ${c.arch}`];
  if (runsDir !== './runs' && runsDir !== 'runs') parts.push(`--runs-dir ${runsDir}`);
  parts.push(`--version ${version}`);
  return parts.join(' ');
}

interface DataBundle {
  train: Dataset;
  validation: Dataset | undefined;
  test: Dataset;
  norm: NormalizeSpec;
}

function loadData(c: TrainConfig): DataBundle {
  const o = c.root !== null ? { root: c.root } : {};
  const full = loadDataset(c.dataset as DatasetName, 'train', o);
  const ds = c.fraction < 1 ? fraction(full, c.fraction, c.seed) : full;
  let train = ds;
  let validation: Dataset | undefined;
  if (c.validation > 0) ({ train, validation } = splitDataset(ds, { validation: c.validation, seed: c.seed }));
  const test = loadDataset(c.dataset as DatasetName, 'test', o);
  return { train, validation, test, norm: normalizationFor(c.dataset, ds.sampleShape[0]) };
}

function scheduleSpec(c: TrainConfig): ScheduleSpec {
  const warm = c.warmupEpochs > 0 ? { warmup: c.warmupEpochs } : {};
  switch (c.schedule) {
    case 'cosine':
      return { type: 'cosine', length: Math.max(1, c.epochs - c.warmupEpochs), minFactor: c.minLrFactor, unit: 'epoch', ...warm };
    case 'step':
      return { type: 'step', stepSize: c.stepSize, gamma: c.gamma, unit: 'epoch', ...warm };
    case 'multistep':
      return { type: 'multistep', milestones: c.milestones, gamma: c.gamma, unit: 'epoch', ...warm };
    case 'exponential':
      return { type: 'exponential', gamma: c.gamma, unit: 'epoch', ...warm };
    case 'constant':
      return { type: 'constant', unit: 'epoch', ...warm };
  }
}

function bestOf(history: readonly EpochRecord[]): { acc: number; epoch: number } | null {
  let best: { acc: number; epoch: number } | null = null;
  for (const r of history) if (r.val && !Number.isNaN(r.val.accuracy) && (best === null || r.val.accuracy > best.acc)) best = { acc: r.val.accuracy, epoch: r.epoch + 1 };
  return best;
}

function showVersions(dir: string, json: boolean): void {
  const versions = listVersions(dir);
  const rows = versions.map((v) => {
    const path = versionDir(dir, v);
    const s = readStatus(path);
    return { version: v, path, status: s ? effectiveStatus(s) : 'unknown', epochsDone: s?.epochsDone ?? 0, epochs: s?.epochs ?? null, bestValAccuracy: s?.bestValAccuracy ?? null, testAccuracy: s?.test?.accuracy ?? null, created: s?.created ?? null, updated: s?.updated ?? null };
  });
  if (json) {
    process.stdout.write(`${JSON.stringify({ dir, versions: rows })}\n`);
    return;
  }
  if (!rows.length) {
    process.stdout.write(`no runs in ${dir}\n`);
    return;
  }
  process.stdout.write(`runs in ${dir}\n\n`);
  process.stdout.write(
    renderTable(
      ['version', 'epochs', 'best val acc %', 'test acc %', 'status', 'started', 'updated'],
      rows.map((r) => [r.version, `${r.epochsDone}/${r.epochs ?? '?'}`, pct(r.bestValAccuracy), pct(r.testAccuracy), r.status, shortDate(r.created ?? undefined), shortDate(r.updated ?? undefined)]),
    ) + '\n',
  );
}

/** Runs the command; returns the exit code. */
export async function trainCommand(cmd: Command): Promise<number> {
  const meta = cmd.opts<TrainMetaOptions>();
  const json = meta.json === true;
  const out = makeOutput(json);
  try {
    return await train(cmd, meta, out);
  } catch (e) {
    if (e instanceof UsageError || e instanceof GraphError || e instanceof SlimnetError || e instanceof RangeError || (e as Error).name === 'DataError') {
      process.stderr.write(`slimnet train: error: ${(e as Error).message}\n`);
      out.log?.write(`error: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}

async function train(cmd: Command, meta: TrainMetaOptions, out: Output): Promise<number> {
  const json = meta.json === true;
  const fileValues = meta.config !== undefined ? readConfigFile(meta.config) : {};
  let { config, fromCli } = resolveTrainConfig(cmd, fileValues);
  if (!archNames().includes(config.arch)) throw new UsageError(`unknown architecture '${config.arch}' (available: ${archNames().join(', ')})`);
  const runsDir = meta.runsDir;
  const cdir = configurationDir(runsDir, 'train', config.dataset, config.arch);

  if (meta.showVersions) {
    showVersions(cdir, json);
    return 0;
  }

  // ---- the run directory: a new version, or the one to resume ----------------------
  let runPath: string;
  let version: number;
  const resuming = meta.version !== undefined;
  let status: RunStatusFile;
  if (resuming) {
    version = meta.version!;
    runPath = versionDir(cdir, version);
    if (!existsSync(join(runPath, RUN_FILES.config))) {
      const have = listVersions(cdir);
      throw new UsageError(`no run version ${version} in ${cdir}${have.length ? ` (versions: ${have.join(', ')})` : ' (no runs yet)'}`);
    }
    const saved = readJson<TrainConfig>(join(runPath, RUN_FILES.config));
    // Options given now must agree with the run's own configuration.
    const given = new Set<string>([...fromCli, ...Object.keys(fileValues)]);
    const conflicts = trainConfigKeys().filter((k) => given.has(k) && JSON.stringify(config[k]) !== JSON.stringify(saved[k]));
    if (conflicts.length) {
      throw new UsageError(
        `version ${version} was trained with ${conflicts.map((k) => `${flagOf(k)} ${JSON.stringify(saved[k])}`).join(', ')}; --version resumes a run with its own configuration (drop ${conflicts.map(flagOf).join(', ')} or start a new run without --version)`,
      );
    }
    // Runs saved before an option existed resume with its default.
    const defaults: Pick<TrainConfig, 'earlyStoppingMonitor' | 'earlyStoppingMinDelta'> = { earlyStoppingMonitor: 'val.loss', earlyStoppingMinDelta: 0 };
    config = { ...defaults, ...(saved as Partial<TrainConfig>) } as TrainConfig;
    validateConfig(config);
    const prev = readStatus(runPath);
    if (prev && prev.status === 'complete') {
      out.say(`version ${version} (${runPath}) is already complete: ${prev.epochsDone}/${prev.epochs} epochs` + (prev.test ? `, test accuracy ${pct(prev.test.accuracy)} %, balanced accuracy ${pct(prev.test.balancedAccuracy)} %` : ''));
      if (json) process.stdout.write(`${JSON.stringify({ run: runPath, version, status: prev })}\n`);
      return 0;
    }
    if (prev && effectiveStatus(prev) === 'running') throw new UsageError(`version ${version} is being trained by process ${prev.pid}`);
    if (!existsSync(join(runPath, RUN_FILES.state))) throw new UsageError(`version ${version} has no trainer state (${RUN_FILES.state}) to resume from`);
    status = prev ?? ({} as RunStatusFile);
  } else {
    ({ version, path: runPath } = createVersionDir(cdir));
    writeJson(join(runPath, RUN_FILES.config), config);
    status = { status: 'running', command: 'train', dataset: config.dataset, arch: config.arch, version, epochsDone: 0, epochs: config.epochs, bestValAccuracy: null, bestEpoch: null, created: nowIso(), updated: nowIso() };
  }
  out.log = new RunLog(join(runPath, RUN_FILES.log));
  const writeStatus = (patch: Partial<RunStatusFile>) => {
    status = { ...status, ...patch, updated: nowIso() };
    writeJson(join(runPath, RUN_FILES.status), status);
  };

  // ---- data, model, optimizer, schedule ----------------------------------------------
  const data = loadData(config);
  const [ch, h, w] = data.train.sampleShape;
  const graph = buildArch(config.arch, { inChannels: ch, classes: data.train.classes.length, imageSize: h, widthMultiplier: config.width });
  if (h !== w) throw new UsageError(`${config.arch} needs square images, the data set has ${h}x${w}`);
  const model = Model.create(graph, { seed: config.seed });
  const totals = summarize(graph).totals;
  const groups = paramGroupsFor(model, { weightDecay: config.weightDecay, noDecayOnNormAndBias: true });
  const optimizer =
    config.optimizer === 'sgd'
      ? new SGD(groups, { lr: config.lr, momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay })
      : config.optimizer === 'adamw'
        ? new AdamW(groups, { lr: config.lr, weightDecay: config.weightDecay })
        : new Adam(groups, { lr: config.lr, weightDecay: config.weightDecay });
  const schedule = new LrSchedule(optimizer, scheduleSpec(config));
  const trainLoader = new DataLoader(data.train, { batchSize: config.batchSize, shuffle: true, seed: config.seed, transform: trainTransform(config.dataset, data.train, config.augment, data.norm) });
  const valLoader = data.validation ? new DataLoader(data.validation, { batchSize: config.evalBatchSize, transform: evalTransform(data.norm) }) : undefined;
  const testLoader = new DataLoader(data.test, { batchSize: config.evalBatchSize, transform: evalTransform(data.norm) });
  const earlyStopping = config.earlyStoppingPatience !== null ? new EarlyStopping({ monitor: config.earlyStoppingMonitor, minDelta: config.earlyStoppingMinDelta, patience: config.earlyStoppingPatience }) : undefined;

  let bar: ProgressBar | undefined;
  let barKey = '';
  let stepImages = 0;
  let phaseStart = performance.now();
  let interrupted = false;
  const trainer = new Trainer({
    model,
    optimizer,
    schedule,
    labelSmoothing: config.labelSmoothing,
    ...(config.gradClip !== null ? { gradClip: config.gradClip } : {}),
    callbacks: [{ onStepEnd: (info) => void (stepImages = info.batchSize) }],
  });

  const ckptMeta = (extra: Record<string, unknown>) => ({
    command: 'train',
    dataset: config.dataset,
    root: config.root,
    arch: config.arch,
    width: config.width,
    classes: [...data.train.classes],
    normalize: data.norm,
    // The split, so later commands (prune, slim) can rebuild the same train / validation sets.
    seed: config.seed,
    validation: config.validation,
    fraction: config.fraction,
    version,
    ...extra,
  });
  const paths = { last: join(runPath, RUN_FILES.last), best: join(runPath, RUN_FILES.best), state: join(runPath, RUN_FILES.state) };
  const saveState = () => {
    const st = trainer.state();
    try {
      saveTrainerState(paths.state, st);
    } finally {
      disposeTrainerState(st);
    }
  };

  const rel = (p: string) => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');
  if (resuming) {
    const st = loadTrainerState(paths.state);
    try {
      trainer.loadState(st);
    } finally {
      disposeTrainerState(st);
    }
    truncateMetrics(runPath, trainer.epoch);
    out.say(`\n--- ${nowIso()}: resuming version ${version} at epoch ${trainer.epoch + 1}/${config.epochs}${st.meta.partial ? ` (step ${st.meta.partial.steps + 1} of ${trainLoader.length})` : ''}`);
  } else {
    // A 'last good' checkpoint and a state exist from the start: a failure in the first epoch keeps the initial weights.
    saveCheckpoint(paths.last, model, ckptMeta({ epoch: 0, note: 'initial weights' }));
    saveState();
  }
  const best0 = bestOf(trainer.history);
  let best = best0 ? best0.acc : -Infinity;
  writeStatus({ status: 'running', pid: process.pid, epochs: config.epochs, epochsDone: trainer.epoch, params: totals.params, macs: totals.macs, message: undefined });

  out.say(`run ${rel(runPath)} (version ${version})`);
  out.say(
    `data: ${config.dataset}: ${data.train.length} train / ${data.validation?.length ?? 0} validation / ${data.test.length} test, ${data.train.classes.length} classes, [${data.train.sampleShape.join(', ')}] per sample`,
  );
  out.say(
    `model: ${config.arch} (width ${config.width}): ${totals.params.toLocaleString('en-US')} parameters, ${totals.macs.toLocaleString('en-US')} MACs per sample`,
  );
  out.say(
    `recipe: ${config.optimizer} lr ${config.lr}${config.optimizer === 'sgd' ? ` momentum ${config.momentum}` : ''} weight decay ${config.weightDecay}, ${config.schedule} schedule` +
      `${config.warmupEpochs ? ` after ${config.warmupEpochs} warm-up epochs` : ''}, batch ${config.batchSize}, ${config.epochs} epochs, augment ${config.augment}` +
      `${config.labelSmoothing ? `, label smoothing ${config.labelSmoothing}` : ''}${config.gradClip !== null ? `, grad clip ${config.gradClip}` : ''}${config.earlyStoppingPatience !== null ? `, early stopping on ${config.earlyStoppingMonitor} (patience ${config.earlyStoppingPatience}${config.earlyStoppingMinDelta ? `, min delta ${config.earlyStoppingMinDelta}` : ''})` : ''}, seed ${config.seed}`,
  );

  // ---- Ctrl-C ---------------------------------------------------------------------------
  const onSigint = () => {
    if (interrupted) {
      process.stderr.write('\nsecond Ctrl-C: exiting without saving\n');
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = true;
    trainer.stop('interrupted');
    process.stderr.write('\ninterrupt: stopping after the current step and saving a resumable state (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);

  const onProgress = (p: { phase: 'train' | 'val'; epoch: number; epochs: number; step: number; steps: number; loss: number; accuracy: number }) => {
    const key = `${p.phase}${p.epoch}`;
    const images = p.phase === 'train' ? data.train.length : (data.validation?.length ?? 0);
    if (key !== barKey) {
      bar?.finish();
      barKey = key;
      // A resumed epoch starts at its finished batches.
      const initial = p.phase === 'train' ? Math.min(images, (p.step - 1) * config.batchSize) : 0;
      bar = new ProgressBar({ total: images, label: `${p.phase === 'train' ? 'epoch' : 'val  '} ${p.epoch + 1}/${config.epochs}`, unit: 'img', initial, startTime: phaseStart });
    }
    const n = p.phase === 'train' ? stepImages : Math.min(config.evalBatchSize, images - (p.step - 1) * config.evalBatchSize);
    bar!.tick(n, `loss ${p.loss.toFixed(4)} acc ${(p.accuracy * 100).toFixed(2)} %`);
    phaseStart = performance.now(); // the validation phase starts after the last training tick
  };
  const closeBar = () => {
    bar?.finish();
    bar = undefined;
    barKey = '';
  };

  const rows: MetricsRow[] = trainer.history.map(metricsRow);
  let stopMessage: string | undefined;
  try {
    try {
      while (trainer.epoch < config.epochs && !interrupted) {
        phaseStart = performance.now();
        const records = await trainer.fit(trainLoader, { epochs: trainer.epoch + 1, ...(valLoader ? { validation: valLoader } : {}), ...(earlyStopping ? { earlyStopping } : {}), onProgress });
        closeBar();
        const r = records[records.length - 1];
        if (!r || !r.completed) break; // interrupted inside the epoch
        const row = metricsRow(r);
        rows.push(row);
        appendMetrics(runPath, [row]);
        const epochsDone = trainer.epoch;
        const valPart = r.val ? { valAccuracy: r.val.accuracy, valBalancedAccuracy: r.val.balancedAccuracy, valLoss: r.val.loss } : {};
        saveCheckpoint(paths.last, model, ckptMeta({ epoch: epochsDone, ...valPart }));
        const improved = r.val ? r.val.accuracy > best : true;
        if (improved) {
          if (r.val) best = r.val.accuracy;
          saveCheckpoint(paths.best, model, ckptMeta({ epoch: epochsDone, ...valPart, ...(r.val ? {} : { note: 'no validation split: the last epoch' }) }));
        }
        saveState();
        const b = bestOf(trainer.history);
        writeStatus({ epochsDone, bestValAccuracy: b?.acc ?? null, bestEpoch: b?.epoch ?? null });
        out.say(`\n${renderTable(EPOCH_HEADERS, [epochCells(row, config.epochs)])}${improved && r.val ? '   (best so far)' : ''}\n`);
        if (trainer.stoppedBecause === 'early stopping') {
          stopMessage = `early stopping after epoch ${epochsDone}: no improvement of ${config.earlyStoppingMonitor} for ${config.earlyStoppingPatience} epochs; restored the weights of epoch ${(earlyStopping!.bestEpoch ?? 0) + 1}`;
          out.say(stopMessage);
          // The restored best weights are the run's final weights.
          saveCheckpoint(paths.last, model, ckptMeta({ epoch: epochsDone, restoredEpoch: (earlyStopping!.bestEpoch ?? 0) + 1 }));
          break;
        }
      }
    } catch (e) {
      closeBar();
      if (e instanceof NonFiniteLossError) {
        const lastGood = trainer.epoch;
        const msg =
          `training stopped: the ${e.term} became ${e.value} at epoch ${e.epoch + 1}, step ${e.step + 1} of ${trainLoader.length} (global step ${e.globalStep}); ` +
          `the step was not applied and nothing was saved after it. The last good checkpoint is ${rel(paths.last)} (${lastGood === 0 ? 'the initial weights' : `after epoch ${lastGood}`}). ` +
          `Try a lower --lr${config.gradClip === null ? ' or --grad-clip' : ''}.`;
        process.stderr.write(`slimnet train: error: ${msg}\n`);
        out.log?.write(`error: ${msg}`);
        writeStatus({ status: 'failed', message: msg, pid: undefined });
        return 1;
      }
      writeStatus({ status: 'failed', message: (e as Error).message, pid: undefined });
      throw e;
    }

    if (interrupted) {
      saveState();
      const partial = trainer.state();
      const at = partial.meta.partial ? `epoch ${trainer.epoch + 1}, step ${partial.meta.partial.steps} of ${trainLoader.length}` : `the end of epoch ${trainer.epoch}`;
      disposeTrainerState(partial);
      saveCheckpoint(paths.last, model, ckptMeta({ epoch: trainer.epoch, note: `interrupted at ${at}` }));
      const msg = `interrupted at ${at}; saved a resumable state. Resume with:\n  ${resumeCommand(config, runsDir, version)}`;
      out.say(`\n${msg}`);
      writeStatus({ status: 'interrupted', message: `interrupted at ${at}`, pid: undefined });
      if (json) process.stdout.write(`${JSON.stringify({ run: runPath, version, status: 'interrupted', epochsDone: trainer.epoch, metrics: rows })}\n`);
      return EXIT_INTERRUPTED;
    }

    // ---- results --------------------------------------------------------------------------
    out.say(`\n${renderTable(EPOCH_HEADERS, rows.map((r) => epochCells(r, config.epochs)))}`);
    const test: Metrics = await evaluate(model, testLoader, data.test.classes);
    if (interrupted) {
      writeStatus({ status: 'interrupted', message: 'interrupted during the test evaluation (training is complete)', pid: undefined });
      return EXIT_INTERRUPTED;
    }
    const b = bestOf(trainer.history);
    // The test figure above is the last weights'; what later commands load is
    // best.safetensors: when that is another epoch, measure it too.
    let bestTest: Metrics | undefined;
    if (b && b.epoch !== trainer.epoch && !stopMessage && existsSync(paths.best)) {
      const { model: bm } = loadCheckpoint(paths.best);
      try {
        bm.eval();
        bestTest = await evaluate(bm, testLoader, data.test.classes);
      } finally {
        bm.dispose();
      }
    }
    const total = trainer.history.reduce((a, r) => a + r.seconds, 0);
    out.say(
      `\n${config.arch} on ${config.dataset} (${data.test.length} test images), after ${trainer.epoch} epochs (${formatTime(total)} of training):` +
        `\n  test accuracy           ${pct(test.accuracy)} %\n  test balanced accuracy  ${pct(test.balancedAccuracy)} %` +
        (b ? `\n  best validation accuracy ${pct(b.acc)} % (epoch ${b.epoch}; ${rel(paths.best)})` : '') +
        (bestTest ? `\n  test accuracy of best.safetensors (epoch ${b!.epoch}) ${pct(bestTest.accuracy)} % (balanced ${pct(bestTest.balancedAccuracy)} %); the figures above are epoch ${trainer.epoch}'s weights` : '') +
        `\n  checkpoints and metrics in ${rel(runPath)}`,
    );
    writeStatus({
      status: 'complete',
      epochsDone: trainer.epoch,
      test: { accuracy: test.accuracy, balancedAccuracy: test.balancedAccuracy, loss: test.loss, count: test.count },
      pid: undefined,
      ...(stopMessage ? { message: stopMessage } : {}),
    });
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ run: runPath, version, status: 'complete', config, epochsDone: trainer.epoch, metrics: rows, bestValAccuracy: b?.acc ?? null, test: { accuracy: test.accuracy, balancedAccuracy: test.balancedAccuracy, loss: test.loss, perClassRecall: test.perClassRecall }, bestTest: bestTest ? { epoch: b!.epoch, accuracy: bestTest.accuracy, balancedAccuracy: bestTest.balancedAccuracy } : null })}\n`,
      );
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await trainLoader.close();
    await valLoader?.close();
    await testLoader.close();
    earlyStopping?.dispose();
    optimizer.dispose();
    model.dispose();
  }
}
