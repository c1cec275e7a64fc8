// The workflow behind `slimnet transtailor` (issue 17, seed 000): prune a
// model pre-trained on a source task so that it fits a target task. Load the
// source checkpoint and the target data (a class subset if asked, with a
// held-out validation split), check that the source takes the target's
// images, give it a new classifier head, fine-tune it on the target (the
// paper's SGD with per-group learning rates, early stopping on validation
// balanced accuracy), run TransTailor's loop (src/prune/transtailor/loop.ts),
// and write the final model (checkpoint with provenance, ONNX checked in
// onnxruntime), the per-iteration records, the plots and the latency of the
// fine-tuned vs the final model into a versioned run directory.
//
// The head is always replaced, also when the class count matches (MNIST digits
// from a Fashion-MNIST source: ten classes each): the target's classes are a
// new task, and a source head's "class 3" (a dress) means nothing for a digit 3;
// the paper too trains a new classifier for each target.
//
// Decisions (early stopping, τ) read the validation split only; the test
// split is measured for the report. Resume (--version) is not supported yet.
import { isAbsolute, relative } from 'node:path';
import { DataLoader, evalTransform, readProvenance, resolveData, type NormalizeSpec } from '../data/index.js';
import { loadCheckpoint, replaceHead, saveCheckpoint, summarize, checkInputFits, type Model } from '../graph/index.js';
import { saveOnnx } from '../export/onnx/export.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { compareLatency, type SpeedupReport } from '../measure/index.js';
import { PAPER_OPTIMIZER, transtailor, type TransTailorIteration } from '../prune/transtailor/loop.js';
import { channelTable, renderChannelTable, saveChannelPlot, type ChannelRow } from '../report/channels.js';
import { count, pct, plural } from '../report/format.js';
import { linePlot, savePlot } from '../report/plot.js';
import { Run } from '../runs/index.js';
import { manualSeed } from '../tensor/index.js';
import { EarlyStopping, Trainer, buildOptimizer, evaluate, type BatchSource } from '../train/index.js';
import { SlimnetError } from '../util/errors.js';
import { ProgressTask, aborted, type Observer } from '../util/events.js';
import { VERIFY_TOLERANCE } from './export.js';
import type { LatencyPair } from './prune-report.js';
import { sizeChange, type SizeChange } from './size-change.js';
import { resolveTransTailorSpec, transtailorOptions } from './transtailor-spec.js';

export { resolveTransTailorSpec, TRANSTAILOR_DEFAULTS, type TransTailorSpec, type ResolvedTransTailorSpec } from './transtailor-spec.js';
import type { TransTailorSpec } from './transtailor-spec.js';

/** What transtailorRun did. Sizes (SizeChange) compare the fine-tuned (unpruned) model with the final one. */
export interface TransTailorReport extends SizeChange {
  /** The run directory (runs/transtailor/<dataset>-<arch>/version_N). */
  run: string;
  version: number;
  /** The final model (final.safetensors) and its ONNX export (final.onnx). */
  checkpoint: string;
  onnx: string;
  /** Largest difference between final.onnx in onnxruntime and the model in slimnet, on one random batch. */
  onnxMaxAbsDiff: number;
  /** The target's class names, in label order. */
  classes: string[];
  /** Epochs the transferred model was fine-tuned before pruning (early stopping may end it sooner). */
  transferEpochs: number;
  /** Validation balanced accuracy (0..1) of the fine-tuned, unpruned model: the loop's first reference. */
  fineTunedValBalancedAccuracy: number;
  /** Validation balanced accuracy of the final model. */
  finalValBalancedAccuracy: number;
  /** Test-split balanced accuracy of the fine-tuned model and of the final model (never used for a decision). */
  fineTunedTestBalancedAccuracy: number;
  finalTestBalancedAccuracy: number;
  /** Every iteration of the loop (as iterations.jsonl holds them; accuracies on the validation split). */
  iterations: TransTailorIteration[];
  /** Iterations whose model stayed within τ (the final model is the last of them). */
  keptIterations: number;
  stoppedBecause: string;
  /** onnxruntime (CPU) at batch 1 and 64, slimnet's engine at batch 64: fine-tuned (before) vs final (after). */
  latency: { ortB1: LatencyPair; ortB64: LatencyPair; engineB64: LatencyPair };
  /** Output channels per conv / linear layer, fine-tuned vs final. */
  channels: ChannelRow[];
  /** Stopped by the observer's signal: the last kept model was still saved and measured. */
  interrupted: boolean;
}

