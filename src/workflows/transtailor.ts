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
// split is measured for the report.
//
// Resume (spec.resume, --version N): the run writes finetuned.safetensors (the
// fine-tuned, unpruned model) before the loop and kept.safetensors after every
// kept iteration, each with its resume point in the metadata (iteration, its
// validation balanced accuracy = the next τ reference, the batches the loop's
// training stream had taken, the global random state); iterations.jsonl holds
// every record. A resume of an interrupted, failed or killed run reads them,
// skips the transfer fine-tuning and continues the loop at the next iteration
// (the loop's `start`): the stream skips to the same batch and the random
// state is restored, so the iterations, and the final model, are those of an
// uninterrupted run (checked in the test); only an iteration that was cut
// short runs again from its beginning. A run stopped inside its transfer
// fine-tuning has no finetuned.safetensors: its resume starts over from the
// source, in the same directory. A complete run cannot be resumed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { DataLoader, evalTransform, readProvenance, resolveData, type ClassRef, type NormalizeSpec } from '../data/index.js';
import { loadCheckpoint, replaceHead, saveCheckpoint, summarize, checkInputFits, type Model } from '../graph/index.js';
import { saveOnnx } from '../export/onnx/export.js';
import { verifyOnnx } from '../export/onnx/verify.js';
import { compareLatency } from '../measure/index.js';
import { PAPER_OPTIMIZER, tauStopReason, transtailor, type TransTailorIteration } from '../prune/transtailor/loop.js';
import { channelTable, renderChannelTable, saveChannelPlot, type ChannelRow } from '../report/channels.js';
import { count, pct, plural } from '../report/format.js';
import { linePlot, savePlot } from '../report/plot.js';
import { RUN_FILES, Run, RunFileError, readJson, versionDir } from '../runs/index.js';
import { getRngState, manualSeed, setRngState, tensor } from '../tensor/index.js';
import { evaluate, fineTune, type BatchSource, type StepInfo } from '../train/index.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import { ProgressTask, aborted, type Observer } from '../util/events.js';
import { VERIFY_TOLERANCE } from './export.js';
import { latencyPair, type LatencyPair } from './prune-report.js';
import { sizeChange, type SizeChange } from './size-change.js';
import { TRANSTAILOR_DEFAULTS, TRANSTAILOR_RESUME_FIELDS, checkTransTailorResume, resolveTransTailorSpec, transtailorFlagOf, transtailorOptions, type ResolvedTransTailorSpec } from './transtailor-spec.js';

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

/** The run's saved state files: the fine-tuned (unpruned) model, and the last kept model of the loop. */
export const TRANSTAILOR_FILES = { finetuned: 'finetuned.safetensors', kept: 'kept.safetensors', iterations: 'iterations.jsonl' } as const;

/** Metadata key of finetuned / kept.safetensors that holds what a resume continues from. */
const RESUME_KEY = 'transtailorResume';

/** What finetuned.safetensors and kept.safetensors record for a resume, beside the provenance. */
interface ResumePoint {
  /** The iteration whose model this is (0: the fine-tuned model). */
  iteration: number;
  /** Its validation balanced accuracy: the τ reference of the next iteration. */
  valBalancedAccuracy: number;
  /** Batches the loop's training stream had taken. */
  trainBatches: number;
  /** The global random generator's state at that point (base64): dropout in the fine-tuning draws from it. */
  rng: string;
  /** finetuned.safetensors only: the transfer's epochs and the test balanced accuracy, for the report. */
  transferEpochs?: number;
  testBalancedAccuracy?: number;
}

/** The config.json of a run: the resolved spec, the architecture, the classes by name, the classes as asked (classSubset). */
type SavedConfig = ResolvedTransTailorSpec & { arch: string; classes: string[]; classSubset?: ClassRef[] | null };

/** A run opened by `resume`, its settings from config.json. */
interface Opened {
  run: Run;
  spec: ResolvedTransTailorSpec;
  arch: string;
}

/**
 * Prunes `spec.source` for the target task in a new run directory, or
 * continues `spec.resume` (see the file's head).
 */
