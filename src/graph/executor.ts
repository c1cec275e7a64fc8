// Runs a graph. The plan is compiled once per model: each step knows its
// kind, where its inputs sit and which weights it reads, and when each
// intermediate is read for the last time so its handle is released right
// then (autograd keeps what backward needs on its own).
import type { Tensor } from '../tensor/index.js';
import { GraphError, type GraphNode } from './ir.js';
import { kindOf, type ForwardContext, type KindDef } from './registry.js';
import type { Graph } from './graph.js';

/** Observers of node outputs (activation capture, statistics, Grad-CAM). */
export interface Hooks {
  /** Called with each node's output right after it is computed. Retain with share() if needed later. */
  onOutput?(node: GraphNode, output: Tensor): void;
}

interface Step {
  index: number;
  node: GraphNode;
  def: KindDef;
  inputs: number[];
  /** Values whose last reader is this step: released after it runs. */
  release: number[];
}

export interface Plan {
  steps: Step[];
  inputSlots: Map<string, number>;
  outputSlots: number[];
  size: number;
}

export function compile(graph: Graph): Plan {
  const slot = new Map<string, number>();
  graph.nodes.forEach((n, i) => slot.set(n.name, i));
  const lastUse = new Map<number, number>();
  graph.nodes.forEach((n, i) => n.inputs.forEach((inp) => lastUse.set(slot.get(inp)!, i)));
  const outputSlots = graph.outputs.map((o) => slot.get(o)!);
  const keep = new Set(outputSlots);
  const steps: Step[] = graph.nodes.map((node, i) => ({
    index: i,
    node,
    def: kindOf(node),
    inputs: node.inputs.map((x) => slot.get(x)!),
    release: [...new Set(node.inputs.map((x) => slot.get(x)!))].filter((s) => lastUse.get(s) === i && !keep.has(s)),
  }));
  const inputSlots = new Map(graph.inputs.map((n) => [n.name, slot.get(n.name)!]));
  return { steps, inputSlots, outputSlots, size: graph.nodes.length };
}

export type Feeds = Tensor | readonly Tensor[] | Readonly<Record<string, Tensor>>;

/**
 * Executes the plan. `weights(node)` gives a node's tensors by short name.
 * Returns the graph outputs; every other intermediate handle is released.
 */
export function execute(
  graph: Graph,
  plan: Plan,
  feeds: Feeds,
  weights: (node: GraphNode) => Readonly<Record<string, Tensor>>,
  ctx: ForwardContext,
  hooks?: Hooks,
): Tensor[] {
  const values: (Tensor | undefined)[] = new Array(plan.size);
  const owned: boolean[] = new Array(plan.size).fill(true);
  const inputs = graph.inputs;
  const fed: Tensor[] = isTensor(feeds)
    ? [feeds]
    : Array.isArray(feeds)
      ? [...(feeds as readonly Tensor[])]
      : inputs.map((n) => {
          const t = (feeds as Record<string, Tensor>)[n.name];
          if (!t) throw new GraphError(`no tensor fed for input '${n.name}'`);
          return t;
        });
  if (fed.length !== inputs.length) throw new GraphError(`graph '${graph.name}' has ${inputs.length} inputs, ${fed.length} tensors were fed`);
  inputs.forEach((n, i) => {
    const t = fed[i]!;
    const want = graph.shape(n.name);
    const got = t.shape;
    if (got.length !== want.length + 1 || want.some((d, j) => got[j + 1] !== d)) {
      throw new GraphError(`expects a batch of [${want.join(', ')}], got tensor [${got.join(', ')}]`, n.name);
    }
    const s = plan.inputSlots.get(n.name)!;
    values[s] = t;
    owned[s] = false; // the caller's tensor: never released here
  });
  try {
    for (const step of plan.steps) {
      if (step.node.kind === 'input') {
        hooks?.onOutput?.(step.node, values[step.index]!);
        continue;
      }
      const out = step.def.forward(
        step.node,
        step.inputs.map((i) => values[i]!),
        weights(step.node),
        ctx,
      );
      values[step.index] = out;
      hooks?.onOutput?.(step.node, out);
      for (const r of step.release) {
        if (owned[r]) values[r]?.dispose();
        values[r] = undefined;
      }
    }
    return plan.outputSlots.map((s) => (owned[s] ? values[s]! : values[s]!.share()));
  } catch (e) {
    values.forEach((v, i) => {
      if (v && owned[i]) v.dispose();
    });
    throw e;
  }
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'handle' in x && 'shape' in x && !Array.isArray(x);
}
