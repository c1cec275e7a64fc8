// TransTailor's scaling factors α (Liu et al., AAAI 2021): one learnable
// multiplier per prunable channel, trained with every weight frozen, turned
// into the importance β = |α · ∂L/∂α|, and finally folded into the weights so
// that the exported model has no trace of it.
//
// Where α sits. The paper puts α on each filter's output. Here a "filter" is
// a channel of a *dependency group* (dependency.ts): the channels that are
// removed together. For a plain layer that is one conv / linear; for a
// residual stage it is every conv whose output is joined by the adds (the
// stage's first conv or projection and each block's last conv). α goes on
// the output of each source of the group, after the source's BatchNorm when
// the source feeds exactly one affine norm (else right after the source), as
// a channel_scale node named `${site}_alpha`. That is the point where
// removing the channel acts: α = 0 at every source is exactly the group
// channel removed (the adds sum zeros, the ReLUs pass zeros), and each such
// site folds exactly: α·(γ x̂ + b) = (αγ) x̂ + αb for a norm, α·(W x + b) =
// (αW) x + αb for a conv / linear. Placing α after the add instead would
// scale only what the next layers read, not the channel inside the stage, and
// could not be folded into one producer.
//
// One α per group channel. A group with several sources has one node per
// source, holding the same values: α is shared (tied). Its gradient is the
// sum of the nodes' gradients (the chain rule for a shared parameter), which
// trainAlpha hands to every node, so the nodes stay equal, and
// alphaImportance uses the sum. A channel in a depthwise group (a conv and
// the depthwise conv reading it) is scaled at the conv, i.e. at the filter,
// as the paper defines it.
import { GraphError, Graph, Model, conv2dGeometry, convTranspose2dGeometry, hasTrait, type GraphNode } from '../../graph/index.js';
import { F, noGrad, tensor, tidy, type Tensor } from '../../tensor/index.js';
import { buildOptimizer, type Batch, type BatchSource, type LossFn, type OptimizerType } from '../../train/index.js';
import { UsageError } from '../../util/errors.js';
import { mulberry32 } from '../../util/rng.js';
import type { Contributions } from '../criteria.js';
import { DependencyGraph, PruneError } from '../dependency.js';

/** The α of one dependency group. */
export interface AlphaGroup {
  /** The dependency group's name (its sources joined with '+'), as DependencyGraph names it. */
  readonly group: string;
  /** The group's first channel_scale node: its positions are the group's channels (every node of the group holds the same α). */
  readonly node: string;
  /** Every channel_scale node of the group, one per source, in graph order (one for a plain layer). */
  readonly nodes: readonly string[];
  /** α values in the group when attached (its channel count then; read the graph after pruning). */
  readonly channels: number;
}

export interface AttachAlphaOptions {
  /** 'ones' (default): the identity, the model computes exactly what it did. 'random': uniform in [0, 1), the form the seed's report found to destroy the model. */
  init?: 'ones' | 'random';
  /** Seed of the random initialisation (default 0); one draw per group, shared by its nodes. */
  seed?: number;
}

export interface AlphaModel {
  /** A derived model (the input is untouched) with the channel_scale nodes. */
  model: Model;
  alphas: AlphaGroup[];
}

/** Where a source's α goes and what it folds into. */
function siteOf(graph: Graph, source: string): string {
  const consumers = graph.consumers(source);
  if (consumers.length === 1 && !graph.outputs.includes(source)) {
    const next = graph.node(consumers[0]!);
    const params = graph.tensorSpecs(next).params;
    if (hasTrait(next, 'norm') && params.weight && params.bias) return next.name;
  }
  return source;
}

/**
 * Attaches one α per channel of every dependency group (see the file's
 * head for where). The model keeps its mode and frozen parameters.
 */
