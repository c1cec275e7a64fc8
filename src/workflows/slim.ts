// Network slimming (Liu et al. 2017; seed 004) as one workflow:
//
//   1. sparsity training: one model per λ, each from the same start (fresh
//      weights from the seed, or a checkpoint), with the penalty λ·Σ|γ| on
//      every BatchNorm scale; per epoch the train loss / accuracy, validation
//      accuracy and the share of |γ| below the threshold;
//   2. pruning of the chosen λ's model: pruneShare of the BatchNorm-scaled
//      channels with the smallest |γ|, one global threshold, removed physically;
//   3. fine-tuning of the pruned model without the penalty;
//   4. measurement: parameters, MACs, accuracy and balanced accuracy, and
//      latency in onnxruntime (batch 1 and 64) and slimnet's engine.
//
// runs/slim/<dataset>-<arch>/version_N/ receives config.json, status.json,
// metrics.csv / metrics.jsonl (phase, lambda, epoch, ...), lambda_<λ>.safetensors
// per λ, sparsity.png, accuracy.png, gamma_hist.png, channels.csv,
// channels.png, pruned.safetensors, pruned.onnx, result.json and run.log.
import { isAbsolute, relative } from 'node:path';
import { DataLoader } from '../data/index.js';
import { humanCount, saveCheckpoint, summarize, type Model } from '../graph/index.js';
import { saveOnnx } from '../export/onnx/export.js';
import { LatencyError, compareLatency, type CompareLatencyResult } from '../measure/index.js';
import { bnGammas, bnL1Term, slimPrune, type SlimPruneResult } from '../prune/index.js';
import { lambdaLabel } from '../prune/slimming.js';
import { writeChannelReport } from '../report/channels.js';
import { pctText, plural } from '../report/format.js';
import { renderTable } from '../report/table.js';
import { Run } from '../runs/index.js';
import { LrSchedule, NonFiniteLossError, Trainer, buildOptimizer, evaluate, type Callback, type Metrics, type Optimizer, type BaseHyper } from '../train/index.js';
import { evalTransform, trainTransform } from '../data/index.js';
import { UsageError } from '../util/errors.js';
import type { Observer } from '../util/events.js';
import { SLIM_METRICS_COLUMNS, SlimEpochLines, epochOf, metricsRow, startEpoch, type SlimEpoch } from './slim-history.js';
import { sparsityPlots } from './slim-plots.js';
import { fitProgress } from './slim-progress.js';
import { slimBeforeAfter, slimResultJson, type SlimLambdaReport, type SlimLatency, type SlimOutcome, type SlimReport } from './slim-report.js';
import { checkSlimSpec, slimSettings, type SlimSpec } from './slim-spec.js';
import { resolveSlimStart, type SlimConfig } from './slim-start.js';

export { SLIM_AUGMENTS, SLIM_DEFAULTS, SLIM_OPTIMIZERS, checkSlimSpec, slimSettings, type SlimAugment, type SlimOptimizer, type SlimSettings, type SlimSpec } from './slim-spec.js';
export type { SlimConfig } from './slim-start.js';
export { slimResultJson, type SlimAccuracy, type SlimChannelRow, type SlimLambdaReport, type SlimLatency, type SlimOutcome, type SlimReport } from './slim-report.js';
export type { SlimEpoch } from './slim-history.js';

/** The optimizer of sparsity training and fine-tuning: no weight decay on BatchNorm parameters and biases (γ is governed by λ alone). */
function makeOptimizer(model: Model, c: SlimConfig, lr: number): Optimizer<BaseHyper> {
  return buildOptimizer(model, { type: c.optimizer, lr, momentum: c.momentum, weightDecay: c.weightDecay, noDecayOnNormAndBias: true });
}

const rel = (p: string): string => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');

