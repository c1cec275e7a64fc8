// The pruning loop of seed 003 §3.4: score, remove, recover, measure,
// repeat, until an accuracy floor, a compression target or a step limit.
// Each part is its own module and this file only runs them in order:
//   scoring     scoring.ts     when the criterion runs and what carries over
//   selection   select.ts      which channels one step removes
//   removal     remove.ts      the smaller model
//   recovery    recovery.ts    retraining after the removal (a registry)
//   controller  controller.ts  floor, patience, backtracking, targets, step limit
// A pruning method (methods.ts) names a scoring policy and a recovery;
// PruneOptions.protocol picks it (seed 003's four protocols are presets).
// The input model is never modified; the result holds the smallest model
// that met the floor.
import { summarize, type Model } from '../graph/index.js';
import { BatchStream, evaluate, type BatchSource, type LossFn, type Metrics } from '../train/index.js';
import { PruneController, type ControllerOptions } from './controller.js';
import { criterion, scoreChannels, type Reduce } from './criteria.js';
import { DependencyGraph, PruneError } from './dependency.js';
import { pruningMethod, type Protocol } from './methods.js';
import { recovery, validateRecovery } from './recovery.js';
import { removeChannels } from './remove.js';
import { selectChannels, type SelectOptions } from './select.js';

export { PROTOCOLS, type Protocol } from './methods.js';

/** A pruning run: selection's options, the controller's (floor, patience, backtracking, targets, step limit; controller.ts) and these. */
export interface PruneOptions extends Omit<SelectOptions, 'layers'>, Omit<ControllerOptions, 'amount'> {
  criterion: string;
  reduce?: Reduce;
  /** The pruning method: one of PROTOCOLS or any other registered one (pruningMethodNames()). */
  protocol: Protocol | (string & {});
  /** Only prune these layers (default: every prunable one). */
  layers?: readonly string[];
  /** Never prune these layers. */
  exclude?: readonly string[];
  /** Retraining iterations (batches) after each step (protocols retrain, layer-retrain, once). */
  retrainIters?: number;
  /**
   * Evaluate on the floor's split this many times, evenly spaced, during each
   * retraining, and keep the weights of the best evaluation (default 1: the
   * last weights). Used by the long retraining of the grid step, where Adam's
   * last iterate is one noisy sample of where training went.
   */
  retrainChecks?: number;
  /** Adam learning rate of retraining (default 1e-4, the thesis' training rate). */
  lr?: number;
  /**
   * Learning rate per layer family or kind over `lr` (OptimizerSpec.lrByKind:
   * 'conv', 'linear'/'fc', 'norm'/'bn', 'other', or exact node kinds), in
   * every recovery that trains; 0 freezes a family. Default: lr everywhere.
   */
  lrByKind?: Readonly<Record<string, number>>;
  /** Epochs of the fine-tune recovery (default 1; with fineTunePatience, at most this many). */
  fineTuneEpochs?: number;
  /**
   * Early stopping of the fine-tune recovery: stop after this many epochs
   * without a better balanced accuracy on the evaluation split, and keep the
   * best epoch's weights. Default: none (every epoch runs, the last weights).
   */
  fineTunePatience?: number;
  /** Batches the data-driven criteria read per scoring (default 10). */
  scoreBatches?: number;
  /** The loss the gradient criteria (taylor) differentiate (default cross-entropy). */
  scoreLoss?: LossFn;
  seed?: number;
  /**
   * The model recoveries that distill learn from (default: the model prune()
   * was given, as it was before the first step: pruning keeps node names, so
   * feature pairs are found by name). Never modified.
   */
  teacher?: Model;
  /** Options of the 'distill' recovery (src/distill/recovery.ts, which checks them); the loop itself does not read them. */
  distill?: DistillRecoveryOptions;
}

/** The 'distill' recovery's losses, plain data (the loss registry lives in src/distill, above this module). */
export interface DistillRecoveryOptions {
  /** Loss names with optional parameter overrides (default: kd with the anchors' settings). */
  losses?: readonly { name: string; params?: Readonly<Record<string, number>> }[];
  /** Factor of the student's cross-entropy (default: the smallest anchor CE weight of the losses, 0.1 for kd). */
  ceWeight?: number;
}

export interface PruneData {
  /** Training batches (scoring and retraining); read as an endless stream of epochs. */
  train: BatchSource;
  /** Where accuracy is measured after each step (a validation split). */
  eval: BatchSource;
  classes: number;
}

export interface ModelStats {
  params: number;
  macs: number;
  accuracy: number;
  balanced_accuracy: number;
}

export interface StepRecord extends ModelStats {
  step: number;
  /** The step whose model this step pruned (0: the base); not step - 1 after a backtrack. */
  from: number;
  /** Groups that lost channels this step, with how many. */
  layers: string;
  removed: number;
  /** Share of the base model's removable channels gone so far. */
  share_removed: number;
  params_x: number;
  macs_x: number;
  meets_floor: boolean;
  seconds: number;
  /** Remaining channels per group (by group name). */
  channels: Record<string, number>;
}

export interface PruneResult {
  base: ModelStats;
  history: StepRecord[];
  /** The smallest model that met the floor (the base model's copy if no step did); owned by the caller. */
  best: Model;
  bestStep: number;
  stopReason: string;
}

