// Fully connected layer.
import { F } from '../../tensor/index.js';
import { GraphError, type GraphNode, type Shape } from '../ir.js';
import { attrBool, attrInt, defineKind, expectRank } from '../registry.js';

export function linearGeometry(node: GraphNode): { inFeatures: number; outFeatures: number; bias: boolean } {
  return { inFeatures: attrInt(node, 'inFeatures', { min: 1 }), outFeatures: attrInt(node, 'outFeatures', { min: 1 }), bias: attrBool(node, 'bias', true) };
}

defineKind({
  kind: 'linear',
  traits: ['linear'],
  arity: 1,
  validate: (node) => void linearGeometry(node),
  inferShape(node, [x]) {
    expectRank(node, x!, 1);
    const g = linearGeometry(node);
    if (x![0] !== g.inFeatures) throw new GraphError(`expects ${g.inFeatures} input features, got [${x!.join(', ')}]`, node.name);
    return [g.outFeatures];
  },
  tensors(node) {
    const g = linearGeometry(node);
    const init = { kind: 'uniform_fan_in' as const, fanIn: g.inFeatures };
    const params: Record<string, { shape: Shape; init: typeof init }> = { weight: { shape: [g.outFeatures, g.inFeatures], init } };
    if (g.bias) params.bias = { shape: [g.outFeatures], init };
    return { params, buffers: {} };
  },
  forward: (_node, [x], t) => F.linear(x!, t.weight!, t.bias ?? null),
  cost(node) {
    const g = linearGeometry(node);
    return { macs: g.inFeatures * g.outFeatures };
  },
});
