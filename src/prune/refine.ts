// MAC refinement, after the loop and the grid step. The loop judges each
// step after a short retraining (100 iterations), so it stops where a short
// retraining no longer recovers; a long one (the grid step's 2,000) wins
// back some accuracy. This phase spends that on the convolutions, where the
// time goes: each step cuts the group whose channel costs the most MACs
// (channelCosts), retrains long, and is kept only if it meets the floor.
// A failed cut is retried with half as many channels; a group whose single
// channel (or, above one block of the grid, whose next block) cannot go is
// left alone. On LeNet the loop leaves conv1 at 13-16 maps, and every one of
// them is a 25-tap filter read by all of conv2: conv1 is where the MACs are.
import type { Model } from '../graph/index.js';
import { channelCosts } from './cost.js';
import { DependencyGraph } from './dependency.js';
import { snapToGrid, type SnapOptions, type SnapResult } from './snap.js';
import type { PruneData, PruneHooks, PruneOptions, StepRecord } from './protocol.js';

export interface RefineOptions extends SnapOptions {
  /** Groups the refinement may cut (the convolutions: gridGroups). */
  groups: ReadonlySet<string>;
  /** Channel grid (1: none): a group above one block moves a whole block at a time, so it stays on the grid. */
  to: number;
  /** Steps at most (kept or not). */
  steps: number;
}

export interface RefineAttempt {
  record: StepRecord;
  kept: boolean;
}

export interface RefineResult {
  /** The smallest refined model that met the floor (owned by the caller), or null when no step was kept. */
  model: Model | null;
  attempts: RefineAttempt[];
}

/** One refinement step: `model` down to `target`, retrained; the model only if it met the floor. */
export type CutStep = (model: Model, target: Record<string, number>) => Promise<SnapResult>;

export async function refineMacs(model: Model, data: PruneData, base: PruneOptions, o: RefineOptions, hooks: PruneHooks = {}, cut?: CutStep): Promise<RefineResult> {
  const step: CutStep = cut ?? ((m, target) => snapToGrid(m, target, data, base, o, hooks));
  const minChannels = base.minChannels ?? 1;
  const attempts: RefineAttempt[] = [];
  const done = new Set<string>();
  const cutSize = new Map<string, number>();
  let best: Model | null = null;
  try {
    for (let s = 0; s < o.steps && !hooks.signal?.aborted; s++) {
      const current = best ?? model;
      const dep = new DependencyGraph(current.graph, { exclude: base.exclude });
      const costs = channelCosts(dep);
      const open = dep.groups.filter((g) => o.groups.has(g.name) && !done.has(g.name) && g.size > minChannels && g.channels.length > 0);
      if (open.length === 0) break;
      const g = open.reduce((a, b) => (costs.get(b.name)! > costs.get(a.name)! ? b : a));
      const blockStep = o.to > 1 && g.size > o.to;
      const k = blockStep ? g.size - (Math.ceil(g.size / o.to) - 1) * o.to : Math.min(cutSize.get(g.name) ?? Math.max(1, Math.floor(g.size / 4)), g.size - minChannels, g.channels.length);
      const r = await step(current, { [g.name]: g.size - k });
      if (!r.record) break;
      attempts.push({ record: r.record, kept: r.model !== null });
      if (r.model) {
        best?.dispose();
        best = r.model;
      } else if (blockStep || k === 1) {
        done.add(g.name);
      } else {
        cutSize.set(g.name, Math.floor(k / 2));
      }
    }
    const result = { model: best, attempts };
    best = null;
    return result;
  } finally {
    best?.dispose();
  }
}
