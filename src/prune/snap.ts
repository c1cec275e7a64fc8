// The grid step: after the pruning loop, every layer goes down to its
// multiple of `to` channels in one retrained step. Inference engines pack
// channels in blocks (onnxruntime's CPU convolutions: 16 on AVX-512, 8 on
// AVX2); a count off the grid falls back to a slower kernel, so a model with
// fewer MACs can run slower than one on the grid. The step is kept only if
// the snapped model still meets the floor.
import type { Model } from '../graph/index.js';
import { prune, type PruneData, type PruneHooks, type PruneOptions, type StepRecord } from './protocol.js';

export interface SnapOptions {
  /** Channel multiple (e.g. 16). */
  to: number;
  /** Retraining iterations of the snap step. */
  iters: number;
}

export interface SnapResult {
  /** The snapped model (owned by the caller) when it met the floor, else null. */
  model: Model | null;
  /** The snap step, or undefined when every layer already was on the grid. */
  record?: StepRecord;
}

/** Snaps `model` (left untouched) onto the channel grid, with the loop's options for criterion, floor and data. */
export async function snapToGrid(model: Model, data: PruneData, base: PruneOptions, snap: SnapOptions, hooks: PruneHooks = {}): Promise<SnapResult> {
  const result = await prune(
    model,
    data,
    {
      ...base,
      scope: 'layer',
      norm: 'none',
      // Each layer loses at most to-1 maps: down to its own multiple, never a whole block more.
      amount: { maps: snap.to - 1 },
      roundTo: snap.to,
      protocol: 'retrain',
      retrainIters: snap.iters,
      patience: 0,
      backtrack: false,
      maxSteps: 1,
      targetParamsX: undefined,
      targetMacsX: undefined,
    },
    hooks,
  );
  const record = result.history[0];
  if (result.bestStep === 1 && record) return { model: result.best, record };
  result.best.dispose();
  return { model: null, record };
}

/** Channel counts of a kept model once on the grid: each group down to its multiple (a group under one block stays). */
export function gridTarget(channels: Readonly<Record<string, number>>, to: number): Record<string, number> {
  return Object.fromEntries(Object.entries(channels).map(([g, n]) => [g, n >= to ? Math.floor(n / to) * to : n]));
}

/**
 * Collects grid-step candidates along the loop's kept path (PruneHooks.onKept):
 * the smallest kept model for each distinct grid shape (the multiples its
 * layers go down to; a layer under one block counts as one shape), the last
 * `limit` shapes. The model nearest the floor may have no slack left for the grid
 * step, while a slightly larger one, whose grid target keeps a layer one block
 * wider, does. Owns its clones: dispose() when done.
 */
export class SnapCandidates {
  private readonly list: { step: number; key: string; model: Model }[] = [];

  constructor(
    private readonly to: number,
    private readonly limit: number,
  ) {}

  /** Pass as the loop's onKept hook. */
  readonly onKept = (step: number, model: Model, record: StepRecord): void => {
    // Layers under one block stay as they are on the grid; 13 or 14 maps there is the same grid shape.
    const key = JSON.stringify(Object.entries(gridTarget(record.channels, this.to)).map(([g, n]) => [g, n < this.to ? 0 : n]));
    const last = this.list[this.list.length - 1];
    // Same target as the previous kept model: the newer one is smaller, hence nearer the target.
    if (last && last.key === key) {
      last.model.dispose();
      this.list.pop();
    }
    this.list.push({ step, key, model: model.clone() });
    while (this.list.length > this.limit) this.list.shift()!.model.dispose();
  };

  /** Smallest first. */
  get candidates(): readonly { step: number; model: Model }[] {
    return [...this.list].reverse();
  }

  dispose(): void {
    for (const c of this.list) c.model.dispose();
    this.list.length = 0;
  }
}

export interface SnapAttempt {
  /** The kept step the attempt started from. */
  from: number;
  /** The grid step, or undefined when that model was already on the grid. */
  record?: StepRecord;
  kept: boolean;
}

export interface SnapSearchResult {
  /** The first snapped model that met the floor (owned by the caller), else null. */
  model: Model | null;
  /** Every attempt, smallest starting model first. */
  attempts: SnapAttempt[];
}

/**
 * The grid step from each candidate in turn, smallest first, until one meets
 * the floor. A candidate already on the grid is taken as it is (it met the
 * floor when the loop kept it).
 */
export async function snapSearch(candidates: readonly { step: number; model: Model }[], data: PruneData, base: PruneOptions, snap: SnapOptions, hooks: PruneHooks = {}): Promise<SnapSearchResult> {
  const attempts: SnapAttempt[] = [];
  for (const c of candidates) {
    if (hooks.shouldStop?.()) break;
    const r = await snapToGrid(c.model, data, base, snap, hooks);
    if (!r.record) {
      attempts.push({ from: c.step, kept: true });
      return { model: c.model.clone(), attempts };
    }
    attempts.push({ from: c.step, record: r.record, kept: r.model !== null });
    if (r.model) return { model: r.model, attempts };
  }
  return { model: null, attempts };
}
