// TransTailor's loop (Liu et al., AAAI 2021; seed 000): from a model already
// fine-tuned on the target task, repeat { attach α; train α with every weight
// frozen; β = |α · ∂L/∂α| normalised per group; remove the lowest-β share of
// the remaining filters globally; fold α into the surviving filters; fine-tune }
// while the validation balanced accuracy after fine-tuning stays within τ
// (percentage points) of the last kept model, and return the last kept model.
//
// Why a loop of its own and not a pruning method on prune() (protocol.ts):
// prune()'s controller compares every step with one fixed accuracy floor
// (minAccuracy, plain accuracy), while TransTailor's rule compares with the
// *last kept* model (a moving reference) on balanced accuracy; and a scoring
// policy there returns scores for the current model, which prune() then
// removes from that model, so the α (which must be trained on an α-model,
// survive the removal and be folded into the surviving filters) has no place
// to live between scoring and removal. So this file runs the same parts —
// attachAlpha / trainAlpha / alphaImportance (alpha.ts), scoreChannels,
// selectChannels, removeChannels, the Trainer with buildOptimizer, evaluate —
// in TransTailor's order, with no loop copied.
//
// Importance-aware fine-tuning, the form implemented: the seed's procedure
// (step 7-8: prune by β, fine-tune the pruned model) and the paper's
// "importance-aware" fine-tuning start the fine-tuning from the surviving
// filters *scaled by their trained α*: the α are folded into the weights
// (foldAlpha: the norm's γ and β, or the filter's weight and bias), so the
// fine-tuning starts from exactly the function the α-model computed with the
// pruned filters gone, and the exported model has no trace of α. Not
// implemented: re-weighting the filters by β itself (β mixes α with a loss
// gradient and has no scale that keeps the function), nor keeping α as a
// trainable parameter during the fine-tuning (folding makes it redundant).
//
// Resuming (options.start): the loop's randomness is its training stream and
// the global generator (dropout); random α draws from seed + iteration. Every
// record carries trainBatches, the stream's position after it, so a loop
// started from a kept model with start = { next iteration, its accuracy, its
// trainBatches } and the global random state of that moment runs the
// iterations the uninterrupted loop would have run.
import { summarize, type Model } from '../../graph/index.js';
import { BatchStream, Trainer, buildOptimizer, evaluate, fineTune, validateOptimizerSpec, type BatchSource, type OptimizerSpec, type StepInfo } from '../../train/index.js';
import { UsageError } from '../../util/errors.js';
import { scoreChannels } from '../criteria.js';
import { DependencyGraph } from '../dependency.js';
import { removeChannels } from '../remove.js';
import { NORMS, selectChannels, type Norm } from '../select.js';
import { alphaContributions, alphaImportance, attachAlpha, foldAlpha, trainAlpha } from './alpha.js';

export interface TransTailorData {
  /** The target task's training batches (α training, β and fine-tuning); read as an endless stream of epochs. */
  train: BatchSource;
  /** The held-out validation split of the target's training data: τ and early stopping read it, never the test split. */
  val: BatchSource;
  classes: number;
}