/** The snake_case record of result.json and `--json`. */
export function transtailorResultJson(r: TransTailorReport): Record<string, unknown> {
  return {
    run: r.run,
    version: r.version,
    checkpoint: r.checkpoint,
    onnx: r.onnx,
    onnx_max_abs_diff: r.onnxMaxAbsDiff,
    classes: r.classes,
    transfer_epochs: r.transferEpochs,
    finetuned_val_balanced_acc: r.fineTunedValBalancedAccuracy,
    final_val_balanced_acc: r.finalValBalancedAccuracy,
    finetuned_test_balanced_acc: r.fineTunedTestBalancedAccuracy,
    final_test_balanced_acc: r.finalTestBalancedAccuracy,
    iterations: r.iterations.length,
    kept_iterations: r.keptIterations,
    stop_reason: r.stoppedBecause,
    params_before: r.paramsBefore,
    params_after: r.paramsAfter,
    macs_before: r.macsBefore,
    macs_after: r.macsAfter,
    params_x: r.paramsX,
    macs_x: r.macsX,
    speedup_ort_b1: r.latency.ortB1.speedup,
    speedup_ort_b64: r.latency.ortB64.speedup,
    speedup_engine_b64: r.latency.engineB64.speedup,
    latency_ms: { ort_b1: [r.latency.ortB1.beforeMs, r.latency.ortB1.afterMs], ort_b64: [r.latency.ortB64.beforeMs, r.latency.ortB64.afterMs] },
    channels: Object.fromEntries(r.channels.map((c) => [c.layer, [c.before, c.after]])),
    interrupted: r.interrupted,
  };
}

/** iterations.csv: header and one row per iteration (removed per group as JSON). */
export const ITERATIONS_CSV_HEADER = ['iteration', 'removed', 'removed_total', 'params', 'macs', 'val_balanced_acc_before', 'val_balanced_acc_after', 'fine_tune_epochs', 'kept', 'seconds'] as const;
const iterationRow = (it: TransTailorIteration): unknown[] => [
  it.iteration,
  JSON.stringify(it.removed),
  Object.values(it.removed).reduce((a, b) => a + b, 0),
  it.params,
  it.macs,
  it.balancedAccuracyBefore,
  it.balancedAccuracyAfter,
  it.fineTuneEpochs,
  it.kept,
  it.seconds,
];

