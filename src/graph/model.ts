// A model: a validated graph plus its tensors (parameters and buffers), keyed
// `${node}.${name}` as PyTorch's state_dict keys them. Training runs it;
// pruning builds a new Model from a transformed graph and sliced tensors;
// graph edits (edit.ts) get a model through derive().
//
// Freezing: freeze() turns requiresGrad off on parameters, so backward
// computes no gradient for them and every optimizer skips them (a parameter
// without a gradient is not updated, as in PyTorch). They stay in
// parameters() and namedParameters(), in the same order, so an optimizer's
// parameter order, its saved state and checkpoints do not depend on what is
// frozen; trainableParameters() lists only the others, and isFrozen() /
// frozenKeys() say which. Freezing belongs to this Model object: clone() and
// derive() keep it, checkpoints do not store it.
import { keep, manualSeed, noGrad, rand, randn, zeros, ones, type Tensor } from '../tensor/index.js';
import { GraphError, type GraphNode } from './ir.js';
import type { Init, TensorSpec } from './registry.js';
import type { Graph } from './graph.js';
import { compile, execute, type Feeds, type Hooks, type Plan } from './executor.js';
import { HookSet, composeHooks } from './hooks.js';

export interface ForwardOptions {
  /** Train mode (batch statistics, dropout) or eval mode; defaults to the model's mode. */
  training?: boolean;
  /** Hooks for this call (several run in order), after those attached to the model. */
  hooks?: Hooks | readonly Hooks[];
}

export interface TensorEntry {
  key: string;
  node: string;
  name: string;
  kind: 'param' | 'buffer';
  spec: TensorSpec;
}

export class Model {
  /** Train mode by default, as in PyTorch. */
  training = true;
  private disposed = false;
  private plan: Plan | null = null;
  private readonly weightCache = new Map<string, Record<string, Tensor>>();
  private readonly attached: HookSet[] = [];
  private readonly forgetters = new Map<HookSet, () => void>();
  private readonly frozen = new Set<string>();

  private constructor(
    readonly graph: Graph,
    private readonly store: Map<string, Tensor>,
  ) {}

  /** Every parameter and buffer the graph declares, in node order. */
  static entries(graph: Graph): TensorEntry[] {
    const out: TensorEntry[] = [];
    for (const node of graph.nodes) {
      const specs = graph.tensorSpecs(node);
      for (const [name, spec] of Object.entries(specs.params)) out.push({ key: `${node.name}.${name}`, node: node.name, name, kind: 'param', spec });
      for (const [name, spec] of Object.entries(specs.buffers)) out.push({ key: `${node.name}.${name}`, node: node.name, name, kind: 'buffer', spec });
    }
    return out;
  }

  /** A freshly initialised model (PyTorch's default initialisers unless the graph's kinds say otherwise). */
  static create(graph: Graph, opts: { seed?: number; init?: (entry: TensorEntry) => Init | undefined } = {}): Model {
    if (opts.seed !== undefined) manualSeed(opts.seed);
    const store = new Map<string, Tensor>();
    noGrad(() => {
      for (const e of Model.entries(graph)) {
        const t = keep(initTensor(e.spec, opts.init?.(e) ?? e.spec.init));
        if (e.kind === 'param') t.requiresGrad = true;
        store.set(e.key, t);
      }
    });
    return new Model(graph, store);
  }

  /**
   * A model from existing tensors (a checkpoint, a pruning pass). Every
   * declared tensor must be present with the declared shape; the error lists
   * all that are missing, unexpected or mis-shaped. Takes ownership.
   */
  static fromTensors(graph: Graph, tensors: Readonly<Record<string, Tensor>>, where = 'tensors'): Model {
    const problems: string[] = [];
    const store = new Map<string, Tensor>();
    const declared = Model.entries(graph);
    const keys = new Set(declared.map((e) => e.key));
    for (const e of declared) {
      const t = tensors[e.key];
      if (!t) {
        problems.push(`missing '${e.key}' [${e.spec.shape.join(', ')}]`);
        continue;
      }
      const s = t.shape;
      if (s.length !== e.spec.shape.length || s.some((d, i) => d !== e.spec.shape[i])) {
        problems.push(`'${e.key}' has shape [${s.join(', ')}], the graph needs [${e.spec.shape.join(', ')}]`);
        continue;
      }
      if (t.dtype !== (e.spec.dtype ?? 'float32')) {
        problems.push(`'${e.key}' is ${t.dtype}, the graph needs ${e.spec.dtype ?? 'float32'}`);
        continue;
      }
      keep(t);
      if (e.kind === 'param' && !t.requiresGrad) t.requiresGrad = true;
      store.set(e.key, t);
    }
    for (const k of Object.keys(tensors)) if (!keys.has(k)) problems.push(`unexpected '${k}' (no such parameter in graph '${graph.name}')`);
    if (problems.length) {
      for (const t of store.values()) t.dispose();
      throw new GraphError(`${where} do not match graph '${graph.name}':\n  ${problems.join('\n  ')}`);
    }
    return new Model(graph, store);
  }

