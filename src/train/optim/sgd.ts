// Stochastic gradient descent with PyTorch's torch.optim.SGD semantics:
// optional L2 weight decay, momentum with dampening, and Nesterov momentum.
import { type Tensor } from '../../tensor/index.js';
import { Optimizer, type BaseHyper, type ParamGroup, type ParamGroupInit, type ParamState } from './optimizer.js';

export interface SGDHyper extends BaseHyper {
  momentum: number;
  /** Scales the new gradient's share in the momentum buffer by (1 - dampening). */
  dampening: number;
  /** L2 penalty: grad += weightDecay * param. */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
}

export type SGDOptions = Partial<SGDHyper>;

export const SGD_DEFAULTS: SGDHyper = { lr: 1e-2, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };

export class SGD extends Optimizer<SGDHyper> {
  constructor(params: readonly Tensor[] | readonly ParamGroupInit<SGDHyper>[], options: SGDOptions = {}) {
    super(params, { ...SGD_DEFAULTS, ...options });
  }

  protected validate(h: SGDHyper): void {
    if (!(h.lr >= 0)) throw new RangeError(`SGD: invalid learning rate ${h.lr}`);
    if (!(h.momentum >= 0)) throw new RangeError(`SGD: invalid momentum ${h.momentum}`);
    if (!(h.weightDecay >= 0)) throw new RangeError(`SGD: invalid weight decay ${h.weightDecay}`);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) throw new RangeError('SGD: Nesterov momentum requires momentum > 0 and zero dampening');
  }

  protected update(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<SGDHyper>): void {
    let d = group.weightDecay !== 0 ? grad.add(param, group.weightDecay) : grad;
    if (group.momentum !== 0) {
      let buf = state.tensors.momentum_buffer;
      if (buf === undefined) {
        // The first step copies the gradient into the buffer, undamped (as PyTorch does).
        buf = state.tensors.momentum_buffer = this.newState(d.clone());
      } else {
        buf.mul_(group.momentum).add_(d, 1 - group.dampening);
      }
      d = group.nesterov ? d.add(buf, group.momentum) : buf;
    }
    param.add_(d, -group.lr);
  }
}
