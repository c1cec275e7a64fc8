// Table 4.1 of the thesis: the best protocol (Taylor, global ranking with L2
// normalisation, retraining after each step) prunes the base model down to
// an accuracy floor; the pruned architecture is then trained from scratch
// with the base recipe. Base, pruned and from-scratch models are compared on
// accuracy, parameters, MACs and measured onnxruntime latency.
import { Model, summarize } from '../graph/index.js';
import { compareLatency, type SpeedupReport } from '../measure/index.js';
import { finishPruning, prune, SnapCandidates, type Norm, type PruneOptions, type Protocol, type StepRecord } from '../prune/index.js';
import { evaluate, type BatchSource } from '../train/index.js';
import { baseChannels } from './curve.js';
import { trainForIterations, type Recipe, type RecipeHooks } from './recipe.js';

export interface Table41Options {
  criterion: string;
  norm: Norm;
  protocol: Protocol;
  retrainIters: number;
  /** Share of the still-removable maps removed per step. */
  stepFraction: number;
  /** The floor: this many percentage points under the base accuracy on the floor split. */
  maxDrop: number;
  /** Steps allowed below the floor before stopping (retraining often wins a dip back). */
  patience: number;
  /** At the floor, go back to the kept model with half the step (down to one map). */
  backtrack: boolean;
  /** Safety cap on the steps. */
  maxSteps: number;
  /** After the loop, every layer down to its multiple of this in one retrained step, kept only if it meets the floor (1: off). */
  snapTo: number;
  /** Retraining iterations of the snap step. */
  snapIters: number;
  /** Grid steps tried at most: from the kept model, then from larger kept models with another grid target. */
  snapTries: number;
  /** Then up to this many MAC refinement steps (refineMacs; snapIters retraining iterations each; 0: off). */
  refineSteps: number;
  lr: number;
  scoreBatches: number;
  minChannels: number;
  seed: number;
  /** Training of the pruned architecture from scratch (the base recipe). */
  recipe: Pick<Recipe, 'iterations' | 'lr'>;
  /** Timed onnxruntime runs per model and batch size. */
  latencyRuns: number;
}

export interface Table41Data {
  train: BatchSource;
  /** Where the floor is checked (the base's validation split, else its test split). */
  floor: BatchSource;
  test: BatchSource;
  classes: number;
}

export interface Table41Row {
  model: 'base' | 'pruned' | 'scratch';
  /** Accuracy and balanced accuracy on the test split. */
  testAccuracy: number;
  testBalancedAccuracy: number;
  /** Percentage points of test accuracy lost against the base (0 for the base). */
  testLossPp: number;
  /** Accuracy on the floor split (the validation split, else the test split). */
  floorAccuracy: number;
  params: number;
  /** The base's params / this model's (1 for the base), and the same for MACs. */
  paramsReduction: number;
  macs: number;
  macsReduction: number;
  /** onnxruntime median latency (ms) at batch 1 and 64, and the speed-up over the base (1 for the base). */
  ortB1Ms: number;
  ortB64Ms: number;
  speedupB1: number;
  speedupB64: number;
}

export interface Table41 {
  rows: Table41Row[];
  floor: number;
  steps: StepRecord[];
  keptStep: number;
  stopReason: string;
  /** Maps per layer of the pruned architecture. */
  channels: Record<string, number>;
  /** The grid step, when one was asked for and some layer was off the grid. */
  snap?: { to: number; iters: number; kept: boolean; step: StepRecord; from: number; tries: number };
  /** The MAC refinement steps, when asked for. */
  refine?: { step: StepRecord; kept: boolean }[];
  scratchSeconds: number;
  /** The pruned model and its from-scratch twin, owned by the caller. */
  pruned: Model;
  scratch: Model;
}

export interface Table41Hooks {
  onStep?(r: StepRecord): void;
  onRetrain?(step: number, iteration: number, iterations: number, loss: number): void;
  onScratch?: RecipeHooks['onIteration'];
  /** A phase starts ('prune', 'snap', 'refine', 'scratch', 'latency'), for logs. */
  onPhase?(phase: 'prune' | 'snap' | 'refine' | 'scratch' | 'latency', detail: string): void;
  /** Aborting stops the work after the current step / iteration (Ctrl-C). */
  signal?: AbortSignal;
}