export function attachAlpha(model: Model, o: AttachAlphaOptions = {}): AlphaModel {
  const init = o.init ?? 'ones';
  if (init !== 'ones' && init !== 'random') throw new UsageError(`alpha init must be 'ones' or 'random', got '${String(init)}'`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new UsageError(`alpha seed must be an integer, got ${seed}`);
  const dep = new DependencyGraph(model.graph);
  if (dep.groups.length === 0) throw new PruneError(`model '${model.graph.name}' has no prunable channel group to attach α to`);
  let graph = model.graph;
  const alphas: AlphaGroup[] = [];
  for (const g of dep.groups) {
    const first = g.sources[0]!;
    const n = model.graph.shape(first)[0]!;
    for (const s of g.sources) {
      // Sharing one α by position needs the sources to line up channel for channel (residual adds do).
      const aligned = model.graph.shape(s)[0] === n && Array.from({ length: n }, (_, p) => dep.classAt(s, p) === dep.classAt(first, p)).every(Boolean);
      if (!aligned) throw new PruneError(`cannot share one α across group '${g.name}': '${s}' does not line up channel for channel with '${first}'`);
    }
    const nodes = g.sources.map((s) => {
      const site = siteOf(model.graph, s);
      const name = `${site}_alpha`;
      graph = insertAfterNode(graph, site, name);
      return name;
    });
    alphas.push({ group: g.name, node: nodes[0]!, nodes, channels: n });
  }
  const out = model.derive(graph);
  if (init === 'random') {
    noGrad(() => {
      for (const a of alphas) {
        const rand = mulberry32(seed * 7919 + alphas.indexOf(a));
        const values = Float32Array.from({ length: a.channels }, () => rand());
        const t = tensor(values, [a.channels]);
        for (const n of a.nodes) out.tensor(`${n}.weight`).copy_(t);
        t.dispose();
      }
    });
  }
  return { model: out, alphas };
}

function insertAfterNode(graph: Graph, after: string, name: string): Graph {
  if (graph.has(name)) throw new GraphError(`cannot attach α after '${after}': a node '${name}' exists (is α attached already?)`, name);
  const nodes: GraphNode[] = [];
  for (const n of graph.nodes) {
    nodes.push(n.inputs.includes(after) ? { ...n, inputs: n.inputs.map((i) => (i === after ? name : i)) } : n);
    if (n.name === after) nodes.push({ name, kind: 'channel_scale', inputs: [after], attrs: { features: graph.shape(after)[0]! } });
  }
  return new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((x) => (x === after ? name : x)) });
}

const alphaKeys = (alphas: readonly AlphaGroup[]): string[] => alphas.flatMap((a) => a.nodes.map((n) => `${n}.weight`));

/**
 * Runs `fn` with only the α parameters trainable: every other parameter is
 * frozen (requiresGrad off, so backward computes no gradient for it), then
 * the model's own frozen set is restored.
 */
async function withOnlyAlpha<T>(model: Model, alphas: readonly AlphaGroup[], fn: () => Promise<T>): Promise<T> {
  const keys = new Set(alphaKeys(alphas));
  for (const k of keys) model.tensor(k);
  const before = new Set(model.frozenKeys());
  const frozenNow = model.freeze((k) => !keys.has(k) && !before.has(k));
  const thawed = model.unfreeze((k) => keys.has(k) && before.has(k));
  try {
    return await fn();
  } finally {
    for (const k of keys) model.tensor(k).grad = null;
    if (frozenNow.length) model.unfreeze(frozenNow);
    if (thawed.length) model.freeze(thawed);
  }
}

/** Each group's ∂L/∂α (the sum over its tied nodes), as a new tensor; null where no gradient reached it. */
function groupGrad(model: Model, a: AlphaGroup): Tensor | null {
  let sum: Tensor | null = null;
  for (const n of a.nodes) {
    const g = model.tensor(`${n}.weight`).grad;
    if (!g) continue;
    sum = sum ? sum.add(g) : g;
  }
  return sum;
}

const crossEntropy: LossFn = (logits, y) => F.crossEntropy(logits, y);

export interface TrainAlphaOptions {
  /** Optimizer updates (the batches are cycled, epoch after epoch, until done). */
  iters: number;
  lr: number;
  /** Default 'sgd'. */
  optimizer?: OptimizerType;
  /** SGD momentum (default 0). */
  momentum?: number;
  /** Default cross-entropy of (logits, labels). */
  loss?: LossFn;
  /** Aborting stops after the current update. */
  signal?: AbortSignal;
  /** After each update: its number (1-based) and loss. */
  onUpdate?(update: number, loss: number): void;
}

