// Batch normalisation over channels (2-D maps) or features (1-D).
import { F } from '../../tensor/index.js';
import { GraphError, type GraphNode, type Shape } from '../ir.js';
import { attrInt, attrNum, defineKind, type ParamSpecs } from '../registry.js';

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