/** Prunes `spec.source` for the target task in a new run directory (see the file's head). */
export async function transtailorRun(spec: TransTailorSpec, observer: Observer = {}): Promise<TransTailorReport> {
  const s = resolveTransTailorSpec(spec);
  const { model: source, meta } = loadCheckpoint(s.source);
  let run: Run | undefined;
  const loaders: DataLoader[] = [];
  const models: Model[] = [source];
  try {
    const prov = readProvenance(meta, s.source);
    const arch = prov.arch ?? source.graph.name;
    // The source's features were learnt on inputs normalised its way: keep that normalisation when the channels agree.
    const channels = source.graph.shape(source.graph.inputs[0]!.name)[0];
    const normalize: NormalizeSpec | undefined = prov.normalize && prov.normalize.mean.length === channels ? prov.normalize : undefined;
    // Bad classes, a missing data set or a shape mismatch: errors before any run directory exists.
    const data = resolveData({ dataset: s.dataset as Parameters<typeof resolveData>[0]['dataset'], root: s.root, validation: s.validation, fraction: s.fraction, seed: s.seed, ...(s.classes ? { classes: s.classes } : {}), ...(normalize ? { normalize } : {}) });
    checkInputFits(source, data.train.sampleShape, { model: `source ${s.source}`, data: `${s.dataset}` });

    run = Run.create({ root: s.runsDir, command: 'transtailor', dataset: data.dataset, arch }, { ...s, arch, classes: [...data.classes] });
    const r = run;
    const say = (line: string): void => {
      r.say(line);
      observer.onLog?.(line);
    };
    const transform = evalTransform(data.norm);
    const train = new DataLoader(data.train, { batchSize: s.batchSize, shuffle: true, seed: s.seed + 1, transform });
    const val = new DataLoader(data.validation!, { batchSize: s.evalBatchSize, transform });
    const test = new DataLoader(data.test, { batchSize: s.evalBatchSize, transform });
    loaders.push(train, val, test);
    const k = data.classes.length;
    say(`run ${rel(r.path)} (version ${r.version})`);
    say(`source: ${s.source} (${arch}, ${prov.dataset ?? 'data set not recorded'}); target: ${data.dataset}${s.classes ? ` classes ${data.classes.join(', ')}` : ''}: ${data.train.length} train / ${data.validation!.length} validation / ${data.test.length} test`);

    manualSeed(s.seed);
    const model = replaceHead(source, k, { seed: s.seed });
    models.push(model);
    say(`new head: ${plural(k, 'class', 'classes')}; fine-tuning up to ${plural(s.finetuneEpochs, 'epoch')} (SGD, lr fc ${PAPER_OPTIMIZER.lrByKind?.linear}, conv ${PAPER_OPTIMIZER.lrByKind?.conv}; early stopping on validation balanced accuracy, patience ${s.patience})`);
    const transferEpochs = await fineTuneTransferred(model, train, val, s.finetuneEpochs, s.patience, observer);
    model.eval();
    const ftVal = (await evaluate(model, val, k)).balancedAccuracy;
    const ftTest = (await evaluate(model, test, k)).balancedAccuracy;
    const s0 = summarize(model.graph).totals;
    say(`fine-tuned: ${count(s0.params)} parameters, ${count(s0.macs)} MACs; balanced accuracy ${pct(ftVal)} % validation, ${pct(ftTest)} % test`);

    const rows: unknown[][] = [];
    let task: ProgressTask | undefined;
    let taskKey = '';
    let shown = 0;
    const result = await transtailor(model, { train, val, classes: k }, transtailorOptions(s), {
      signal: observer.signal,
      onUpdate: (phase, iteration, update, updates, loss) => {
        const key = `${phase}.${iteration}`;
        if (key !== taskKey) {
          task?.end();
          task = new ProgressTask(observer.onProgress, { id: `transtailor.${phase}`, label: `iteration ${iteration} ${phase === 'alpha' ? 'α training' : 'fine-tune'}`, total: updates, unit: 'it' });
          taskKey = key;
          shown = 0;
        }
        task!.tick(update - shown, Number.isFinite(loss) ? `loss ${loss.toFixed(4)}` : undefined);
        shown = update;
      },
      onIteration: (it) => {
        task?.end();
        taskKey = '';
        const removed = Object.entries(it.removed).map(([g, n]) => `${g} -${n}`).join(', ');
        say(`iteration ${it.iteration}: ${removed}; ${count(it.params)} params, ${count(it.macs)} MACs; validation balanced accuracy ${pct(it.balancedAccuracyBefore)} -> ${pct(it.balancedAccuracyAfter)} % after fine-tuning${it.kept ? ', kept' : ', beyond τ'}; ${it.seconds.toFixed(1)}s`);
        r.appendJsonl('iterations.jsonl', it);
        rows.push(iterationRow(it));
        r.writeCsv('iterations.csv', ITERATIONS_CSV_HEADER, rows);
      },
    });
    task?.end();
    const final = result.model;
    models.push(final);
    if (rows.length === 0) r.writeCsv('iterations.csv', ITERATIONS_CSV_HEADER, rows);
    const keptIterations = result.iterations.filter((it) => it.kept).length;
    say(`stopped: ${result.stoppedBecause}; kept ${keptIterations === 0 ? 'the fine-tuned model (no iteration within τ)' : `iteration ${keptIterations}`}`);
    const finalMetrics = await evaluate(final, test, k);
    const finalTest = finalMetrics.balancedAccuracy;

    // Files: checkpoint with provenance (α is folded: the graph has no trace of it), ONNX checked in onnxruntime, plots.
    const ckpt = r.file('final.safetensors');
    saveCheckpoint(ckpt, final, {
      command: 'transtailor', version: r.version, arch, dataset: data.dataset, root: s.root ?? null, classes: [...data.classes], normalize: data.norm,
      seed: s.seed, validation: s.validation, fraction: s.fraction, transtailoredFrom: s.source, ...(s.classes ? { classSubset: s.classes.map(String) } : {}),
    });
    const onnxPath = r.file('final.onnx');
    const verified = await verifyOnnx(final, saveOnnx(final, onnxPath), { batch: 2 });
    if (!(verified.maxAbsDiff <= VERIFY_TOLERANCE) || verified.problems.length) throw new SlimnetError(`final.onnx differs from the final model in onnxruntime by ${verified.maxAbsDiff} (${verified.problems.join('; ')})`);
    const chans = channelTable(model.graph, final.graph);
    say(`\nfilters per layer (fine-tuned -> final):\n${renderChannelTable(chans)}`);
    await saveChannelPlot(chans, 'Filters kept per layer (fine-tuned vs final)', r.file('channels.png'));
    await savePlot(linePlot(accuracyVsMacs(s0.macs, ftVal, result.iterations)), r.file('accuracy.png'));

    say(`\nmeasuring latency (onnxruntime CPU and slimnet, batch 1 and 64, ${s.latencyRuns} runs each, interleaved)...`);
    const lat = await compareLatency(model, final, { batches: [1, 64], runs: s.latencyRuns, warmup: Math.min(5, s.latencyRuns) });
    const pair = (x: SpeedupReport): LatencyPair => ({ beforeMs: x.before.median_ms, afterMs: x.after.median_ms, speedup: x.speedup });
    const s1 = summarize(final.graph).totals;
    const report: TransTailorReport = {
      run: r.path,
      version: r.version,
      checkpoint: ckpt,
      onnx: onnxPath,
      onnxMaxAbsDiff: verified.maxAbsDiff,
      classes: [...data.classes],
      transferEpochs,
      fineTunedValBalancedAccuracy: ftVal,
      finalValBalancedAccuracy: result.balancedAccuracy,
      fineTunedTestBalancedAccuracy: ftTest,
      finalTestBalancedAccuracy: finalTest,
      iterations: result.iterations,
      keptIterations,
      stoppedBecause: result.stoppedBecause,
      ...sizeChange(s0, s1),
      latency: { ortB1: pair(lat.ort[1]!), ortB64: pair(lat.ort[64]!), engineB64: pair(lat.engine![64]!) },
      channels: chans,
      interrupted: result.interrupted || aborted(observer),
    };
    say(`final: ${count(s1.params)} params (${report.paramsX.toFixed(2)}× fewer), ${count(s1.macs)} MACs (${report.macsX.toFixed(2)}× fewer); test balanced accuracy ${pct(ftTest)} -> ${pct(finalTest)} %; onnxruntime b64 ${report.latency.ortB64.speedup.toFixed(2)}× faster`);
    say(`files: ${rel(ckpt)}, ${rel(onnxPath)}, ${rel(r.file('iterations.csv'))}, ${rel(r.file('accuracy.png'))}, ${rel(r.file('channels.png'))}`);
    r.writeJson('result.json', transtailorResultJson(report));
    const status = { params: s1.params, macs: s1.macs, test: { accuracy: finalMetrics.accuracy, balancedAccuracy: finalTest, loss: finalMetrics.loss, count: finalMetrics.count } };
    if (report.interrupted) r.interrupt(status);
    else r.complete(status);
    return report;
  } catch (e) {
    run?.fail(e);
    throw e;
  } finally {
    for (const m of models) m.dispose();
    await Promise.all(loaders.map((l) => l.close()));
  }
}

