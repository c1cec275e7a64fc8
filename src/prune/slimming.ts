// Network slimming (Liu et al. 2017; seed 004): train with an L1 penalty
// λ·Σ|γ| on every BatchNorm scale so that unimportant channels get γ ≈ 0,
// watch the share of near-zero γ, then remove a share of the channels by one
// global threshold on |γ| and fine-tune the smaller network.
//
// The penalty is an ordinary loss term: autograd differentiates |γ| to
// sign(γ) (0 at γ = 0), exactly the sub-gradient the original code adds to
// the BatchNorm weights' gradients by hand. Pruning reuses the engine: the
// 'bn' criterion scores channels by |γ| (a channel shared by several
// BatchNorms, as in a residual stage, gets the mean of its |γ|), a global
// ranking without normalisation is the global γ threshold, and physical
// removal keeps residual / concat / depthwise couplings consistent.
import { hasTrait, type Graph, type GraphNode, type Model } from '../graph/index.js';
import { noGrad, type Tensor } from '../tensor/index.js';
import type { LossTerm } from '../train/index.js';
import { criterion, scoreChannels } from './criteria.js';
import { DependencyGraph, PruneError } from './dependency.js';
import { removeChannels } from './remove.js';
import { selectChannels } from './select.js';

/** A λ as run directories, logs and plots name it: 0 -> '0', 1e-4 -> '1e-4', 0.5 -> '0.5'. */
export function lambdaLabel(l: number): string {
  if (l === 0) return '0';
  return l >= 0.1 && l < 1000 ? String(l) : l.toExponential().replace('e+', 'e');
}

/** BatchNorm nodes of a graph, in graph order. */
export function batchNormNodes(graph: Graph): GraphNode[] {
  return graph.nodes.filter((n) => hasTrait(n, 'norm'));
}

export function hasBatchNorm(graph: Graph): boolean {
  return batchNormNodes(graph).length > 0;
}

function bnWeights(model: Model): Tensor[] {
  const nodes = batchNormNodes(model.graph);
  if (nodes.length === 0) throw new PruneError(`network slimming needs BatchNorm layers; '${model.graph.name}' has none`);
  return nodes.map((n) => model.nodeTensors(n).weight!);
}

/**
 * The sparsity penalty λ·Σ|γ| over every BatchNorm scale of the model, as a
 * Trainer loss term named 'bn_l1'. Its gradient on γ is λ·sign(γ).
 */
export function bnL1Term(lambda: number): LossTerm {
  if (!(Number.isFinite(lambda) && lambda >= 0)) throw new PruneError(`the sparsity penalty λ must be a finite number >= 0, got ${lambda}`);
  return {
    name: 'bn_l1',
    fn: ({ model }) => {
      const [first, ...rest] = bnWeights(model);
      let s = first!.abs().sum();
      for (const w of rest) s = s.add(w.abs().sum());
      return s.mul(lambda);
    },
  };
}

/** |γ| of every BatchNorm channel of the model, layer after layer in graph order. */
export function bnGammas(model: Model): Float32Array {
  const parts = noGrad(() => bnWeights(model).map((w) => w.data<'float32'>()));
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) for (const v of p) out[o++] = Math.abs(v);
  return out;
}

/** Share (0..1) of the BatchNorm scales with |γ| strictly below `threshold`. */
export function sparsity(model: Model, threshold: number): number {
  if (!(Number.isFinite(threshold) && threshold > 0)) throw new PruneError(`the sparsity threshold must be a number > 0, got ${threshold}`);
  const g = bnGammas(model);
  let below = 0;
  for (const v of g) if (v < threshold) below++;
  return below / g.length;
}

export interface SlimPruneOptions {
  /** Channels every layer (group) keeps at least (default 1). */
  minChannels?: number;
  /** Keep channel counts at multiples of this (default 1). */
  roundTo?: number;
}

/** One prunable group's channel count before and after pruning. */
export interface ChannelConfig {
  /** Group name: its source layers joined with '+' (one name for a residual stage). */
  name: string;
  before: number;
  after: number;
  /** Whether every channel of the group is scaled by a BatchNorm (only these are pruned). */
  slimmable: boolean;
}

export interface SlimPruneResult {
  /** The smaller model (owned by the caller; the input model is untouched). */
  model: Model;
  /** Kept output-channel positions of every node, in the old numbering. */
  kept: Map<string, number[]>;
  /**
   * Channels removed and considered. A channel is counted once even when
   * several layers share it (a residual stage's convs and BatchNorms).
   */
  removed: number;
  total: number;
  /** removed / total. */
  share: number;
  /** The largest |γ| score among the removed channels (the effective global threshold; NaN if none). */
  threshold: number;
  /** Every prunable group, in graph order. */
  channels: ChannelConfig[];
}

/**
 * Removes `share` (0 ≤ share < 1) of the BatchNorm-scaled channels with the
 * smallest |γ|, ranked globally over all layers. Channels coupled across
 * layers are one channel with the mean |γ| of their BatchNorms. Groups
 * keep at least `minChannels`, so fewer may go than asked (see `share`).
 */
export async function slimPrune(model: Model, share: number, o: SlimPruneOptions = {}): Promise<SlimPruneResult> {
  if (!(Number.isFinite(share) && share >= 0 && share < 1)) throw new PruneError(`the share of channels to prune must be in [0, 1), got ${share}`);
  const dep = new DependencyGraph(model.graph);
  const scores = await criterion('bn').score({ model, dep, seed: 0 });
  // Channels some BatchNorm scales; groups made only of those are slimmable.
  const scaled = new Set<number>();
  for (const [node, values] of scores.primary) {
    for (let p = 0; p < values.length; p++) {
      const c = dep.classAt(node, p);
      if (c >= 0) scaled.add(c);
    }
  }
  const slimmable = dep.groups.filter((g) => g.channels.length > 0 && g.channels.every((c) => scaled.has(c)));
  if (slimmable.length === 0) throw new PruneError(`'${model.graph.name}' has no prunable channels scaled by a BatchNorm`);
  const total = slimmable.reduce((a, g) => a + g.channels.length, 0);
  const want = Math.round(share * total);
  let chosen: number[] = [];
  let threshold = NaN;
  if (want > 0) {
    const byClass = scoreChannels(dep, scores, 'mean');
    chosen = selectChannels(dep, byClass, {
      scope: 'global',
      norm: 'none',
      amount: { maps: want },
      layers: slimmable.map((g) => g.name),
      minChannels: o.minChannels ?? 1,
      roundTo: o.roundTo ?? 1,
    });
    if (chosen.length) threshold = Math.max(...chosen.map((c) => byClass.get(c)!));
  }
  const { model: pruned, kept } = removeChannels(model, dep, chosen);
  const after = new Map(new DependencyGraph(pruned.graph).groups.map((g) => [g.name, g.size]));
  const isSlim = new Set(slimmable);
  const channels = dep.groups.map((g) => ({
    name: g.name,
    before: g.size,
    // A group whose channels all went would not exist any more; removal forbids that, kept[] is the fallback.
    after: after.get(g.name) ?? kept.get(g.sources[0]!)!.length,
    slimmable: isSlim.has(g),
  }));
  return { model: pruned, kept, removed: chosen.length, total, share: chosen.length / total, threshold, channels };
}
