// The pruning workflow behind `slimnet prune` (and the pipeline's second
// stage): load a trained checkpoint and the data it was trained on, run the
// pruning loop to the floor, the grid step and the MAC refinement, the
// optional fine-tuning (kept only if not worse on the floor's split) and the
// from-scratch twin, then write the pruned checkpoint, its ONNX file, the
// per-layer channel report, the plots and result.json into a versioned run
// directory and measure the latency of base and pruned model.
//
// Decisions (the floor) are taken on the checkpoint's validation split; the
// test split is only reported. Every line goes to run.log and observer.onLog,
// progress to observer.onProgress; observer.signal stops the work after the
// current step, and what was kept so far is still saved and reported.
import { isAbsolute, relative } from 'node:path';
import { DataLoader, checkpointData, evalTransform, type Dataset, type ResolvedData } from '../data/index.js';
import { Model, loadCheckpoint, saveCheckpoint, summarize } from '../graph/index.js';
import { saveOnnx } from '../export/onnx/export.js';
import { compareLatency } from '../measure/index.js';
import { DependencyGraph, PruneError, fineTuneIfNotWorse, finishPruning, prune, SnapCandidates, type PruneData, type PruneHooks } from '../prune/index.js';
import { channelTable, channelsCsv, renderChannelTable, saveChannelPlot } from '../report/channels.js';
import { count, pct, plural } from '../report/format.js';
import { beforeAfterTable } from '../report/table.js';
import { Run } from '../runs/index.js';
import { manualSeed } from '../tensor/index.js';
import { Trainer, buildOptimizer, evaluate, type Metrics } from '../train/index.js';
import { UsageError } from '../util/errors.js';
import { ProgressTask, aborted, type Observer, type ProgressListener } from '../util/events.js';
import { pruneOptions, resolvePruneSpec, type PruneSpec, type ResolvedPruneSpec } from './prune-spec.js';
import { STEPS_CSV_HEADER, finishPoints, keptLine, pruneComparisonRows, pruneResultJson, saveAccuracyPlot, stepCsvLine, stepLine, stepsTable, type FinetuneReport, type FinishPoint, type FloorSplit, type PruneReport, latencyPair } from './prune-report.js';
import { sizeChange } from './size-change.js';

export { resolvePruneSpec, PRUNE_DEFAULTS, DEFAULT_MAX_DROP, type PruneSpec, type ResolvedPruneSpec } from './prune-spec.js';
export { pruneResultJson, pruneComparisonRows, type PruneReport, type FinetuneReport, type FloorSplit, type LatencyPair } from './prune-report.js';

