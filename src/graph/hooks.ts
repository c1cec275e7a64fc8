// Hooks on a forward pass. Capture records activations and the gradients
// flowing into them — what Taylor pruning, mean-activation / APoZ criteria,
// attention transfer and Grad-CAM read. mapOutput replaces a node's output
// (a scale, an ablation). composeHooks runs several in one forward, in order,
// each seeing the output as the previous one left it; a HookSet is the same
// as a disposable scope (pytorch-grad-cam releases its hooks in one place):
// disposing it detaches it from the model it was attached to and releases
// every capture in it, so nothing outlives the set.
import { keep, type Tensor } from '../tensor/index.js';
import type { GraphNode } from './ir.js';
import type { Hooks } from './executor.js';

/** Which nodes a hook applies to: names, or a predicate. */
export type NodeMatch = readonly string[] | ((node: GraphNode) => boolean);

function matcher(nodes: NodeMatch): (node: GraphNode) => boolean {
  if (typeof nodes === 'function') return nodes;
  const set = new Set(nodes);
  return (n) => set.has(n.name);
}

/**
 * One Hooks running `hooks` in order on every node output. Each sees the
 * output as the previous ones left it; a replacement that a later hook
 * replaces again is released then (autograd keeps what backward needs).
 */
export function composeHooks(...hooks: readonly (Hooks | null | undefined)[]): Hooks {
  const list = hooks.filter((h): h is Hooks => !!h?.onOutput);
  if (list.length === 0) return {};
  if (list.length === 1) return list[0]!;
  return {
    onOutput(node, output) {
      let cur = output;
      try {
        for (const h of list) {
          const r = h.onOutput!(node, cur);
          if (!r || r === cur) continue;
          if (cur !== output) cur.dispose();
          cur = r;
        }
      } catch (e) {
        if (cur !== output) cur.dispose();
        throw e;
      }
      return cur === output ? undefined : cur;
    },
  };
}

/**
 * Replaces the output of the matching nodes by `fn(output, node)`, which
 * must return a new tensor (e.g. `out.mul(scale)`); gradients flow through
 * it to `output` and to whatever else it reads.
 */
export function mapOutput(nodes: NodeMatch, fn: (output: Tensor, node: GraphNode) => Tensor): Hooks {
  const match = matcher(nodes);
  return { onOutput: (node, output) => (match(node) ? fn(output, node) : undefined) };
}

interface Releasable {
  dispose(): void;
}

function isReleasable(h: object): h is Releasable {
  return typeof (h as Partial<Releasable>).dispose === 'function';
}

/**
 * Several hooks as one, and one place to release them. Members run in the
 * order added. dispose() detaches the set from every model it is attached
 * to (Model.attach) and disposes every member that has dispose() (captures,
 * nested sets); detach() only detaches, leaving captured tensors readable.
 */
export class HookSet implements Hooks {
  private readonly members: Hooks[] = [];
  private composed: Hooks = {};
  private readonly detachers = new Set<() => void>();
  private disposed = false;

  constructor(...hooks: Hooks[]) {
    for (const h of hooks) this.add(h);
  }

  /** Adds a hook after the others; returns it (so `const cap = set.add(new Capture(...))`). */
  add<H extends Hooks>(hook: H): H {
    if (this.disposed) throw new Error('hook set: add() after dispose()');
    this.members.push(hook);
    this.composed = composeHooks(...this.members);
    return hook;
  }

  get hooks(): readonly Hooks[] {
    return this.members;
  }

  onOutput(node: GraphNode, output: Tensor): Tensor | void {
    if (this.disposed) return;
    return this.composed.onOutput?.(node, output);
  }

  /**
   * Registers how to detach the set from something running it (Model.attach
   * does); the returned function forgets it again (when that model goes away).
   */
  onDetach(fn: () => void): () => void {
    this.detachers.add(fn);
    return () => void this.detachers.delete(fn);
  }

  /** Stops the set running on the models it is attached to; captured tensors stay. */
  detach(): void {
    const fns = [...this.detachers];
    this.detachers.clear();
    for (const fn of fns) fn();
  }

  dispose(): void {
    if (this.disposed) return;
    this.detach();
    this.disposed = true;
    for (const h of this.members) if (isReleasable(h)) h.dispose();
    this.members.length = 0;
    this.composed = {};
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface CaptureOptions {
  /** Also keep the gradient of the loss w.r.t. each captured output (after backward). */
  grads?: boolean;
}

export class Capture implements Hooks {
  private readonly acts = new Map<string, Tensor>();
  private readonly match: (node: GraphNode) => boolean;
  private disposed = false;

  constructor(
    nodes: NodeMatch,
    private readonly opts: CaptureOptions = {},
  ) {
    this.match = matcher(nodes);
  }

  onOutput(node: GraphNode, output: Tensor): void {
    if (this.disposed || !this.match(node)) return;
    this.acts.get(node.name)?.dispose();
    const held = keep(output.share());
    if (this.opts.grads && held.requiresGrad) held.retainGrad();
    this.acts.set(node.name, held);
  }

  /** Names captured so far, in execution order. */
  get names(): string[] {
    return [...this.acts.keys()];
  }

  /** The captured output of `name` (owned by the capture: do not dispose). */
  activation(name: string): Tensor {
    const t = this.acts.get(name);
    if (!t) throw new Error(`capture: no activation recorded for node '${name}' (captured: ${this.names.join(', ') || 'none'})`);
    return t;
  }

  /** d(loss)/d(output of `name`) after backward; a new handle the caller owns, or null. */
  gradient(name: string): Tensor | null {
    if (!this.opts.grads) throw new Error(`capture: created without { grads: true }`);
    return this.activation(name).grad;
  }

  dispose(): void {
    for (const t of this.acts.values()) t.dispose();
    this.acts.clear();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
