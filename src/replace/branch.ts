// Progressive replacement's graph edits (seed 001): a convolution gets a
// parallel 1×1 branch (same input, same output channels and stride) and a
// blend node, y = α · conv(x) + (1 − α) · branch(x); the schedule moves α from
// 1 to 0; at the end the original is removed (α = 0) or the branch merged into
// its kernel (α > 0), so inference costs one convolution either way.
//
// Names. For a replaced conv `c`: the branch is `c_branch`, the blend
// `c_blend` (its buffer `c_blend.alpha`), and every consumer of `c` reads
// `c_blend`. After finishReplacement the single conv is named `c` again, so
// the layers after it (its BatchNorm, the next conv) keep their names.
//
// Where the 1×1 kernel sits. A 1×1 kernel zero-padded to k×k at the centre
// tap computes the same thing as a 1×1 convolution of the input with padding
// p − d·(k − 1)/2 (p the k×k conv's padding, d its dilation): that is the
// branch, and why the merge is exact (RepVGG's algebra). So a replaced conv
// needs an odd kernel, groups 1, and p ≥ d·(k − 1)/2 (the "same"-style
// padding of most CNNs); anything else is refused with the reason.
import { Graph, GraphError, conv2dGeometry, explicitPadding, type GraphNode, type Model } from '../graph/index.js';
import { noGrad, tidy } from '../tensor/index.js';
import { ReplaceError } from './errors.js';

export const branchName = (conv: string): string => `${conv}_branch`;
export const blendName = (conv: string): string => `${conv}_blend`;

/** Why a node cannot be replaced, or null when it can. */
export function replaceability(graph: Graph, name: string): string | null {
  if (!graph.has(name)) return `there is no node '${name}'`;
  const node = graph.node(name);
  if (node.kind !== 'conv2d') return `'${name}' is a ${node.kind} node, not a convolution (conv2d)`;
  const g = conv2dGeometry(node);
  if (g.groups !== 1) return `'${name}' is a grouped convolution (groups ${g.groups}): its 1×1 branch would not mix the same channels`;
  if (g.kernel[0] === 1 && g.kernel[1] === 1) return `'${name}' already has a 1×1 kernel: replacing it saves nothing`;
  if (g.kernel[0] % 2 === 0 || g.kernel[1] % 2 === 0) return `'${name}' has an even kernel [${g.kernel.join(', ')}]: a 1×1 kernel has no centre tap to sit on`;
  const pad = explicitPadding(g);
  if (!pad) return `'${name}' has padding 'same' with an asymmetric split`;
  for (const i of [0, 1] as const) {
    if (pad[i] < (g.dilation[i] * (g.kernel[i] - 1)) / 2) return `'${name}' pads ${pad[i]} < ${(g.dilation[i] * (g.kernel[i] - 1)) / 2} (a 'valid' convolution): its output is smaller than a 1×1 branch's, so the two cannot be blended`;
  }
  return null;
}

/** The 1×1 branch's node for conv `node`: same channels, stride and bias, padding shifted to the centre tap. */
function branchNode(node: GraphNode): GraphNode {
  const g = conv2dGeometry(node);
  const pad = explicitPadding(g)!;
  const padding: [number, number] = [pad[0] - (g.dilation[0] * (g.kernel[0] - 1)) / 2, pad[1] - (g.dilation[1] * (g.kernel[1] - 1)) / 2];
  return { name: branchName(node.name), kind: 'conv2d', inputs: [...node.inputs], attrs: { inChannels: g.inChannels, outChannels: g.outChannels, kernel: 1, stride: [...g.stride], padding, bias: g.bias } };
}

export type BranchInit = 'centre' | 'random';
export const BRANCH_INITS: readonly BranchInit[] = ['centre', 'random'];

export interface AttachOptions {
  /**
   * 'centre' (default): the branch starts as the original kernel's centre tap,
   * which is also the 1×1 kernel closest to the k×k one in least squares
   * (‖pad(w) − W‖² is minimised tap by tap, and only the centre tap is
   * free); the bias is copied. 'random': the usual fan-in initialisation.
   */
  init?: BranchInit;
  /** Seed of a random initialisation. */
  seed?: number;
}