/** Prunes `spec.checkpoint` in a new run directory and returns what it did (see PruneReport). */
export async function pruneRun(spec: PruneSpec, observer: Observer = {}): Promise<PruneReport> {
  const s = resolvePruneSpec(spec);
  const { model: base, meta } = loadCheckpoint(s.checkpoint);
  const arch = typeof meta.arch === 'string' ? meta.arch : base.graph.name;
  let run: Run | undefined;
  let loaders: DataLoader[] = [];
  // The grid step's starting points along the kept path (clones), and the model being pruned: freed at the end.
  let snapCandidates: SnapCandidates | undefined;
  let pruned: Model | undefined;
  try {
    // Layer names are checked before a run directory exists: a typo leaves no failed run behind.
    const dep = prunableLayers(base, s);
    // Image folders are resized to what the model takes (the other data sets have one size).
    const input = base.graph.shape(base.graph.inputs[0]!.name);
    const imageSize = (s.dataset ?? meta.dataset) === 'folder' ? ([input[1]!, input[2]!] as const) : undefined;
    const data = checkpointData(meta, { dataset: s.dataset, root: s.root, validation: s.validation, seed: s.seed, imageSize, ...(s.classes ? { classes: s.classes } : {}) }, s.checkpoint);
    checkDataFits(base, data, s.checkpoint, s.classes);
    run = Run.create({ root: s.runsDir, command: 'prune', dataset: data.dataset, arch }, { ...s, dataset: data.dataset, arch });
    const r = run;
    const say = (line: string): void => {
      r.say(line);
      observer.onLog?.(line);
    };
    const evalSet: Dataset = data.validation ?? data.test;
    const split: FloorSplit = data.validation ? 'validation' : 'test';
    const trainLoader = new DataLoader(data.train, { batchSize: s.batchSize, shuffle: true, seed: data.seed + 1, transform: evalTransform(data.norm) });
    const evalLoader = new DataLoader(evalSet, { batchSize: s.evalBatchSize, transform: evalTransform(data.norm) });
    const testLoader = new DataLoader(data.test, { batchSize: s.evalBatchSize, transform: evalTransform(data.norm) });
    loaders = [trainLoader, evalLoader, testLoader];
    const pd: PruneData = { train: trainLoader, eval: evalLoader, classes: data.classes.length };

    say(`run ${rel(r.path)} (version ${r.version})`);
    say(`data: ${data.dataset}: ${data.train.length} train / ${data.validation?.length ?? 0} validation / ${data.test.length} test; decisions on the ${split} split`);
    for (const w of dataWarnings(data.train, data.validation, data.test)) say(`warning: ${w}`);
    if (!data.validation) say('warning: the checkpoint has no validation split: the accuracy floor is checked on the test split');
    base.eval();
    const baseEval = await evaluate(base, evalLoader, pd.classes);
    const floor = s.minAccuracy ?? (s.maxDrop !== undefined ? baseEval.accuracy - s.maxDrop / 100 : undefined);
    const s0 = summarize(base.graph).totals;
    say(`model: ${arch}: ${count(s0.params)} parameters, ${count(s0.macs)} MACs; ${split} accuracy ${pct(baseEval.accuracy)} %`);
    say(`prunable: ${dep.groups.map((g) => `${g.name} (${g.channels.length})`).join(', ')}`);
    say(settingsLine(s, floor));

    // The global generator (dropout in retraining) starts from the run's seed,
    // so a prune gives the same numbers in a fresh process and in-process
    // after other work (the pipeline trains first).
    manualSeed(data.seed);
    const opts = pruneOptions(s, floor, data.seed);
    const onRetrain = retrainProgress(observer.onProgress);
    const stepsCsv: string[] = [STEPS_CSV_HEADER];
    snapCandidates = s.snapTo > 1 ? new SnapCandidates() : undefined;
    const result = await prune(base, pd, opts, {
      signal: observer.signal,
      onKept: snapCandidates?.onKept,
      onRetrain: onRetrain((step) => `step ${step} retrain`),
      onStep: (rec) => {
        say(stepLine(rec, split));
        stepsCsv.push(stepCsvLine(rec));
        r.writeText('steps.csv', stepsCsv.join('\n') + '\n');
        r.appendJsonl('steps.jsonl', rec);
      },
    });
    pruned = result.best;
    say(`\n${stepsTable(result.history, split)}`);
    say(`stopped: ${result.stopReason}; ${keptLine(result, floor)}`);

    // After the loop: the grid step, then the MAC refinement; each kept only if it meets the floor.
    let snapped: string | null = null;
    let refined: string | null = null;
    let finish: FinishPoint[] = [];
    if (!aborted(observer)) {
      let phase = '';
      const fin = await finishPruning(pruned, snapCandidates, pd, opts, { snapTo: s.snapTo, snapTries: s.snapTries, iters: s.snapIters, refineSteps: s.refineSteps }, {
        signal: observer.signal,
        onPhase: (p, convs) => {
          phase = p === 'snap' ? `snap to ${s.snapTo} retrain` : 'refine retrain';
          if (p === 'refine') say(`refine: up to ${plural(s.refineSteps, 'step')} on ${[...convs!].join(', ') || 'no convolution'}, ${s.snapIters} retraining iterations each`);
        },
        onRetrain: onRetrain(() => phase),
        onSnapped: (sr) => {
          const tried = sr.attempts.map((t) =>
            t.record ? `from step ${t.from}: ${t.record.layers} gave ${split} accuracy ${pct(t.record.accuracy)} %${t.kept ? ', kept' : ', under the floor'}` : `step ${t.from} is on the grid already, kept`,
          );
          snapped =
            sr.attempts.length === 0
              ? 'nothing to do: no step met the floor'
              : `${sr.model ? 'onto' : 'not kept: none of'} multiples of ${s.snapTo} (${Object.entries(sr.limits).map(([g, n]) => `${g} ≤ ${n}`).join(', ')}; ${s.snapIters} retraining iterations) — ${tried.join('; ')}`;
          say(`snap to ${s.snapTo} channels: ${snapped}`);
        },
      });
      pruned = fin.model;
      finish = finishPoints(fin, { sizes: Object.fromEntries(dep.groups.map((g) => [g.name, g.size])), removable: dep.removable.length });
      if (fin.refine) {
        const tried = fin.refine.attempts.map((a) => `${a.record.layers} → ${Object.entries(a.record.channels).map(([g, n]) => `${g} ${n}`).join(' ')}: ${pct(a.record.accuracy)} %${a.kept ? ', kept' : ', under the floor'}`);
        for (const t of tried) say(`  refine: ${t}`);
        const keptN = fin.refine.attempts.filter((a) => a.kept).length;
        refined = `${keptN} of ${plural(fin.refine.attempts.length, 'step')} kept${tried.length ? ` — ${tried.join('; ')}` : ''}`;
        say(`refine: ${refined}`);
      }
    }

    // Fine-tuning, kept only if it does not lower the floor split's accuracy:
    // the model before it met the floor, and an epoch of Adam on a small
    // network near its limit can overshoot.
    let finetune: FinetuneReport | null = null;
    // The kept model's metrics on the floor's split (the fine-tuning check measures them already).
    let after: Metrics | undefined;
    if (s.finetuneEpochs > 0) {
      const progress = epochProgress(observer.onProgress, { id: 'prune.finetune', label: 'fine-tune', epochs: s.finetuneEpochs });
      const ft = await fineTuneIfNotWorse(pruned, trainLoader, evalLoader, {
        epochs: s.finetuneEpochs,
        lr: s.lr,
        ...(opts.lrByKind ? { lrByKind: opts.lrByKind } : {}),
        ...(s.finetunePatience !== undefined ? { patience: s.finetunePatience } : {}),
        classes: pd.classes,
        signal: observer.signal,
        onStep: progress.step,
      });
      progress.end();
      after = ft.kept ? ft.after : ft.before;
      // With early stopping the report says how many epochs ran; without, the epochs asked (as before).
      const epochs = ft.bestEpoch !== undefined ? ft.epochs : s.finetuneEpochs;
      finetune = { epochs, beforeAccuracy: ft.before.accuracy, afterAccuracy: ft.after.accuracy, kept: ft.kept };
      const early = ft.bestEpoch !== undefined ? ` (early stopping on ${split} balanced accuracy, patience ${s.finetunePatience}: ${plural(ft.epochs, 'epoch')} run, epoch ${ft.bestEpoch} kept)` : '';
      say(`fine-tuning ${early ? 'up to ' : ''}${plural(s.finetuneEpochs, 'epoch')}${early}: ${split} accuracy ${pct(ft.before.accuracy)} -> ${pct(ft.after.accuracy)} %${ft.kept ? '' : '; lower, so the weights from before it are kept'}`);
    }
    pruned.eval();
    after ??= await evaluate(pruned, evalLoader, pd.classes);
    const baseTest = await evaluate(base, testLoader, pd.classes);
    const prunedTest = await evaluate(pruned, testLoader, pd.classes);

    // From-scratch twin: the pruned architecture, fresh weights, the same data.
    let scratch: Metrics | undefined;
    if (s.fromScratchEpochs > 0) {
      const fresh = Model.create(pruned.graph, { seed: data.seed });
      try {
        const trainer = new Trainer({ model: fresh, optimizer: buildOptimizer(fresh, { type: 'adam', lr: 1e-3 }) });
        await trainEpochs(trainer, trainLoader, s.fromScratchEpochs, { id: 'prune.scratch', label: 'from scratch' }, observer);
        fresh.eval();
        scratch = await evaluate(fresh, testLoader, pd.classes);
      } finally {
        fresh.dispose();
      }
    }

    // Files: checkpoint, ONNX, plots, per-layer table.
    const ckpt = r.file('pruned.safetensors');
    // A subset given here is the pruned model's: recorded so later commands take it (on the checkpoint's own data set, which the metadata names).
    const subset = s.classes && (meta.dataset === undefined || meta.dataset === data.dataset) ? { classes: [...data.classes], classSubset: [...data.classes] } : {};
    saveCheckpoint(ckpt, pruned, { ...meta, ...subset, command: 'prune', version: r.version, prunedFrom: s.checkpoint, criterion: s.criterion, protocol: s.protocol });
    const onnxPath = r.file('pruned.onnx');
    saveOnnx(pruned, onnxPath);
    await saveAccuracyPlot(r.file('accuracy.png'), result.base, result, floor, split, finish);
    say('\nper-layer channels:');
    const channels = channelTable(base.graph, pruned.graph);
    say(renderChannelTable(channels));
    r.writeText('channels.csv', channelsCsv(channels));
    await saveChannelPlot(channels, 'Output channels per layer', r.file('channels.png'));

    say(`\nmeasuring latency (onnxruntime CPU and slimnet, batch 1 and 64, ${s.latencyRuns} runs each, interleaved)...`);
    const lat = await compareLatency(base, pruned, { batches: [1, 64], runs: s.latencyRuns, warmup: Math.min(5, s.latencyRuns) });
    const s1 = summarize(pruned.graph).totals;
    const report: PruneReport = {
      run: r.path,
      version: r.version,
      checkpoint: ckpt,
      onnx: onnxPath,
      floorSplit: split,
      history: result.history,
      steps: result.history.length,
      keptStep: result.bestStep,
      stopReason: result.stopReason,
      snap: snapped,
      refine: refined,
      finetune,
      floor: floor ?? null,
      baseFloorAccuracy: baseEval.accuracy,
      prunedFloorAccuracy: after.accuracy,
      baseTestAccuracy: baseTest.accuracy,
      prunedTestAccuracy: prunedTest.accuracy,
      baseTestBalancedAccuracy: baseTest.balancedAccuracy,
      prunedTestBalancedAccuracy: prunedTest.balancedAccuracy,
      scratchTestAccuracy: scratch?.accuracy ?? null,
      ...sizeChange(s0, s1),
      latency: { ortB1: latencyPair(lat.ort[1]!), ortB64: latencyPair(lat.ort[64]!), engineB64: latencyPair(lat.engine![64]!) },
      channels,
      interrupted: aborted(observer),
    };
    say(`\n${beforeAfterTable(pruneComparisonRows(report))}`);
    say(`\nfiles: ${rel(ckpt)}, ${rel(onnxPath)}, ${rel(r.file('steps.csv'))}, ${rel(r.file('accuracy.png'))}, ${rel(r.file('channels.png'))}`);
    r.writeJson('result.json', pruneResultJson(report));
    const status = { params: s1.params, macs: s1.macs, bestValAccuracy: after.accuracy, test: { accuracy: prunedTest.accuracy, balancedAccuracy: prunedTest.balancedAccuracy, loss: prunedTest.loss, count: prunedTest.count } };
    if (report.interrupted) r.interrupt(status);
    else r.complete(status);
    return report;
  } catch (e) {
    run?.fail(e);
    throw e;
  } finally {
    pruned?.dispose();
    snapCandidates?.dispose();
    base.dispose();
    await Promise.all(loaders.map((l) => l.close()));
  }
}

