// `slimnet prune`: structured pruning of a trained checkpoint in a versioned
// run directory, runs/prune/<dataset>-<arch>/version_N/:
//   config.json, steps.csv / steps.jsonl (one row per step), channels.csv
//   (per-layer before / after), pruned.safetensors, pruned.onnx,
//   accuracy.png (accuracy vs share removed), channels.png (kept channels per
//   layer), status.json, run.log.
// Decisions (the accuracy floor) are taken on the checkpoint's validation
// split; the test split is only reported. It ends with the before/after table
// and, with --json, one JSON line.
import { join, relative, isAbsolute } from 'node:path';
import { writeFileSync } from 'node:fs';
import { DataLoader, type Dataset } from '../../data/index.js';
import { Model, loadCheckpoint, saveCheckpoint, summarize } from '../../graph/index.js';
import { saveOnnx } from '../../export/onnx/export.js';
import { compareLatency, type CompareLatencyResult } from '../../measure/index.js';
import { DependencyGraph, NORMS, PROTOCOLS, REDUCES, SCOPES, criterionNames, finishPruning, prune, SnapCandidates, type PruneOptions, type PruneResult, type StepRecord } from '../../prune/index.js';
import { linePlot, savePlot } from '../../report/plot.js';
import { RUN_FILES, RunLog, configurationDir, createVersionDir, writeJson } from '../../runs/index.js';
import { Adam, Trainer, evaluate, type Metrics } from '../../train/index.js';
import { ProgressBar } from '../progress.js';
import { renderTable } from '../../report/table.js';
import { UsageError } from '../errors.js';
import { checkpointData } from '../../data/index.js';
import { channelTable, writeChannelReport } from './channel-report.js';
import { makeOutput } from './common.js';
import { evalTransform } from '../../data/index.js';
import { nowIso, pct } from '../../report/format.js';
import { atomicWriteFile } from '../../util/atomic-write.js';

export interface PruneCliOptions {
  checkpoint: string;
  criterion: string;
  scope: string;
  norm: string;
  reduce: string;
  protocol: string;
  retrainIters: number;
  lr: number;
  batchSize: number;
  evalBatchSize: number;
  stepMaps?: number;
  stepFraction: number;
  minAccuracy?: number;
  maxDrop?: number;
  targetParamsX?: number;
  targetMacsX?: number;
  maxSteps?: number;
  patience: number;
  backtrack?: boolean;
  snapTo: number;
  snapIters: number;
  snapTries: number;
  refineSteps: number;
  layers?: string;
  exclude?: string;
  minChannels: number;
  roundTo: number;
  macsWeight: number;
  scoreBatches: number;
  finetuneEpochs: number;
  fromScratchEpochs: number;
  latencyRuns: number;
  dataset?: string;
  root?: string;
  validation?: number;
  seed?: number;
  runsDir: string;
  json?: boolean;
}

const list = (s: string | undefined): string[] | undefined => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