export interface TransTailorOptions {
  /**
   * Largest drop of validation balanced accuracy (percentage points, 0..100)
   * against the last kept model that still keeps a pruned model (default 1;
   * the seed gives no value, the paper tunes it per data set).
   */
  tau?: number;
  /** Share of the still removable filters one iteration removes, in (0, 1) (default 0.05, the public re-implementations' step). */
  pruneShare?: number;
  /** α initialisation: 'ones' (default, the identity) or 'random' (the seed's report: destroys the model). */
  alphaInit?: 'ones' | 'random';
  /** α updates per iteration (default 50) and their SGD learning rate (default 0.01). */
  alphaIters?: number;
  alphaLr?: number;
  /** Batches β is computed on (default 10), taken from the training stream. */
  importanceBatches?: number;
  /**
   * How β is normalised per group before the global ranking (select.ts's
   * norms; default 'l2', the paper's β / ‖β‖₂ over a layer's filters). With
   * 'l2' a wide group's filters score lower each (its squares share one unit
   * norm), so the ranking removes from wide layers first; 'max' and 'none'
   * are the alternatives the study can compare.
   */
  importanceNorm?: Norm;
  /**
   * Fine-tuning after each removal: `iters` optimizer updates, or `epochs`
   * with early stopping on validation balanced accuracy (patience, default 3;
   * the best epoch's weights are put back). Default { epochs: 10 }.
   */
  fineTune?: { iters: number } | { epochs: number; patience?: number };
  /**
   * The fine-tuning optimizer (default: the paper's SGD, momentum 0.9, lr
   * 0.005 for fully connected layers and 0.0005 for convolutions and the rest).
   */
  optimizer?: OptimizerSpec;
  /** Stop after this many iterations (default: only τ stops the loop). */
  maxIterations?: number;
  /** Filters every group keeps (default 1: a group is never emptied). */
  minChannels?: number;
  /** Seed of the random α (iteration i uses seed + i; default 0). */
  seed?: number;
  /**
   * Continue an earlier loop (a resumed run) whose last kept model is the
   * input: the next iteration's number, the kept model's validation balanced
   * accuracy (the τ reference; the input is not evaluated again) and the
   * training batches the earlier iterations took from the stream (the last
   * kept record's trainBatches), so the stream goes on where it was. With
   * the same options and the global random state of that moment, the
   * iterations are those an uninterrupted loop would have run.
   */
  start?: TransTailorStart;
}

export interface TransTailorStart {
  /** The first iteration this call runs (>= 1); maxIterations still counts from 1. */
  iteration: number;
  /** Validation balanced accuracy (0..1) of the input model. */
  balancedAccuracy: number;
  /** Batches of the training stream already taken (default 0). */
  trainBatches?: number;
}

export interface TransTailorIteration {
  /** 1-based. */
  iteration: number;
  /** Filters removed this iteration per dependency group (group name → count). */
  removed: Record<string, number>;
  /** Size of the pruned model. */
  params: number;
  macs: number;
  /** Validation balanced accuracy (0..1) of the pruned model, α folded, before and after the fine-tuning. */
  balancedAccuracyBefore: number;
  balancedAccuracyAfter: number;
  /** Fine-tuning epochs run (early stopping may end them sooner; updates / batches per epoch with a fixed update count). */
  fineTuneEpochs: number;
  /** Whether the fine-tuned model stayed within τ of the last kept model (and became the kept model). */
  kept: boolean;
  /** Wall time of the iteration. */
  seconds: number;
  /** Batches the training stream had handed out by the end of this iteration, counted from the first iteration of the run (a resume's start.trainBatches). */
  trainBatches?: number;
}

export interface TransTailorResult {
  /** The last model within τ (a copy of the input when no iteration was kept), α folded, in eval mode; owned by the caller. */
  model: Model;
  /** Validation balanced accuracy of the input model, the reference of the first iteration (start.balancedAccuracy when given). */
  baseBalancedAccuracy: number;
  /** Validation balanced accuracy of the returned model. */
  balancedAccuracy: number;
  iterations: TransTailorIteration[];
  stoppedBecause: string;
  interrupted: boolean;
}

export interface TransTailorHooks {
  /** Aborting stops the loop between its steps (α training and fine-tuning stop after the current update). */
  signal?: AbortSignal;
  onIteration?(r: TransTailorIteration): void;
  /** After onIteration of a kept iteration: `model` is the new kept model (the loop's; read it, e.g. save it, but do not modify or dispose it). */
  onKept?(model: Model, r: TransTailorIteration): void;
  /** After each α or fine-tuning update: which phase, the update (1-based), how many the phase has (epochs × batches when early stopping), the loss. */
  onUpdate?(phase: 'alpha' | 'fine-tune', iteration: number, update: number, updates: number, loss: number): void;
}