/**
 * The base model's channel groups, after checking the layers the spec names
 * (before any run directory exists: a typo leaves no failed run behind).
 */
function prunableLayers(base: Model, s: ResolvedPruneSpec): DependencyGraph {
  let dep: DependencyGraph;
  try {
    dep = new DependencyGraph(base.graph, { exclude: s.exclude });
  } catch (e) {
    throw e instanceof PruneError ? new UsageError(`--exclude: ${e.message}`) : e;
  }
  for (const l of s.layers ?? []) {
    try {
      dep.group(l);
    } catch (e) {
      throw e instanceof PruneError ? new UsageError(`--layers: ${e.message}`) : e;
    }
  }
  return dep;
}

/** The model must take the data's images and have an output per class: else say so now, in words, before a run directory exists. */
function checkDataFits(model: Model, data: ResolvedData, checkpoint: string, classes?: PruneSpec['classes']): void {
  const g = model.graph;
  const input = g.shape(g.inputs[0]!.name);
  const images = data.train.sampleShape;
  if (input.join() !== images.join()) {
    throw new UsageError(`${checkpoint} takes [${input.join(', ')}] inputs, but ${data.dataset} has [${images.join(', ')}] images: give the data set it was trained on (--dataset, --root)`);
  }
  const outputs = g.shape(g.outputs[0]!).at(-1)!;
  if (outputs !== data.classes.length && classes) {
    throw new UsageError(`${checkpoint} has ${outputs} outputs, but --classes ${classes.join(',')} selects ${data.classes.length} classes of ${data.dataset}: give as many classes as the model has outputs, in the order of its head`);
  }
  if (outputs !== data.classes.length) throw new UsageError(`${checkpoint} has ${outputs} outputs, but ${data.dataset} has ${data.classes.length} classes: give the data set it was trained on (--dataset, --root), or the classes of a subset (--classes)`);
}

