// FitNets regressors: a 1x1 convolution (a linear map for [D] features) from
// the student's channel count to the teacher's, one per feature pair whose
// widths differ. They are trainer AuxiliaryModules: the optimizer updates
// them with the student, the trainer state saves and resumes them, and they
// are not part of the student's graph (the distilled model is the student alone).
import { F, noGrad, rand, tidy, type Tensor } from '../tensor/index.js';
import { AuxiliaryModule } from '../train/index.js';
import type { FeaturePair } from './pairs.js';

export interface Adapter {
  /** Index of the pair it serves. */
  pair: number;
  module: AuxiliaryModule;
}

/** The module name of pair i's adapter (state keys: auxiliary.adapter_<i>.weight / .bias). */
export const adapterName = (i: number): string => `adapter_${i}`;

/**
 * An adapter for each pair whose channel counts differ, initialised as
 * PyTorch initialises a conv / linear layer (uniform in ±1/√fan_in for the
 * weight and the bias), from the global generator.
 */
export function createAdapters(pairs: readonly FeaturePair[]): Adapter[] {
  const out: Adapter[] = [];
  pairs.forEach((p, i) => {
    const cs = p.studentShape[0]!;
    const ct = p.teacherShape[0]!;
    if (cs === ct) return;
    const bound = 1 / Math.sqrt(cs);
    const shape = p.studentShape.length === 3 ? [ct, cs, 1, 1] : [ct, cs];
    // tidy: the intermediates of rand·2b − b are released now, not left to the finalizer.
    const tensors = tidy(() =>
      noGrad(() => {
        const weight = rand(shape).mul(2 * bound).sub(bound);
        const bias = rand([ct]).mul(2 * bound).sub(bound);
        weight.requiresGrad = true;
        bias.requiresGrad = true;
        return { weight, bias };
      }),
    );
    out.push({ pair: i, module: new AuxiliaryModule(adapterName(i), tensors) });
  });
  return out;
}

/** The student feature mapped to the teacher's width by an adapter module. */
export function applyAdapter(module: AuxiliaryModule, x: Tensor): Tensor {
  const w = module.tensor('weight');
  const b = module.tensor('bias');
  return x.ndim === 4 ? F.conv2d(x, w, { bias: b }) : F.linear(x, w, b);
}
