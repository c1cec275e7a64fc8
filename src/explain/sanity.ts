// The model-randomisation sanity check (Adebayo et al., "Sanity Checks for
// Saliency Maps", 2018, cascading randomisation): a method whose maps do not
// change when the model's weights are destroyed explains the image, not the
// model. The parameterised layers are randomised one by one from the output
// down, cumulatively, on a copy of the model; after each, the maps are
// recomputed and compared with the original ones by Spearman's rank
// correlation (signed maps, and their absolute values as in the paper).
//
// Randomisation: each layer's parameters are re-initialised with its kind's
// default initialiser (what Model.create draws: PyTorch's reset_parameters),
// drawn once from `seed` for the whole model (this reseeds libtorch's global
// generator, as Model.create does). Buffers (batch-norm running
// statistics) are kept, as re-initialising a PyTorch module keeps them. The
// layers are every node with parameters (convolutions, linear layers and
// batch-norm affine parameters, as Quantus does) or, with `layers:
// 'weights'`, only convolutions and linear layers. The targets stay those
// given (the original model's), and every call gets the same `seed`, so only
// the weights change between the maps. The original model is not touched.
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import { hasTrait, Model } from '../graph/index.js';
import { ExplainError } from './errors.js';
import { explainer, resolveExplainParams, type Explainer } from './registry.js';
import { targetLayer } from './layer.js';
import { spearman } from './compare.js';

export interface SanityOptions {
  /** Method parameters (defaults otherwise). */
  params?: Readonly<Record<string, number>>;
  /** CAM target layer by node name; automatic otherwise (ignored by pixel methods). */
  layer?: string;
  /** Background for methods that need one (GradientSHAP). */
  background?: Tensor;
  /** Seed of the method's draws and of the re-initialisation; default 0. */
  seed?: number;
  /** Which nodes are randomised: every node with parameters (default), or only convolutions and linear layers. */
  layers?: 'all' | 'weights';
  /** Checked before each layer (throws the signal's reason). */
  signal?: AbortSignal;
}

export interface SanityStep {
  /** The node randomised at this step (all nodes of the previous steps stay randomised). */
  layer: string;
  /** Per image, Spearman's correlation of the original and the randomised map. */
  spearman: number[];
  /** The same on absolute values. */
  spearmanAbs: number[];
  meanSpearman: number;
  meanSpearmanAbs: number;
}

export interface SanityReport {
  method: string;
  /** The CAM target layer used, or null for pixel methods. */
  targetLayer: string | null;
  /** One step per randomised layer, from the output down. */
  steps: SanityStep[];
  /** Warnings of the method on the original model (e.g. an all-negative CAM). */
  warnings: string[];
}

/** The parameterised nodes of `model`, from the output down (reverse execution order). */
export function randomisationOrder(model: Model, layers: 'all' | 'weights' = 'all'): string[] {
  const withParams = new Set(Model.entries(model.graph).filter((e) => e.kind === 'param').map((e) => e.node));
  return model.graph.nodes
    .filter((n) => withParams.has(n.name) && (layers === 'all' || hasTrait(n, 'conv') || hasTrait(n, 'linear')))
    .map((n) => n.name)
    .reverse();
}

/** Cascading model randomisation of `method` on images `x` [B, C, H, W] with one target per image. */
export async function modelRandomisation(model: Model, method: Explainer | string, x: Tensor, targets: readonly number[], opts: SanityOptions = {}): Promise<SanityReport> {
  const e = typeof method === 'string' ? explainer(method) : method;
  const params = resolveExplainParams(e, opts.params);
  const seed = opts.seed ?? 0;
  if (targets.length !== x.size(0)) throw new ExplainError(`sanity check needs one target per image (${x.size(0)} images, ${targets.length} targets)`);
  if (e.needsBackground && !opts.background) throw new ExplainError(`method '${e.name}' needs a background set for the sanity check`);
  const layer = e.usesLayer ? targetLayer(model.graph, opts.layer) : '';
  const order = randomisationOrder(model, opts.layers);
  if (order.length === 0) throw new ExplainError(`${model.graph.name} has no parameterised layer to randomise`);

  const run = async (m: Model): Promise<{ maps: Float32Array[]; warnings: string[] }> => {
    const out = await e.explain({ model: m, x, targets, layer, seed, signal: opts.signal, ...(opts.background ? { background: opts.background } : {}) }, params);
    try {
      const [b] = out.maps.shape as [number];
      const data = tidy(() => out.maps.to('float32').data<'float32'>());
      const per = data.length / b;
      return { maps: Array.from({ length: b }, (_, i) => data.subarray(i * per, (i + 1) * per)), warnings: out.warnings };
    } finally {
      out.maps.dispose();
    }
  };

  const original = await run(model);
  const copy = model.clone();
  copy.training = model.training;
  const fresh = Model.create(model.graph, { seed });
  const nodeParams = Model.entries(model.graph).filter((p) => p.kind === 'param');
  try {
    const steps: SanityStep[] = [];
    for (const name of order) {
      opts.signal?.throwIfAborted();
      noGrad(() => {
        for (const p of nodeParams) if (p.node === name) copy.tensor(p.key).copy_(fresh.tensor(p.key));
      });
      const now = await run(copy);
      const s = original.maps.map((o, i) => spearman(o, now.maps[i]!));
      const sa = original.maps.map((o, i) => spearman(o.map(Math.abs), now.maps[i]!.map(Math.abs)));
      steps.push({ layer: name, spearman: s, spearmanAbs: sa, meanSpearman: mean(s), meanSpearmanAbs: mean(sa) });
    }
    return { method: e.name, targetLayer: e.usesLayer ? layer : null, steps, warnings: original.warnings };
  } finally {
    fresh.dispose();
    copy.dispose();
  }
}

function mean(v: readonly number[]): number {
  return v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length;
}
