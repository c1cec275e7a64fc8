// A learned per-channel multiplier, y[:, c] = α_c · x[:, c]: TransTailor's
// filter importance α, or a BatchNorm's γ without the normalisation. Inserted
// after a layer (graph/edit.ts: insertAfter) it starts at 1, the identity.
import type { Tensor } from '../../tensor/index.js';
import { GraphError, type GraphNode } from '../ir.js';
import { attrInt, defineKind } from '../registry.js';

export function scaleFeatures(node: GraphNode): number {
  return attrInt(node, 'features', { min: 1 });
}

/** α shaped to broadcast over a batch of rank-`rank` samples: [C, 1, ...]. */
export function scaleView(alpha: Tensor, rank: number): Tensor {
  return alpha.reshape([alpha.size(0), ...new Array<number>(rank - 1).fill(1)]);
}

defineKind({
  kind: 'channel_scale',
  traits: ['scale', 'channelwise'],
  arity: 1,
  validate: (node) => void scaleFeatures(node),
  inferShape(node, [x]) {
    if (x!.length < 1 || x!.length > 3) throw new GraphError(`channel_scale expects input of rank 1 to 3 per sample, got [${x!.join(', ')}]`, node.name);
    if (x![0] !== scaleFeatures(node)) throw new GraphError(`has ${scaleFeatures(node)} features but input has ${x![0]} channels [${x!.join(', ')}]`, node.name);
    return x!;
  },
  tensors: (node) => ({ params: { weight: { shape: [scaleFeatures(node)], init: { kind: 'ones' } } }, buffers: {} }),
  forward(_node, [x], t) {
    const a = scaleView(t.weight!, x!.ndim - 1);
    const y = x!.mul(a);
    a.dispose();
    return y;
  },
  // Folded into the preceding conv at inference, as BatchNorm is: no multiply-accumulates counted.
  cost: () => ({ macs: 0 }),
});
