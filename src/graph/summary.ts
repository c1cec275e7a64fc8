// Counting: per-node output shape, parameters (weights and biases apart),
// multiply-accumulates and activation memory, with totals. Reads only the
// graph, so pruned graphs are counted exactly like zoo ones.
import type { Graph } from './graph.js';
import { kindOf, numel } from './registry.js';
import type { Shape } from './ir.js';

export interface SummaryRow {
  name: string;
  kind: string;
  inputs: string[];
  outputShape: Shape;
  /** Elements of the `weight` tensor (conv kernels, linear matrices, BN scales). */
  weights: number;
  /** Elements of the `bias` tensor (conv / linear biases, BN shifts). */
  biases: number;
  /** All trainable elements of the node. */
  params: number;
  /** Non-trainable saved elements (BN running statistics). */
  buffers: number;
  /** Multiply-accumulates per sample. */
  macs: number;
  /** Bytes of the node's float32 output per sample. */
  activationBytes: number;
}

export interface Summary {
  name: string;
  rows: SummaryRow[];
  totals: { params: number; weights: number; biases: number; buffers: number; macs: number; activationBytes: number };
}

export function summarize(graph: Graph): Summary {
  const rows: SummaryRow[] = graph.nodes.map((node) => {
    const inShapes = graph.inputShapes(node);
    const out = graph.shape(node.name);
    const specs = graph.tensorSpecs(node);
    const count = (r: Record<string, { shape: Shape }>) => Object.values(r).reduce((a, s) => a + numel(s.shape), 0);
    return {
      name: node.name,
      kind: node.kind,
      inputs: [...node.inputs],
      outputShape: out,
      weights: specs.params.weight ? numel(specs.params.weight.shape) : 0,
      biases: specs.params.bias ? numel(specs.params.bias.shape) : 0,
      params: count(specs.params),
      buffers: count(specs.buffers),
      macs: kindOf(node).cost(node, inShapes, out).macs,
      activationBytes: numel(out) * 4,
    };
  });
  const sum = (k: keyof Omit<SummaryRow, 'name' | 'kind' | 'inputs' | 'outputShape'>) => rows.reduce((a, r) => a + r[k], 0);
  return {
    name: graph.name,
    rows,
    totals: { params: sum('params'), weights: sum('weights'), biases: sum('biases'), buffers: sum('buffers'), macs: sum('macs'), activationBytes: sum('activationBytes') },
  };
}

/** A training step's memory, estimated from the graph (see trainingMemory). */
export interface TrainingMemory {
  /** Bytes that grow with the batch, per sample: every node's float32 output. */
  perSample: number;
  /** Bytes independent of the batch: weights and buffers, gradients, optimizer moments. */
  fixed: number;
  /** perSample × batch + fixed. */
  total: number;
}

/**
 * A conservative estimate of the memory one training step needs at `batch`
 * samples: autograd keeps what backward needs of the forward pass until the
 * backward pass frees it, which is at most every node's output (the
 * summary's activation memory) for every sample; on top come the weights and
 * buffers, one gradient per weight, and `optimizerMoments` optimizer tensors
 * per weight (Adam's two moments, SGD's momentum buffer), all float32.
 * Measured peaks of whole training steps stayed below it: lenet5 at 0.8 and
 * resnet20 at 0.7 of the activation part (the process's own ~0.6 GB of
 * libtorch and data come on top, but are already in use when it is checked).
 */
export function trainingMemory(graph: Graph, batch: number, o: { optimizerMoments: number }): TrainingMemory {
  const t = summarize(graph).totals;
  const perSample = t.activationBytes;
  const fixed = 4 * (t.params * (2 + o.optimizerMoments) + t.buffers);
  return { perSample, fixed, total: perSample * batch + fixed };
}

/** 1234567 -> '1.23M' */
export function humanCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function humanBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}