export interface TrainAlphaResult {
  /** Updates done. */
  iters: number;
  /** Mean training loss of the last up-to-10 updates (NaN when none ran). */
  loss: number;
  interrupted: boolean;
}

/**
 * Trains only the α (weights frozen, no gradient computed for them), in eval
 * mode: BatchNorm uses and keeps its running statistics and dropout is off,
 * so nothing but α changes. That is also why this is a short loop and not
 * the Trainer: the Trainer always trains in train mode, which would move
 * every BatchNorm's running statistics (a weight change by another name).
 * Tied nodes get their group's summed gradient, so they stay equal.
 */
export async function trainAlpha(model: Model, alphas: readonly AlphaGroup[], batches: BatchSource, o: TrainAlphaOptions): Promise<TrainAlphaResult> {
  if (!(Number.isInteger(o.iters) && o.iters >= 0)) throw new UsageError(`alpha training iters must be an integer >= 0, got ${o.iters}`);
  if (batches.length === 0 && o.iters > 0) throw new PruneError('alpha training: the data yields no batches');
  const loss = o.loss ?? crossEntropy;
  const params = alphaKeys(alphas).map((k) => model.tensor(k));
  const opt = buildOptimizer(params, { type: o.optimizer ?? 'sgd', lr: o.lr, ...(o.momentum !== undefined ? { momentum: o.momentum } : {}) });
  const recent: number[] = [];
  let done = 0;
  try {
    await withOnlyAlpha(model, alphas, async () => {
      for (let epoch = 0; done < o.iters && !o.signal?.aborted; epoch++) {
        const atStart = done;
        for await (const batch of batches.epoch(epoch)) {
          if (done >= o.iters || o.signal?.aborted) {
            batch.x.dispose();
            batch.y.dispose();
            break;
          }
          try {
            const value = tidy(() => alphaStep(model, alphas, batch, loss, opt, done));
            recent.push(value);
            if (recent.length > 10) recent.shift();
            done++;
            o.onUpdate?.(done, value);
          } finally {
            batch.x.dispose();
            batch.y.dispose();
          }
        }
        if (done === atStart && !o.signal?.aborted) throw new PruneError(`alpha training: epoch ${epoch} of the data yielded no batches`);
      }
    });
  } finally {
    opt.dispose();
  }
  return { iters: done, loss: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN, interrupted: done < o.iters };
}

function alphaStep(model: Model, alphas: readonly AlphaGroup[], batch: Batch, loss: LossFn, opt: { zeroGrad(): void; step(): void }, step: number): number {
  opt.zeroGrad();
  const logits = model.forward(batch.x, { training: false });
  const l = loss(logits, batch.y, { model, x: batch.x, y: batch.y, logits, step, epoch: 0 });
  const value = l.item();
  if (!Number.isFinite(value)) throw new PruneError(`alpha training: the loss is ${value} at update ${step + 1}`);
  l.backward();
  for (const a of alphas) {
    if (a.nodes.length < 2) continue;
    const g = groupGrad(model, a);
    if (g) for (const n of a.nodes) model.tensor(`${n}.weight`).grad = g.clone();
  }
  opt.step();
  return value;
}

/** One group's importance: β over its channels (the positions of AlphaGroup.node). */
export interface AlphaImportance {
  group: string;
  beta: Float32Array;
}

/**
 * β = |α · ∂L/∂α| per group channel, with L the mean loss over every sample
 * of `batches` (each batch's mean loss weighted by its size), in eval mode,
 * with the weights frozen (only α's gradient is computed). A tied group's
 * ∂L/∂α is the sum over its nodes.
 */
