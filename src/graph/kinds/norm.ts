// Batch normalisation over channels (2-D maps) or features (1-D).
import { F, tensor, type Device } from '../../tensor/index.js';
import { GraphError, type GraphNode, type Shape } from '../ir.js';
import { NO_TENSORS, attrInt, attrNum, defineKind, type ParamSpecs } from '../registry.js';

export function bnFeatures(node: GraphNode): number {
  return attrInt(node, 'features', { min: 1 });
}

function bnTensors(node: GraphNode): ParamSpecs {
  const c = bnFeatures(node);
  return {
    params: { weight: { shape: [c], init: { kind: 'ones' } }, bias: { shape: [c], init: { kind: 'zeros' } } },
    buffers: { running_mean: { shape: [c], init: { kind: 'zeros' } }, running_var: { shape: [c], init: { kind: 'ones' } } },
  };
}

function defineBatchNorm(kind: 'batchnorm2d' | 'batchnorm1d', ranks: readonly number[]): void {
  defineKind({
    kind,
    traits: ['norm', 'channelwise'],
    arity: 1,
    validate(node) {
      bnFeatures(node);
      attrNum(node, 'eps', 1e-5);
      attrNum(node, 'momentum', 0.1);
    },
    inferShape(node, [x]) {
      if (!ranks.includes(x!.length)) throw new GraphError(`${kind} expects input of rank ${ranks.join(' or ')} per sample, got [${x!.join(', ')}]`, node.name);
      if (x![0] !== bnFeatures(node)) throw new GraphError(`has ${bnFeatures(node)} features but input has ${x![0]} channels [${x!.join(', ')}]`, node.name);
      return x!;
    },
    tensors: bnTensors,
    forward(node, [x], t, ctx) {
      return F.batchNorm(x!, {
        weight: t.weight,
        bias: t.bias,
        runningMean: t.running_mean,
        runningVar: t.running_var,
        training: ctx.training,
        momentum: attrNum(node, 'momentum', 0.1),
        eps: attrNum(node, 'eps', 1e-5),
      });
    },
    // Folded into the preceding conv at inference: no multiply-accumulates counted.
    cost: () => ({ macs: 0 }),
  });
}

defineBatchNorm('batchnorm2d', [3]);
defineBatchNorm('batchnorm1d', [1, 2]);

export type { Shape };

/**
 * Local response normalisation as ONNX defines it (LRN; AlexNet, GoogLeNet):
 * y_c = x_c / (bias + alpha / size · Σ_{i = c − ⌊(size − 1) / 2⌋ … c + ⌈(size − 1) / 2⌉} x_i²)^beta,
 * the window clipped to [0, C). PyTorch's local_response_norm centres an even
 * window the other way (c − size/2 … c + size/2 − 1); for odd sizes they agree.
 * The window sum is a 1×1 convolution with a band of ones.
 */
export function lrnParams(node: GraphNode): { size: number; alpha: number; beta: number; bias: number } {
  return { size: attrInt(node, 'size', { min: 1 }), alpha: attrNum(node, 'alpha', 1e-4), beta: attrNum(node, 'beta', 0.75), bias: attrNum(node, 'bias', 1) };
}

defineKind({
  kind: 'lrn',
  traits: ['crosschannel'],
  arity: 1,
  validate: (node) => void lrnParams(node),
  inferShape(node, [x]) {
    if (x!.length !== 3) throw new GraphError(`lrn expects per-sample [C, H, W], got [${x!.join(', ')}]`, node.name);
    return x!;
  },
  tensors: () => NO_TENSORS,
  forward(node, [x]) {
    const { size, alpha, beta, bias } = lrnParams(node);
    const c = x!.size(1);
    const lo = Math.floor((size - 1) / 2);
    const hi = Math.ceil((size - 1) / 2);
    const band = new Float32Array(c * c);
    for (let o = 0; o < c; o++) for (let i = Math.max(0, o - lo); i <= Math.min(c - 1, o + hi); i++) band[o * c + i] = 1;
    const w = tensor(band, [c, c, 1, 1], { device: x!.device as Device });
    const sq = x!.mul(x!);
    const sum = F.conv2d(sq, w);
    const den = sum.mul(alpha / size).add(bias).pow(beta);
    const y = x!.div(den);
    for (const t of [w, sq, sum, den]) t.dispose();
    return y;
  },
  cost: (node, [x]) => ({ macs: lrnParams(node).size * x!.reduce((a, b) => a * b, 1) }),
});