export async function transtailorRun(spec: TransTailorSpec, observer: Observer = {}): Promise<TransTailorReport> {
  // A resume's mistakes (no such version, a complete run, a conflicting flag) are errors before anything runs.
  const opened = spec.resume !== undefined ? openResumed(spec) : undefined;
  const s = opened ? opened.spec : resolveTransTailorSpec(spec);
  const finetunedFile = opened?.run.file(TRANSTAILOR_FILES.finetuned);
  // A resumed run without finetuned.safetensors stopped in its transfer fine-tuning: it starts over from the source.
  const fromFinetuned = finetunedFile !== undefined && existsSync(finetunedFile);
  const sourcePath = spec.source ?? s.source;
  const { model: base, meta } = loadCheckpoint(fromFinetuned ? finetunedFile : sourcePath);
  let run: Run | undefined = opened?.run;
  const loaders: DataLoader[] = [];
  const models: Model[] = [base];
  try {
    const prov = readProvenance(meta, fromFinetuned ? finetunedFile : sourcePath);
    const arch = opened?.arch ?? prov.arch ?? base.graph.name;
    // The source's features were learnt on inputs normalised its way: keep that normalisation when the channels agree (finetuned.safetensors records the one used).
    const channels = base.graph.shape(base.graph.inputs[0]!.name)[0];
    const normalize: NormalizeSpec | undefined = prov.normalize && prov.normalize.mean.length === channels ? prov.normalize : undefined;
    // Bad classes, a missing data set or a shape mismatch: errors before any run directory exists.
    const data = resolveData({ dataset: s.dataset as Parameters<typeof resolveData>[0]['dataset'], root: s.root, validation: s.validation, fraction: s.fraction, seed: s.seed, ...(s.classes ? { classes: s.classes } : {}), ...(normalize ? { normalize } : {}) });
    if (!fromFinetuned) checkInputFits(base, data.train.sampleShape, { model: `source ${sourcePath}`, data: `${s.dataset}` });

    const previous = opened?.run.effectiveStatus;
    opened?.run.start();
    run ??= Run.create({ root: s.runsDir, command: 'transtailor', dataset: data.dataset, arch }, { ...s, arch, classes: [...data.classes], classSubset: s.classes ? [...s.classes] : null });
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
    const provenance = {
      command: 'transtailor', version: r.version, arch, dataset: data.dataset, root: s.root ?? null, classes: [...data.classes], normalize: data.norm,
      seed: s.seed, validation: s.validation, fraction: s.fraction, transtailoredFrom: s.source, ...(s.classes ? { classSubset: s.classes.map(String) } : {}),
    };
    if (opened) say(`\n--- ${new Date().toISOString()}: resuming version ${r.version} (${previous})${fromFinetuned ? '' : ': it stopped in the transfer fine-tuning, which starts over'}`);
    say(`run ${rel(r.path)} (version ${r.version})`);
    say(`source: ${s.source} (${arch}, ${fromFinetuned ? 'fine-tuned model read from finetuned.safetensors' : (prov.dataset ?? 'data set not recorded')}); target: ${data.dataset}${s.classes ? ` classes ${data.classes.join(', ')}` : ''}: ${data.train.length} train / ${data.validation!.length} validation / ${data.test.length} test`);

    let model: Model;
    let transferEpochs: number;
    let ftVal: number;
    let ftTest: number;
    let loopInput: Model;
    let start: ResumePoint;
    let earlier: TransTailorIteration[] = [];
    let endedByTau: TransTailorIteration | undefined;
    if (fromFinetuned) {
      model = base;
      const ft = resumePoint(meta, finetunedFile);
      transferEpochs = ft.transferEpochs ?? 0;
      ftVal = ft.valBalancedAccuracy;
      ftTest = ft.testBalancedAccuracy ?? NaN;
      ({ loopInput, start, earlier, endedByTau } = reopenLoop(r, model, ft, models));
      restoreRng(start.rng);
      const last = earlier.length ? `; kept model of iteration ${start.iteration} from ${TRANSTAILOR_FILES.kept}` : '';
      say(`fine-tuned model: ${plural(transferEpochs, 'epoch')} of transfer fine-tuning, validation balanced accuracy ${pct(ftVal)} %${last}; ${endedByTau ? `the loop had ended at iteration ${endedByTau.iteration} (beyond τ): writing the report` : `continuing at iteration ${start.iteration + 1}`}`);
    } else {
      manualSeed(s.seed);
      model = replaceHead(base, k, { seed: s.seed });
      models.push(model);
      say(`new head: ${plural(k, 'class', 'classes')}; fine-tuning up to ${plural(s.finetuneEpochs, 'epoch')} (SGD, lr fc ${PAPER_OPTIMIZER.lrByKind?.linear}, conv ${PAPER_OPTIMIZER.lrByKind?.conv}; early stopping on validation balanced accuracy, patience ${s.patience})`);
      transferEpochs = await fineTuneTransferred(model, train, val, s.finetuneEpochs, s.patience, observer);
      model.eval();
      ftVal = (await evaluate(model, val, k)).balancedAccuracy;
      ftTest = (await evaluate(model, test, k)).balancedAccuracy;
      loopInput = model;
      start = { iteration: 0, valBalancedAccuracy: ftVal, trainBatches: 0, rng: rngState(), transferEpochs, testBalancedAccuracy: ftTest };
      // A cut-short transfer is not the fine-tuned model a resume may start from (without the file a resume starts over).
      if (!aborted(observer)) saveCheckpoint(r.file(TRANSTAILOR_FILES.finetuned), model, { ...provenance, [RESUME_KEY]: start });
    }
    const s0 = summarize(model.graph).totals;
    if (!fromFinetuned) say(`fine-tuned: ${count(s0.params)} parameters, ${count(s0.macs)} MACs; balanced accuracy ${pct(ftVal)} % validation, ${pct(ftTest)} % test`);

    const rows: unknown[][] = earlier.map(iterationRow);
    let task: ProgressTask | undefined;
    let taskKey = '';
    let shown = 0;
    const options = { ...transtailorOptions(s), ...(start.iteration > 0 ? { start: { iteration: start.iteration + 1, balancedAccuracy: start.valBalancedAccuracy, trainBatches: start.trainBatches } } : {}) };
    const result = endedByTau
      ? { model: loopInput.clone().eval(), baseBalancedAccuracy: start.valBalancedAccuracy, balancedAccuracy: start.valBalancedAccuracy, iterations: [], stoppedBecause: tauStopReason(endedByTau, start.valBalancedAccuracy, s.tau), interrupted: false }
      : await transtailor(loopInput, { train, val, classes: k }, options, {
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
            r.appendJsonl(TRANSTAILOR_FILES.iterations, it);
            rows.push(iterationRow(it));
            r.writeCsv('iterations.csv', ITERATIONS_CSV_HEADER, rows);
          },
          // After the record: a crash between the two leaves a record the resume drops and runs again (kept.safetensors decides).
          onKept: (m, it) => {
            const point: ResumePoint = { iteration: it.iteration, valBalancedAccuracy: it.balancedAccuracyAfter, trainBatches: it.trainBatches ?? 0, rng: rngState() };
            saveCheckpoint(r.file(TRANSTAILOR_FILES.kept), m, { ...provenance, [RESUME_KEY]: point });
          },
        });
    task?.end();
    const final = result.model;
    models.push(final);
    if (rows.length === 0) r.writeCsv('iterations.csv', ITERATIONS_CSV_HEADER, rows);
    const iterations = [...earlier, ...(endedByTau ? [endedByTau] : []), ...result.iterations];
    const keptIterations = iterations.filter((it) => it.kept).length;
    say(`stopped: ${result.stoppedBecause}; kept ${keptIterations === 0 ? 'the fine-tuned model (no iteration within τ)' : `iteration ${keptIterations}`}`);
    const finalMetrics = await evaluate(final, test, k);
    const finalTest = finalMetrics.balancedAccuracy;

    // Files: checkpoint with provenance (α is folded: the graph has no trace of it), ONNX checked in onnxruntime, plots.
    const ckpt = r.file('final.safetensors');
    saveCheckpoint(ckpt, final, provenance);
    const onnxPath = r.file('final.onnx');
    const verified = await verifyOnnx(final, saveOnnx(final, onnxPath), { batch: 2 });
    if (!(verified.maxAbsDiff <= VERIFY_TOLERANCE) || verified.problems.length) throw new SlimnetError(`final.onnx differs from the final model in onnxruntime by ${verified.maxAbsDiff} (${verified.problems.join('; ')})`);
    const chans = channelTable(model.graph, final.graph);
    say(`\nfilters per layer (fine-tuned -> final):\n${renderChannelTable(chans)}`);
    await saveChannelPlot(chans, 'Filters kept per layer (fine-tuned vs final)', r.file('channels.png'));
    await savePlot(linePlot(accuracyVsMacs(s0.macs, ftVal, iterations)), r.file('accuracy.png'));

    say(`\nmeasuring latency (onnxruntime CPU and slimnet, batch 1 and 64, ${s.latencyRuns} runs each, interleaved)...`);
    const lat = await compareLatency(model, final, { batches: [1, 64], runs: s.latencyRuns, warmup: Math.min(5, s.latencyRuns) });
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
      iterations,
      keptIterations,
      stoppedBecause: result.stoppedBecause,
      ...sizeChange(s0, s1),
      latency: { ortB1: latencyPair(lat.ort[1]!), ortB64: latencyPair(lat.ort[64]!), engineB64: latencyPair(lat.engine![64]!) },
      channels: chans,
      interrupted: result.interrupted || aborted(observer),
    };
    say(`final: ${count(s1.params)} params (${report.paramsX.toFixed(2)}× fewer), ${count(s1.macs)} MACs (${report.macsX.toFixed(2)}× fewer); test balanced accuracy ${pct(ftTest)} -> ${pct(finalTest)} %; onnxruntime b64 ${report.latency.ortB64.speedup.toFixed(2)}× faster`);
    say(`files: ${rel(ckpt)}, ${rel(onnxPath)}, ${rel(r.file('iterations.csv'))}, ${rel(r.file('accuracy.png'))}, ${rel(r.file('channels.png'))}`);
    if (report.interrupted) say(`interrupted; resume with: slimnet transtailor --dataset ${s.dataset}${s.runsDir !== TRANSTAILOR_DEFAULTS.runsDir ? ` --runs-dir ${s.runsDir}` : ''} --source ${s.source} --version ${r.version}`);
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
 * Opens `spec.resume`: finds its directory, refuses a complete run, one
 * still running, and a given field that differs from config.json; returns
 * the run and its resolved spec (the given runsDir finds it).
 */