/** The paper's fine-tuning optimizer: SGD with per-group learning rates. */
export const PAPER_OPTIMIZER: OptimizerSpec = { type: 'sgd', lr: 0.0005, momentum: 0.9, lrByKind: { linear: 0.005, conv: 0.0005 } };

const positiveInt = (v: number | undefined, field: string): void => {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`transtailor: ${field} must be a positive integer, got ${v}`);
};

/** Checks the options; the messages name the field. */
export function validateTransTailor(o: TransTailorOptions): void {
  if (o.tau !== undefined && !(Number.isFinite(o.tau) && o.tau >= 0 && o.tau <= 100)) throw new UsageError(`transtailor: tau must be in [0, 100] percentage points, got ${o.tau}`);
  if (o.pruneShare !== undefined && !(o.pruneShare > 0 && o.pruneShare < 1)) throw new UsageError(`transtailor: pruneShare must be in (0, 1), got ${o.pruneShare}`);
  if (o.alphaInit !== undefined && o.alphaInit !== 'ones' && o.alphaInit !== 'random') throw new UsageError(`transtailor: alphaInit must be 'ones' or 'random', got '${String(o.alphaInit)}'`);
  if (o.alphaIters !== undefined && !(Number.isInteger(o.alphaIters) && o.alphaIters >= 0)) throw new UsageError(`transtailor: alphaIters must be an integer >= 0, got ${o.alphaIters}`);
  if (o.alphaLr !== undefined && !(Number.isFinite(o.alphaLr) && o.alphaLr > 0)) throw new UsageError(`transtailor: alphaLr must be a number > 0, got ${o.alphaLr}`);
  positiveInt(o.importanceBatches, 'importanceBatches');
  if (o.importanceNorm !== undefined && !NORMS.includes(o.importanceNorm)) throw new UsageError(`transtailor: importanceNorm must be one of ${NORMS.join(', ')}, got '${String(o.importanceNorm)}'`);
  positiveInt(o.maxIterations, 'maxIterations');
  positiveInt(o.minChannels, 'minChannels');
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new UsageError(`transtailor: seed must be an integer, got ${o.seed}`);
  const ft = o.fineTune;
  if (ft !== undefined) {
    if ('iters' in ft) positiveInt(ft.iters, 'fineTune.iters');
    else if ('epochs' in ft) {
      positiveInt(ft.epochs, 'fineTune.epochs');
      if (ft.patience !== undefined && !(Number.isInteger(ft.patience) && ft.patience >= 0)) throw new UsageError(`transtailor: fineTune.patience must be an integer >= 0, got ${ft.patience}`);
    } else throw new UsageError('transtailor: fineTune must give iters or epochs');
  }
  if (o.optimizer) validateOptimizerSpec(o.optimizer, 'transtailor: optimizer');
  const st = o.start;
  if (st !== undefined) {
    positiveInt(st.iteration, 'start.iteration');
    if (!(Number.isFinite(st.balancedAccuracy) && st.balancedAccuracy >= 0 && st.balancedAccuracy <= 1)) throw new UsageError(`transtailor: start.balancedAccuracy must be in [0, 1], got ${st.balancedAccuracy}`);
    if (st.trainBatches !== undefined && !(Number.isInteger(st.trainBatches) && st.trainBatches >= 0)) throw new UsageError(`transtailor: start.trainBatches must be an integer >= 0, got ${st.trainBatches}`);
  }
}

/**
 * The training source as the loop's stream reads it: `skip` batches on (whole
 * epochs by their index, the rest by reading them), counting what it hands
 * out. Epoch e of a DataLoader is a function of e alone, so the batches are
 * those an uninterrupted stream would give.
 */