/** What the data sets ask to be told (e.g. a test folder without some classes), each once. */
function dataWarnings(...sets: (Dataset | undefined)[]): string[] {
  return [...new Set(sets.flatMap((d) => d?.warnings ?? []))];
}

/** The line that states the pruning settings. */
function settingsLine(s: ResolvedPruneSpec, floor: number | undefined): string {
  return (
    `pruning: criterion ${s.criterion}, scope ${s.scope}${s.scope === 'global' ? `, norm ${s.norm}${s.macsWeight > 0 ? `, MAC weight ${s.macsWeight}` : ''}` : ''}, protocol ${s.protocol}` +
    `${s.protocol !== 'none' ? ` (${plural(s.retrainIters, 'iteration')} of Adam lr ${s.lr}${lrByKindText(s)}, batch ${s.batchSize}${distillText(s)})` : ''}, ` +
    `${s.stepMaps ? plural(s.stepMaps, 'map') : `${(s.stepFraction * 100).toFixed(1)} % of the removable channels`} per step` +
    `${floor !== undefined ? `, floor ${pct(floor, 3)} %` : ', no accuracy floor'}${s.targetParamsX ? `, target ${s.targetParamsX}× params` : ''}${s.targetMacsX ? `, target ${s.targetMacsX}× MACs` : ''}` +
    `${s.maxSteps ? `, at most ${plural(s.maxSteps, 'step')}` : ''}${s.patience ? `, patience ${plural(s.patience, 'step')}` : ''}${s.backtrack ? ', backtracking with half the step at the floor' : ''}`
  );
}