function openResumed(spec: TransTailorSpec): Opened {
  checkTransTailorResume(spec);
  const version = spec.resume!;
  const runsDir = spec.runsDir ?? TRANSTAILOR_DEFAULTS.runsDir;
  const arch = spec.source !== undefined ? archOf(spec.source) : findArch(runsDir, spec.dataset, version);
  const run = Run.open({ root: runsDir, command: 'transtailor', dataset: spec.dataset, arch }, version);
  if (run.status.status === 'complete') throw new UsageError(`version ${version} is complete (${run.path}${run.status.message ? `; ${run.status.message}` : ''}): there is nothing to resume; start a new run without --version`);
  if (run.effectiveStatus === 'running') throw new UsageError(`version ${version} is being run by process ${run.status.pid}`);
  const { arch: _arch, classes: names, classSubset, resume: _resume, ...saved } = run.config<SavedConfig>();
  // A config without classSubset (written before resume existed) has only the classes' names.
  const classes = classSubset === undefined ? names : classSubset;
  const s = resolveTransTailorSpec({ ...saved, ...(classes ? { classes } : {}), runsDir, resume: version });
  const differ = (Object.keys(spec) as (keyof TransTailorSpec)[]).filter((k) => spec[k] !== undefined && !TRANSTAILOR_RESUME_FIELDS.has(k) && JSON.stringify(spec[k]) !== JSON.stringify(s[k]));
  if (differ.length) {
    const was = differ.map((k) => `${transtailorFlagOf(k)} ${s[k] === undefined ? '(not given)' : JSON.stringify(s[k])}`).join(', ');
    throw new UsageError(`version ${version} was run with ${was}; --version resumes a run with its own configuration (config.json): drop ${differ.map(transtailorFlagOf).join(', ')}, or start a new run without --version`);
  }
  return { run, spec: s, arch };
}

