// Runs a graph. The plan is compiled once per model: each step knows its
// kind, where its inputs sit and which weights it reads, and when each
// intermediate is read for the last time so its handle is released right
// then (autograd keeps what backward needs on its own).
import type { Tensor } from '../tensor/index.js';
import { GraphError, type GraphNode } from './ir.js';
import { hasTrait, kindOf, type ForwardContext, type KindDef } from './registry.js';
import type { Graph } from './graph.js';

/**
 * What runs beside a forward pass: observers of node outputs (activation
 * capture, statistics, Grad-CAM) and editors that replace them (a per-channel
 * scale, an adapter, an ablation). Several compose into one (hooks.ts:
 * composeHooks, HookSet), so a criterion's capture and a distillation
 * capture share one forward.
 */
export interface Hooks {
  /**
   * Called with each node's output right after it is computed (graph inputs
   * included). Return nothing to observe; return a tensor to replace the
   * output for every consumer and for the graph outputs. `output` is the
   * executor's: it is released after its last reader, so retain it with
   * share() if needed later. A returned tensor other than `output` becomes
   * the executor's to release in its place (return a new handle, never a
   * tensor you keep); autograd flows through it as through any op.
   */
  onOutput?(node: GraphNode, output: Tensor): Tensor | void;
}

interface Step {
  index: number;
  node: GraphNode;
  def: KindDef;
  inputs: number[];
  /** A graph input: its value is fed, not computed. */
  fed: boolean;
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
    fed: hasTrait(node, 'input'),
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
  const onOutput = hooks?.onOutput?.bind(hooks);
  // A hook's replacement takes the output's slot; the output it replaced is
  // released now if the executor owned it (the caller's fed tensor never is).
  const run = (i: number, node: GraphNode): void => {
    const out = values[i]!;
    const r = onOutput!(node, out);
    if (!r || r === out) return;
    if (owned[i]) out.dispose();
    values[i] = r;
    owned[i] = true;
  };
  try {
    for (const step of plan.steps) {
      if (step.fed) {
        if (onOutput) run(step.index, step.node);
        continue;
      }
      values[step.index] = step.def.forward(
        step.node,
        step.inputs.map((i) => values[i]!),
        weights(step.node),
        ctx,
      );
      if (onOutput) run(step.index, step.node);
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
