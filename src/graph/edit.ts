// Graph editing: pure functions on the IR that return a new, validated
// Graph. Every node keeps its name, so the tensors of a trained model still
// line up with the edited graph by key (Model.derive copies them over and
// initialises only what is new). What they are for: a per-channel scale after
// a conv (TransTailor), swapping a block for another (progressive
// replacement), and cutting a part out to run or export on its own.
import { GraphError, type Attrs, type GraphNode } from './ir.js';
import { hasTrait } from './registry.js';
import { Graph } from './graph.js';

/** A node to add: its inputs are given by the edit. */
export interface NewNode {
  readonly name: string;
  readonly kind: string;
  readonly attrs?: Attrs;
}

/**
 * Inserts `node` right after `after`: the new node reads `after`, and every
 * consumer of `after` (and every graph output naming it) reads the new node
 * instead. `insertAfter(g, 'conv1', { name: 'conv1_scale', kind:
 * 'channel_scale', attrs: { features: g.shape('conv1')[0] } })`.
 */
export function insertAfter(graph: Graph, after: string, node: NewNode): Graph {
  graph.node(after);
  if (graph.has(node.name)) throw new GraphError(`cannot insert '${node.name}' after '${after}': a node of that name exists`, node.name);
  const added: GraphNode = { name: node.name, kind: node.kind, inputs: [after], attrs: { ...(node.attrs ?? {}) } };
  const nodes: GraphNode[] = [];
  for (const n of graph.nodes) {
    nodes.push(n.inputs.includes(after) ? { ...n, inputs: n.inputs.map((i) => (i === after ? node.name : i)) } : n);
    if (n.name === after) nodes.push(added);
  }
  return new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((o) => (o === after ? node.name : o)) });
}

/** A per-channel scale (starts at 1, the identity) after `after`, named `${after}_scale` unless named. */
export function insertScale(graph: Graph, after: string, name = `${after}_scale`): Graph {
  return insertAfter(graph, after, { name, kind: 'channel_scale', attrs: { features: graph.shape(after)[0]! } });
}

/** The entry (the one node outside that the set reads) and exit (the one node of the set read outside it) of a node set. */
export function boundary(graph: Graph, names: readonly string[]): { entry: string; exit: string } {
  if (names.length === 0) throw new GraphError('a subgraph needs at least one node');
  const set = new Set(names);
  for (const n of names) {
    const node = graph.node(n);
    if (hasTrait(node, 'input')) throw new GraphError(`a replaced subgraph cannot contain the graph input`, n);
  }
  const entries = new Set<string>();
  for (const n of names) for (const i of graph.node(n).inputs) if (!set.has(i)) entries.add(i);
  const outputs = new Set(graph.outputs);
  const exits = names.filter((n) => outputs.has(n) || graph.consumers(n).some((c) => !set.has(c)));
  if (entries.size !== 1) throw new GraphError(`subgraph [${names.join(', ')}] must read exactly one node outside it, reads ${entries.size ? [...entries].map((e) => `'${e}'`).join(', ') : 'none'}`);
  if (exits.length !== 1) throw new GraphError(`subgraph [${names.join(', ')}] must have exactly one node read outside it, has ${exits.length ? exits.map((e) => `'${e}'`).join(', ') : 'none'}`);
  return { entry: [...entries][0]!, exit: exits[0]! };
}

/**
 * Replaces the nodes `names` (one entry, one exit: see boundary) by the
 * graph `replacement`, whose single input stands for the entry and whose
 * single output takes the exit's place for every reader. Its other nodes
 * keep their names (they may reuse removed ones). A replacement that is
 * just its input removes the nodes (readers of the exit read the entry).
 */
export function replaceSubgraph(graph: Graph, names: readonly string[], replacement: Graph): Graph {
  const { entry, exit } = boundary(graph, names);
  const ins = replacement.inputs;
  if (ins.length !== 1 || replacement.outputs.length !== 1) {
    throw new GraphError(`a replacement subgraph needs one input and one output, '${replacement.name}' has ${ins.length} and ${replacement.outputs.length}`);
  }
  const placeholder = ins[0]!.name;
  const want = graph.shape(entry);
  const got = replacement.shape(placeholder);
  if (want.join() !== got.join()) {
    throw new GraphError(`replacement '${replacement.name}' takes [${got.join(', ')}] but the entry '${entry}' gives [${want.join(', ')}]`, placeholder);
  }
  const removed = new Set(names);
  const rename = (i: string): string => (i === placeholder ? entry : i);
  const added = replacement.nodes.filter((n) => n.name !== placeholder).map((n) => ({ ...n, inputs: n.inputs.map(rename) }));
  for (const n of added) {
    if (graph.has(n.name) && !removed.has(n.name)) throw new GraphError(`replacement node '${n.name}' clashes with a node the graph keeps`, n.name);
  }
  const out = rename(replacement.outputs[0]!);
  const rewire = (n: GraphNode): GraphNode => (n.inputs.includes(exit) ? { ...n, inputs: n.inputs.map((i) => (i === exit ? out : i)) } : n);
  const nodes: GraphNode[] = [];
  let placed = false;
  for (const n of graph.nodes) {
    if (removed.has(n.name)) {
      // The replacement sits where the subgraph began, so parameter order follows the model's.
      if (!placed) nodes.push(...added);
      placed = true;
      continue;
    }
    nodes.push(rewire(n));
  }
  return new Graph({ name: graph.name, nodes, outputs: graph.outputs.map((o) => (o === exit ? out : o)) });
}

/**
 * The part of `graph` that computes `outputs` from `inputs`, as a graph of
 * its own: every node the outputs depend on, walking back until a given
 * input (which becomes an input node of the same name and shape) or a graph
 * input. Each given input must be needed by some output. The result is fed
 * the given inputs first, in that order, then any graph inputs it reaches.
 */
export function extractSubgraph(graph: Graph, inputs: readonly string[], outputs: readonly string[], name = `${graph.name}.sub`): Graph {
  if (outputs.length === 0) throw new GraphError('extractSubgraph needs at least one output');
  const stops = new Set(inputs);
  for (const n of [...inputs, ...outputs]) graph.node(n);
  const keep = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const n = stack.pop()!;
    if (keep.has(n)) continue;
    keep.add(n);
    if (!stops.has(n)) stack.push(...graph.node(n).inputs);
  }
  const unused = inputs.filter((i) => !keep.has(i));
  if (unused.length) throw new GraphError(`input${unused.length > 1 ? 's' : ''} ${unused.map((i) => `'${i}'`).join(', ')} not needed by output${outputs.length > 1 ? 's' : ''} ${outputs.map((o) => `'${o}'`).join(', ')}`);
  // The given inputs come first, in the order given: that is the order the extracted graph is fed in.
  const fed = inputs.map((i): GraphNode => ({ name: i, kind: 'input', inputs: [], attrs: { shape: [...graph.shape(i)] } }));
  const rest = graph.nodes.filter((n) => keep.has(n.name) && !stops.has(n.name));
  return new Graph({ name, nodes: [...fed, ...rest], outputs: [...outputs] });
}
