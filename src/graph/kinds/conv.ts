// Convolutions: conv2d (incl. grouped and depthwise) and conv_transpose2d.
import { F } from '../../tensor/index.js';
import { GraphError, type GraphNode, type Shape } from '../ir.js';
import { attrBool, attrInt, attrPair, defineKind, expectRank } from '../registry.js';

export interface Conv2dGeometry {
  inChannels: number;
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number] | 'same';
  dilation: [number, number];
  groups: number;
  bias: boolean;
}

export function conv2dGeometry(node: GraphNode): Conv2dGeometry {
  const groups = attrInt(node, 'groups', { min: 1, default: 1 });
  const inChannels = attrInt(node, 'inChannels', { min: 1 });
  const outChannels = attrInt(node, 'outChannels', { min: 1 });
  if (inChannels % groups || outChannels % groups) {
    throw new GraphError(`inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`, node.name);
  }
  const pad = node.attrs.padding ?? 0;
  const stride = attrPair(node, 'stride', 1, 1);
  if (pad === 'same' && (stride[0] !== 1 || stride[1] !== 1)) throw new GraphError(`padding 'same' needs stride 1, got [${stride.join(', ')}]`, node.name);
  return {
    inChannels,
    outChannels,
    kernel: attrPair(node, 'kernel', undefined, 1),
    stride,
    padding: pad === 'same' ? 'same' : attrPair(node, 'padding', 0, 0),
    dilation: attrPair(node, 'dilation', 1, 1),
    groups,
    bias: attrBool(node, 'bias', true),
  };
}

/** Explicit per-side padding; 'same' resolves to (d·(k−1))/2 when that is whole (odd effective kernels). */
export function explicitPadding(g: Conv2dGeometry): [number, number] | null {
  if (g.padding !== 'same') return g.padding;
  const eff = [g.dilation[0] * (g.kernel[0] - 1), g.dilation[1] * (g.kernel[1] - 1)];
  return eff[0]! % 2 === 0 && eff[1]! % 2 === 0 ? [eff[0]! / 2, eff[1]! / 2] : null;
}

function outSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

defineKind({
  kind: 'conv2d',
  traits: ['conv'],
  arity: 1,
  validate: (node) => void conv2dGeometry(node),
  inferShape(node, [x]) {
    expectRank(node, x!, 3);
    const g = conv2dGeometry(node);
    if (x![0] !== g.inChannels) throw new GraphError(`expects ${g.inChannels} input channels, got input [${x!.join(', ')}]`, node.name);
    if (g.padding === 'same') return [g.outChannels, x![1]!, x![2]!];
    const h = outSize(x![1]!, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0]);
    const w = outSize(x![2]!, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1]);
    if (h < 1 || w < 1) throw new GraphError(`output would be empty (${h}x${w}) for input [${x!.join(', ')}]`, node.name);
    return [g.outChannels, h, w];
  },
  tensors(node) {
    const g = conv2dGeometry(node);
    const fanIn = (g.inChannels / g.groups) * g.kernel[0] * g.kernel[1];
    const params: Record<string, { shape: Shape; init: { kind: 'uniform_fan_in'; fanIn: number } }> = {
      weight: { shape: [g.outChannels, g.inChannels / g.groups, ...g.kernel], init: { kind: 'uniform_fan_in', fanIn } },
    };
    if (g.bias) params.bias = { shape: [g.outChannels], init: { kind: 'uniform_fan_in', fanIn } };
    return { params, buffers: {} };
  },
  forward(node, [x], t) {
    const g = conv2dGeometry(node);
    return F.conv2d(x!, t.weight!, { bias: t.bias ?? null, stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups });
  },
  cost(node, _inputs, out) {
    const g = conv2dGeometry(node);
    return { macs: out[0]! * out[1]! * out[2]! * (g.inChannels / g.groups) * g.kernel[0] * g.kernel[1] };
  },
});

export interface ConvTranspose2dGeometry extends Omit<Conv2dGeometry, 'padding'> {
  padding: [number, number];
  outputPadding: [number, number];
}

export function convTranspose2dGeometry(node: GraphNode): ConvTranspose2dGeometry {
  const g = conv2dGeometry({ ...node, attrs: { ...node.attrs, padding: node.attrs.padding === 'same' ? 0 : (node.attrs.padding ?? 0) } });
  if (node.attrs.padding === 'same') throw new GraphError(`conv_transpose2d does not support padding 'same'`, node.name);
  const outputPadding = attrPair(node, 'outputPadding', 0, 0);
  // As PyTorch: output padding must be smaller than the stride or the dilation.
  for (const i of [0, 1] as const) {
    if (outputPadding[i] >= Math.max(g.stride[i], g.dilation[i])) {
      throw new GraphError(`outputPadding [${outputPadding.join(', ')}] must be smaller than the stride or the dilation`, node.name);
    }
  }
  return { ...g, padding: g.padding as [number, number], outputPadding };
}

defineKind({
  kind: 'conv_transpose2d',
  traits: ['conv'],
  arity: 1,
  validate: (node) => void convTranspose2dGeometry(node),
  inferShape(node, [x]) {
    expectRank(node, x!, 3);
    const g = convTranspose2dGeometry(node);
    if (x![0] !== g.inChannels) throw new GraphError(`expects ${g.inChannels} input channels, got input [${x!.join(', ')}]`, node.name);
    const size = (n: number, i: 0 | 1) => (n - 1) * g.stride[i] - 2 * g.padding[i] + g.dilation[i] * (g.kernel[i] - 1) + g.outputPadding[i] + 1;
    return [g.outChannels, size(x![1]!, 0), size(x![2]!, 1)];
  },
  tensors(node) {
    const g = convTranspose2dGeometry(node);
    // PyTorch computes fan-in from weight.size(1): out/groups · kernel area.
    const fanIn = (g.outChannels / g.groups) * g.kernel[0] * g.kernel[1];
    const params: Record<string, { shape: Shape; init: { kind: 'uniform_fan_in'; fanIn: number } }> = {
      weight: { shape: [g.inChannels, g.outChannels / g.groups, ...g.kernel], init: { kind: 'uniform_fan_in', fanIn } },
    };
    if (g.bias) params.bias = { shape: [g.outChannels], init: { kind: 'uniform_fan_in', fanIn } };
    return { params, buffers: {} };
  },
  forward(node, [x], t) {
    const g = convTranspose2dGeometry(node);
    return F.convTranspose2d(x!, t.weight!, {
      bias: t.bias ?? null,
      stride: g.stride,
      padding: g.padding,
      outputPadding: g.outputPadding,
      groups: g.groups,
      dilation: g.dilation,
    });
  },
  cost(node, [x]) {
    const g = convTranspose2dGeometry(node);
    return { macs: x![0]! * x![1]! * x![2]! * (g.outChannels / g.groups) * g.kernel[0] * g.kernel[1] };
  },
});
