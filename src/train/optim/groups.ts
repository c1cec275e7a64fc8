// Parameter groups from a model's graph: weight decay that skips BatchNorm
// and bias parameters, and learning rates by layer kind (seed 000 trains its
// fully connected layers with 10x the learning rate of its convolutions).
import { Model, hasTrait } from '../../graph/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { ParamGroupInit } from './optimizer.js';

import { LR_ALIASES, LR_FAMILIES, type ParamCategory } from './families.js';

export { LR_ALIASES, LR_FAMILIES, type ParamCategory } from './families.js';

export interface ParamInfo {
  /** State-dict key, e.g. 'conv1.weight'. */
  key: string;
  /** Graph node name and kind. */
  node: string;
  kind: string;
  /** Parameter name within the node ('weight', 'bias'). */
  name: string;
  category: ParamCategory;
  tensor: Tensor;
}

export interface ParamGroupsOptions {
  /** L2 / decoupled decay for decayed parameters (default 0). */
  weightDecay?: number;
  /** Put BatchNorm parameters (γ, β) and every bias in groups with weight decay 0. */
  noDecayOnNormAndBias?: boolean;
  /**
   * Learning rate per layer kind. Keys are exact node kinds ('conv2d',
   * 'linear', 'batchnorm2d') or the families 'conv', 'linear' (alias 'fc'),
   * 'norm' (alias 'bn'), 'other'; an exact kind wins over its family.
   * Parameters not covered keep the optimizer's default learning rate.
   */
  lrByKind?: Readonly<Record<string, number>>;
}

/** The family of a node kind, from its traits (graph/registry.ts: KindTrait). */
export function categoryOf(kind: string): ParamCategory {
  if (hasTrait(kind, 'conv')) return 'conv';
  if (hasTrait(kind, 'linear')) return 'linear';
  if (hasTrait(kind, 'norm')) return 'norm';
  return 'other';
}

const KNOWN_FAMILIES = new Set<string>(LR_FAMILIES);

/** Every trainable parameter with its node kind and family, in model order. */
export function classifyParameters(model: Model): ParamInfo[] {
  const entries = new Map(Model.entries(model.graph).map((e) => [e.key, e]));
  return model.namedParameters().map(([key, tensor]) => {
    const e = entries.get(key)!;
    const kind = model.graph.node(e.node).kind;
    return { key, node: e.node, kind, name: e.name, category: categoryOf(kind), tensor };
  });
}

/**
 * Optimizer parameter groups for `model`: one group per distinct (learning
 * rate, weight decay) pair, in the order parameters first appear. Each group
 * carries a `label` such as 'conv.decay' / 'norm+bias.no_decay' for display.
 * Groups only override `lr` where lrByKind names one, so the optimizer's own
 * lr option remains the default.
 */
export function paramGroupsFor(model: Model, o: ParamGroupsOptions = {}): ParamGroupInit<{ lr: number; weightDecay: number }>[] {
  const wd = o.weightDecay ?? 0;
  if (!(wd >= 0)) throw new RangeError(`paramGroupsFor: invalid weight decay ${wd}`);
  const lrByKind = o.lrByKind ?? {};
  const kinds = new Set(Model.entries(model.graph).map((e) => model.graph.node(e.node).kind));
  for (const [k, v] of Object.entries(lrByKind)) {
    if (!KNOWN_FAMILIES.has(k) && !kinds.has(k)) throw new RangeError(`paramGroupsFor: lrByKind key '${k}' is neither a family (conv, linear/fc, norm/bn, other) nor a node kind of '${model.graph.name}'`);
    if (!(v >= 0)) throw new RangeError(`paramGroupsFor: invalid learning rate ${v} for '${k}'`);
  }
  const lrFor = (p: ParamInfo): number | undefined => {
    if (lrByKind[p.kind] !== undefined) return lrByKind[p.kind];
    if (lrByKind[p.category] !== undefined) return lrByKind[p.category];
    for (const [alias, cat] of Object.entries(LR_ALIASES)) if (cat === p.category && lrByKind[alias] !== undefined) return lrByKind[alias];
    return undefined;
  };
  const groups = new Map<string, { params: Tensor[]; lr?: number; weightDecay: number; families: Set<string> }>();
  for (const p of classifyParameters(model)) {
    const exempt = o.noDecayOnNormAndBias === true && (p.category === 'norm' || p.name === 'bias');
    const lr = lrFor(p);
    const weightDecay = exempt ? 0 : wd;
    const id = `${lr ?? 'default'}|${weightDecay}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { params: [], ...(lr !== undefined ? { lr } : {}), weightDecay, families: new Set() }));
    g.params.push(p.tensor);
    g.families.add(p.category === 'norm' ? 'norm' : p.name === 'bias' && exempt ? 'bias' : p.category);
  }
  return [...groups.values()].map(({ families, ...g }) => ({
    ...g,
    label: `${[...families].join('+')}.${g.weightDecay === 0 ? 'no_decay' : 'decay'}${g.lr !== undefined ? `.lr=${g.lr}` : ''}`,
  }));
}
