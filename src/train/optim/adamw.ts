// AdamW (Loshchilov & Hutter), with torch.optim.AdamW semantics: weight
// decay is decoupled from the gradient: every step first shrinks the
// parameter by lr * weightDecay, then applies the plain Adam update.
import { type Tensor } from '../../tensor/index.js';
import { Adam, type AdamHyper, type AdamOptions } from './adam.js';
import type { ParamGroup, ParamGroupInit, ParamState } from './optimizer.js';

/** PyTorch's AdamW defaults (weight decay 0.01, unlike Adam's 0). */
export const ADAMW_DEFAULTS: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 };

export class AdamW extends Adam {
  constructor(params: readonly Tensor[] | readonly ParamGroupInit<AdamHyper>[], options: AdamOptions = {}) {
    super(params, { ...ADAMW_DEFAULTS, ...options });
  }

  protected override update(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamHyper>): void {
    if (group.weightDecay !== 0) param.mul_(1 - group.lr * group.weightDecay);
    // Adam without its L2 term.
    super.update(param, grad, state, { ...group, weightDecay: 0 });
  }
}
