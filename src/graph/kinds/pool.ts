// Pooling: max / average with a window, global average, adaptive average.
import { F } from '../../tensor/index.js';
import { GraphError, type GraphNode } from '../ir.js';
import { NO_TENSORS, attrBool, attrPair, defineKind, expectRank } from '../registry.js';

export interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  ceilMode: boolean;
  /** Spacing of the window's taps (max pooling only; 1 elsewhere): the window spans dilation · (kernel − 1) + 1. */
  dilation: [number, number];
}

export function poolGeometry(node: GraphNode): PoolGeometry {
  const kernel = attrPair(node, 'kernel', undefined, 1);
  const stride = node.attrs.stride === undefined || node.attrs.stride === null ? kernel : attrPair(node, 'stride', undefined, 1);
  const padding = attrPair(node, 'padding', 0, 0);
  if (padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1]) throw new GraphError(`padding [${padding.join(', ')}] must be at most half the kernel [${kernel.join(', ')}]`, node.name);
  const dilation = node.kind === 'maxpool2d' ? attrPair(node, 'dilation', 1, 1) : ([1, 1] as [number, number]);
  return { kernel, stride, padding, ceilMode: attrBool(node, 'ceilMode', false), dilation };
}

function pooledSize(n: number, k: number, s: number, p: number, ceil: boolean): number {
  const span = n + 2 * p - k;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // As PyTorch: with ceil mode the last window must start inside the input or left padding.
  if (ceil && (out - 1) * s >= n + p) out -= 1;
  return out;
}

function windowShape(node: GraphNode, x: readonly number[]): number[] {
  expectRank(node, x, 3);
  const g = poolGeometry(node);
  const h = pooledSize(x[1]!, g.dilation[0] * (g.kernel[0] - 1) + 1, g.stride[0], g.padding[0], g.ceilMode);
  const w = pooledSize(x[2]!, g.dilation[1] * (g.kernel[1] - 1) + 1, g.stride[1], g.padding[1], g.ceilMode);
  if (h < 1 || w < 1) throw new GraphError(`output would be empty for input [${x.join(', ')}]`, node.name);
  return [x[0]!, h, w];
}

defineKind({
  kind: 'maxpool2d',
  traits: ['pooling', 'channelwise'],
  arity: 1,
  validate: (node) => void poolGeometry(node),
  inferShape: (node, [x]) => windowShape(node, x!),
  tensors: () => NO_TENSORS,
  forward(node, [x]) {
    const g = poolGeometry(node);
    return F.maxPool2d(x!, g.kernel, { stride: g.stride, padding: g.padding, ceilMode: g.ceilMode, dilation: g.dilation });
  },
  cost: () => ({ macs: 0 }),
});

defineKind({
  kind: 'avgpool2d',
  traits: ['pooling', 'channelwise'],
  arity: 1,
  validate(node) {
    poolGeometry(node);
    attrBool(node, 'countIncludePad', true);
  },
  inferShape: (node, [x]) => windowShape(node, x!),
  tensors: () => NO_TENSORS,
  forward(node, [x]) {
    const g = poolGeometry(node);
    return F.avgPool2d(x!, g.kernel, { stride: g.stride, padding: g.padding, ceilMode: g.ceilMode, countIncludePad: attrBool(node, 'countIncludePad', true) });
  },
  cost: () => ({ macs: 0 }),
});

/** Mean over H and W: [C, H, W] -> [C]. */
defineKind({
  kind: 'global_avgpool',
  traits: ['pooling', 'channelwise'],
  arity: 1,
  validate: () => {},
  inferShape(node, [x]) {
    expectRank(node, x!, 3);
    return [x![0]!];
  },
  tensors: () => NO_TENSORS,
  forward: (_node, [x]) => F.globalAvgPool(x!),
  cost: () => ({ macs: 0 }),
});

defineKind({
  kind: 'adaptive_avgpool',
  traits: ['pooling', 'channelwise'],
  arity: 1,
  validate: (node) => void attrPair(node, 'output', undefined, 1),
  inferShape(node, [x]) {
    expectRank(node, x!, 3);
    return [x![0]!, ...attrPair(node, 'output', undefined, 1)];
  },
  tensors: () => NO_TENSORS,
  forward: (node, [x]) => F.adaptiveAvgPool2d(x!, attrPair(node, 'output')),
  cost: () => ({ macs: 0 }),
});
