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
//
// A narrow branch (width w < 1, issue 18's "fewer channels through a pruned
// width"): two 1×1 convs, `c_branch_in` (Cin → r, the stride and padding
// above, no bias) then `c_branch` (r → Cout, the conv's bias), r =
// max(1, round(w · min(Cin, Cout))). No nonlinearity sits between them, so
// they compose to the rank-r 1×1 kernel B·A and everything above holds for
// B·A. At α = 0 both are kept (r·(Cin + Cout) weights instead of Cout·Cin:
// that is the saving of a narrow branch), the second as `c`, the first as
// `c_reduce`; at α > 0, B·A is merged into the k×k kernel.
import { Graph, GraphError, conv2dGeometry, explicitPadding, type GraphNode, type Model } from '../graph/index.js';
import { callOp, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { ReplaceError } from './errors.js';

export const branchName = (conv: string): string => `${conv}_branch`;
export const blendName = (conv: string): string => `${conv}_blend`;
/** The first (Cin → r) conv of a narrow branch. */
export const branchInName = (conv: string): string => `${conv}_branch_in`;
/** A narrow branch's first conv after finishReplacement at α = 0 (the second is named as the original). */
export const reduceName = (conv: string): string => `${conv}_reduce`;

/** The rank of a narrow branch of width `width` (in (0, 1)) for a conv with these channels. */
export const branchRank = (inChannels: number, outChannels: number, width: number): number => Math.max(1, Math.round(width * Math.min(inChannels, outChannels)));

/** Checks a branch width: in (0, 1], 1 the full 1×1 branch. */
export function checkWidth(width: number): number {
  if (!(Number.isFinite(width) && width > 0 && width <= 1)) throw new ReplaceError(`the branch width must be in (0, 1], got ${width}`);
  return width;
}

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

/**
 * The branch's nodes for conv `node`, in graph order: one 1×1 conv (same
 * channels, stride and bias, padding shifted to the centre tap), or with a
 * rank `rank` the narrow pair (Cin → rank with that stride and padding, no
 * bias; rank → Cout with the bias). The last node is `branchName`.
 */
function branchNodes(node: GraphNode, rank: number | null): GraphNode[] {
  const g = conv2dGeometry(node);
  const pad = explicitPadding(g)!;
  const padding: [number, number] = [pad[0] - (g.dilation[0] * (g.kernel[0] - 1)) / 2, pad[1] - (g.dilation[1] * (g.kernel[1] - 1)) / 2];
  const name = branchName(node.name);
  if (rank === null) return [{ name, kind: 'conv2d', inputs: [...node.inputs], attrs: { inChannels: g.inChannels, outChannels: g.outChannels, kernel: 1, stride: [...g.stride], padding, bias: g.bias } }];
  const first = branchInName(node.name);
  return [
    { name: first, kind: 'conv2d', inputs: [...node.inputs], attrs: { inChannels: g.inChannels, outChannels: rank, kernel: 1, stride: [...g.stride], padding, bias: false } },
    { name, kind: 'conv2d', inputs: [first], attrs: { inChannels: rank, outChannels: g.outChannels, kernel: 1, stride: 1, padding: 0, bias: g.bias } },
  ];
}

/** The rank of conv `conv`'s narrow branch in a blended graph, or null for a full 1×1 branch. */
export function narrowRank(graph: Graph, conv: string): number | null {
  const first = branchInName(conv);
  return graph.has(first) ? conv2dGeometry(graph.node(first)).outChannels : null;
}

/**
 * The best rank-r approximation of a [Cout, Cin] matrix (Eckart–Young:
 * the truncated SVD), split evenly as B = U_r·Σ_r^½ [Cout, r] and
 * A = Σ_r^½·V_rᵀ [r, Cin], so that B·A is it; float64 in, float64 out.
 */
export function lowRankFactors(m: Tensor, rank: number): { a: Tensor; b: Tensor } {
  const [u, s, vh] = callOp('aten::linalg_svd', m, false, null) as Tensor[];
  const root = s!.narrow(0, 0, rank).sqrt();
  return { b: u!.narrow(1, 0, rank).mul(root.unsqueeze(0)), a: vh!.narrow(0, 0, rank).mul(root.unsqueeze(1)) };
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
  /**
   * In (0, 1]; 1 (default): the branch is one 1×1 conv. Below 1 it is the
   * narrow pair of rank max(1, round(width · min(Cin, Cout))); 'centre' then
   * starts it as the best rank-r approximation of the centre tap (truncated
   * SVD), the rank-r 1×1 kernel nearest the k×k one.
   */
  width?: number;
}

/** Adds a branch and a blend (α = 1) to every conv of `convs`; a new model, `model` is untouched. */
export function attachBranches(model: Model, convs: readonly string[], o: AttachOptions = {}): Model {
  const init = o.init ?? 'centre';
  if (!BRANCH_INITS.includes(init)) throw new ReplaceError(`branch init must be one of ${BRANCH_INITS.join(', ')}, got '${String(init)}'`);
  if (convs.length === 0) throw new ReplaceError('no convolution to replace');
  if (new Set(convs).size !== convs.length) throw new ReplaceError(`a convolution is named twice: ${convs.join(', ')}`);
  const width = checkWidth(o.width ?? 1);
  const graph = model.graph;
  const ranks = new Map<string, number | null>();
  for (const c of convs) {
    const why = replaceability(graph, c);
    if (why) throw new ReplaceError(`cannot replace '${c}': ${why}`);
    for (const n of [branchName(c), blendName(c), ...(width < 1 ? [branchInName(c), reduceName(c)] : [])]) if (graph.has(n)) throw new GraphError(`a node '${n}' exists already (is '${c}' replaced already?)`, n);
    const g = conv2dGeometry(graph.node(c));
    ranks.set(c, width < 1 ? branchRank(g.inChannels, g.outChannels, width) : null);
  }
  const replaced = new Set(convs);
  const nodes: GraphNode[] = [];
  for (const n of graph.nodes) {
    nodes.push(n.inputs.some((i) => replaced.has(i)) ? { ...n, inputs: n.inputs.map((i) => (replaced.has(i) ? blendName(i) : i)) } : n);
    if (replaced.has(n.name)) nodes.push(...branchNodes(n, ranks.get(n.name)!), { name: blendName(n.name), kind: 'blend', inputs: [n.name, branchName(n.name)], attrs: {} });
  }
  const out = model.derive(new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((x) => (replaced.has(x) ? blendName(x) : x)) }), o.seed !== undefined ? { seed: o.seed } : {});
  if (init === 'centre') {
    noGrad(() => {
      for (const c of convs) {
        const g = conv2dGeometry(graph.node(c));
        const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
        const rank = ranks.get(c)!;
        tidy(() => {
          const centre = model.tensor(`${c}.weight`).narrow(2, ch, 1).narrow(3, cw, 1);
          if (rank === null) return void out.tensor(`${branchName(c)}.weight`).copy_(centre);
          const { a, b } = lowRankFactors(centre.reshape([g.outChannels, g.inChannels]).double(), rank);
          out.tensor(`${branchInName(c)}.weight`).copy_(a.float().reshape([rank, g.inChannels, 1, 1]));
          out.tensor(`${branchName(c)}.weight`).copy_(b.float().reshape([g.outChannels, rank, 1, 1]));
        });
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
 * alone (the original removed: a 1×1 conv, named as the original; a narrow
 * branch's two 1×1 convs, `c_reduce` then `c`), where α > 0 the branch merged
 * into the k×k kernel, W' = α·W + (1 − α)·pad(w) (w = B·A for a narrow
 * branch), b' = α·b + (1 − α)·b₁ (exact). A new model in the same mode;
 * `model` is untouched.
 */
export function finishReplacement(model: Model): Model {
  const graph = model.graph;
  const convs = replacedConvs(graph);
  if (!convs.length) throw new ReplaceError('the model has no replaced convolution (no blend node)');
  const alpha = alphaOf(model);
  const ranks = new Map(convs.map((c) => [c, narrowRank(graph, c)]));
  const drop = new Set(convs.flatMap((c) => [branchName(c), blendName(c), branchInName(c)]));
  const rename = new Map(convs.map((c) => [blendName(c), c]));
  const nodes = graph.nodes
    .filter((n) => !drop.has(n.name))
    .flatMap((node): GraphNode[] => {
      // Inputs first: a replaced conv may read another replaced conv directly (its blend, renamed back).
      const n = node.inputs.some((i) => rename.has(i)) ? { ...node, inputs: node.inputs.map((i) => rename.get(i) ?? i) } : node;
      if (!(convs.includes(n.name) && alpha[n.name] === 0)) return [n];
      const [first, second] = branchNodes(n, ranks.get(n.name)!);
      return second ? [{ ...first!, name: reduceName(n.name) }, { ...second, name: n.name, inputs: [reduceName(n.name)] }] : [{ ...first!, name: n.name }];
    });
  const out = model.derive(new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((x) => rename.get(x) ?? x) }));
  noGrad(() => {
    for (const c of convs) {
      const a = alpha[c]!;
      const g = conv2dGeometry(graph.node(c));
      const rank = ranks.get(c)!;
      const w1 = model.tensor(`${branchName(c)}.weight`);
      const b1 = g.bias ? model.tensor(`${branchName(c)}.bias`) : null;
      if (a === 0) {
        out.tensor(`${c}.weight`).copy_(w1);
        if (b1) out.tensor(`${c}.bias`).copy_(b1);
        if (rank !== null) out.tensor(`${reduceName(c)}.weight`).copy_(model.tensor(`${branchInName(c)}.weight`));
        continue;
      }
      const [ch, cw] = [(g.kernel[0] - 1) / 2, (g.kernel[1] - 1) / 2];
      tidy(() => {
        // A narrow branch's kernel is B·A, composed in float64 so the merge adds no rounding of its own beyond the final cast.
        const kernel =
          rank === null
            ? w1
            : w1.reshape([g.outChannels, rank]).double().matmul(model.tensor(`${branchInName(c)}.weight`).reshape([rank, g.inChannels]).double()).float().reshape([g.outChannels, g.inChannels, 1, 1]);
        const w = out.tensor(`${c}.weight`);
        w.mul_(a);
        w.narrow(2, ch, 1).narrow(3, cw, 1).add_(kernel.mul(1 - a));
        if (b1) out.tensor(`${c}.bias`).mul_(a).add_(b1.mul(1 - a));
      });
    }
  });
  return out;
}