export interface PruneHooks {
  onStep?(r: StepRecord): void;
  onRetrain?(step: number, iter: number, iters: number, loss: number): void;
  /** Aborting stops the work after the current step / iteration (Ctrl-C). */
  signal?: AbortSignal;
  /** A new smallest model met the floor. The model stays the loop's: clone it to keep it. */
  onKept?(step: number, model: Model, record: StepRecord): void;
}

export async function measure(model: Model, data: PruneData): Promise<ModelStats & { metrics: Metrics }> {
  const s = summarize(model.graph).totals;
  const metrics = await evaluate(model, data.eval, data.classes);
  return { params: s.params, macs: s.macs, accuracy: metrics.accuracy, balanced_accuracy: metrics.balancedAccuracy, metrics };
}

/** The method, its recovery and the controller of a run, after every option was checked. */
function parts(o: PruneOptions) {
  criterion(o.criterion);
  const method = pruningMethod(o.protocol);
  const rec = recovery(method.recovery);
  validateRecovery(o, rec);
  return { method, recovery: rec, controller: new PruneController(o) };
}

export async function prune(model: Model, data: PruneData, o: PruneOptions, hooks: PruneHooks = {}): Promise<PruneResult> {
  const { method, recovery: rec, controller } = parts(o);
  const crit = criterion(o.criterion);
  const seed = o.seed ?? 0;
  if (data.train.length === 0) throw new PruneError('the training data yielded no batches');
  const stream = new BatchStream(data.train);
  const scoring = method.scoring({ criterion: crit, seed, ...(o.scoreBatches !== undefined ? { scoreBatches: o.scoreBatches } : {}), ...(o.scoreLoss ? { loss: o.scoreLoss } : {}) }, stream);
  let current = model.clone();
  let best: Model | null = null;
  try {
    const base = await measure(current, data);
    const baseStats: ModelStats = { params: base.params, macs: base.macs, accuracy: base.accuracy, balanced_accuracy: base.balanced_accuracy };
    if (o.minAccuracy !== undefined && base.accuracy < o.minAccuracy) {
      throw new PruneError(`the base model's accuracy ${(base.accuracy * 100).toFixed(2)} % is already below the floor ${(o.minAccuracy * 100).toFixed(2)} %`);
    }
    best = current.clone();
    let bestStep = 0;
    const baseDep = new DependencyGraph(current.graph, { exclude: o.exclude });
    const baseRemovable = baseDep.removable.length;
    if (baseRemovable === 0) throw new PruneError(`'${model.graph.name}' has no removable channels (every layer is excluded or feeds the output)`);
    let removedTotal = 0;
    let bestRemoved = 0;
    const history: StepRecord[] = [];
    let stopReason = '';
    /** The step whose model the next step prunes. */
    let from = 0;
    for (let step = 1; ; step++) {
      const skip = controller.before(step, hooks.signal);
      if (skip !== null) {
        stopReason = skip;
        break;
      }
      const t0 = performance.now();
      const dep = step === 1 ? baseDep : new DependencyGraph(current.graph, { exclude: o.exclude });
      const scores = await scoring.score({ model: current, dep, step });
      const chosen = selectChannels(dep, scoreChannels(dep, scores, o.reduce), { ...o, amount: controller.amount, layers: o.layers });
      if (chosen.length === 0) {
        stopReason = 'no channel left to remove';
        break;
      }
      const perGroup = new Map<string, number>();
      for (const c of chosen) perGroup.set(dep.groupOf(c).name, (perGroup.get(dep.groupOf(c).name) ?? 0) + 1);
      const { model: next, kept } = removeChannels(current, dep, chosen);
      current.dispose();
      current = next;
      scoring.removed(kept);
      removedTotal += chosen.length;
      await rec.recover({ model: current, stream, data, step, groups: [...perGroup.keys()], options: o, hooks, base: model });
      const m = await measure(current, data);
      const newDep = new DependencyGraph(current.graph, { exclude: o.exclude });
      const record: StepRecord = {
        step,
        from,
        layers: [...perGroup].map(([g, n]) => `${g}:-${n}`).join(' '),
        removed: chosen.length,
        share_removed: removedTotal / baseRemovable,
        params: m.params,
        macs: m.macs,
        params_x: baseStats.params / m.params,
        macs_x: baseStats.macs / m.macs,
        accuracy: m.accuracy,
        balanced_accuracy: m.balanced_accuracy,
        meets_floor: controller.meets(m.accuracy),
        seconds: (performance.now() - t0) / 1000,
        channels: Object.fromEntries(newDep.groups.map((g) => [g.name, g.size])),
      };
      history.push(record);
      hooks.onStep?.(record);
      from = step;
      const verdict = controller.after(record, perGroup);
      if (verdict.action === 'continue') continue;
      if (verdict.action === 'stop') {
        stopReason = verdict.reason;
        break;
      }
      if (verdict.action === 'backtrack') {
        current.dispose();
        current = best.clone();
        removedTotal = bestRemoved;
        scoring.backtracked();
        from = bestStep;
        continue;
      }
      best.dispose();
      best = current.clone();
      bestStep = step;
      bestRemoved = removedTotal;
      scoring.kept();
      hooks.onKept?.(step, best, record);
      if (verdict.stop !== undefined) {
        stopReason = verdict.stop;
        break;
      }
    }
    const result: PruneResult = { base: baseStats, history, best, bestStep, stopReason };
    best = null;
    return result;
  } catch (e) {
    best?.dispose();
    throw e;
  } finally {
    current.dispose();
    await stream.close();
  }
}