  train(): this {
    this.training = true;
    return this;
  }

  eval(): this {
    this.training = false;
    return this;
  }

  /** Runs the graph and returns its first output. */
  forward(inputs: Feeds, opts: ForwardOptions = {}): Tensor {
    const outs = this.forwardAll(inputs, opts);
    for (const o of outs.slice(1)) o.dispose();
    return outs[0]!;
  }

  forwardAll(inputs: Feeds, opts: ForwardOptions = {}): Tensor[] {
    this.plan ??= compile(this.graph);
    const perCall = opts.hooks === undefined ? [] : isHookList(opts.hooks) ? opts.hooks : [opts.hooks];
    const hooks = this.attached.length + perCall.length === 0 ? undefined : composeHooks(...this.attached, ...perCall);
    return execute(this.graph, this.plan, inputs, (n) => this.nodeTensors(n), { training: opts.training ?? this.training }, hooks);
  }

  /**
   * Runs `hooks` on every forward of this model (in attach order, before
   * per-call hooks) until the returned set is detached or disposed; disposing
   * it also releases its captures. `using set = model.attach(capture, scale)`.
   */
  attach(...hooks: Hooks[]): HookSet {
    const set = hooks.length === 1 && hooks[0] instanceof HookSet ? hooks[0] : new HookSet(...hooks);
    if (set.isDisposed) throw new GraphError('cannot attach a disposed hook set');
    if (this.attached.includes(set)) return set;
    this.attached.push(set);
    const forget = set.onDetach(() => this.unhook(set));
    this.forgetters.set(set, forget);
    return set;
  }

  private unhook(set: HookSet): void {
    const i = this.attached.indexOf(set);
    if (i >= 0) this.attached.splice(i, 1);
    this.forgetters.get(set)?.();
    this.forgetters.delete(set);
  }

  /** Hook sets attached to this model, in the order they run. */
  get attachedHooks(): readonly HookSet[] {
    return this.attached;
  }

  /** Tensors of one node by short name (weight, bias, running_mean, ...). */
  nodeTensors(node: GraphNode): Readonly<Record<string, Tensor>> {
    let t = this.weightCache.get(node.name);
    if (!t) {
      t = {};
      for (const [key, tensor] of this.store) {
        if (key.startsWith(`${node.name}.`) && !key.slice(node.name.length + 1).includes('.')) t[key.slice(node.name.length + 1)] = tensor;
      }
      this.weightCache.set(node.name, t);
    }
    return t;
  }

  tensor(key: string): Tensor {
    const t = this.store.get(key);
    if (!t) throw new GraphError(`model '${this.graph.name}' has no tensor '${key}'`);
    return t;
  }

  /** All parameters and buffers by key (live tensors owned by the model). */
  namedTensors(): [string, Tensor][] {
    return [...this.store.entries()];
  }

