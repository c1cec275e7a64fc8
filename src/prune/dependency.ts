// Dependency groups: which channels of which layers must be removed together.
// One walk over the graph applies each kind's channel rule (channels.ts); a
// union-find over channel atoms then gives the removable channels ("classes":
// everything that goes when one channel goes) and the groups of layers that
// share them (a residual stage's convs, a conv and its depthwise successor).
import { Graph, GraphError, type GraphNode } from '../graph/index.js';
import { SlimnetError } from '../util/errors.js';
import { channelRules, type Layout, type PropagateContext } from './channels.js';

export class PruneError extends SlimnetError {
  constructor(message: string) {
    super(message);
    this.name = 'PruneError';
  }
}

class UnionFind {
  private parent: number[] = [];
  add(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    let r = a;
    while (this.parent[r] !== r) r = this.parent[r]!;
    while (this.parent[a] !== r) {
      const next = this.parent[a]!;
      this.parent[a] = r;
      a = next;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  get size(): number {
    return this.parent.length;
  }
}

/** A set of layers whose output channels are removed together, channel for channel. */
export interface ChannelGroup {
  /** Index in DependencyGraph.groups. */
  readonly id: number;
  /** Layers that create these channels (convs, linear layers), in graph order. */
  readonly sources: readonly string[];
  /** The sources' names joined with '+': how tables and logs name the group. */
  readonly name: string;
  /** Removable channels (class ids), in the first source's channel order. */
  readonly channels: readonly number[];
  /** Every channel of the group, removable or not. */
  readonly size: number;
}

export interface DependencyOptions {
  /** Layers (node names) whose output channels must stay; their whole group stays. */
  exclude?: readonly string[];
}

export class DependencyGraph {
  readonly groups: readonly ChannelGroup[];
  private readonly layouts = new Map<string, Layout>();
  private readonly uf = new UnionFind();
  private readonly atomOwner: string[] = [];
  private pinnedRoots = new Set<number>();
  private readonly groupOfClass = new Map<number, ChannelGroup>();

  constructor(
    readonly graph: Graph,
    opts: DependencyOptions = {},
  ) {
    const pins: Layout[] = [];
    for (const node of graph.nodes) {
      const layout = channelRules.get(node).propagate(this.context(node, pins));
      const expected = graph.shape(node.name)[0]!;
      if (layout.length !== expected) throw new GraphError(`pruning rule gave ${layout.length} channels, the output has ${expected}`, node.name);
      this.layouts.set(node.name, layout);
    }
    for (const o of graph.outputs) pins.push(this.layouts.get(o)!);
    for (const name of opts.exclude ?? []) {
      if (!graph.has(name)) {
        const layers = graph.nodes.filter((n) => channelRules.get(n).filterDim !== undefined).map((n) => n.name);
        throw new PruneError(`cannot exclude '${name}': no such layer (layers: ${layers.join(', ')})`);
      }
      pins.push(this.layouts.get(name)!);
    }
    // Pinning is a property of the class: resolve roots only after every union.
    for (const l of pins) for (const a of l) this.pinnedRoots.add(this.uf.find(a));
    this.groups = this.buildGroups();
  }

  private context(node: GraphNode, pins: Layout[]): PropagateContext {
    const graph = this.graph;
    return {
      node,
      inputShapes: graph.inputShapes(node),
      outputShape: graph.shape(node.name),
      input: (i) => this.layouts.get(node.inputs[i]!)!,
      fresh: (n) => {
        const l = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          l[i] = this.uf.add();
          this.atomOwner.push(node.name);
        }
        return l;
      },
      pin: (l) => pins.push(l),
      unite: (a, b) => {
        if (a.length !== b.length) throw new GraphError(`cannot tie ${a.length} channels to ${b.length}`, node.name);
        for (let i = 0; i < a.length; i++) this.uf.union(a[i]!, b[i]!);
      },
    };
  }

  private buildGroups(): ChannelGroup[] {
    // Layers are in one group when some removable class has atoms of both.
    const classSources = new Map<number, Set<string>>();
    for (let a = 0; a < this.uf.size; a++) {
      const r = this.uf.find(a);
      if (this.pinnedRoots.has(r)) continue;
      let s = classSources.get(r);
      if (!s) classSources.set(r, (s = new Set()));
      s.add(this.atomOwner[a]!);
    }
    const owner = new UnionFind();
    const index = new Map<string, number>();
    const idx = (n: string) => {
      let i = index.get(n);
      if (i === undefined) index.set(n, (i = owner.add()));
      return i;
    };
    for (const s of classSources.values()) {
      const [first, ...rest] = [...s].map(idx);
      for (const o of rest) owner.union(first!, o);
    }
    const order = new Map(this.graph.nodes.map((n, i) => [n.name, i]));
    const bySources = new Map<number, string[]>();
    for (const [name, i] of index) {
      const r = owner.find(i);
      if (!bySources.has(r)) bySources.set(r, []);
      bySources.get(r)!.push(name);
    }
    const groups: ChannelGroup[] = [];
    const sorted = [...bySources.values()].map((s) => s.sort((a, b) => order.get(a)! - order.get(b)!)).sort((a, b) => order.get(a[0]!)! - order.get(b[0]!)!);
    for (const sources of sorted) {
      const channels: number[] = [];
      const all = new Set<number>();
      for (const src of sources) {
        for (const a of this.layouts.get(src)!) {
          if (this.atomOwner[a] !== src) continue;
          const r = this.uf.find(a);
          if (all.has(r)) continue;
          all.add(r);
          if (!this.pinnedRoots.has(r)) channels.push(r);
        }
      }
      const g: ChannelGroup = { id: groups.length, sources, name: sources.join('+'), channels, size: all.size };
      for (const c of channels) this.groupOfClass.set(c, g);
      groups.push(g);
    }
    return groups;
  }

  /** Layers that own prunable channels (candidates for --layers / --exclude). */
  sourceNames(): string[] {
    return this.groups.flatMap((g) => g.sources);
  }

  /** The channel layout of a node's output: one atom per position. */
  layout(node: string): Layout {
    const l = this.layouts.get(node);
    if (!l) throw new PruneError(`no layer named '${node}'`);
    return l;
  }

  /** The removable class at position `pos` of `node`'s output channels, or -1 when it is pinned. */
  classAt(node: string, pos: number): number {
    const r = this.uf.find(this.layout(node)[pos]!);
    return this.pinnedRoots.has(r) ? -1 : r;
  }

  groupOf(cls: number): ChannelGroup {
    const g = this.groupOfClass.get(cls);
    if (!g) throw new PruneError(`channel ${cls} is not removable`);
    return g;
  }

  group(nameOrSource: string): ChannelGroup {
    const g = this.groups.find((x) => x.name === nameOrSource || x.sources.includes(nameOrSource));
    if (!g) throw new PruneError(`no prunable layer '${nameOrSource}' (prunable: ${this.groups.map((x) => x.name).join(', ') || 'none'})`);
    return g;
  }

  /** Positions of `node`'s output channels that survive removing `removed` (ascending). */
  kept(node: string, removed: ReadonlySet<number>): number[] {
    const l = this.layout(node);
    const out: number[] = [];
    for (let i = 0; i < l.length; i++) if (!removed.has(this.uf.find(l[i]!))) out.push(i);
    return out;
  }

  /** Every removable class. */
  get removable(): number[] {
    return this.groups.flatMap((g) => g.channels);
  }
}
