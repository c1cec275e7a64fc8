// Structural nodes: graph inputs, reshaping, identity and dropout.
import { F } from '../../tensor/index.js';
import { GraphError } from '../ir.js';
import { NO_TENSORS, attrInts, attrNum, defineKind, numel } from '../registry.js';

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