/** Runs network slimming; an interrupted run returns its report with `interrupted: true`. */
export async function slimRun(spec: SlimSpec, observer: Observer = {}): Promise<SlimReport> {
  const settings = slimSettings(spec);
  checkSlimSpec(settings);
  const start = resolveSlimStart(settings);
  const { config: c, data } = start;
  let startModel: Model | null = start.model;
  let sparse: Model | null = null;
  let pruned: SlimPruneResult | null = null;

  let run: Run;
  try {
    run = Run.create({ root: settings.runsDir, command: 'slim', dataset: c.dataset, arch: c.arch }, c, { epochs: c.lambdas.length * c.epochs + c.finetuneEpochs });
  } catch (e) {
    startModel.dispose();
    throw e;
  }
  const say = (line: string): void => {
    run.say(line);
    observer.onLog?.(line);
  };
  const signal = observer.signal;
  const history: SlimEpoch[] = [];
  const record = (e: SlimEpoch): void => {
    history.push(e);
    run.writeCsv('metrics.csv', SLIM_METRICS_COLUMNS, history.map((h) => SLIM_METRICS_COLUMNS.map((k) => metricsRow(h)[k])));
    run.writeText('metrics.jsonl', history.map((h) => `${JSON.stringify(metricsRow(h))}\n`).join(''));
  };
  run.writeCsv('metrics.csv', SLIM_METRICS_COLUMNS, []);

  const trainLoader = new DataLoader(data.train, { batchSize: c.batchSize, shuffle: true, seed: c.seed, transform: trainTransform(c.dataset, data.train, c.augment, data.norm) });
  const valLoader = data.validation ? new DataLoader(data.validation, { batchSize: c.evalBatchSize, transform: evalTransform(data.norm) }) : undefined;
  const testLoader = new DataLoader(data.test, { batchSize: c.evalBatchSize, transform: evalTransform(data.norm) });
  const valImages = data.validation?.length ?? 0;
  const ckptMeta = (extra: Record<string, unknown>) => ({ command: 'slim', ...start.meta, version: run.version, ...extra });
  const perLambda: SlimLambdaReport[] = [];
  const epochLines = new SlimEpochLines(c.epochs, c.finetuneEpochs);
  let epochsDone = 0;
  const report = (outcome: SlimOutcome | null, interruptedDuring: string | null): SlimReport => ({
    run: run.path,
    version: run.version,
    arch: c.arch,
    dataset: c.dataset,
    config: c,
    interrupted: interruptedDuring !== null,
    interruptedDuring,
    perLambda,
    outcome,
  });
  const stopped = (where: string): SlimReport => {
    say(`\ninterrupted during ${where}; the files written so far are in ${rel(run.path)}`);
    run.interrupt({ message: `interrupted during ${where}` });
    return report(null, where);
  };
  /** Trains `model` for `epochs` with a cosine schedule; `onEpoch` sees each finished epoch. */
  const fit = async (model: Model, lr: number, epochs: number, o: { id: string; label: string; lambda?: number; onEpoch: (e: SlimEpoch) => void; diverged: (message: string) => string }) => {
    const optimizer = makeOptimizer(model, c, lr);
    const progress = fitProgress(observer.onProgress, { id: o.id, label: o.label, trainImages: data.train.length, valImages, evalBatch: c.evalBatchSize });
    const onEpochEnd: Callback['onEpochEnd'] = (r, t) => {
      progress.close();
      o.onEpoch(epochOf(o.lambda === undefined ? 'finetune' : 'sparsity', o.lambda ?? c.pruneLambda, r, t.model, c.threshold));
      run.update({ epochsDone: ++epochsDone });
    };
    const trainer = new Trainer({
      model,
      optimizer,
      schedule: new LrSchedule(optimizer, { type: 'cosine', length: Math.max(1, epochs), unit: 'epoch' }),
      extraLosses: o.lambda !== undefined && o.lambda > 0 ? [bnL1Term(o.lambda)] : [],
      callbacks: [progress.callback, { onEpochEnd }],
    });
    try {
      await trainer.fit(trainLoader, { epochs, ...(valLoader ? { validation: valLoader } : {}), onProgress: progress.onProgress, signal });
    } catch (e) {
      if (e instanceof NonFiniteLossError) throw new UsageError(o.diverged(e.message));
      throw e;
    } finally {
      progress.close();
      optimizer.dispose();
    }
  };

  try {
    const s0 = summarize(startModel.graph).totals;
    say(`run ${rel(run.path)} (version ${run.version})`);
    say(`data: ${c.dataset}: ${data.train.length} train / ${valImages} validation / ${data.test.length} test, ${data.classes.length} classes, [${data.train.sampleShape.join(', ')}] per sample`);
    say(
      `model: ${c.arch}${c.width !== null ? ` (width ${c.width})` : ''}${c.checkpoint ? ` from ${c.checkpoint}` : ', from scratch'}: ${humanCount(s0.params)} parameters, ${humanCount(s0.macs)} MACs per sample, ${bnGammas(startModel).length} BatchNorm channels`,
    );
    say(
      `sparsity training: λ ∈ {${c.lambdas.map(lambdaLabel).join(', ')}} × ${plural(c.epochs, 'epoch')}, ${c.optimizer} lr ${c.lr}${c.optimizer === 'sgd' ? ` momentum ${c.momentum}` : ''} (cosine) weight decay ${c.weightDecay}, batch ${c.batchSize}, |γ| < ${c.threshold} counts as near zero`,
    );
    say(`then: prune ${(c.pruneShare * 100).toFixed(1)} % of the channels of the λ = ${lambdaLabel(c.pruneLambda)} model by global |γ|, fine-tune ${plural(c.finetuneEpochs, 'epoch')} at lr ${c.finetuneLr}`);
    run.update({ params: s0.params, macs: s0.macs });

    // ---- 1. sparsity training, one model per λ, each from the same start -----------------
    const val0 = valLoader ? await evaluate(startModel, valLoader, data.classes) : undefined;
    const gammas: Float32Array[] = [];
    let chosenTest: Metrics | undefined;
    for (const lambda of c.lambdas) {
      const model = startModel.clone();
      let keepModel = false;
      try {
        const lambdaHistory: SlimEpoch[] = [startEpoch(lambda, startModel, c.threshold, val0)];
        record(lambdaHistory[0]!);
        if (c.epochs > 0) {
          await fit(model, c.lr, c.epochs, {
            id: `sparsity.${lambdaLabel(lambda)}`,
            label: `λ=${lambdaLabel(lambda)}`,
            lambda,
            onEpoch: (e) => {
              lambdaHistory.push(e);
              record(e);
              say(epochLines.sparsity(e));
            },
            diverged: (m) => `sparsity training with λ = ${lambdaLabel(lambda)} diverged: ${m}; try a smaller --lr or λ`,
          });
        }
        if (signal?.aborted) return stopped(`the sparsity training with λ = ${lambdaLabel(lambda)}`);
        const test = await evaluate(model, testLoader, data.classes);
        const last = lambdaHistory[lambdaHistory.length - 1]!;
        const checkpoint = run.file(`lambda_${lambdaLabel(lambda)}.safetensors`);
        saveCheckpoint(checkpoint, model, ckptMeta({ lambda, epochs: c.epochs, sparsity: last.sparsity, threshold: c.threshold, valAccuracy: last.valAccuracy, testAccuracy: test.accuracy }));
        perLambda.push({ lambda, sparsity: last.sparsity, gammaMean: last.gammaMean, trainAccuracy: last.trainAccuracy, valAccuracy: last.valAccuracy, testAccuracy: test.accuracy, testBalancedAccuracy: test.balancedAccuracy, checkpoint, history: lambdaHistory });
        gammas.push(bnGammas(model));
        if (lambda === c.pruneLambda) {
          sparse = model;
          chosenTest = test;
          keepModel = true;
        }
      } finally {
        if (!keepModel) model.dispose();
      }
    }
    startModel.dispose();
    startModel = null;

    say(`\nafter ${plural(c.epochs, 'epoch')} of sparsity training:`);
    say(
      renderTable(
        ['λ', `sparsity % (|γ| < ${c.threshold})`, 'mean |γ|', 'train acc %', 'val acc %', 'test acc %', 'test bal acc %', 'checkpoint'],
        perLambda.map((r) => [lambdaLabel(r.lambda), pctText(r.sparsity), String(+r.gammaMean.toPrecision(4)), pctText(r.trainAccuracy), pctText(r.valAccuracy), pctText(r.testAccuracy), pctText(r.testBalancedAccuracy), rel(r.checkpoint)]),
        { align: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] },
      ),
    );
    await sparsityPlots(
      run,
      perLambda.map((r, i) => ({ lambda: r.lambda, history: r.history, gammas: gammas[i]! })),
      { arch: c.arch, dataset: c.dataset, threshold: c.threshold, epochs: c.epochs, validation: valLoader !== undefined },
    );

    // ---- 2. pruning by the global |γ| threshold ---------------------------------------------
    const before = sparse!;
    const chosen = perLambda.find((r) => r.lambda === c.pruneLambda)!;
    const roundTo = c.roundTo ?? 1;
    pruned = await slimPrune(before, c.pruneShare, { minChannels: c.minChannels, roundTo });
    const pm = pruned.model;
    const sB = summarize(before.graph).totals;
    const sA = summarize(pm.graph).totals;
    say(
      `\npruned the λ = ${lambdaLabel(c.pruneLambda)} model: ${pruned.removed} of ${pruned.total} channels (${pctText(pruned.share)} %) with |γ| ≤ ${pruned.threshold.toPrecision(4)}` +
        `${pruned.removed < Math.round(c.pruneShare * pruned.total) ? ` (fewer than asked: --min-channels ${c.minChannels}${roundTo > 1 ? ` / --round-to ${roundTo}` : ''} holds)` : ''}`,
    );
    const channels = pruned.channels.map((ch) => ({ layer: ch.name, before: ch.before, after: ch.after }));
    await writeChannelReport(run.path, channels, `Channels per layer: ${c.arch}, λ = ${lambdaLabel(c.pruneLambda)}, ${pctText(pruned.share, 1)} % pruned`, say);

    const valNoFt = valLoader ? await evaluate(pm, valLoader, data.classes) : undefined;
    const testNoFt = await evaluate(pm, testLoader, data.classes);
    say(`right after pruning: ${valNoFt ? `validation accuracy ${pctText(valNoFt.accuracy)} %, ` : ''}test accuracy ${pctText(testNoFt.accuracy)} % (before pruning ${pctText(chosen.testAccuracy)} %)`);

    // ---- 3. fine-tuning without the penalty -------------------------------------------------
    if (c.finetuneEpochs > 0) {
      await fit(pm, c.finetuneLr, c.finetuneEpochs, {
        id: 'finetune',
        label: 'fine-tune',
        onEpoch: (e) => {
          record(e);
          say(epochLines.finetune(e));
        },
        diverged: (m) => `fine-tuning diverged: ${m}; try a smaller --finetune-lr`,
      });
      if (signal?.aborted) return stopped('the fine-tuning');
    }
    const valFt = valLoader ? await evaluate(pm, valLoader, data.classes) : undefined;
    const testFt = await evaluate(pm, testLoader, data.classes);

    // ---- files of the pruned model -----------------------------------------------------------
    const checkpoint = run.file('pruned.safetensors');
    saveCheckpoint(
      checkpoint,
      pm,
      ckptMeta({
        lambda: c.pruneLambda,
        pruneShare: c.pruneShare,
        channelsRemovedShare: pruned.share,
        channels: Object.fromEntries(channels.map((r) => [r.layer, [r.before, r.after]])),
        finetuneEpochs: c.finetuneEpochs,
        valAccuracy: valFt?.accuracy ?? null,
        testAccuracy: testFt.accuracy,
      }),
    );
    let onnx: string | null = run.file('pruned.onnx');
    try {
      saveOnnx(pm, onnx);
    } catch (e) {
      say(`warning: could not write ${rel(onnx)}: ${(e as Error).message}`);
      onnx = null;
    }

    // ---- 4. latency -----------------------------------------------------------------------------
    let lat: CompareLatencyResult | null = null;
    say(`\nmeasuring latency (onnxruntime CPU and slimnet, batch 1 and 64, ${c.latencyRuns} runs each, interleaved)...`);
    try {
      lat = await compareLatency(before, pm, { batches: [1, 64], runs: c.latencyRuns, warmup: Math.min(5, c.latencyRuns) });
    } catch (e) {
      if (!(e instanceof LatencyError)) throw e;
      say(`warning: latency not measured: ${e.message}`);
    }
    if (signal?.aborted) return stopped('the latency measurement');
    const latency = (r: { before: { median_ms: number }; after: { median_ms: number }; speedup: number } | undefined): SlimLatency | null =>
      r ? { beforeMs: r.before.median_ms, afterMs: r.after.median_ms, speedup: r.speedup } : null;
    const outcome: SlimOutcome = {
      lambda: c.pruneLambda,
      pruneShare: c.pruneShare,
      channelsRemoved: pruned.removed,
      channelsTotal: pruned.total,
      channelsRemovedShare: pruned.share,
      gammaThreshold: Number.isNaN(pruned.threshold) ? null : pruned.threshold,
      channels,
      before: { params: sB.params, macs: sB.macs, testAccuracy: chosenTest!.accuracy, testBalancedAccuracy: chosenTest!.balancedAccuracy, valAccuracy: chosen.valAccuracy },
      prunedNoFinetune: { testAccuracy: testNoFt.accuracy, testBalancedAccuracy: testNoFt.balancedAccuracy, valAccuracy: valNoFt?.accuracy ?? null },
      after: { params: sA.params, macs: sA.macs, testAccuracy: testFt.accuracy, testBalancedAccuracy: testFt.balancedAccuracy, valAccuracy: valFt?.accuracy ?? null, testLoss: testFt.loss, testCount: testFt.count },
      paramsReduction: sB.params / sA.params,
      macsReduction: sB.macs / sA.macs,
      latency: { ortB1: latency(lat?.ort[1]), ortB64: latency(lat?.ort[64]), engineB1: latency(lat?.engine?.[1]), engineB64: latency(lat?.engine?.[64]) },
      checkpoint,
      onnx,
    };
    say(slimBeforeAfter(c, outcome));
    const files = ['metrics.csv', 'sparsity.png', 'accuracy.png', 'gamma_hist.png', 'channels.png', 'pruned.safetensors', ...(onnx ? ['pruned.onnx'] : [])];
    say(`\nfiles in ${rel(run.path)}: ${files.join(', ')}, lambda_<λ>.safetensors`);

    const done = report(outcome, null);
    run.writeJson('result.json', slimResultJson(done));
    run.complete({
      params: sA.params,
      macs: sA.macs,
      bestValAccuracy: valFt?.accuracy ?? null,
      test: { accuracy: testFt.accuracy, balancedAccuracy: testFt.balancedAccuracy, loss: testFt.loss, count: testFt.count },
    });
    return done;
  } catch (e) {
    run.fail(e);
    run.say(`error: ${(e as Error).message}`);
    throw e;
  } finally {
    startModel?.dispose();
    sparse?.dispose();
    pruned?.model.dispose();
    await trainLoader.close();
    await valLoader?.close();
    await testLoader.close();
  }
}
