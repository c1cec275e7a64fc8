// Capturing activations and the gradients flowing into them — what Taylor
// pruning, mean-activation / APoZ criteria, attention transfer and Grad-CAM
// read. A Capture is a scope: its tensors are released by dispose() (or at
// the end of a `using` block).
import { keep, type Tensor } from '../tensor/index.js';
import type { GraphNode } from './ir.js';
import type { Hooks } from './executor.js';

export interface CaptureOptions {
  /** Also keep the gradient of the loss w.r.t. each captured output (after backward). */
  grads?: boolean;
}

export class Capture implements Hooks {
  private readonly acts = new Map<string, Tensor>();
  private readonly match: (node: GraphNode) => boolean;
  private disposed = false;

  constructor(
    nodes: readonly string[] | ((node: GraphNode) => boolean),
    private readonly opts: CaptureOptions = {},
  ) {
    if (typeof nodes === 'function') this.match = nodes;
    else {
      const set = new Set(nodes);
      this.match = (n) => set.has(n.name);
    }
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
