// The target layer of CAM methods: by default the last node with a spatial
// output ([C, H, W] with H·W > 1) before the network pools or flattens it
// away — where pytorch-grad-cam's users are told to look, found here from the
// graph so nobody has to guess. Overridable by node name; a node without a
// spatial output is refused with the candidates named.
import { hasTrait, type Graph } from '../graph/index.js';
import { ExplainError } from './errors.js';

const isSpatial = (s: readonly number[]): boolean => s.length === 3 && s[1]! * s[2]! > 1;

/** Nodes with a spatial output, in execution order (the input excluded). */
export function spatialNodes(graph: Graph): string[] {
  return graph.nodes.filter((n) => !hasTrait(n, 'input') && isSpatial(graph.shape(n.name))).map((n) => n.name);
}

/** The last spatial node before the first node that removes the spatial dimensions (global pooling, flatten). */
export function autoTargetLayer(graph: Graph): string {
  let last: string | undefined;
  for (const n of graph.nodes) {
    if (hasTrait(n, 'input')) continue;
    const s = graph.shape(n.name);
    if (isSpatial(s)) last = n.name;
    else if (last !== undefined) break; // the spatial part of the network ended here
  }
  if (last === undefined) throw new ExplainError(`${graph.name} has no node with a spatial output: CAM methods need a convolutional layer`);
  return last;
}

/** `name` checked as a CAM target layer, or the automatic choice. */
export function targetLayer(graph: Graph, name?: string): string {
  if (name === undefined) return autoTargetLayer(graph);
  if (!graph.has(name)) throw new ExplainError(`${graph.name} has no node '${name}' (layers with a spatial output: ${spatialNodes(graph).slice(-8).join(', ')})`);
  const s = graph.shape(name);
  if (!isSpatial(s)) throw new ExplainError(`layer '${name}' of ${graph.name} has output [${s.join(', ')}] per sample, no spatial map for a CAM (layers with one: ${spatialNodes(graph).slice(-8).join(', ')})`);
  return name;
}
