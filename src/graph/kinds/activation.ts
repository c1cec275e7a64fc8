// Elementwise activations and softmax: shape-preserving, no weights, no MACs.
import { F, type Tensor } from '../../tensor/index.js';
import { GraphError, type GraphNode } from '../ir.js';
import { NO_TENSORS, attrBool, attrInt, attrNum, defineKind } from '../registry.js';

function defineActivation(kind: string, fn: (x: Tensor, node: GraphNode) => Tensor, validate: (node: GraphNode) => void = () => {}): void {
  defineKind({
    kind,
    traits: ['activation', 'elementwise', 'channelwise'],
    arity: 1,
    validate,
    inferShape: (_node, [x]) => x!,
    tensors: () => NO_TENSORS,
    forward: (node, [x]) => fn(x!, node),
    cost: () => ({ macs: 0 }),
  });
}

defineActivation('relu', (x) => F.relu(x));
defineActivation('relu6', (x) => F.relu6(x));
defineActivation('leaky_relu', (x, n) => F.leakyRelu(x, attrNum(n, 'slope', 0.01)), (n) => void attrNum(n, 'slope', 0.01));
defineActivation('elu', (x, n) => F.elu(x, attrNum(n, 'alpha', 1)), (n) => void attrNum(n, 'alpha', 1));
defineActivation('sigmoid', (x) => F.sigmoid(x));
defineActivation('tanh', (x) => F.tanh(x));
defineActivation('hardswish', (x) => F.hardswish(x));

/** Softmax along `axis` (batch-inclusive numbering: 1 = channels / features). */
export function softmaxAxis(node: GraphNode, rank: number): number {
  const axis = attrInt(node, 'axis', { default: 1 });
  const a = axis < 0 ? axis + rank + 1 : axis;
  if (a < 1 || a > rank) throw new GraphError(`softmax axis ${axis} is out of range for a batch of rank-${rank} samples`, node.name);
  return a;
}

// `log: true` is log-softmax (ONNX LogSoftmax): the same axis, shape, cost and channel rule.
defineKind({
  kind: 'softmax',
  traits: ['distribution'],
  arity: 1,
  validate(node) {
    attrInt(node, 'axis', { default: 1 });
    attrBool(node, 'log', false);
  },
  inferShape(node, [x]) {
    softmaxAxis(node, x!.length);
    return x!;
  },
  tensors: () => NO_TENSORS,
  forward: (node, [x]) => (attrBool(node, 'log', false) ? F.logSoftmax : F.softmax)(x!, softmaxAxis(node, x!.ndim - 1)),
  cost: () => ({ macs: 0 }),
});
