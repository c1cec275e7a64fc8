// What follows the pruning loop, in one place for `slimnet prune` and the
// study's Table 4.1: the grid step (snap.ts), then the MAC refinement
// (refine.ts). Each keeps its model only if it meets the floor.
import type { Model } from '../graph/index.js';
import { refineMacs, type RefineResult } from './refine.js';
import { gridGroups, type SnapCandidates, type SnapSearchResult } from './snap.js';
import type { PruneData, PruneHooks, PruneOptions } from './protocol.js';

export interface FinishOptions {
  /** Channel grid of the grid step (1: no grid step). */
  snapTo: number;
  snapTries: number;
  /** Retraining iterations of every grid and refinement step. */
  iters: number;
  /** MAC refinement steps at most (0: none). */
  refineSteps: number;
}

export interface FinishHooks extends PruneHooks {
  /** A phase starts; `convs` are the groups the refinement may cut. */
  onPhase?(phase: 'snap' | 'refine', convs?: ReadonlySet<string>): void;
  /** The grid step is done (before the refinement starts). */
  onSnapped?(r: SnapSearchResult & { limits: Record<string, number> }): void;
}

export interface FinishResult {
  /** The final model (owned by the caller): the loop's, or the last one a step kept. */
  model: Model;
  snap?: SnapSearchResult & { limits: Record<string, number> };
  refine?: RefineResult;
}

/**
 * Runs the grid step from `candidates` (collected through the loop's onKept;
 * none: no grid step; freed once it is done) and then the refinement,
 * starting from `kept`, the loop's model, which this takes over: it is either
 * returned or freed.
 */
export async function finishPruning(kept: Model, candidates: SnapCandidates | undefined, data: PruneData, base: PruneOptions, o: FinishOptions, hooks: FinishHooks = {}): Promise<FinishResult> {
  let model = kept;
  const result: Omit<FinishResult, 'model'> = {};
  try {
    if (candidates && o.snapTo > 1 && !hooks.signal?.aborted) {
      hooks.onPhase?.('snap');
      result.snap = await candidates.search(o.snapTo, o.snapTries, data, base, { iters: o.iters }, hooks);
      candidates.dispose();
      hooks.onSnapped?.(result.snap);
      if (result.snap.model) {
        model.dispose();
        model = result.snap.model;
      }
    }
    if (o.refineSteps > 0 && !hooks.signal?.aborted) {
      const convs = gridGroups(model.graph, base);
      hooks.onPhase?.('refine', convs);
      result.refine = await refineMacs(model, data, base, { groups: convs, to: o.snapTo, iters: o.iters, steps: o.refineSteps }, hooks);
      if (result.refine.model) {
        model.dispose();
        model = result.refine.model;
      }
    }
    return { model, ...result };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
