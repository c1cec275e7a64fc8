// Adam (Kingma & Ba), with PyTorch's torch.optim.Adam semantics: weight decay
// is L2 added to the gradient (not AdamW's decoupled decay), and both moment
// estimates are bias-corrected.
import { zerosLike, type Tensor } from '../../tensor/index.js';
import { Optimizer, type BaseHyper, type ParamGroup, type ParamGroupInit, type ParamState } from './optimizer.js';

export interface AdamHyper extends BaseHyper {
  /** Decay rates of the first and second moment estimates. */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability. */
  eps: number;
  /** L2 penalty: grad += weightDecay * param. */
  weightDecay: number;
}

export type AdamOptions = Partial<AdamHyper>;

export const ADAM_DEFAULTS: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 };

export class Adam extends Optimizer<AdamHyper> {
  constructor(params: readonly Tensor[] | readonly ParamGroupInit<AdamHyper>[], options: AdamOptions = {}) {
    super(params, { ...ADAM_DEFAULTS, ...options });
  }

  protected validate(h: AdamHyper): void {
    if (!(h.lr >= 0)) throw new RangeError(`Adam: invalid learning rate ${h.lr}`);
    if (!(h.eps >= 0)) throw new RangeError(`Adam: invalid eps ${h.eps}`);
    const [b1, b2] = h.betas;
    if (!(b1 >= 0 && b1 < 1)) throw new RangeError(`Adam: invalid beta1 ${b1}`);
    if (!(b2 >= 0 && b2 < 1)) throw new RangeError(`Adam: invalid beta2 ${b2}`);
    if (!(h.weightDecay >= 0)) throw new RangeError(`Adam: invalid weight decay ${h.weightDecay}`);
  }

  protected update(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamHyper>): void {
    const [beta1, beta2] = group.betas;
    const g = group.weightDecay !== 0 ? grad.add(param, group.weightDecay) : grad;
    const s = state.tensors;
    const expAvg = (s.exp_avg ??= this.newState(zerosLike(param)));
    const expAvgSq = (s.exp_avg_sq ??= this.newState(zerosLike(param)));
    // m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g²
    expAvg.lerp_(g, 1 - beta1);
    expAvgSq.mul_(beta2).addcmul_(g, g, 1 - beta2);
    const biasCorrection1 = 1 - beta1 ** state.step;
    const biasCorrection2 = 1 - beta2 ** state.step;
    // p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
    const denom = expAvgSq.sqrt().div_(Math.sqrt(biasCorrection2)).add_(group.eps);
    param.addcdiv_(expAvg, denom, -group.lr / biasCorrection1);
  }
}