export async function alphaImportance(model: Model, alphas: readonly AlphaGroup[], batches: BatchSource | (() => AsyncIterable<Batch>), o: { loss?: LossFn } = {}): Promise<AlphaImportance[]> {
  const loss = o.loss ?? crossEntropy;
  const iterate = typeof batches === 'function' ? batches : () => batches.epoch(0);
  return withOnlyAlpha(model, alphas, async () => {
    let samples = 0;
    for await (const batch of iterate()) {
      try {
        const n = batch.x.size(0);
        tidy(() => {
          const logits = model.forward(batch.x, { training: false });
          // Gradients accumulate over batches; weighting by n makes the sum that of the per-sample losses.
          loss(logits, batch.y, { model, x: batch.x, y: batch.y, logits, step: 0, epoch: 0 }).mul(n).backward();
        });
        samples += n;
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
    }
    if (samples === 0) throw new PruneError('alpha importance: the data yielded no batches');
    return alphas.map((a) =>
      tidy(() => {
        const g = groupGrad(model, a);
        if (!g) throw new PruneError(`alpha importance: no gradient reached the α of '${a.group}' (is it connected to the loss?)`);
        const alpha = model.tensor(`${a.node}.weight`);
        const beta = noGrad(() => alpha.mul(g).div(samples).abs());
        return { group: a.group, beta: Float32Array.from(beta.data<'float32'>()) };
      }),
    );
  });
}

/**
 * β as criterion contributions on the α-model's graph (keyed by each group's
 * first α node), for scoreChannels / selectChannels on a DependencyGraph of
 * that model.
 */
export function alphaContributions(alphas: readonly AlphaGroup[], importance: readonly AlphaImportance[]): Contributions {
  const byGroup = new Map(importance.map((i) => [i.group, i.beta]));
  return new Map(
    alphas.map((a) => {
      const beta = byGroup.get(a.group);
      if (!beta) throw new PruneError(`no importance for the α of group '${a.group}'`);
      return [a.node, Float64Array.from(beta)];
    }),
  );
}

/** The current α values of each group (its first node's). */
export function alphaValues(model: Model, alphas: readonly AlphaGroup[]): Float32Array[] {
  return alphas.map((a) => Float32Array.from(model.tensor(`${a.node}.weight`).data<'float32'>()));
}

/** Which weight dimension holds a node's output channels, for the kinds an α can follow; null for any other. */
function foldDims(node: GraphNode): { weight: number } | null {
  if (hasTrait(node, 'norm') || node.kind === 'linear') return { weight: 0 };
  if (node.kind === 'conv2d' && conv2dGeometry(node).groups === 1) return { weight: 0 };
  // A transposed conv's weight is [in, out / groups, kh, kw].
  if (node.kind === 'conv_transpose2d' && convTranspose2dGeometry(node).groups === 1) return { weight: 1 };
  return null;
}

/**
 * Removes every α node of `alphas`, multiplying α into what it scaled: the
 * norm's γ and β, or the conv / linear filter's weight and bias (a
 * transposed conv's weight along its output dimension). Exact in both modes.
 * Returns a new model (same mode and frozen parameters); `model` is untouched.
 */
export function foldAlpha(model: Model, alphas: readonly AlphaGroup[]): Model {
  const graph = model.graph;
  const folds: { site: string; alpha: string }[] = [];
  const rename = new Map<string, string>();
  for (const name of alphas.flatMap((a) => a.nodes)) {
    const node = graph.node(name);
    if (node.kind !== 'channel_scale') throw new PruneError(`'${name}' is a ${node.kind} node, not an α (channel_scale)`);
    const site = node.inputs[0]!;
    folds.push({ site, alpha: name });
    rename.set(name, site);
  }
  const nodes = graph.nodes.filter((n) => !rename.has(n.name)).map((n) => (n.inputs.some((i) => rename.has(i)) ? { ...n, inputs: n.inputs.map((i) => rename.get(i) ?? i) } : n));
  const folded = model.derive(new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((o) => rename.get(o) ?? o) }));
  noGrad(() => {
    for (const { site, alpha } of folds) {
      const a = model.tensor(`${alpha}.weight`);
      const node = graph.node(site);
      const t = folded.nodeTensors(node);
      const scale = (x: Tensor | undefined, dim: number) => {
        if (!x) return;
        const shape = x.shape.map((d, i) => (i === dim ? d : 1));
        tidy(() => void x.mul_(a.reshape(shape)));
      };
      const dims = foldDims(node);
      if (!dims || !t.weight) {
        folded.dispose();
        throw new PruneError(`cannot fold the α after '${site}' (${node.kind}) into its weights`);
      }
      scale(t.weight, dims.weight);
      scale(t.bias, 0);
    }
  });
  return folded;
}
