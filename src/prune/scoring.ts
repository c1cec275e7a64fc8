// Scoring, the first part of a pruning step: where the step's channel scores
// come from. A criterion (criteria.ts) measures one model; a scoring policy
// decides when to measure and what to carry between steps:
//   everyStep  the criterion on the current model at every step (seed + step)
//   atStart    the criterion once, on the first model; later steps reuse those
//              scores, re-keyed to the surviving channels (seed 003's "once")
// The loop tells the policy what happened to the model (channels removed, a
// model kept, a backtrack to the kept model), so a policy that carries scores
// can follow the model it scores.
import type { Model } from '../graph/index.js';
import type { BatchStream, LossFn } from '../train/index.js';
import type { Contributions, Criterion, CriterionScores } from './criteria.js';
import type { DependencyGraph } from './dependency.js';

export interface ScoringOptions {
  criterion: Criterion;
  /** Batches a data-driven criterion reads per scoring (default 10), taken from the loop's training stream. */
  scoreBatches?: number;
  /** The loss the gradient criteria differentiate (default cross-entropy). */
  loss?: LossFn;
  /** Base seed; step `s` scores with seed + s (the random criterion's draws). */
  seed: number;
}

export interface ScoreRequest {
  model: Model;
  /** Dependency groups of `model`. */
  dep: DependencyGraph;
  /** The loop's step (1-based). */
  step: number;
}

export interface Scoring {
  score(r: ScoreRequest): Promise<CriterionScores>;
  /** The model lost channels: `kept` holds each node's surviving output positions (old numbering). */
  removed(kept: ReadonlyMap<string, number[]>): void;
  /** The model after the last removal met the floor and was kept. */
  kept(): void;
  /** The loop went back to the kept model. */
  backtracked(): void;
}

/** Builds a scoring policy for one pruning run over the loop's training stream. */
export type ScoringFactory = (o: ScoringOptions, stream: BatchStream) => Scoring;

/** Runs the criterion on `model` (data-driven criteria read the next batches of the stream). */
export function runCriterion(o: ScoringOptions, stream: BatchStream, r: ScoreRequest): Promise<CriterionScores> {
  const n = o.scoreBatches ?? 10;
  return o.criterion.score({
    model: r.model,
    dep: r.dep,
    seed: o.seed + r.step,
    batches: o.criterion.needsData ? () => stream.take(n).epoch(0) : undefined,
    ...(o.loss ? { loss: o.loss } : {}),
  });
}

/** The criterion at every step. */
export const everyStep: ScoringFactory = (o, stream) => ({
  score: (r) => runCriterion(o, stream, r),
  removed: () => {},
  kept: () => {},
  backtracked: () => {},
});

/** Scores re-keyed to a pruned model: each node keeps the scores of its surviving positions. */
export function remapContributions(c: Contributions, kept: ReadonlyMap<string, number[]>): Contributions {
  return new Map([...c].map(([node, v]) => [node, Float64Array.from(kept.get(node)!, (p) => v[p]!)]));
}

/**
 * The criterion once; later steps reuse its scores on the surviving channels.
 * A backtrack goes back to the scores the kept model had (none before the
 * first kept step: the criterion then runs again on the model gone back to).
 */
export const atStart: ScoringFactory = (o, stream) => {
  let held: CriterionScores | null = null;
  let atKept: CriterionScores | null = null;
  return {
    async score(r) {
      held ??= await runCriterion(o, stream, r);
      return held;
    },
    removed(kept) {
      if (held) held = { primary: remapContributions(held.primary, kept), fallback: held.fallback && remapContributions(held.fallback, kept) };
    },
    kept() {
      atKept = held;
    },
    backtracked() {
      held = atKept;
    },
  };
};