/**
 * Fine-tunes the transferred model in place with the paper's optimizer, up to
 * `epochs` with early stopping on validation balanced accuracy (the best
 * epoch's weights put back); returns the epochs run.
 */
async function fineTuneTransferred(model: Model, train: BatchSource, val: BatchSource, epochs: number, patience: number, observer: Observer): Promise<number> {
  if (epochs === 0) return 0;
  let task: ProgressTask | undefined;
  let epoch = -1;
  const trainer = new Trainer({
    model,
    optimizer: buildOptimizer(model, PAPER_OPTIMIZER),
    callbacks: [{ onStepEnd: (info) => {
      if (info.epoch !== epoch) {
        task?.end();
        epoch = info.epoch;
        task = new ProgressTask(observer.onProgress, { id: 'transtailor.transfer', label: `fine-tune ${epoch + 1}/${epochs}`, total: train.length, unit: 'batches' });
      }
      task!.tick(1, `loss ${info.loss.toFixed(4)}`);
    } }],
  });
  const stop = new EarlyStopping({ monitor: 'val.balancedAccuracy', mode: 'max', patience, restoreBest: true });
  try {
    await trainer.fit(train, { epochs, validation: val, earlyStopping: stop, ...(observer.signal ? { signal: observer.signal } : {}) });
    // An epoch limit (not a stop) leaves the last weights in: put the best epoch's back.
    stop.restore(model);
    return trainer.history.length;
  } finally {
    task?.end();
    stop.dispose();
    trainer.optimizer.dispose();
    for (const p of model.parameters()) p.grad = null;
  }
}

