// The grid step: after the pruning loop, the convolutions' channel counts go
// onto the inference engine's channel grid in one retrained step.
// onnxruntime's CPU convolutions pack channels in blocks (16 on AVX-512, 8 on
// AVX2); a count off the block runs as slowly as the next block up, so a model
// with fewer MACs can run no faster. Only groups a convolution makes are
// snapped: fully connected layers run as plain matrix products, and cutting
// them onto the grid would spend accuracy for no speed.
//
// The grid shape comes from the smallest model the loop kept (each blocked
// group down to its multiple; one under a block may keep up to one block).
// The step starts from that model and, if it falls under the floor, from
// larger kept models: they reach the same grid shape with more capacity left
// in the layers the grid does not touch.
import type { Graph, Model } from '../graph/index.js';
import { DependencyGraph } from './dependency.js';
import { prune, type PruneData, type PruneHooks, type PruneOptions, type StepRecord } from './protocol.js';

export interface SnapOptions {
  /** Retraining iterations of the grid step. */
  iters: number;
  /** Evaluations during that retraining; the best one's weights are kept (default 8). */
  checks?: number;
}

/**
 * Groups whose channels a convolution makes (the ones a blocked kernel
 * packs), among the prunable ones: not excluded, and within `layers` (layer
 * or group names) when given.
 */
export function gridGroups(graph: Graph, o: { exclude?: readonly string[]; layers?: readonly string[] } = {}): Set<string> {
  // One kind, not the 'conv' trait: onnxruntime's blocked (NCHWc) layout is
  // for Conv; ConvTranspose does not run blocked, so its counts gain nothing on the grid.
  const dep = new DependencyGraph(graph, { exclude: o.exclude });
  const allowed = o.layers?.length ? new Set(o.layers.map((l) => dep.group(l).name)) : undefined;
  return new Set(dep.groups.filter((g) => (!allowed || allowed.has(g.name)) && g.sources.some((s) => graph.node(s).kind === 'conv2d')).map((g) => g.name));
}

/**
 * The most channels each blocked group may keep on the grid, from the
 * smallest kept model's counts: a group at or above one block goes down to its
 * multiple of `to`, one under a block may keep one block.
 */
export function gridLimits(channels: Readonly<Record<string, number>>, grid: ReadonlySet<string>, to: number): Record<string, number> {
  return Object.fromEntries(Object.entries(channels).filter(([g]) => grid.has(g)).map(([g, n]) => [g, n >= to ? Math.floor(n / to) * to : to]));
}

/** The counts `channels` go down to under `limits`: only the groups that must lose channels. */
export function gridTarget(channels: Readonly<Record<string, number>>, limits: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(limits).filter(([g, n]) => (channels[g] ?? 0) > n));
}

export interface SnapResult {
  /** The snapped model (owned by the caller) when it met the floor, else null. */
  model: Model | null;
  /** The grid step, or undefined when the model already was on the grid. */
  record?: StepRecord;
}

/** Takes `model` (left untouched) down to `target` in one retrained step, with the loop's options for criterion, floor and data. */
export async function snapToGrid(model: Model, target: Readonly<Record<string, number>>, data: PruneData, base: PruneOptions, snap: SnapOptions, hooks: PruneHooks = {}): Promise<SnapResult> {
  if (Object.keys(target).length === 0) return { model: null };
  const result = await prune(
    model,
    data,
    {
      ...base,
      target,
      protocol: 'retrain',
      retrainIters: snap.iters,
      retrainChecks: Math.min(snap.checks ?? 8, snap.iters),
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

interface Kept {
  step: number;
  params: number;
  channels: Record<string, number>;
  model: Model;
}

export interface SnapCandidate {
  /** The kept step this model comes from. */
  step: number;
  model: Model;
  /** The counts the grid step takes it down to (empty: already on the grid). */
  target: Record<string, number>;
}

/**
 * Collects the loop's kept models (PruneHooks.onKept) and picks the grid
 * step's starting points from them once the loop is done. Holds clones of the
 * kept models within `window` times the newest one's parameters (the larger
 * ones are too far from the result to be worth a try), `max` at most; owns
 * them: dispose() when done.
 */
export class SnapCandidates {
  private readonly kept: Kept[] = [];

  constructor(
    private readonly window = 8,
    private readonly max = 64,
  ) {}

  /** Pass as the loop's onKept hook. */
  readonly onKept = (step: number, model: Model, record: StepRecord): void => {
    this.kept.push({ step, params: record.params, channels: { ...record.channels }, model: model.clone() });
    while (this.kept.length > this.max || this.kept[0]!.params > this.window * record.params) this.kept.shift()!.model.dispose();
  };

  /** The smallest kept model's channel counts, or undefined when no step was kept. */
  get smallest(): Readonly<Record<string, number>> | undefined {
    return this.kept[this.kept.length - 1]?.channels;
  }

  /**
   * Starting points for the grid step under `limits`, smallest first: the
   * smallest kept model, then larger ones whose shape after the step has at
   * least `spacing` times the channels of the previous pick (more room in the
   * groups the grid leaves alone), `tries` at most. The models stay owned here.
   */
  pick(limits: Readonly<Record<string, number>>, tries: number, spacing = 1.1): SnapCandidate[] {
    const picks: SnapCandidate[] = [];
    let last = 0;
    for (let i = this.kept.length - 1; i >= 0 && picks.length < tries; i--) {
      const k = this.kept[i]!;
      const target = gridTarget(k.channels, limits);
      const total = Object.entries(k.channels).reduce((a, [g, n]) => a + (target[g] ?? n), 0);
      if (picks.length > 0 && total < spacing * last) continue;
      picks.push({ step: k.step, model: k.model, target });
      last = total;
    }
    return picks;
  }

  /**
   * The grid step onto multiples of `to`, toward the smallest kept model's
   * grid shape (gridLimits), from the starting points pick() chooses.
   */
  async search(to: number, tries: number, data: PruneData, base: PruneOptions, snap: SnapOptions, hooks: PruneHooks = {}): Promise<SnapSearchResult & { limits: Record<string, number> }> {
    const last = this.kept[this.kept.length - 1];
    if (!last) return { model: null, attempts: [], limits: {} };
    const limits = gridLimits(last.channels, gridGroups(last.model.graph, base), to);
    return { ...(await snapSearch(this.pick(limits, tries), data, base, snap, hooks)), limits };
  }

  dispose(): void {
    for (const k of this.kept) k.model.dispose();
    this.kept.length = 0;
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
export async function snapSearch(candidates: readonly SnapCandidate[], data: PruneData, base: PruneOptions, snap: SnapOptions, hooks: PruneHooks = {}): Promise<SnapSearchResult> {
  const attempts: SnapAttempt[] = [];
  for (const c of candidates) {
    if (hooks.signal?.aborted) break;
    if (Object.keys(c.target).length === 0) {
      attempts.push({ from: c.step, kept: true });
      return { model: c.model.clone(), attempts };
    }
    const r = await snapToGrid(c.model, c.target, data, base, snap, hooks);
    attempts.push({ from: c.step, record: r.record, kept: r.model !== null });
    if (r.model) return { model: r.model, attempts };
  }
  return { model: null, attempts };
}
