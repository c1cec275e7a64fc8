// The pipeline behind `slimnet pipeline` (`npm start`): the whole story in
// one call — train a baseline (trainRun), prune it with the best protocol of
// seed 003 (Taylor, global ranking with L2 normalisation, retraining after
// each step) to an accuracy floor, take its convolutions onto onnxruntime's
// channel grid and spend what long retraining wins back on their MACs (both
// kept only above the floor), export to ONNX and measure (pruneRun). Both
// stages run in this process and each leaves its own run directory, so
// either can be rerun or resumed alone with its own command.
import { join } from 'node:path';
import { ortChannelBlock } from '../measure/index.js';
import { pct, plural, times } from '../report/format.js';
import { aborted, type Observer } from '../util/events.js';
import { pruneResultJson, pruneRun, resolvePruneSpec, type PruneReport, type PruneSpec } from './prune.js';
import { trainResultJson, trainRun, type TrainReport, type TrainSpec } from './train.js';

export interface PipelineSpec {
  /** Data set. Default 'mnist-digits' (bundled: no set-up). */
  dataset?: TrainSpec['dataset'];
  /** Zoo architecture. Default 'lenet5'. */
  arch?: string;
  /** Training epochs of the baseline. Default 10. */
  epochs?: number;
  /** Share of the training data used. Default 1. */
  fraction?: number;
  /** Share (or count) of the training split held out for the floor. Default 0.25. */
  validation?: number;
  /** Pruning criterion. Default 'taylor'. */
  criterion?: string;
  /** Weight of a channel's MAC cost in the global ranking. Default 0. */
  macsWeight?: number;
  /** Floor in percentage points under the baseline on its validation split. Default 0.3. */
  maxDrop?: number;
  /** Retraining iterations after each step. Default 100. */
  retrainIters?: number;
  /** Share of the removable channels removed per step. Default 0.1. */
  stepFraction?: number;
  /** Steps allowed under the floor before stopping. Default 3. */
  patience?: number;
  /** At the floor, go back to the kept model with half the step. Default true. */
  backtrack?: boolean;
  /** Channel grid after the loop (1: off). Default: this CPU's onnxruntime block (ortChannelBlock()). */
  snapTo?: number;
  /** Retraining iterations of the grid and refinement steps. Default 2000. */
  snapIters?: number;
  /** Grid steps tried at most. Default 3. */
  snapTries?: number;
  /** MAC refinement steps. Default 6. */
  refineSteps?: number;
  /** Fine-tuning epochs of the pruned model. Default 1. */
  finetuneEpochs?: number;
  /** Timed runs per model and batch size. Default 100. */
  latencyRuns?: number;
  /** Root of the run directories. Default './runs'. */
  runsDir?: string;
}

export interface PipelineReport {
  /** The training stage (its run directory has the baseline: best.safetensors). */
  train: TrainReport;
  /** The pruning stage; null when training was interrupted (nothing to prune). */
  prune: PruneReport | null;
  /** The signal stopped one of the stages. */
  interrupted: boolean;
}

/** A spec with every default filled in. */
export type ResolvedPipelineSpec = Required<PipelineSpec>;

export function resolvePipelineSpec(spec: PipelineSpec): ResolvedPipelineSpec {
  const given = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as PipelineSpec;
  const s: ResolvedPipelineSpec = {
    dataset: 'mnist-digits',
    arch: 'lenet5',
    epochs: 10,
    fraction: 1,
    validation: 0.25,
    criterion: 'taylor',
    macsWeight: 0,
    maxDrop: 0.3,
    retrainIters: 100,
    stepFraction: 0.1,
    patience: 3,
    backtrack: true,
    snapTo: given.snapTo ?? ortChannelBlock(),
    snapIters: 2000,
    snapTries: 3,
    refineSteps: 6,
    finetuneEpochs: 1,
    latencyRuns: 100,
    runsDir: './runs',
    ...given,
  };
  return s;
}

/** The spec of the pruning stage: the protocol of seed 003 with the pipeline's settings. */
export function pipelinePruneSpec(s: ResolvedPipelineSpec, checkpoint: string): PruneSpec {
  return {
    checkpoint,
    criterion: s.criterion,
    scope: 'global',
    norm: 'l2',
    macsWeight: s.macsWeight,
    protocol: 'retrain',
    retrainIters: s.retrainIters,
    stepFraction: s.stepFraction,
    maxDrop: s.maxDrop,
    patience: s.patience,
    backtrack: s.backtrack,
    snapTo: s.snapTo,
    snapIters: s.snapIters,
    snapTries: s.snapTries,
    refineSteps: s.refineSteps,
    finetuneEpochs: s.finetuneEpochs,
    latencyRuns: s.latencyRuns,
    runsDir: s.runsDir,
  };
}

/** Trains, then prunes the best checkpoint; see PipelineReport. */
export async function pipelineRun(spec: PipelineSpec = {}, observer: Observer = {}): Promise<PipelineReport> {
  const s = resolvePipelineSpec(spec);
  // The pruning stage's values are checked now: a bad --max-drop should not wait for the training to end.
  resolvePruneSpec(pipelinePruneSpec(s, '(the trained baseline)'));
  const say = (line: string): void => observer.onLog?.(line);
  say(`== 1/2 train ${s.arch} on ${s.dataset} (${plural(s.epochs, 'epoch')}) ==`);
  const train = await trainRun({ dataset: s.dataset, arch: s.arch, epochs: s.epochs, fraction: s.fraction, validation: s.validation, runsDir: s.runsDir }, observer);
  if (train.interrupted || aborted(observer)) return { train, prune: null, interrupted: true };
  const checkpoint = join(train.run, 'best.safetensors');
  say(
    `\n== 2/2 prune ${checkpoint}: ${s.criterion}, global, L2 normalisation${s.macsWeight > 0 ? `, MAC weight ${s.macsWeight}` : ''}, retrain ${plural(s.retrainIters, 'iteration')} per step, floor ${s.maxDrop} pp under the base` +
      `${s.snapTo > 1 ? `, then onto multiples of ${s.snapTo} channels` : ''}${s.refineSteps > 0 ? `, then up to ${plural(s.refineSteps, 'MAC refinement step')}` : ''} ==`,
  );
  const prune = await pruneRun(pipelinePruneSpec(s, checkpoint), observer);
  say(
    `\nresult: ${times(prune.paramsX)} fewer parameters, ${times(prune.macsX)} fewer MACs, onnxruntime ${times(prune.latency.ortB1.speedup)} faster at batch 1 and ${times(prune.latency.ortB64.speedup)} at batch 64; ` +
      `test accuracy ${pct(prune.baseTestAccuracy)} -> ${pct(prune.prunedTestAccuracy)} %, balanced ${pct(prune.baseTestBalancedAccuracy)} -> ${pct(prune.prunedTestBalancedAccuracy)} %`,
  );
  say(`ONNX model: ${prune.onnx}`);
  return { train, prune, interrupted: prune.interrupted };
}

/** The JSON of `slimnet pipeline --json`: each stage's own JSON record, as their commands print it. */
export function pipelineResultJson(r: PipelineReport): Record<string, unknown> {
  return { train: trainResultJson(r.train), prune: r.prune && pruneResultJson(r.prune) };
}
