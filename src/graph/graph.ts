// A validated graph: unique names, known kinds, right arity, no dangling
// inputs, no cycles, valid attributes and consistent shapes. Construction
// fails with a GraphError naming the offending node.
import './kinds/index.js';
import { GraphError, type GraphJSON, type GraphNode, type Shape } from './ir.js';
import { hasTrait, kindOf, type ParamSpecs } from './registry.js';

export class Graph {
  readonly name: string;
  /** Nodes in a topological order (inputs first). */
  readonly nodes: readonly GraphNode[];
  readonly outputs: readonly string[];
  private readonly byName = new Map<string, GraphNode>();
  private readonly shapes = new Map<string, Shape>();
  private readonly consumerMap = new Map<string, string[]>();

  constructor(json: Pick<GraphJSON, 'name' | 'nodes' | 'outputs'>) {
    this.name = json.name;
    for (const n of json.nodes) {
      if (typeof n.name !== 'string' || !n.name) throw new GraphError(`a node has no name (kind '${n.kind}')`);
      if (this.byName.has(n.name)) throw new GraphError(`duplicate node name`, n.name);
      this.byName.set(n.name, n);
      this.consumerMap.set(n.name, []);
    }
    for (const n of json.nodes) {
      const k = kindOf(n);
      const [lo, hi] = typeof k.arity === 'number' ? [k.arity, k.arity] : k.arity;
      if (n.inputs.length < lo || n.inputs.length > hi) {
        throw new GraphError(`${n.kind} takes ${lo === hi ? lo : `${lo} to ${hi}`} inputs, got ${n.inputs.length}`, n.name);
      }
      for (const i of n.inputs) {
        if (!this.byName.has(i)) throw new GraphError(`input '${i}' does not exist (dangling edge)`, n.name);
        this.consumerMap.get(i)!.push(n.name);
      }
      k.validate(n);
    }
    this.nodes = topologicalOrder(json.nodes, this.byName);
    if (json.outputs.length === 0) throw new GraphError('graph has no outputs');
    for (const o of json.outputs) if (!this.byName.has(o)) throw new GraphError(`graph output '${o}' is not a node`);
    this.outputs = [...json.outputs];
    for (const n of this.nodes) {
      const inShapes = n.inputs.map((i) => this.shapes.get(i)!);
      const s = kindOf(n).inferShape(n, inShapes);
      if (!s.every((d) => Number.isInteger(d) && d >= 1)) throw new GraphError(`inferred an invalid shape [${s.join(', ')}]`, n.name);
      this.shapes.set(n.name, s);
    }
  }

  static fromJSON(json: unknown): Graph {
    const j = json as Partial<GraphJSON>;
    if (!j || j.format !== 'slimnet.graph') throw new GraphError(`not a slimnet graph (format is ${JSON.stringify(j?.format)})`);
    if (j.version !== 1) throw new GraphError(`unsupported graph version ${JSON.stringify(j.version)}`);
    if (!Array.isArray(j.nodes) || !Array.isArray(j.outputs)) throw new GraphError('graph JSON needs nodes[] and outputs[]');
    return new Graph({ name: String(j.name ?? 'model'), nodes: j.nodes, outputs: j.outputs });
  }

  toJSON(): GraphJSON {
    return { format: 'slimnet.graph', version: 1, name: this.name, nodes: this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], attrs: { ...n.attrs } })), outputs: [...this.outputs] };
  }

  node(name: string): GraphNode {
    const n = this.byName.get(name);
    if (!n) throw new GraphError(`no node named '${name}' in graph '${this.name}'`);
    return n;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Output shape of a node, per sample. */
  shape(name: string): Shape {
    this.node(name);
    return this.shapes.get(name)!;
  }

  inputShapes(node: GraphNode): Shape[] {
    return node.inputs.map((i) => this.shapes.get(i)!);
  }

  /** Nodes that read `name`'s output. */
  consumers(name: string): readonly string[] {
    return this.consumerMap.get(name) ?? [];
  }

  get inputs(): GraphNode[] {
    return this.nodes.filter((n) => hasTrait(n, 'input'));
  }

  /** Parameter and buffer specs of one node. */
  tensorSpecs(node: GraphNode): ParamSpecs {
    return kindOf(node).tensors(node, this.inputShapes(node));
  }

  /** A new graph with some nodes replaced / removed (the input of structural passes). */
  withNodes(nodes: GraphNode[], outputs: readonly string[] = this.outputs): Graph {
    return new Graph({ name: this.name, nodes, outputs: [...outputs] });
  }
}

function topologicalOrder(nodes: readonly GraphNode[], byName: Map<string, GraphNode>): GraphNode[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const order: GraphNode[] = [];
  const visit = (n: GraphNode, path: string[]): void => {
    const s = state.get(n.name);
    if (s === 'done') return;
    if (s === 'visiting') throw new GraphError(`cycle: ${[...path.slice(path.indexOf(n.name)), n.name].join(' -> ')}`, n.name);
    state.set(n.name, 'visiting');
    for (const i of n.inputs) visit(byName.get(i)!, [...path, n.name]);
    state.set(n.name, 'done');
    order.push(n);
  };
  for (const n of nodes) visit(n, []);
  return order;
}
