// Importance criteria, one registry. A criterion scores positions of node
// outputs ("contributions": a conv's filter norms, a ReLU's mean activation
// per channel); scoreChannels() turns them into one score per removable
// channel by combining every contribution of the channel's class (a residual
// group has several convs and ReLUs per channel). Higher means more important.
import { Capture, hasTrait, type GraphNode, type Model } from '../graph/index.js';
import { F, noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { Batch, LossFn } from '../train/index.js';
import { mulberry32 } from '../util/rng.js';
import { channelRules } from './channels.js';
import { PruneError, type DependencyGraph } from './dependency.js';

/** Per-position scores of node outputs, keyed by node name. */
export type Contributions = Map<string, Float64Array>;

export interface CriterionScores {
  /** The criterion's own measurement points. */
  primary: Contributions;
  /** Used for channels no primary point covers (e.g. a conv with no activation after it). */
  fallback?: Contributions;
}

export interface ScoreContext {
  model: Model;
  dep: DependencyGraph;
  /** Batches for data-driven criteria (the caller disposes nothing: the criterion disposes each batch). */
  batches?: () => AsyncIterable<Batch>;
  seed: number;
  /**
   * The loss whose gradient the gradient criteria (taylor) read, of the
   * model's logits and the labels; default cross-entropy. A distillation
   * loss here ranks channels by what they do for matching the teacher.
   * It gets the batch in its LossContext (model, x, y, logits; step and
   * epoch 0: scoring is not a training step).
   */
  loss?: LossFn;
}

export interface Criterion {
  readonly name: string;
  readonly description: string;
  /** Whether it reads data (activations or gradients). */
  readonly needsData: boolean;
  score(ctx: ScoreContext): Promise<CriterionScores>;
}

const criteria = new Map<string, Criterion>();

export function defineCriterion(c: Criterion): void {
  if (criteria.has(c.name)) throw new Error(`criterion '${c.name}' defined twice`);
  criteria.set(c.name, c);
}

export function criterion(name: string): Criterion {
  const c = criteria.get(name);
  if (!c) throw new PruneError(`unknown criterion '${name}' (available: ${criterionNames().join(', ')})`);
  return c;
}

export function criterionNames(): string[] {
  return [...criteria.keys()];
}

export type Reduce = 'mean' | 'sum' | 'max';
export const REDUCES: readonly Reduce[] = ['mean', 'sum', 'max'];

/** One score per removable channel class, combining every contribution of the class with `reduce`. */
export function scoreChannels(dep: DependencyGraph, scores: CriterionScores, reduce: Reduce = 'mean'): Map<number, number> {
  const collect = (c: Contributions): Map<number, number[]> => {
    const byClass = new Map<number, number[]>();
    for (const [node, values] of c) {
      for (let p = 0; p < values.length; p++) {
        const cls = dep.classAt(node, p);
        if (cls < 0) continue;
        let list = byClass.get(cls);
        if (!list) byClass.set(cls, (list = []));
        list.push(values[p]!);
      }
    }
    return byClass;
  };
  const primary = collect(scores.primary);
  const fallback = scores.fallback ? collect(scores.fallback) : new Map<number, number[]>();
  const out = new Map<number, number>();
  for (const cls of dep.removable) {
    const v = primary.get(cls) ?? fallback.get(cls);
    if (!v || v.length === 0) throw new PruneError(`criterion gave no score for a channel of '${dep.groupOf(cls).name}'`);
    out.set(cls, reduce === 'sum' ? v.reduce((a, b) => a + b, 0) : reduce === 'max' ? Math.max(...v) : v.reduce((a, b) => a + b, 0) / v.length);
  }
  return out;
}

// ---- weight criteria --------------------------------------------------------------

/** Nodes whose weight has one slice per output channel. */
function filterNodes(model: Model): { node: GraphNode; dim: 0 | 1 }[] {
  return model.graph.nodes.flatMap((node) => {
    const dim = channelRules.get(node).filterDim;
    return dim === undefined ? [] : [{ node, dim }];
  });
}

function perFilter(model: Model, fn: (w: Tensor) => Tensor): Contributions {
  const out: Contributions = new Map();
  noGrad(() => {
    for (const { node, dim } of filterNodes(model)) {
      const v = tidy(() => {
        const w = model.nodeTensors(node).weight!;
        const rows = (dim === 0 ? w : w.transpose(0, 1)).contiguous();
        return fn(rows.reshape([rows.size(0), -1]));
      });
      out.set(node.name, Float64Array.from(v.data<'float32'>()));
      v.dispose();
    }
  });
  return out;
}

defineCriterion({
  name: 'l1',
  description: 'sum of |w| of each filter / neuron (Li et al. 2017; the thesis\' weight magnitude)',
  needsData: false,
  score: async ({ model }) => ({ primary: perFilter(model, (w) => w.abs().sum(1)) }),
});

defineCriterion({
  name: 'l2',
  description: 'L2 norm of each filter / neuron',
  needsData: false,
  score: async ({ model }) => ({ primary: perFilter(model, (w) => w.pow(2).sum(1).sqrt()) }),
});

defineCriterion({
  name: 'bn',
  description: '|γ| of the BatchNorm scale of each channel (network slimming, Liu et al. 2017)',
  needsData: false,
  async score({ model }) {
    const primary: Contributions = new Map();
    noGrad(() => {
      for (const node of model.graph.nodes) {
        if (!hasTrait(node, 'norm')) continue;
        primary.set(node.name, Float64Array.from(model.nodeTensors(node).weight!.data<'float32'>(), Math.abs));
      }
    });
    if (primary.size === 0) throw new PruneError(`criterion 'bn' needs BatchNorm layers; '${model.graph.name}' has none`);
    return { primary, fallback: perFilter(model, (w) => w.abs().sum(1)) };
  },
});

defineCriterion({
  name: 'random',
  description: 'uniform random scores (the reference every criterion must beat)',
  needsData: false,
  async score({ model, seed }) {
    const rnd = mulberry32(seed);
    const primary: Contributions = new Map();
    for (const { node } of filterNodes(model)) {
      const n = model.graph.shape(node.name)[0]!;
      primary.set(node.name, Float64Array.from({ length: n }, () => rnd()));
    }
    return { primary };
  },
});

// ---- data-driven criteria -----------------------------------------------------------

/**
 * Runs the batches through the model (eval mode: BatchNorm statistics are not
 * touched) and accumulates, per channel of every activation node (and of every
 * filter node, the fallback), sum(stat(output, grad)) and the sample count.
 */
async function accumulate(ctx: ScoreContext, withGrad: boolean, stat: (z: Tensor, g: Tensor | null) => Tensor): Promise<CriterionScores> {
  if (!ctx.batches) throw new PruneError('this criterion needs data: no batches were given');
  const { model } = ctx;
  const loss: LossFn = ctx.loss ?? ((logits, y) => F.crossEntropy(logits, y));
  const acts = model.graph.nodes.filter((n) => hasTrait(n, 'activation')).map((n) => n.name);
  // Capturing costs memory and (for gradients) a hook per node: read a filter
  // node only when one of its channels has no activation measuring it.
  const covered = new Set<number>();
  const classesOf = (name: string) => Array.from({ length: model.graph.shape(name)[0]! }, (_, p) => ctx.dep.classAt(name, p)).filter((c) => c >= 0);
  for (const a of acts) for (const c of classesOf(a)) covered.add(c);
  const filters = filterNodes(model)
    .map((f) => f.node.name)
    .filter((n) => classesOf(n).some((c) => !covered.has(c)));
  const names = [...new Set([...acts, ...filters])];
  const sums = new Map<string, Float64Array>(names.map((n) => [n, new Float64Array(model.graph.shape(n)[0]!)]));
  let samples = 0;
  for await (const batch of ctx.batches()) {
    const cap = new Capture(names, { grads: withGrad });
    try {
      tidy(() => {
        if (withGrad) {
          const logits = model.forward(batch.x, { training: false, hooks: cap });
          loss(logits, batch.y, { model, x: batch.x, y: batch.y, logits, step: 0, epoch: 0 }).backward();
        } else noGrad(() => model.forward(batch.x, { training: false, hooks: cap }));
        for (const n of names) {
          const z = cap.activation(n);
          const g = withGrad ? cap.gradient(n) : null;
          const v = stat(z, g).data<'float32'>();
          g?.dispose();
          const s = sums.get(n)!;
          for (let i = 0; i < s.length; i++) s[i]! += v[i]!;
        }
      });
      samples += batch.x.size(0);
    } finally {
      cap.dispose();
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  if (withGrad) for (const p of model.parameters()) p.grad = null;
  if (samples === 0) throw new PruneError('the data for scoring yielded no batches');
  const mean = (list: string[]): Contributions => new Map(list.map((n) => [n, sums.get(n)!.map((v) => v / samples)]));
  return { primary: mean(acts), fallback: mean(filters) };
}

/** Dimensions other than batch (0) and channel (1). */
const spatialDims = (t: Tensor): number[] => Array.from({ length: t.ndim - 2 }, (_, i) => i + 2);

/** Per-channel sums over the batch of a per-sample, per-channel statistic. */
function perSampleChannel(t: Tensor): Tensor {
  const s = spatialDims(t);
  return (s.length ? t.mean(s) : t).sum(0);
}

defineCriterion({
  name: 'activation',
  description: 'mean activation of each channel after the non-linearity (the thesis\' mean activation)',
  needsData: true,
  score: (ctx) => accumulate(ctx, false, (z) => perSampleChannel(z)),
});

defineCriterion({
  name: 'apoz',
  description: '1 − APoZ: share of non-zero post-ReLU activations per channel (Hu et al. 2016)',
  needsData: true,
  score: (ctx) => accumulate(ctx, false, (z) => perSampleChannel(z.gt(0).float())),
});

defineCriterion({
  name: 'taylor',
  description: 'first-order Taylor |mean over the map of dC/dz · z|, averaged over samples (Molchanov et al. 2017)',
  needsData: true,
  score: (ctx) =>
    accumulate(ctx, true, (z, g) => {
      if (!g) throw new PruneError('taylor: no gradient reached an activation (is it connected to the loss?)');
      const s = spatialDims(z);
      const prod = z.mul(g);
      return (s.length ? prod.mean(s) : prod).abs().sum(0);
    }),
});