/** The architecture a source checkpoint records (its graph's name without one). */
function archOf(source: string): string {
  const { model, meta } = loadCheckpoint(source);
  try {
    return readProvenance(meta, source).arch ?? model.graph.name;
  } finally {
    model.dispose();
  }
}

/** The architecture of the one runs/transtailor/<dataset>-<arch> family that has `version`. */
function findArch(runsDir: string, dataset: string, version: number): string {
  const root = join(runsDir, 'transtailor');
  const found: string[] = [];
  for (const family of existsSync(root) ? readdirSync(root) : []) {
    const config = join(versionDir(join(root, family), version), RUN_FILES.config);
    if (!family.startsWith(`${dataset}-`) || !existsSync(config)) continue;
    const c = readJson<Partial<SavedConfig>>(config);
    if (c.dataset === dataset && typeof c.arch === 'string' && family === `${dataset}-${c.arch}`) found.push(c.arch);
  }
  if (found.length === 1) return found[0]!;
  if (found.length === 0) throw new UsageError(`--version ${version}: no transtailor run version ${version} for ${dataset} in ${root} (give the same --dataset and --runs-dir as the run)`);
  throw new UsageError(`--version ${version}: ${dataset} has a version ${version} for several architectures (${found.join(', ')}): give --source to say which`);
}