/** accuracy.png: validation balanced accuracy vs MACs, the fine-tuned model and every iteration (before and after its fine-tuning). */
function accuracyVsMacs(macs: number, ba: number, its: readonly TransTailorIteration[]): Parameters<typeof linePlot>[0] {
  const kept = its.filter((it) => it.kept);
  const rejected = its.filter((it) => !it.kept);
  return {
    title: 'TransTailor: validation balanced accuracy vs MACs',
    xLabel: 'MACs per sample',
    yLabel: 'validation balanced accuracy (%)',
    series: [
      { name: 'after fine-tuning (kept)', x: [macs, ...kept.map((it) => it.macs)], y: [ba * 100, ...kept.map((it) => it.balancedAccuracyAfter * 100)], marker: 'circle', colour: '#1f77b4' },
      ...(its.length ? [{ name: 'before fine-tuning (α folded)', x: its.map((it) => it.macs), y: its.map((it) => it.balancedAccuracyBefore * 100), line: false, marker: 'square' as const, hollow: true, colour: '#ff7f0e' }] : []),
      ...(rejected.length ? [{ name: 'beyond τ (not kept)', x: rejected.map((it) => it.macs), y: rejected.map((it) => it.balancedAccuracyAfter * 100), line: false, marker: 'diamond' as const, colour: '#d62728' }] : []),
    ],
    labels: [{ x: macs, y: ba * 100, text: 'fine-tuned' }],
  };
}

/** A path as the log shows it: relative to the working directory. */
function rel(p: string): string {
  return isAbsolute(p) ? p : relative(process.cwd(), p) || '.';
}