/** The per-family rates as the settings line states them ('' without --lr-by-kind). */
function lrByKindText(s: ResolvedPruneSpec): string {
  if (s.lrByKind === undefined || typeof s.lrByKind === 'string') return '';
  return ` (${Object.entries(s.lrByKind).map(([k, v]) => `${k} ${v}`).join(', ')})`;
}

/** Protocol distill's losses as the settings line states them ('' for the other protocols). */
function distillText(s: ResolvedPruneSpec): string {
  if (s.protocol !== 'distill' || typeof s.distillLoss === 'string' || !s.distillLoss) return '';
  const losses = s.distillLoss.map((l) => `${l.name} (${Object.entries(l.params ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  return `, distilling from the unpruned model: ${losses.join(' + ')}, CE ${s.distillCeWeight}`;
}

/**
 * PruneHooks.onRetrain as progress events: one task per retraining (a loop
 * step, the grid step, a refinement step), labelled by `label`.
 */
function retrainProgress(listener: ProgressListener | undefined): (label: (step: number) => string) => NonNullable<PruneHooks['onRetrain']> {
  let task: ProgressTask | undefined;
  return (label) => (step, iter, iters, loss) => {
    if (iter === 1) task = new ProgressTask(listener, { id: 'prune.retrain', label: label(step), total: iters, unit: 'it' });
    task?.tick(1, `loss ${loss.toFixed(4)}`);
  };
}

/** FineTuneOptions.onStep as progress events: one task per epoch. */
function epochProgress(listener: ProgressListener | undefined, o: { id: string; label: string; epochs: number }): { step: (epoch: number, step: number, steps: number) => void; end: () => void } {
  let task: ProgressTask | undefined;
  let current = -1;
  return {
    step: (epoch, _step, steps) => {
      if (epoch !== current) {
        task?.end();
        current = epoch;
        task = new ProgressTask(listener, { id: o.id, label: `${o.label} ${epoch + 1}/${o.epochs}`, total: steps, unit: 'batches' });
      }
      task!.tick(1);
    },
    end: () => task?.end(),
  };
}

/** Trains `epochs` epochs with one progress task per epoch; stops after the current step once the signal is aborted. */
async function trainEpochs(trainer: Trainer, loader: DataLoader, epochs: number, task: { id: string; label: string }, observer: Observer): Promise<void> {
  for (let e = 0; e < epochs && !aborted(observer); e++) {
    const progress = new ProgressTask(observer.onProgress, { id: task.id, label: `${task.label} ${e + 1}/${epochs}`, total: loader.length, unit: 'batches' });
    const cb = { onStepEnd: () => progress.tick(1) };
    trainer.callbacks.push(cb);
    try {
      await trainer.fit(loader, { epochs: e + 1, signal: observer.signal });
    } finally {
      trainer.callbacks.splice(trainer.callbacks.indexOf(cb), 1);
    }
    progress.end();
  }
}

/** A path as the log shows it: relative to the working directory. */
function rel(p: string): string {
  return isAbsolute(p) ? p : relative(process.cwd(), p) || '.';
}