function countedSource(src: BatchSource, skip: number): { source: BatchSource; taken: () => number; rest: number } {
  const offset = Math.floor(skip / src.length);
  let taken = offset * src.length;
  const source: BatchSource = {
    length: src.length,
    epoch: async function* (e: number) {
      for await (const b of src.epoch(e + offset)) {
        taken++;
        yield b;
      }
    },
  };
  return { source, taken: () => taken, rest: skip - offset * src.length };
}

const balancedAccuracy = async (model: Model, data: TransTailorData): Promise<number> => (await evaluate(model, data.val, data.classes)).balancedAccuracy;

/** Fine-tunes `model` in place (train mode while training, eval mode after); returns the epochs run. */
async function fineTuneCandidate(model: Model, data: TransTailorData, stream: BatchStream, o: TransTailorOptions, hooks: TransTailorHooks, iteration: number): Promise<number> {
  const ft = o.fineTune ?? { epochs: 10 };
  const total = 'iters' in ft ? ft.iters : ft.epochs * data.train.length;
  let done = 0;
  const onStep = (info: StepInfo) => hooks.onUpdate?.('fine-tune', iteration, ++done, total, info.loss);
  const optimizer = o.optimizer ?? PAPER_OPTIMIZER;
  if (!('iters' in ft)) {
    const r = await fineTune(model, data.train, data.val, { epochs: ft.epochs, patience: ft.patience ?? 3, optimizer, onStep, ...(hooks.signal ? { signal: hooks.signal } : {}) });
    return r.epochs;
  }
  const trainer = new Trainer({ model, optimizer: buildOptimizer(model, optimizer), callbacks: [{ onStepEnd: onStep }] });
  try {
    await trainer.fit(stream.take(ft.iters), { epochs: 1, ...(hooks.signal ? { signal: hooks.signal } : {}) });
    return ft.iters / data.train.length;
  } finally {
    trainer.optimizer.dispose();
    for (const p of model.parameters()) p.grad = null;
    model.eval();
  }
}

/** One iteration's pruned model, α folded in, with what it removed; null when no filter can go. */
async function pruneOnce(current: Model, stream: BatchStream, o: TransTailorOptions, hooks: TransTailorHooks, iteration: number): Promise<{ model: Model; removed: Record<string, number> } | null> {
  const { model: withAlpha, alphas } = attachAlpha(current, { init: o.alphaInit ?? 'ones', seed: (o.seed ?? 0) + iteration });
  let removedModel: Model | null = null;
  try {
    const iters = o.alphaIters ?? 50;
    if (iters > 0) {
      const onUpdate = hooks.onUpdate ? (update: number, loss: number) => hooks.onUpdate!('alpha', iteration, update, iters, loss) : undefined;
      const r = await trainAlpha(withAlpha, alphas, stream.take(iters), { iters, lr: o.alphaLr ?? 0.01, ...(hooks.signal ? { signal: hooks.signal } : {}), ...(onUpdate ? { onUpdate } : {}) });
      if (r.interrupted) return null;
    }
    const n = o.importanceBatches ?? 10;
    const beta = await alphaImportance(withAlpha, alphas, () => stream.take(n).epoch(0));
    const dep = new DependencyGraph(withAlpha.graph);
    const scores = scoreChannels(dep, { primary: alphaContributions(alphas, beta) });
    const chosen = selectChannels(dep, scores, { scope: 'global', norm: o.importanceNorm ?? 'l2', amount: { fraction: o.pruneShare ?? 0.05 }, minChannels: o.minChannels ?? 1 });
    if (chosen.length === 0) return null;
    const removed: Record<string, number> = {};
    for (const c of chosen) {
      const g = dep.groupOf(c).name;
      removed[g] = (removed[g] ?? 0) + 1;
    }
    // Remove on the α-model (α nodes are per-channel and shrink with their channels), then fold the surviving α.
    removedModel = removeChannels(withAlpha, dep, chosen).model;
    const folded = foldAlpha(removedModel, alphas);
    folded.eval();
    return { model: folded, removed };
  } finally {
    withAlpha.dispose();
    removedModel?.dispose();
  }
}

