// Which convolutions progressive replacement replaces: named ones, or as few
// as possible so that the replaced model has at least a target share of the
// original's parameters removed (seed 001: 65 %). Replacing a k×k conv by its
// 1×1 branch removes (k·k − 1)/(k·k) of its weights; the largest savings are
// taken first (ties in graph order), which removes the share with the fewest
// replaced layers. A narrow branch (width w < 1, rank r, see branch.ts) keeps
// r·(Cin + Cout) weights instead: it saves Cout·Cin·k² − r·(Cin + Cout).
// That is always positive, so every replaceable conv stays a candidate: r ≤
// min(Cin, Cout) keeps at most 2·Cin·Cout weights, and a replaceable kernel
// (odd, not 1×1) has k² ≥ 3 taps.
import { conv2dGeometry, summarize, type Graph, type GraphNode } from '../graph/index.js';
import { branchRank, checkWidth, replaceability } from './branch.js';
import { ReplaceError } from './errors.js';

export interface Candidate {
  conv: string;
  /** Parameters removed when this conv becomes a 1×1 conv. */
  saving: number;
}

/** Parameters removed when conv `node` keeps only its branch of width `width` (biases stay). */
function savingOf(node: GraphNode, width: number): number {
  const g = conv2dGeometry(node);
  const kept = width < 1 ? branchRank(g.inChannels, g.outChannels, width) * (g.inChannels + g.outChannels) : g.inChannels * g.outChannels;
  return g.outChannels * g.inChannels * g.kernel[0] * g.kernel[1] - kept;
}

/** Every replaceable conv with its saving for a branch of width `width` (default 1), in graph order. */
export function candidates(graph: Graph, width = 1): Candidate[] {
  checkWidth(width);
  return graph.nodes
    .filter((n) => n.kind === 'conv2d' && replaceability(graph, n.name) === null)
    .map((n) => ({ conv: n.name, saving: savingOf(n, width) }));
}

export interface Selection {
  convs: string[];
  /** Parameters of the original and of the replaced model, and the share removed. */
  paramsBefore: number;
  paramsAfter: number;
  share: number;
}

/** The convs to replace: `layers` as named (each checked), or the fewest reaching `paramShare` (in (0, 1)); `width` the branch width (default 1). */
export function selectConvs(graph: Graph, o: { layers?: readonly string[]; paramShare?: number; width?: number }): Selection {
  const total = summarize(graph).totals.params;
  const width = o.width ?? 1;
  const all = candidates(graph, width);
  let chosen: Candidate[];
  if (o.layers && o.layers.length) {
    chosen = o.layers.map((name) => {
      const why = replaceability(graph, name);
      if (why) throw new ReplaceError(`cannot replace '${name}': ${why}`);
      return all.find((c) => c.conv === name)!;
    });
  } else {
    const share = o.paramShare ?? 0.65;
    if (!(share > 0 && share < 1)) throw new ReplaceError(`the parameter share to remove must be in (0, 1), got ${share}`);
    const reachable = all.reduce((a, c) => a + c.saving, 0);
    if (reachable < share * total) {
      throw new ReplaceError(
        `replacing every replaceable convolution of '${graph.name}' (${all.length}) removes ${((100 * reachable) / total).toFixed(1)} % of its ${total.toLocaleString('en-US')} parameters, less than the ${(100 * share).toFixed(1)} % asked: ` +
          'give a smaller share, or prune the layers that hold the rest (fully connected layers, 1×1 convs)',
      );
    }
    chosen = [];
    let saved = 0;
    for (const c of [...all].sort((a, b) => b.saving - a.saving)) {
      if (saved >= share * total) break;
      chosen.push(c);
      saved += c.saving;
    }
    const order = new Map(all.map((c, i) => [c.conv, i]));
    chosen.sort((a, b) => order.get(a.conv)! - order.get(b.conv)!);
  }
  const saved = chosen.reduce((a, c) => a + c.saving, 0);
  return { convs: chosen.map((c) => c.conv), paramsBefore: total, paramsAfter: total - saved, share: saved / total };
}
