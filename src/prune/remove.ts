// Physical removal: a new, smaller graph with smaller tensors, not masks.
// Every node is sliced by its kind's rule from the kept positions of its own
// output and of its inputs; nodes without weights are rebuilt unchanged and
// shape inference of the new graph confirms the result is consistent.
import { Model, type GraphNode } from '../graph/index.js';
import { noGrad, type Tensor } from '../tensor/index.js';
import { channelRules } from './channels.js';
import { PruneError, type DependencyGraph } from './dependency.js';

export interface RemovalResult {
  model: Model;
  /** Kept output-channel positions of every node, in the old model's numbering. */
  kept: Map<string, number[]>;
}

/**
 * Removes the channel classes `removed` (ids from `dep`, which must describe
 * `model.graph`) and returns a new model; `model` is left untouched.
 */
export function removeChannels(model: Model, dep: DependencyGraph, removed: Iterable<number>): RemovalResult {
  if (dep.graph !== model.graph) throw new PruneError('the dependency graph was computed for another graph');
  const set = new Set(removed);
  for (const c of set) dep.groupOf(c); // throws for pinned or unknown channels
  const graph = model.graph;
  const kept = new Map<string, number[]>();
  for (const n of graph.nodes) {
    const k = dep.kept(n.name, set);
    if (k.length === 0) throw new PruneError(`removing these channels would leave layer '${n.name}' with none`);
    kept.set(n.name, k);
  }
  const nodes: GraphNode[] = [];
  const tensors: Record<string, Tensor> = {};
  try {
    noGrad(() => {
      for (const n of graph.nodes) {
        const own = model.nodeTensors(n);
        const rule = channelRules.get(n);
        const keepOut = kept.get(n.name)!;
        const keepIn = n.inputs.map((i) => kept.get(i)!);
        const changed = keepOut.length !== graph.shape(n.name)[0] || keepIn.some((k, i) => k.length !== graph.shape(n.inputs[i]!)[0]);
        if (changed && rule.slice) {
          const r = rule.slice({ node: n, keepOut, keepIn, outChannels: graph.shape(n.name)[0]!, inChannels: n.inputs.map((i) => graph.shape(i)[0]!), tensors: own });
          nodes.push({ ...n, inputs: [...n.inputs], attrs: r.attrs });
          for (const [k, t] of Object.entries(r.tensors)) tensors[`${n.name}.${k}`] = t;
        } else {
          nodes.push({ ...n, inputs: [...n.inputs], attrs: { ...n.attrs } });
          for (const [k, t] of Object.entries(own)) tensors[`${n.name}.${k}`] = t.clone();
        }
      }
    });
    const pruned = graph.withNodes(nodes);
    const out = Model.fromTensors(pruned, tensors, `pruned tensors of '${graph.name}'`);
    out.training = model.training;
    return { model: out, kept };
  } catch (e) {
    for (const t of Object.values(tensors)) if (!t.isDisposed) t.dispose();
    throw e;
  }
}
