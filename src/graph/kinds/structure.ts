// Structural nodes: graph inputs, reshaping, identity and dropout.
import { F } from '../../tensor/index.js';
import { GraphError } from '../ir.js';
import { NO_TENSORS, attrInt, attrInts, attrNum, defineKind, expectRank, numel } from '../registry.js';
import type { GraphNode } from '../ir.js';

/** A graph input; attrs.shape is the per-sample shape, e.g. [1, 28, 28]. */
defineKind({
  kind: 'input',
  traits: ['input'],
  arity: 0,
  validate(node) {
    const s = attrInts(node, 'shape');
    if (!s.every((d) => d >= 1)) throw new GraphError(`input shape must be positive, got [${s.join(', ')}]`, node.name);
  },
  inferShape: (node) => attrInts(node, 'shape'),
  tensors: () => NO_TENSORS,
  forward(node) {
    throw new GraphError('input nodes are fed by the executor, not run', node.name);
  },
  cost: () => ({ macs: 0 }),
});

/** Flattens everything but the batch dimension. */
defineKind({
  kind: 'flatten',
  traits: ['reshape'],
  arity: 1,
  validate: () => {},
  inferShape: (_node, [x]) => [numel(x!)],
  tensors: () => NO_TENSORS,
  forward: (_node, [x]) => x!.flatten(1),
  cost: () => ({ macs: 0 }),
});

/** Reshape per sample; one dimension may be -1. */
defineKind({
  kind: 'reshape',
  traits: ['reshape'],
  arity: 1,
  validate(node) {
    const s = attrInts(node, 'shape');
    if (s.filter((d) => d === -1).length > 1 || s.some((d) => d === 0 || d < -1)) throw new GraphError(`reshape shape [${s.join(', ')}] is invalid`, node.name);
  },
  inferShape(node, [x]) {
    const s = attrInts(node, 'shape');
    const total = numel(x!);
    const known = s.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = s.map((d) => (d === -1 ? total / known : d));
    if (numel(out) !== total || !out.every(Number.isInteger)) throw new GraphError(`cannot reshape [${x!.join(', ')}] (${total} elements) to [${s.join(', ')}]`, node.name);
    return out;
  },
  tensors: () => NO_TENSORS,
  forward: (node, [x]) => x!.reshape([x!.size(0), ...attrInts(node, 'shape')]),
  cost: () => ({ macs: 0 }),
});

defineKind({
  kind: 'identity',
  traits: ['elementwise', 'channelwise'],
  arity: 1,
  validate: () => {},
  inferShape: (_node, [x]) => x!,
  tensors: () => NO_TENSORS,
  forward: (_node, [x]) => x!.share(),
  cost: () => ({ macs: 0 }),
});

defineKind({
  kind: 'dropout',
  traits: ['elementwise', 'channelwise', 'stochastic'],
  arity: 1,
  validate(node) {
    const p = attrNum(node, 'p', 0.5);
    if (p < 0 || p >= 1) throw new GraphError(`dropout p must be in [0, 1), got ${p}`, node.name);
  },
  inferShape: (_node, [x]) => x!,
  tensors: () => NO_TENSORS,
  forward: (node, [x], _t, ctx) => F.dropout(x!, attrNum(node, 'p', 0.5), ctx.training),
  cost: () => ({ macs: 0 }),
});

/** Channel shuffle (ShuffleNet): [C, H, W] viewed as [g, C/g, H, W], transposed to [C/g, g, H, W], flattened back: output channel j = input channel (j mod g)·C/g + ⌊j / g⌋. */
export function channelShuffleGroups(node: GraphNode, x: readonly number[]): number {
  expectRank(node, x, 3);
  const g = attrInt(node, 'groups', { min: 1 });
  if (x[0]! % g !== 0) throw new GraphError(`channel shuffle of ${x[0]} channels in ${g} groups: the channels must divide evenly`, node.name);
  return g;
}

defineKind({
  kind: 'channel_shuffle',
  traits: ['reshape'],
  arity: 1,
  validate: (node) => void attrInt(node, 'groups', { min: 1 }),
  inferShape(node, [x]) {
    channelShuffleGroups(node, x!);
    return x!;
  },
  tensors: () => NO_TENSORS,
  forward(node, [x]) {
    const [n, c, h, w] = x!.shape as [number, number, number, number];
    const g = attrInt(node, 'groups', { min: 1 });
    const v = x!.reshape([n, g, c / g, h, w]);
    const t = v.transpose(1, 2);
    const out = t.reshape([n, c, h, w]);
    v.dispose();
    t.dispose();
    return out;
  },
  cost: () => ({ macs: 0 }),
});

/** Channels [start, end) of a [C, ...] input (ONNX Split / Slice along axis 1). */
export function channelSliceRange(node: GraphNode, x: readonly number[]): [number, number] {
  const start = attrInt(node, 'start', { min: 0 });
  const end = attrInt(node, 'end', { min: 1 });
  if (x.length < 1 || end <= start || end > x[0]!) throw new GraphError(`channel slice [${start}, ${end}) is out of range for ${x[0]} channels`, node.name);
  return [start, end];
}

defineKind({
  kind: 'channel_slice',
  traits: ['select'],
  arity: 1,
  validate(node) {
    attrInt(node, 'start', { min: 0 });
    attrInt(node, 'end', { min: 1 });
  },
  inferShape(node, [x]) {
    const [s, e] = channelSliceRange(node, x!);
    return [e - s, ...x!.slice(1)];
  },
  tensors: () => NO_TENSORS,
  forward(node, [x]) {
    const s = attrInt(node, 'start', { min: 0 });
    const e = attrInt(node, 'end', { min: 1 });
    return x!.narrow(1, s, e - s);
  },
  cost: () => ({ macs: 0 }),
});

/** Constant padding of H and W: attrs.pads [top, left, bottom, right] (≥ 0), attrs.value (default 0). */
export function pad2dParams(node: GraphNode): { pads: [number, number, number, number]; value: number } {
  const p = attrInts(node, 'pads');
  if (p.length !== 4 || p.some((d) => d < 0)) throw new GraphError(`pad2d pads must be [top, left, bottom, right] of non-negative sizes, got [${p.join(', ')}]`, node.name);
  return { pads: [p[0]!, p[1]!, p[2]!, p[3]!], value: attrNum(node, 'value', 0) };
}

defineKind({
  kind: 'pad2d',
  traits: ['channelwise'],
  arity: 1,
  validate: (node) => void pad2dParams(node),
  inferShape(node, [x]) {
    expectRank(node, x!, 3);
    const { pads: [t, l, b, r] } = pad2dParams(node);
    return [x![0]!, x![1]! + t + b, x![2]! + l + r];
  },
  tensors: () => NO_TENSORS,
  forward(node, [x]) {
    const { pads: [t, l, b, r], value } = pad2dParams(node);
    return F.pad(x!, [l, r, t, b], value);
  },
  cost: () => ({ macs: 0 }),
});