/** Adds a branch and a blend (α = 1) to every conv of `convs`; a new model, `model` is untouched. */
export function attachBranches(model: Model, convs: readonly string[], o: AttachOptions = {}): Model {
  const init = o.init ?? 'centre';
  if (!BRANCH_INITS.includes(init)) throw new ReplaceError(`branch init must be one of ${BRANCH_INITS.join(', ')}, got '${String(init)}'`);
  if (convs.length === 0) throw new ReplaceError('no convolution to replace');
  if (new Set(convs).size !== convs.length) throw new ReplaceError(`a convolution is named twice: ${convs.join(', ')}`);
  const graph = model.graph;
  for (const c of convs) {
    const why = replaceability(graph, c);
    if (why) throw new ReplaceError(`cannot replace '${c}': ${why}`);
    for (const n of [branchName(c), blendName(c)]) if (graph.has(n)) throw new GraphError(`a node '${n}' exists already (is '${c}' replaced already?)`, n);
  }
  const replaced = new Set(convs);
  const nodes: GraphNode[] = [];
  for (const n of graph.nodes) {
    nodes.push(n.inputs.some((i) => replaced.has(i)) ? { ...n, inputs: n.inputs.map((i) => (replaced.has(i) ? blendName(i) : i)) } : n);
    if (replaced.has(n.name)) nodes.push(branchNode(n), { name: blendName(n.name), kind: 'blend', inputs: [n.name, branchName(n.name)], attrs: {} });
  }
  const out = model.derive(new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((x) => (replaced.has(x) ? blendName(x) : x)) }), o.seed !== undefined ? { seed: o.seed } : {});
  if (init === 'centre') {
    noGrad(() => {
      for (const c of convs) {
        const g = conv2dGeometry(graph.node(c));
        const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
        tidy(() => void out.tensor(`${branchName(c)}.weight`).copy_(model.tensor(`${c}.weight`).narrow(2, ch, 1).narrow(3, cw, 1)));
        if (g.bias) out.tensor(`${branchName(c)}.bias`).copy_(model.tensor(`${c}.bias`));
      }
    });
  }
  return out;
}

/** The replaced convs of a model with branches (every blend's first input). */
export function replacedConvs(graph: Graph): string[] {
  return graph.nodes.filter((n) => n.kind === 'blend').map((n) => n.inputs[0]!);
}

/** Sets α of every blend (one number), or of each named conv's blend. */
export function setAlpha(model: Model, alpha: number | Readonly<Record<string, number>>): void {
  const convs = replacedConvs(model.graph);
  const values = typeof alpha === 'number' ? Object.fromEntries(convs.map((c) => [c, alpha])) : alpha;
  noGrad(() => {
    for (const [c, a] of Object.entries(values)) {
      if (!(Number.isFinite(a) && a >= 0 && a <= 1)) throw new ReplaceError(`α must be in [0, 1], got ${a} for '${c}'`);
      if (!convs.includes(c)) throw new ReplaceError(`'${c}' has no blend (replaced: ${convs.join(', ') || 'none'})`);
      model.tensor(`${blendName(c)}.alpha`).fill_(a);
    }
  });
}

/** α of every replaced conv. */
export function alphaOf(model: Model): Record<string, number> {
  return Object.fromEntries(replacedConvs(model.graph).map((c) => [c, model.tensor(`${blendName(c)}.alpha`).item()]));
}

/** Parameter keys of the original (replaced) convolutions, e.g. to freeze them. */
export function originalKeys(model: Model): string[] {
  return replacedConvs(model.graph).flatMap((c) => Object.keys(model.graph.tensorSpecs(model.graph.node(c)).params).map((k) => `${c}.${k}`));
}

/**
 * The model with one convolution per replaced layer: where α = 0 the branch
 * alone (the original removed: a 1×1 conv, named as the original), where
 * α > 0 the branch merged into the k×k kernel, W' = α·W + (1 − α)·pad(w),
 * b' = α·b + (1 − α)·b₁ (exact). A new model in the same mode; `model` is untouched.
 */
export function finishReplacement(model: Model): Model {
  const graph = model.graph;
  const convs = replacedConvs(graph);
  if (!convs.length) throw new ReplaceError('the model has no replaced convolution (no blend node)');
  const alpha = alphaOf(model);
  const drop = new Set(convs.flatMap((c) => [branchName(c), blendName(c)]));
  const rename = new Map(convs.map((c) => [blendName(c), c]));
  const nodes = graph.nodes
    .filter((n) => !drop.has(n.name))
    .map((n) => {
      if (convs.includes(n.name) && alpha[n.name] === 0) return { ...branchNode(n), name: n.name };
      return n.inputs.some((i) => rename.has(i)) ? { ...n, inputs: n.inputs.map((i) => rename.get(i) ?? i) } : n;
    });
  const out = model.derive(new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((x) => rename.get(x) ?? x) }));
  noGrad(() => {
    for (const c of convs) {
      const a = alpha[c]!;
      const g = conv2dGeometry(graph.node(c));
      const w1 = model.tensor(`${branchName(c)}.weight`);
      const b1 = g.bias ? model.tensor(`${branchName(c)}.bias`) : null;
      if (a === 0) {
        out.tensor(`${c}.weight`).copy_(w1);
        if (b1) out.tensor(`${c}.bias`).copy_(b1);
        continue;
      }
      const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
      tidy(() => {
        const w = out.tensor(`${c}.weight`);
        w.mul_(a);
        w.narrow(2, ch, 1).narrow(3, cw, 1).add_(w1.mul(1 - a));
        if (b1) out.tensor(`${c}.bias`).mul_(a).add_(b1.mul(1 - a));
      });
    }
  });
  return out;
}

