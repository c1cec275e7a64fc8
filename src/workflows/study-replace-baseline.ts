// The replacement study's two baselines at the base variant's size:
// - scratch: the base variant's final architecture (its final.safetensors
//   graph: the replaced convs are 1×1) with fresh weights, trained by the
//   training workflow (runTraining with a plan whose model is that graph: the
//   same loop, run directory, resume and test as `slimnet train`) on the
//   source's data and split;
// - prune: the source pruned by channels with `slimnet prune`'s workflow
//   (pruneRun) until its MACs are at most the base variant's, then fine-tuned.
import { Model, loadCheckpoint, type Graph } from '../graph/index.js';
import type { Observer } from '../util/events.js';
import { pruneRun, type PruneReport } from './prune.js';
import { givenOptions, resolveTrainConfig, type TrainConfig, type TrainSpec } from './train-spec.js';
import { runTraining, trainData, type TrainPlan, type TrainReport } from './train.js';

export interface ScratchSpec {
  /** A model file whose graph is trained from fresh weights (the base variant's final.safetensors). */
  graphOf: string;
  /** The training options: the source's data, split and seed, the recipe and the epochs. */
  train: TrainSpec;
  runsDir: string;
  /** Resume version 0 of runsDir's run (an interrupted member). */
  resume: boolean;
}

/** The graph of a model file (its weights are not kept). */
function graphOf(path: string): Graph {
  const { model } = loadCheckpoint(path);
  const graph = model.graph;
  model.dispose();
  return graph;
}

/** Trains `graphOf`'s architecture from scratch (see the file's head); a complete run given again is 'already-complete', its figures in runStatus. */
export async function scratchRun(s: ScratchSpec, observer: Observer): Promise<TrainReport> {
  const graph = graphOf(s.graphOf);
  const given = givenOptions(s.train, 'scratch baseline');
  const config = resolveTrainConfig(given);
  const plan: TrainPlan = {
    command: 'scratch',
    data: (cfg: TrainConfig) => trainData(cfg),
    model: (cfg: TrainConfig) => ({ graph, label: `${cfg.arch} x${cfg.width} with the replaced convs as 1×1 (${s.graphOf}), fresh weights`, create: () => Model.create(graph, { seed: cfg.seed }) }),
    resumeCommand: () => 'the study\'s --version (a scratch baseline resumes with its study)',
  };
  return runTraining(plan, { config, given, runsDir: s.runsDir, resume: s.resume ? 0 : undefined }, observer);
}

export interface PruneBaselineSpec {
  /** The source model. */
  checkpoint: string;
  criterion: string;
  /** MACs to reach (at most): the base variant's final model's. */
  targetMacs: number;
  /** The source's MACs. */
  sourceMacs: number;
  stepShare: number;
  retrainIters: number;
  finetuneEpochs: number;
  lr: number;
  batchSize: number;
  latencyRuns: number;
  runsDir: string;
}

/** Prunes the source to the target MACs (no accuracy floor: the target is the stop), then fine-tunes; pruneRun's report. */
export function pruneBaselineRun(s: PruneBaselineSpec, observer: Observer): Promise<PruneReport> {
  return pruneRun(
    {
      checkpoint: s.checkpoint,
      criterion: s.criterion,
      protocol: 'retrain',
      scope: 'global',
      stepFraction: s.stepShare,
      retrainIters: s.retrainIters,
      lr: s.lr,
      batchSize: s.batchSize,
      noFloor: true,
      targetMacsX: s.sourceMacs / s.targetMacs,
      finetuneEpochs: s.finetuneEpochs,
      latencyRuns: s.latencyRuns,
      runsDir: s.runsDir,
    },
    observer,
  );
}