/** Why the loop stopped at `it`, an iteration beyond τ of the kept model's accuracy `keptBa`. */
export function tauStopReason(it: Pick<TransTailorIteration, 'balancedAccuracyAfter'>, keptBa: number, tau: number): string {
  return `validation balanced accuracy fell ${((keptBa - it.balancedAccuracyAfter) * 100).toFixed(2)} pp below the last kept model's (${(keptBa * 100).toFixed(2)} %), more than tau ${tau} pp`;
}

/**
 * TransTailor's pruning loop on a model already fine-tuned on the target
 * (see the file's head). `model` is never modified.
 */
export async function transtailor(model: Model, data: TransTailorData, o: TransTailorOptions = {}, hooks: TransTailorHooks = {}): Promise<TransTailorResult> {
  validateTransTailor(o);
  if (data.train.length === 0) throw new UsageError('transtailor: the training data yields no batches');
  if (data.val.length === 0) throw new UsageError('transtailor: the validation data yields no batches');
  const tau = o.tau ?? 1;
  const counted = countedSource(data.train, o.start?.trainBatches ?? 0);
  const stream = new BatchStream(counted.source);
  let kept = model.clone().eval();
  try {
    for (let i = 0; i < counted.rest; i++) {
      const b = await stream.next();
      b.x.dispose();
      b.y.dispose();
    }
    const baseBalancedAccuracy = o.start ? o.start.balancedAccuracy : await balancedAccuracy(kept, data);
    let keptBa = baseBalancedAccuracy;
    const iterations: TransTailorIteration[] = [];
    let stoppedBecause = '';
    for (let iteration = o.start?.iteration ?? 1; ; iteration++) {
      if (hooks.signal?.aborted) {
        stoppedBecause = 'interrupted';
        break;
      }
      if (o.maxIterations !== undefined && iteration > o.maxIterations) {
        stoppedBecause = `${o.maxIterations} iteration${o.maxIterations === 1 ? '' : 's'} done`;
        break;
      }
      const t0 = performance.now();
      const pruned = await pruneOnce(kept, stream, o, hooks, iteration);
      if (!pruned) {
        stoppedBecause = hooks.signal?.aborted ? 'interrupted' : 'no filter left to remove';
        break;
      }
      const candidate = pruned.model;
      let accepted = false;
      try {
        const before = await balancedAccuracy(candidate, data);
        const fineTuneEpochs = await fineTuneCandidate(candidate, data, stream, o, hooks, iteration);
        if (hooks.signal?.aborted) {
          // A cut-short fine-tuning is not a measurement of this iteration.
          stoppedBecause = 'interrupted';
          break;
        }
        const after = await balancedAccuracy(candidate, data);
        const drop = (keptBa - after) * 100;
        accepted = drop <= tau;
        const totals = summarize(candidate.graph).totals;
        const record: TransTailorIteration = {
          iteration,
          removed: pruned.removed,
          params: totals.params,
          macs: totals.macs,
          balancedAccuracyBefore: before,
          balancedAccuracyAfter: after,
          fineTuneEpochs,
          kept: accepted,
          seconds: (performance.now() - t0) / 1000,
          trainBatches: counted.taken(),
        };
        iterations.push(record);
        hooks.onIteration?.(record);
        if (!accepted) {
          stoppedBecause = tauStopReason(record, keptBa, tau);
          break;
        }
        kept.dispose();
        kept = candidate;
        keptBa = after;
        hooks.onKept?.(kept, record);
      } finally {
        if (!accepted) candidate.dispose();
      }
    }
    const result: TransTailorResult = { model: kept, baseBalancedAccuracy, balancedAccuracy: keptBa, iterations, stoppedBecause, interrupted: stoppedBecause === 'interrupted' };
    return result;
  } catch (e) {
    kept.dispose();
    throw e;
  } finally {
    await stream.close();
  }
}