  namedParameters(): [string, Tensor][] {
    const params = new Set(Model.entries(this.graph).filter((e) => e.kind === 'param').map((e) => e.key));
    return this.namedTensors().filter(([k]) => params.has(k));
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters that are not frozen, in model order. */
  trainableParameters(): Tensor[] {
    return this.namedParameters()
      .filter(([k]) => !this.frozen.has(k))
      .map(([, t]) => t);
  }

  /**
   * Freezes parameters: no gradient is computed for them (requiresGrad off,
   * any gradient held dropped), so no optimizer updates them. `which` is a
   * list of keys or node names (a node name freezes all its parameters), or
   * a predicate on the key; absent, everything. Returns the keys frozen now.
   */
  freeze(which?: readonly string[] | ((key: string) => boolean)): string[] {
    const keys = this.selectParameters(which, 'freeze');
    for (const k of keys) {
      const t = this.store.get(k)!;
      t.grad = null;
      t.requiresGrad = false;
      this.frozen.add(k);
    }
    return keys;
  }

  /** Undoes freeze() for the chosen parameters (same selection rules); returns their keys. */
  unfreeze(which?: readonly string[] | ((key: string) => boolean)): string[] {
    const keys = this.selectParameters(which, 'unfreeze');
    for (const k of keys) {
      this.store.get(k)!.requiresGrad = true;
      this.frozen.delete(k);
    }
    return keys;
  }

  isFrozen(key: string): boolean {
    return this.frozen.has(key);
  }

  /** Keys of the frozen parameters, in model order. */
  frozenKeys(): string[] {
    return this.namedParameters()
      .map(([k]) => k)
      .filter((k) => this.frozen.has(k));
  }

  private selectParameters(which: readonly string[] | ((key: string) => boolean) | undefined, what: string): string[] {
    const keys = this.namedParameters().map(([k]) => k);
    if (which === undefined) return keys;
    if (typeof which === 'function') return keys.filter(which);
    const chosen = new Set<string>();
    for (const w of which) {
      const hits = keys.filter((k) => k === w || k.slice(0, k.lastIndexOf('.')) === w);
      if (hits.length === 0) {
        const isBuffer = this.store.has(w);
        throw new GraphError(`${what}: '${w}' is ${isBuffer ? 'a buffer, not a parameter' : `neither a parameter nor a node with parameters of model '${this.graph.name}'`}`);
      }
      for (const h of hits) chosen.add(h);
    }
    return keys.filter((k) => chosen.has(k));
  }

  /** Copies of every tensor (a state dict the caller owns). */
  stateDict(): Record<string, Tensor> {
    // Cloned under noGrad: plain tensors with no autograd history, no stray handles.
    return noGrad(() => Object.fromEntries(this.namedTensors().map(([k, t]) => [k, t.clone()])));
  }

  /** Overwrites tensors in place from a state dict with matching keys and shapes. */
  loadStateDict(state: Readonly<Record<string, Tensor>>): void {
    const missing = [...this.store.keys()].filter((k) => !(k in state));
    if (missing.length) throw new GraphError(`state dict lacks ${missing.join(', ')}`);
    noGrad(() => {
      for (const [k, t] of this.store) {
        const src = state[k]!;
        if (src.shape.join() !== t.shape.join()) throw new GraphError(`state dict '${k}' has shape [${src.shape.join(', ')}], model needs [${t.shape.join(', ')}]`);
        t.copy_(src);
      }
    });
  }

  /** An independent copy (same graph, cloned tensors, same parameters frozen; no hooks attached). */
  clone(): Model {
    const copies = this.stateDict();
    const m = Model.fromTensors(this.graph, copies);
    m.freezeLike(this);
    return m;
  }

  /**
   * A model of `graph` (an edit of this one's, see edit.ts) that takes a copy
   * of every tensor whose key and shape it still has, and initialises the
   * rest as create() would (seeded with `opts.seed` when given; the random
   * stream is drawn only for tensors that are new). The mode (train / eval)
   * and the frozen parameters that carry over are kept.
   */
  derive(graph: Graph, opts: { seed?: number; init?: (entry: TensorEntry) => Init | undefined } = {}): Model {
    const fresh: TensorEntry[] = [];
    const tensors: Record<string, Tensor> = {};
    noGrad(() => {
      for (const e of Model.entries(graph)) {
        const old = this.store.get(e.key);
        if (old && old.shape.join() === e.spec.shape.join() && old.dtype === (e.spec.dtype ?? 'float32')) tensors[e.key] = old.clone();
        else fresh.push(e);
      }
      if (fresh.length && opts.seed !== undefined) manualSeed(opts.seed);
      for (const e of fresh) tensors[e.key] = initTensor(e.spec, opts.init?.(e) ?? e.spec.init);
    });
    const m = Model.fromTensors(graph, tensors, `derived tensors`);
    m.freezeLike(this);
    m.training = this.training;
    return m;
  }

  private freezeLike(source: Model): void {
    const params = new Set(this.namedParameters().map(([k]) => k));
    const keys = source.frozenKeys().filter((k) => params.has(k));
    if (keys.length) this.freeze(keys);
  }

  dispose(): void {
    // Attached hook sets stop running here; releasing what they captured is their owner's call.
    for (const set of [...this.attached]) this.unhook(set);
    for (const t of this.store.values()) t.dispose();
    this.store.clear();
    this.weightCache.clear();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function isHookList(h: Hooks | readonly Hooks[]): h is readonly Hooks[] {
  return Array.isArray(h);
}

function initTensor(spec: TensorSpec, init: Init): Tensor {
  const shape = [...spec.shape];
  const dtype = spec.dtype ?? 'float32';
  switch (init.kind) {
    case 'zeros':
      return zeros(shape, { dtype });
    case 'ones':
      return ones(shape, { dtype });
    case 'uniform_fan_in': {
      const b = (init.gain ?? 1) / Math.sqrt(init.fanIn);
      const u = rand(shape);
      const t = u.mul(2 * b).sub_(b);
      u.dispose();
      return t;
    }
    case 'kaiming_normal': {
      const n = randn(shape);
      const t = n.mul(Math.sqrt(2 / init.fan));
      n.dispose();
      return t;
    }
    case 'normal': {
      const n = randn(shape);
      const t = n.mul(init.std);
      n.dispose();
      return t;
    }
  }
}