/**
 * The loop's state in a reopened run: the kept model (kept.safetensors, else
 * the fine-tuned one), where the loop goes on, the earlier iterations
 * (iterations.jsonl up to the kept model; a record past it, written just
 * before a crash, is dropped and that iteration runs again), and the record
 * of an iteration beyond τ when the loop had ended by it.
 */
function reopenLoop(r: Run, finetuned: Model, ft: ResumePoint, models: Model[]): { loopInput: Model; start: ResumePoint; earlier: TransTailorIteration[]; endedByTau: TransTailorIteration | undefined } {
  const keptFile = r.file(TRANSTAILOR_FILES.kept);
  let loopInput = finetuned;
  let start = ft;
  if (existsSync(keptFile)) {
    const { model, meta } = loadCheckpoint(keptFile);
    models.push(model);
    loopInput = model.eval();
    start = resumePoint(meta, keptFile);
  }
  const records = readIterations(r.file(TRANSTAILOR_FILES.iterations));
  const earlier = records.filter((it) => it.iteration <= start.iteration);
  if (earlier.length !== start.iteration || earlier.some((it, i) => it.iteration !== i + 1 || !it.kept)) {
    throw new RunFileError(r.file(TRANSTAILOR_FILES.iterations), `does not hold kept iterations 1 to ${start.iteration} (the kept model's, ${TRANSTAILOR_FILES.kept}): the run cannot be resumed`);
  }
  const next = records.find((it) => it.iteration === start.iteration + 1);
  const endedByTau = next && !next.kept ? next : undefined;
  if (records.length !== earlier.length + (endedByTau ? 1 : 0)) r.writeText(TRANSTAILOR_FILES.iterations, [...earlier, ...(endedByTau ? [endedByTau] : [])].map((it) => `${JSON.stringify(it)}\n`).join(''));
  return { loopInput, start, earlier, endedByTau };
}

/** iterations.jsonl's records; a last line cut short by a crash is dropped. */
function readIterations(file: string): TransTailorIteration[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const out: TransTailorIteration[] = [];
  for (const [i, line] of lines.entries()) {
    let it: unknown;
    try {
      it = JSON.parse(line);
    } catch (e) {
      if (i === lines.length - 1) break;
      throw new RunFileError(file, `line ${i + 1} is not JSON`, { cause: e });
    }
    const rec = it as Partial<TransTailorIteration> | null;
    if (!rec || typeof rec !== 'object' || !Number.isInteger(rec.iteration) || typeof rec.kept !== 'boolean' || typeof rec.balancedAccuracyAfter !== 'number') throw new RunFileError(file, `line ${i + 1} is not an iteration record`);
    out.push(rec as TransTailorIteration);
  }
  return out;
}

/** The resume point a finetuned / kept checkpoint records. */
function resumePoint(meta: Readonly<Record<string, unknown>>, file: string): ResumePoint {
  const p = meta[RESUME_KEY] as Partial<ResumePoint> | undefined;
  const ok = p && typeof p === 'object' && Number.isInteger(p.iteration) && p.iteration! >= 0 && typeof p.valBalancedAccuracy === 'number' && Number.isInteger(p.trainBatches) && typeof p.rng === 'string';
  if (!ok) throw new RunFileError(file, `has no valid '${RESUME_KEY}' metadata (the point a resume continues from)`);
  return p as ResumePoint;
}

/** The global random generator's state, as base64. */
function rngState(): string {
  const t = getRngState();
  try {
    return Buffer.from(Uint8Array.from(t.toArray())).toString('base64');
  } finally {
    t.dispose();
  }
}

function restoreRng(base64: string): void {
  const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
  const t = tensor(bytes, [bytes.length], { dtype: 'uint8' });
  try {
    setRngState(t);
  } finally {
    t.dispose();
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
  const onStep = (info: StepInfo): void => {
    if (info.epoch !== epoch) {
      task?.end();
      epoch = info.epoch;
      task = new ProgressTask(observer.onProgress, { id: 'transtailor.transfer', label: `fine-tune ${epoch + 1}/${epochs}`, total: train.length, unit: 'batches' });
    }
    task!.tick(1, `loss ${info.loss.toFixed(4)}`);
  };
  try {
    return (await fineTune(model, train, val, { epochs, patience, optimizer: PAPER_OPTIMIZER, onStep, ...(observer.signal ? { signal: observer.signal } : {}) })).epochs;
  } finally {
    task?.end();
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
