// The pruning loop of seed 003 §3.4: score, remove, (retrain), evaluate,
// repeat, until an accuracy floor, a compression target or a step limit.
// At the floor the loop may wait a few steps (patience) and go back to the
// kept model with half the step (backtracking).
// Protocols:
//   none           greedy removal without retraining
//   retrain        remove, then retrain the whole network N iterations
//   layer-retrain  remove, then retrain only the layers just pruned
//   once           like retrain, but the criterion is computed only at the start
// The input model is never modified; the result holds the smallest model that
// met the floor.
import { summarize, type Model } from '../graph/index.js';
import { Adam, BatchStream, EarlyStopping, Trainer, evaluate, type BatchSource, type Metrics } from '../train/index.js';
import { criterion, scoreChannels, type Contributions, type CriterionScores, type Reduce } from './criteria.js';
import { DependencyGraph, PruneError } from './dependency.js';
import { removeChannels } from './remove.js';
import { selectChannels, type SelectOptions } from './select.js';

export type Protocol = 'none' | 'retrain' | 'layer-retrain' | 'once';
export const PROTOCOLS: readonly Protocol[] = ['none', 'retrain', 'layer-retrain', 'once'];

export interface PruneOptions extends Omit<SelectOptions, 'layers'> {
  criterion: string;
  reduce?: Reduce;
  protocol: Protocol;
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
  /** Stop once the evaluation accuracy falls below this (0..1). */
  minAccuracy?: number;
  /**
   * Steps allowed below the floor before stopping (default 0). Retraining
   * often wins back a dip, so a few more steps can still end above the floor;
   * the result is the smallest model that met it either way.
   */
  patience?: number;
  /**
   * When the floor stops the run, go back to the kept model and go on with
   * half the step (maps or fraction), until a step of one channel per layer
   * fails: big steps early, fine ones near the limit.
   */
  backtrack?: boolean;
  /** Stop once parameters / MACs shrank by at least this factor. */
  targetParamsX?: number;
  targetMacsX?: number;
  /** Stop after this many steps. */
  maxSteps?: number;
  /** Batches the data-driven criteria read per scoring (default 10). */
  scoreBatches?: number;
  seed?: number;
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

/** Scores re-keyed to a pruned model: each node keeps the scores of its surviving positions. */
function remap(c: Contributions, kept: ReadonlyMap<string, number[]>): Contributions {
  return new Map([...c].map(([node, v]) => [node, Float64Array.from(kept.get(node)!, (p) => v[p]!)]));
}

function validate(o: PruneOptions): void {
  criterion(o.criterion);
  const iters = o.retrainIters ?? 0;
  if (o.protocol !== 'none' && !(Number.isInteger(iters) && iters >= 1)) throw new PruneError(`protocol '${o.protocol}' retrains: retrainIters must be a positive integer, got ${o.retrainIters}`);
  if (o.minAccuracy !== undefined && !(o.minAccuracy >= 0 && o.minAccuracy <= 1)) throw new PruneError(`minAccuracy must be in [0, 1], got ${o.minAccuracy}`);
  for (const [k, v] of [['targetParamsX', o.targetParamsX], ['targetMacsX', o.targetMacsX]] as const) {
    if (v !== undefined && !(v > 1)) throw new PruneError(`${k} must be > 1, got ${v}`);
  }
  const checks = o.retrainChecks ?? 1;
  if (!(Number.isInteger(checks) && checks >= 1 && checks <= Math.max(1, iters))) throw new PruneError(`retrainChecks must be an integer from 1 to retrainIters (${iters}), got ${o.retrainChecks}`);
  if (o.patience !== undefined && !(Number.isInteger(o.patience) && o.patience >= 0)) throw new PruneError(`patience must be a non-negative integer, got ${o.patience}`);
  if (o.maxSteps !== undefined && !(Number.isInteger(o.maxSteps) && o.maxSteps >= 1)) throw new PruneError(`maxSteps must be a positive integer, got ${o.maxSteps}`);
  if (o.minAccuracy === undefined && o.targetParamsX === undefined && o.targetMacsX === undefined && o.maxSteps === undefined) {
    throw new PruneError('give a stopping rule: an accuracy floor, a parameter or MAC target, or a step count');
  }
}

export async function prune(model: Model, data: PruneData, o: PruneOptions, hooks: PruneHooks = {}): Promise<PruneResult> {
  validate(o);
  const crit = criterion(o.criterion);
  const seed = o.seed ?? 0;
  if (data.train.length === 0) throw new PruneError('the training data yielded no batches');
  const stream = new BatchStream(data.train);
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
    let onceScores: CriterionScores | null = null;
    const history: StepRecord[] = [];
    let stopReason = '';
    let below = 0;
    let amount = o.amount;
    let from = 0;
    let bestRemoved = 0;
    let bestOnce: CriterionScores | null = null;
    /** Channels the first step of the current run below the floor took from its most-pruned layer. */
    let dipSize = 0;
    /** dipSize at the last backtrack: halving must make the steps smaller (rounding may not let it). */
    let lastDip = Infinity;
    for (let step = 1; ; step++) {
      if (hooks.signal?.aborted) {
        stopReason = 'interrupted';
        break;
      }
      if (o.maxSteps !== undefined && step > o.maxSteps) {
        stopReason = `${o.maxSteps} steps done`;
        break;
      }
      const t0 = performance.now();
      const dep = step === 1 ? baseDep : new DependencyGraph(current.graph, { exclude: o.exclude });
      let scores: CriterionScores;
      if (o.protocol === 'once' && onceScores) {
        scores = onceScores;
      } else {
        const n = o.scoreBatches ?? 10;
        scores = await crit.score({ model: current, dep, seed: seed + step, batches: crit.needsData ? () => stream.take(n).epoch(0) : undefined });
        if (o.protocol === 'once') onceScores = scores;
      }
      const chosen = selectChannels(dep, scoreChannels(dep, scores, o.reduce), { ...o, amount, layers: o.layers });
      if (chosen.length === 0) {
        stopReason = 'no channel left to remove';
        break;
      }
      const perGroup = new Map<string, number>();
      for (const c of chosen) perGroup.set(dep.groupOf(c).name, (perGroup.get(dep.groupOf(c).name) ?? 0) + 1);
      const { model: next, kept } = removeChannels(current, dep, chosen);
      current.dispose();
      current = next;
      // The start-of-run scores follow the surviving positions of every node.
      if (onceScores) onceScores = { primary: remap(onceScores.primary, kept), fallback: onceScores.fallback && remap(onceScores.fallback, kept) };
      removedTotal += chosen.length;
      if (o.protocol !== 'none') await retrain(current, stream, data.eval, o, step, [...perGroup.keys()], hooks);
      const m = await measure(current, data);
      const newDep = new DependencyGraph(current.graph, { exclude: o.exclude });
      const meets = o.minAccuracy === undefined || m.accuracy >= o.minAccuracy;
      const rec: StepRecord = {
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
        meets_floor: meets,
        seconds: (performance.now() - t0) / 1000,
        channels: Object.fromEntries(newDep.groups.map((g) => [g.name, g.size])),
      };
      history.push(rec);
      hooks.onStep?.(rec);
      from = step;
      if (!meets) {
        below++;
        if (below === 1) dipSize = Math.max(...perGroup.values());
        if (below > (o.patience ?? 0)) {
          if (o.backtrack && dipSize > 1 && dipSize < lastDip) {
            lastDip = dipSize;
            // Back to the kept model, with half the step.
            amount = 'maps' in amount ? { maps: Math.max(1, Math.floor(amount.maps / 2)) } : { fraction: amount.fraction / 2 };
            current.dispose();
            current = best.clone();
            removedTotal = bestRemoved;
            onceScores = bestOnce;
            from = bestStep;
            below = 0;
            continue;
          }
          const tried = below > 1 ? ` for ${below} steps in a row` : '';
          stopReason = `accuracy ${(m.accuracy * 100).toFixed(2)} % fell below the floor ${(o.minAccuracy! * 100).toFixed(2)} %${tried}${o.backtrack ? ' with the smallest step' : ''}`;
          break;
        }
        continue;
      }
      below = 0;
      best.dispose();
      best = current.clone();
      bestStep = step;
      bestRemoved = removedTotal;
      bestOnce = onceScores;
      hooks.onKept?.(step, best, rec);
      if (o.targetParamsX !== undefined && rec.params_x >= o.targetParamsX) {
        stopReason = `parameter target ${o.targetParamsX}x reached`;
        break;
      }
      if (o.targetMacsX !== undefined && rec.macs_x >= o.targetMacsX) {
        stopReason = `MAC target ${o.targetMacsX}x reached`;
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

async function retrain(model: Model, stream: BatchStream, evalSource: BatchSource, o: PruneOptions, step: number, groups: string[], hooks: PruneHooks): Promise<void> {
  let params = model.parameters();
  if (o.protocol === 'layer-retrain') {
    // Only the layers that just lost channels (their convs / linears and the BatchNorms on their channels).
    const touched = new Set(groups.flatMap((g) => g.split('+')));
    const nodes = new Set<string>();
    for (const n of model.graph.nodes) {
      const own = touched.has(n.name) || (n.kind.startsWith('batchnorm') && touched.has(n.inputs[0]!));
      if (own) nodes.add(n.name);
    }
    params = model.namedParameters().filter(([k]) => nodes.has(k.slice(0, k.lastIndexOf('.')))).map(([, t]) => t);
    if (params.length === 0) throw new PruneError(`layer-retrain: no parameters found for ${groups.join(', ')}`);
  }
  const iters = o.retrainIters!;
  const checks = o.retrainChecks ?? 1;
  let done = 0;
  const trainer = new Trainer({
    model,
    optimizer: new Adam(params, { lr: o.lr ?? 1e-4 }),
    callbacks: [
      {
        onStepEnd: (info) => {
          hooks.onRetrain?.(step, ++done, iters, info.loss);
          return hooks.signal?.aborted ? 'stop' : undefined;
        },
      },
    ],
  });
  if (checks === 1) {
    await trainer.fit(stream.take(iters), { epochs: 1 });
  } else {
    // `checks` chunks of the iterations, an evaluation after each; the best one's weights are put back.
    // The last chunk takes the remainder, so exactly `iters` iterations run.
    const chunk = Math.floor(iters / checks);
    const best = new EarlyStopping({ monitor: 'val.accuracy', mode: 'max', patience: checks + 1, restoreBest: true });
    try {
      for (let c = 0; c < checks && !hooks.signal?.aborted; c++) {
        await trainer.fit(stream.take(c === checks - 1 ? iters - chunk * c : chunk), { epochs: c + 1, validation: evalSource, earlyStopping: best });
      }
      best.restore(model);
    } finally {
      best.dispose();
    }
  }
  // Gradients of the frozen layers were computed too (layer-retrain): drop them all.
  for (const p of model.parameters()) p.grad = null;
}