export async function table41(base: Model, data: Table41Data, o: Table41Options, hooks: Table41Hooks = {}): Promise<Table41> {
  base.eval();
  const baseFloor = await evaluate(base, data.floor, data.classes);
  const floor = Math.max(0, baseFloor.accuracy - o.maxDrop / 100);
  hooks.onPhase?.('prune', `floor ${(floor * 100).toFixed(2)} % (${o.maxDrop} pp under the base's ${(baseFloor.accuracy * 100).toFixed(2)} %)`);
  const opts: PruneOptions = {
    criterion: o.criterion,
    scope: 'global',
    norm: o.norm,
    amount: { fraction: o.stepFraction },
    minChannels: o.minChannels,
    protocol: o.protocol,
    retrainIters: o.protocol === 'none' ? undefined : o.retrainIters,
    lr: o.lr,
    minAccuracy: floor,
    patience: o.patience,
    backtrack: o.backtrack,
    maxSteps: o.maxSteps,
    scoreBatches: o.scoreBatches,
    seed: o.seed,
  };
  const candidates = o.snapTo > 1 ? new SnapCandidates() : undefined;
  const result = await prune(
    base,
    { train: data.train, eval: data.floor, classes: data.classes },
    opts,
    { onStep: hooks.onStep, onRetrain: hooks.onRetrain, signal: hooks.signal, onKept: candidates?.onKept },
  );
  let pruned = result.best;
  let scratch: Model | undefined;
  let snap: Table41['snap'];
  let refine: Table41['refine'];
  try {
    const fin = await finishPruning(
      pruned,
      candidates,
      { train: data.train, eval: data.floor, classes: data.classes },
      opts,
      { snapTo: o.snapTo, snapTries: o.snapTries, iters: o.snapIters, refineSteps: o.refineSteps },
      {
        onRetrain: hooks.onRetrain,
        signal: hooks.signal,
        onPhase: (phase, convs) =>
          phase === 'snap'
            ? hooks.onPhase?.('snap', `every convolution down to its multiple of ${o.snapTo}, ${o.snapIters} retraining iterations, from the kept model or up to ${o.snapTries - 1} larger ones`)
            : hooks.onPhase?.('refine', `up to ${o.refineSteps} steps on ${[...convs!].join(', ')}, the costliest channels in MACs first, ${o.snapIters} retraining iterations each`),
      },
    );
    pruned = fin.model;
    // The last grid attempt tells: the one that met the floor, or the largest starting model's failure.
    const last = fin.snap?.attempts[fin.snap.attempts.length - 1];
    if (last?.record) snap = { to: o.snapTo, iters: o.snapIters, kept: last.kept, step: last.record, from: last.from, tries: fin.snap!.attempts.length };
    refine = fin.refine?.attempts.map((a) => ({ step: a.record, kept: a.kept }));
    pruned.eval();
    hooks.onPhase?.('scratch', `${o.recipe.iterations} iterations, Adam lr ${o.recipe.lr}`);
    // Same graph, fresh weights, the base recipe.
    scratch = Model.create(pruned.graph, { seed: o.seed });
    const trained = await trainForIterations(scratch, data.train, o.recipe, { onIteration: hooks.onScratch, signal: hooks.signal });

    const measure = async (m: Model, floorAccuracy?: number) => ({
      test: await evaluate(m, data.test, data.classes),
      floor: floorAccuracy ?? (await evaluate(m, data.floor, data.classes)).accuracy,
    });
    const acc = { base: await measure(base, baseFloor.accuracy), pruned: await measure(pruned), scratch: await measure(scratch) };
    hooks.onPhase?.('latency', `onnxruntime, batch 1 and 64, ${o.latencyRuns} runs each, interleaved`);
    // The from-scratch model has the pruned architecture: one measurement serves both rows.
    const lat = await compareLatency(base, pruned, { batches: [1, 64], runs: o.latencyRuns, warmup: Math.min(5, o.latencyRuns), engine: false });
    const s0 = summarize(base.graph).totals;
    const s1 = summarize(pruned.graph).totals;
    const ort = (b: 1 | 64): SpeedupReport => lat.ort[b]!;
    const row = (model: Table41Row['model'], s: { params: number; macs: number }, after: boolean): Table41Row => ({
      model,
      testAccuracy: acc[model].test.accuracy,
      testBalancedAccuracy: acc[model].test.balancedAccuracy,
      testLossPp: (acc.base.test.accuracy - acc[model].test.accuracy) * 100,
      floorAccuracy: acc[model].floor,
      params: s.params,
      paramsReduction: s0.params / s.params,
      macs: s.macs,
      macsReduction: s0.macs / s.macs,
      ortB1Ms: after ? ort(1).after.median_ms : ort(1).before.median_ms,
      ortB64Ms: after ? ort(64).after.median_ms : ort(64).before.median_ms,
      speedupB1: after ? ort(1).speedup : 1,
      speedupB64: after ? ort(64).speedup : 1,
    });
    return {
      rows: [row('base', s0, false), row('pruned', s1, true), row('scratch', s1, true)],
      floor,
      steps: result.history,
      keptStep: result.bestStep,
      stopReason: result.stopReason,
      channels: Object.fromEntries(baseChannels(pruned)),
      snap,
      refine,
      scratchSeconds: trained.seconds,
      pruned,
      scratch,
    };
  } catch (e) {
    pruned.dispose();
    scratch?.dispose();
    throw e;
  } finally {
    candidates?.dispose();
  }
}