function check(o: PruneCliOptions): void {
  const oneOf = (name: string, v: string, allowed: readonly string[]) => {
    if (!allowed.includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  };
  oneOf('criterion', o.criterion, criterionNames());
  oneOf('scope', o.scope, SCOPES);
  oneOf('norm', o.norm, NORMS);
  oneOf('reduce', o.reduce, REDUCES);
  oneOf('protocol', o.protocol, PROTOCOLS);
  if (o.minAccuracy !== undefined && o.maxDrop !== undefined) throw new UsageError('give either --min-accuracy or --max-drop, not both');
  if (o.minAccuracy !== undefined && !(o.minAccuracy > 0 && o.minAccuracy <= 1)) throw new UsageError(`--min-accuracy is a fraction in (0, 1], e.g. 0.99; got ${o.minAccuracy}`);
  if (o.maxDrop !== undefined && !(o.maxDrop >= 0 && o.maxDrop < 100)) throw new UsageError(`--max-drop is in percentage points, e.g. 0.3; got ${o.maxDrop}`);
  if (!(Number.isInteger(o.refineSteps) && o.refineSteps >= 0)) throw new UsageError(`--refine-steps must be a non-negative integer, got ${o.refineSteps}`);
  if (!(o.macsWeight >= 0)) throw new UsageError(`--macs-weight must be a number >= 0, got ${o.macsWeight}`);
  if (!(Number.isInteger(o.patience) && o.patience >= 0)) throw new UsageError(`--patience must be a non-negative integer, got ${o.patience}`);
  if (!(o.stepFraction > 0 && o.stepFraction <= 1)) throw new UsageError(`--step-fraction must be in (0, 1], got ${o.stepFraction}`);
  for (const [flag, v] of [['retrain-iters', o.retrainIters], ['batch-size', o.batchSize], ['min-channels', o.minChannels], ['round-to', o.roundTo], ['score-batches', o.scoreBatches], ['latency-runs', o.latencyRuns], ['snap-to', o.snapTo], ['snap-iters', o.snapIters], ['snap-tries', o.snapTries]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
  }
}

const fmtX = (x: number) => `${x.toFixed(x >= 10 ? 1 : 2)}x`;
const fmtMs = (x: number) => `${x.toFixed(x >= 10 ? 1 : 3)} ms`;

export async function pruneCommand(o: PruneCliOptions): Promise<number> {
  check(o);
  const json = o.json === true;
  const out = makeOutput(json);
  const say = (line: string) => out.say(line);

  const { model: base, meta } = loadCheckpoint(o.checkpoint);
  const arch = typeof meta.arch === 'string' ? meta.arch : base.graph.name;
  const data = checkpointData(meta, { dataset: o.dataset, root: o.root, validation: o.validation, seed: o.seed }, o.checkpoint);
  const evalSet: Dataset = data.validation ?? data.test;
  const evalName = data.validation ? 'validation' : 'test';
  const cdir = configurationDir(o.runsDir, 'prune', data.dataset, arch);
  const { version, path: runPath } = createVersionDir(cdir);
  out.log = new RunLog(join(runPath, RUN_FILES.log));
  writeJson(join(runPath, RUN_FILES.config), { ...o, dataset: data.dataset, arch });
  const rel = (p: string) => (isAbsolute(p) ? p : relative(process.cwd(), p) || '.');
  const status = (s: Record<string, unknown>) => writeJson(join(runPath, RUN_FILES.status), { command: 'prune', dataset: data.dataset, arch, version, updated: nowIso(), ...s });
  status({ status: 'running', pid: process.pid, created: nowIso() });

  const trainLoader = new DataLoader(data.train, { batchSize: o.batchSize, shuffle: true, seed: data.seed + 1, transform: evalTransform(data.norm) });
  const evalLoader = new DataLoader(evalSet, { batchSize: o.evalBatchSize, transform: evalTransform(data.norm) });
  const testLoader = new DataLoader(data.test, { batchSize: o.evalBatchSize, transform: evalTransform(data.norm) });
  const classes = data.classes.length;
  let interrupted = false;
  const stop = new AbortController();
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    stop.abort();
    process.stderr.write('\nCtrl-C: stopping after this step; the best model so far is kept and reported (Ctrl-C again quits at once)\n');
  };
  process.on('SIGINT', onSigint);
  let result: PruneResult | undefined;
  // The grid step's starting points along the kept path (clones, freed in finally).
  const snapCandidates = o.snapTo > 1 ? new SnapCandidates() : undefined;
  try {
    say(`run ${rel(runPath)} (version ${version})`);
    say(`data: ${data.dataset}: ${data.train.length} train / ${data.validation?.length ?? 0} validation / ${data.test.length} test; decisions on the ${evalName} split`);
    if (!data.validation) say('warning: the checkpoint has no validation split: the accuracy floor is checked on the test split');
    base.eval();
    const baseEval = await evaluate(base, evalLoader, classes);
    const floor = o.minAccuracy ?? (o.maxDrop !== undefined ? baseEval.accuracy - o.maxDrop / 100 : undefined);
    const dep = new DependencyGraph(base.graph, { exclude: list(o.exclude) });
    const s0 = summarize(base.graph).totals;
    say(`model: ${arch}: ${s0.params.toLocaleString('en-US')} parameters, ${s0.macs.toLocaleString('en-US')} MACs; ${evalName} accuracy ${pct(baseEval.accuracy)} %`);
    say(`prunable: ${dep.groups.map((g) => `${g.name} (${g.channels.length})`).join(', ')}`);
    say(
      `pruning: criterion ${o.criterion}, scope ${o.scope}${o.scope === 'global' ? `, norm ${o.norm}${o.macsWeight > 0 ? `, MAC weight ${o.macsWeight}` : ''}` : ''}, protocol ${o.protocol}` +
        `${o.protocol !== 'none' ? ` (${o.retrainIters} iterations of Adam lr ${o.lr}, batch ${o.batchSize})` : ''}, ` +
        `${o.stepMaps ? `${o.stepMaps} maps` : `${(o.stepFraction * 100).toFixed(1)} % of the removable channels`} per step` +
        `${floor !== undefined ? `, floor ${pct(floor, 3)} %` : ''}${o.targetParamsX ? `, target ${o.targetParamsX}x params` : ''}${o.targetMacsX ? `, target ${o.targetMacsX}x MACs` : ''}${o.maxSteps ? `, at most ${o.maxSteps} steps` : ''}${o.patience ? `, patience ${o.patience} steps` : ''}${o.backtrack ? ', backtracking with half the step at the floor' : ''}`,
    );

    const opts: PruneOptions = {
      criterion: o.criterion,
      reduce: o.reduce as PruneOptions['reduce'],
      scope: o.scope as PruneOptions['scope'],
      norm: o.norm as PruneOptions['norm'],
      protocol: o.protocol as PruneOptions['protocol'],
      amount: o.stepMaps ? { maps: o.stepMaps } : { fraction: o.stepFraction },
      layers: list(o.layers),
      exclude: list(o.exclude),
      minChannels: o.minChannels,
      roundTo: o.roundTo,
      macsWeight: o.macsWeight,
      retrainIters: o.retrainIters,
      lr: o.lr,
      minAccuracy: floor,
      targetParamsX: o.targetParamsX,
      targetMacsX: o.targetMacsX,
      maxSteps: o.maxSteps,
      patience: o.patience,
      backtrack: o.backtrack === true,
      scoreBatches: o.scoreBatches,
      seed: data.seed,
    };
    const headers = ['step', 'removed', 'share %', 'params', 'MACs', 'params x', 'MACs x', `${evalName} acc %`, 'bal acc %', 'time'];
    const rowOf = (r: StepRecord) => [r.step, r.removed, pct(r.share_removed, 1), r.params, r.macs, fmtX(r.params_x), fmtX(r.macs_x), pct(r.accuracy), pct(r.balanced_accuracy), `${r.seconds.toFixed(1)}s`];
    let bar: ProgressBar | undefined;
    /** A retraining progress bar per step or phase (PruneHooks.onRetrain). */
    const retrainBar =
      (label: (step: number) => string) =>
      (step: number, iter: number, iters: number, loss: number): void => {
        if (iter === 1) bar = new ProgressBar({ total: iters, label: label(step), unit: 'it' });
        bar?.tick(1, `loss ${loss.toFixed(4)}`);
        if (iter === iters) bar?.finish();
      };
    const stepsCsv: string[] = ['step,from,layers,removed,share_removed,params,macs,params_x,macs_x,accuracy,balanced_accuracy,meets_floor,seconds'];
    result = await prune(base, { train: trainLoader, eval: evalLoader, classes }, opts, {
      signal: stop.signal,
      onKept: snapCandidates?.onKept,
      onRetrain: retrainBar((step) => `step ${step} retrain`),
      onStep: (r) => {
        say(
          `${r.from !== r.step - 1 ? `(back to step ${r.from}, half the step) ` : ''}step ${r.step}: -${r.removed} channels (${r.layers}); ${pct(r.share_removed, 1)} % removed, ${r.params.toLocaleString('en-US')} params (${fmtX(r.params_x)}), ` +
            `${r.macs.toLocaleString('en-US')} MACs (${fmtX(r.macs_x)}), ${evalName} acc ${pct(r.accuracy)} % (balanced ${pct(r.balanced_accuracy)} %)${r.meets_floor ? '' : ' < floor'}, ${r.seconds.toFixed(1)}s`,
        );
        stepsCsv.push([r.step, r.from, JSON.stringify(r.layers), r.removed, r.share_removed, r.params, r.macs, r.params_x, r.macs_x, r.accuracy, r.balanced_accuracy, r.meets_floor, r.seconds].join(','));
        atomicWriteFile(join(runPath, 'steps.csv'), Buffer.from(stepsCsv.join('\n') + '\n'));
        writeFileSync(join(runPath, 'steps.jsonl'), `${JSON.stringify(r)}\n`, { flag: 'a' });
      },
    });
    say(`\n${renderTable(headers, result.history.map(rowOf))}`);
    say(`stopped: ${result.stopReason}; kept step ${result.bestStep} (the smallest model that met the floor)`);

    // After the loop: the grid step (convolutions onto multiples of snapTo, from the kept model, else from
    // larger kept models), then the MAC refinement; each kept only if it meets the floor.
    let snapped: string | null = null;
    let refined: string | null = null;
    if (!interrupted) {
      let phase = '';
      const fin = await finishPruning(result.best, snapCandidates, { train: trainLoader, eval: evalLoader, classes }, opts, { snapTo: o.snapTo, snapTries: o.snapTries, iters: o.snapIters, refineSteps: o.refineSteps }, {
        signal: stop.signal,
        onPhase: (p, convs) => {
          phase = p === 'snap' ? `snap to ${o.snapTo} retrain` : 'refine retrain';
          if (p === 'refine') say(`refine: up to ${o.refineSteps} steps on ${[...convs!].join(', ') || 'no convolution'}, ${o.snapIters} retraining iterations each`);
        },
        onRetrain: retrainBar(() => phase),
        onSnapped: (r) => {
          const tried = r.attempts.map((t) =>
            t.record ? `from step ${t.from}: ${t.record.layers} gave ${evalName} accuracy ${pct(t.record.accuracy)} %${t.kept ? ', kept' : ', under the floor'}` : `step ${t.from} is on the grid already, kept`,
          );
          snapped =
            r.attempts.length === 0
              ? 'nothing to do: no step met the floor'
              : `${r.model ? 'onto' : 'not kept: none of'} multiples of ${o.snapTo} (${Object.entries(r.limits).map(([g, n]) => `${g} ≤ ${n}`).join(', ')}; ${o.snapIters} retraining iterations) — ${tried.join('; ')}`;
          say(`snap to ${o.snapTo} channels: ${snapped}`);
        },
      });
      result = { ...result, best: fin.model };
      if (fin.refine) {
        const tried = fin.refine.attempts.map((a) => `${a.record.layers} → ${Object.entries(a.record.channels).map(([g, n]) => `${g} ${n}`).join(' ')}: ${pct(a.record.accuracy)} %${a.kept ? ', kept' : ', under the floor'}`);
        for (const t of tried) say(`  refine: ${t}`);
        const keptN = fin.refine.attempts.filter((a) => a.kept).length;
        refined = `${keptN} of ${fin.refine.attempts.length} steps kept${tried.length ? ` — ${tried.join('; ')}` : ''}`;
        say(`refine: ${refined}`);
      }
    }
    const pruned = result.best;
    // Optional fine-tuning of the kept model. It is kept only if it does not
    // lower the accuracy on the floor's split: the model before it met the floor,
    // and an epoch of Adam on a small network near its limit can overshoot.
    let finetune: { epochs: number; before_acc: number; after_acc: number; kept: boolean } | null = null;
    // The kept model's metrics on the floor's split (the fine-tuning check measures them already).
    let after: Metrics | undefined;
    if (o.finetuneEpochs > 0) {
      pruned.eval();
      const beforeFt = await evaluate(pruned, evalLoader, classes);
      const saved = pruned.stateDict();
      try {
        const trainer = new Trainer({ model: pruned, optimizer: new Adam(pruned.parameters(), { lr: o.lr }) });
        for (let e = 0; e < o.finetuneEpochs && !interrupted; e++) {
          const fbar = new ProgressBar({ total: trainLoader.length, label: `fine-tune ${e + 1}/${o.finetuneEpochs}`, unit: 'batches' });
          trainer.callbacks.push({ onStepEnd: () => fbar.tick(1) });
          await trainer.fit(trainLoader, { epochs: e + 1 });
          trainer.callbacks.pop();
          fbar.finish();
        }
        pruned.eval();
        const afterFt = await evaluate(pruned, evalLoader, classes);
        const kept = afterFt.accuracy >= beforeFt.accuracy;
        if (!kept) pruned.loadStateDict(saved);
        after = kept ? afterFt : beforeFt;
        finetune = { epochs: o.finetuneEpochs, before_acc: beforeFt.accuracy, after_acc: afterFt.accuracy, kept };
        say(`fine-tuning ${o.finetuneEpochs} epoch${o.finetuneEpochs === 1 ? '' : 's'}: ${evalName} accuracy ${pct(beforeFt.accuracy)} -> ${pct(afterFt.accuracy)} %${kept ? '' : '; lower, so the weights from before it are kept'}`);
      } finally {
        for (const t of Object.values(saved)) t.dispose();
      }
    }
    pruned.eval();
    after ??= await evaluate(pruned, evalLoader, classes);
    const baseTest = await evaluate(base, testLoader, classes);
    const prunedTest = await evaluate(pruned, testLoader, classes);

    // From-scratch baseline: the pruned architecture, fresh weights, the same data.
    let scratch: Metrics | undefined;
    if (o.fromScratchEpochs > 0) {
      const fresh = Model.create(pruned.graph, { seed: data.seed });
      const trainer = new Trainer({ model: fresh, optimizer: new Adam(fresh.parameters(), { lr: 1e-3 }) });
      for (let e = 0; e < o.fromScratchEpochs && !interrupted; e++) {
        const sbar = new ProgressBar({ total: trainLoader.length, label: `from scratch ${e + 1}/${o.fromScratchEpochs}`, unit: 'batches' });
        trainer.callbacks.push({ onStepEnd: () => sbar.tick(1) });
        await trainer.fit(trainLoader, { epochs: e + 1 });
        trainer.callbacks.pop();
        sbar.finish();
      }
      fresh.eval();
      scratch = await evaluate(fresh, testLoader, classes);
      fresh.dispose();
    }

    // Files: checkpoint, ONNX, per-layer table, plots.
    const ckpt = join(runPath, 'pruned.safetensors');
    saveCheckpoint(ckpt, pruned, { ...meta, command: 'prune', version, prunedFrom: o.checkpoint, criterion: o.criterion, protocol: o.protocol });
    const onnxPath = join(runPath, 'pruned.onnx');
    saveOnnx(pruned, onnxPath);
    await writeAccuracyPlot(runPath, result, floor, evalName);
    say('\nper-layer channels:');
    const channels = channelTable(base.graph, pruned.graph);
    await writeChannelReport(runPath, channels, 'Output channels per layer', say);

    const lat = await measureLatency(base, pruned, o.latencyRuns, say);
    const s1 = summarize(pruned.graph).totals;
    const rows: (string | number)[][] = [
      ['parameters', s0.params, s1.params, fmtX(s0.params / s1.params)],
      ['MACs / sample', s0.macs, s1.macs, fmtX(s0.macs / s1.macs)],
      // Without a validation split the floor's split is the test split: one row.
      ...(data.validation ? [[`${evalName} accuracy %`, pct(baseEval.accuracy), pct(after.accuracy), `${((after.accuracy - baseEval.accuracy) * 100).toFixed(2)} pp`]] : []),
      ['test accuracy %', pct(baseTest.accuracy), pct(prunedTest.accuracy), `${((prunedTest.accuracy - baseTest.accuracy) * 100).toFixed(2)} pp`],
      ['test balanced accuracy %', pct(baseTest.balancedAccuracy), pct(prunedTest.balancedAccuracy), `${((prunedTest.balancedAccuracy - baseTest.balancedAccuracy) * 100).toFixed(2)} pp`],
      ['onnxruntime latency b1', fmtMs(lat.ort[1]!.before.median_ms), fmtMs(lat.ort[1]!.after.median_ms), fmtX(lat.ort[1]!.speedup)],
      ['onnxruntime latency b64', fmtMs(lat.ort[64]!.before.median_ms), fmtMs(lat.ort[64]!.after.median_ms), fmtX(lat.ort[64]!.speedup)],
      ['slimnet latency b64', fmtMs(lat.engine![64]!.before.median_ms), fmtMs(lat.engine![64]!.after.median_ms), fmtX(lat.engine![64]!.speedup)],
    ];
    if (scratch) rows.push(['from scratch: test accuracy %', '', pct(scratch.accuracy), `${((scratch.accuracy - baseTest.accuracy) * 100).toFixed(2)} pp`]);
    say(`\n${renderTable(['', 'base', 'pruned', 'change'], rows)}`);
    say(`\nfiles: ${rel(ckpt)}, ${rel(onnxPath)}, ${rel(join(runPath, 'steps.csv'))}, ${rel(join(runPath, 'accuracy.png'))}, ${rel(join(runPath, 'channels.png'))}`);
    const summaryJson = {
      run: runPath,
      version,
      checkpoint: ckpt,
      onnx: onnxPath,
      eval_split: evalName,
      steps: result.history.length,
      kept_step: result.bestStep,
      stop_reason: result.stopReason,
      snap: snapped,
      refine: refined,
      finetune,
      floor: floor ?? null,
      base_acc: baseEval.accuracy,
      pruned_acc: after.accuracy,
      base_test_acc: baseTest.accuracy,
      pruned_test_acc: prunedTest.accuracy,
      base_test_balanced_acc: baseTest.balancedAccuracy,
      pruned_test_balanced_acc: prunedTest.balancedAccuracy,
      scratch_test_acc: scratch?.accuracy ?? null,
      params_before: s0.params,
      params_after: s1.params,
      macs_before: s0.macs,
      macs_after: s1.macs,
      params_x: s0.params / s1.params,
      macs_x: s0.macs / s1.macs,
      speedup_ort_b1: lat.ort[1]!.speedup,
      speedup_ort_b64: lat.ort[64]!.speedup,
      speedup_engine_b64: lat.engine![64]!.speedup,
      latency_ms: { ort_b1: [lat.ort[1]!.before.median_ms, lat.ort[1]!.after.median_ms], ort_b64: [lat.ort[64]!.before.median_ms, lat.ort[64]!.after.median_ms] },
      channels: Object.fromEntries(channels.map((c) => [c.layer, [c.before, c.after]])),
    };
    writeJson(join(runPath, 'result.json'), summaryJson);
    status({ status: interrupted ? 'interrupted' : 'complete', params: s1.params, macs: s1.macs, bestValAccuracy: after.accuracy, test: { accuracy: prunedTest.accuracy, balancedAccuracy: prunedTest.balancedAccuracy } });
    if (json) process.stdout.write(`${JSON.stringify(summaryJson)}\n`);
    return interrupted ? 130 : 0;
  } catch (e) {
    status({ status: 'failed', message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    result?.best.dispose();
    snapCandidates?.dispose();
    base.dispose();
    await Promise.all([trainLoader.close(), evalLoader.close(), testLoader.close()]);
  }
}

async function writeAccuracyPlot(runPath: string, r: PruneResult, floor: number | undefined, evalName: string): Promise<void> {
  // The line follows the path that led to the kept model and on past it;
  // steps undone by backtracking are dots (each alone: NaN gaps between them).
  const byStep = new Map(r.history.map((h) => [h.step, h]));
  const path = new Set<number>();
  for (let s = r.history.at(-1)?.step ?? 0; s > 0; s = byStep.get(s)!.from) path.add(s);
  const onPath = r.history.filter((h) => path.has(h.step));
  const undone = r.history.filter((h) => !path.has(h.step));
  const x = [0, ...onPath.map((h) => h.share_removed * 100)];
  const dots = (f: (h: StepRecord) => number) => undone.flatMap((h) => [f(h), NaN]);
  await savePlot(
    linePlot({
      title: `Accuracy vs share of channels removed`,
      xLabel: 'removable channels removed (%)',
      yLabel: `${evalName} accuracy (%)`,
      series: [
        { name: 'accuracy', x, y: [r.base.accuracy * 100, ...onPath.map((h) => h.accuracy * 100)] },
        { name: 'balanced accuracy', x, y: [r.base.balanced_accuracy * 100, ...onPath.map((h) => h.balanced_accuracy * 100)], dashed: true },
        ...(undone.length ? [{ name: 'steps undone (backtracking)', x: dots((h) => h.share_removed * 100), y: dots((h) => h.accuracy * 100) }] : []),
      ],
      hLines: floor !== undefined ? [{ y: floor * 100, label: 'floor' }] : [],
    }),
    join(runPath, 'accuracy.png'),
  );
}

async function measureLatency(before: Model, after: Model, runs: number, say: (s: string) => void): Promise<CompareLatencyResult> {
  say(`\nmeasuring latency (onnxruntime CPU and slimnet, batch 1 and 64, ${runs} runs each, interleaved)...`);
  return compareLatency(before, after, { batches: [1, 64], runs, warmup: Math.min(5, runs) });
}
