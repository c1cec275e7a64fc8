// One experiment of the grid: prune() from the base model with the
// experiment's criterion, scope, normalisation and protocol for a fixed
// number of steps, recording accuracy against the share of the scope's maps
// removed. prune()'s own share_removed counts every removable channel of the
// network, which for one layer alone would stay near 0 (conv1 is 32 of 1,120
// maps); the curve's x axis is the share of the pruned scope instead.
import type { Model } from '../graph/index.js';
import { DependencyGraph, prune, type PruneData, type StepRecord } from '../prune/index.js';
import { GLOBAL, type Experiment } from './grid.js';

export interface CurvePoint {
  /** 0 for the base model. */
  step: number;
  /** Share of the scope's maps removed (the x axis), 0..1. */
  share: number;
  /** Accuracy and balanced accuracy on the curve's split (the validation split, else the test split). */
  accuracy: number;
  balancedAccuracy: number;
  params: number;
  macs: number;
  /** The base model's params / this model's (1 at step 0), and the same for MACs. */
  paramsReduction: number;
  macsReduction: number;
  /** Seconds the step took (scoring, removal, retraining, evaluation). */
  seconds: number;
  /** Remaining maps per layer (group). */
  channels: Record<string, number>;
}

export interface Curve {
  experiment: Experiment;
  /** Point 0 is the base model; one point per step after it. */
  points: CurvePoint[];
  /** False when the run was interrupted before its last step. */
  complete: boolean;
  stopReason: string;
  seconds: number;
}

export interface CurveOptions {
  /** Adam learning rate of retraining. */
  lr: number;
  /** Batches a data-driven criterion reads per scoring. */
  scoreBatches: number;
  minChannels: number;
  seed: number;
}

export interface CurveHooks {
  onRetrain?(step: number, iteration: number, iterations: number, loss: number): void;
  onStep?(point: CurvePoint, record: StepRecord): void;
  /** Aborting stops the work after the current step / iteration (Ctrl-C). */
  signal?: AbortSignal;
}

/** Channel counts of the base model's prunable groups. */
export function baseChannels(model: Model): Map<string, number> {
  return new Map(new DependencyGraph(model.graph).groups.map((g) => [g.name, g.size]));
}

/** The groups a scope covers: every group for GLOBAL, else the one group holding that layer. */
export function scopeGroups(base: ReadonlyMap<string, number>, scope: string): string[] {
  if (scope === GLOBAL) return [...base.keys()];
  const g = [...base.keys()].find((name) => name === scope || name.split('+').includes(scope));
  if (!g) throw new RangeError(`no prunable layer '${scope}' (prunable: ${[...base.keys()].join(', ')})`);
  return [g];
}

/** Share of the scope's maps removed, given the remaining maps per group. */
export function scopeShare(channels: Readonly<Record<string, number>>, base: ReadonlyMap<string, number>, scope: string): number {
  const groups = scopeGroups(base, scope);
  const total = groups.reduce((a, g) => a + base.get(g)!, 0);
  const left = groups.reduce((a, g) => a + (channels[g] ?? base.get(g)!), 0);
  return (total - left) / total;
}

export async function runCurve(base: Model, data: PruneData, e: Experiment, o: CurveOptions, hooks: CurveHooks = {}): Promise<Curve> {
  const t0 = performance.now();
  const sizes = baseChannels(base);
  const points: CurvePoint[] = [];
  const result = await prune(
    base,
    data,
    {
      criterion: e.criterion,
      scope: e.scope === GLOBAL ? 'global' : 'layer',
      norm: e.norm,
      amount: { maps: e.mapsPerStep },
      layers: e.scope === GLOBAL ? undefined : [e.scope],
      minChannels: o.minChannels,
      protocol: e.protocol,
      retrainIters: e.protocol === 'none' ? undefined : e.retrainIters,
      lr: o.lr,
      maxSteps: e.maxSteps,
      scoreBatches: o.scoreBatches,
      seed: o.seed,
    },
    {
      onRetrain: hooks.onRetrain,
      signal: hooks.signal,
      onStep: (r) => {
        const p: CurvePoint = {
          step: r.step,
          share: scopeShare(r.channels, sizes, e.scope),
          accuracy: r.accuracy,
          balancedAccuracy: r.balanced_accuracy,
          params: r.params,
          macs: r.macs,
          paramsReduction: r.params_x,
          macsReduction: r.macs_x,
          seconds: r.seconds,
          channels: r.channels,
        };
        points.push(p);
        hooks.onStep?.(p, r);
      },
    },
  );
  result.best.dispose();
  const b = result.base;
  points.unshift({ step: 0, share: 0, accuracy: b.accuracy, balancedAccuracy: b.balanced_accuracy, params: b.params, macs: b.macs, paramsReduction: 1, macsReduction: 1, seconds: 0, channels: Object.fromEntries(sizes) });
  return { experiment: e, points, complete: result.stopReason !== 'interrupted', stopReason: result.stopReason, seconds: (performance.now() - t0) / 1000 };
}
