// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: the
// norm of all gradients taken together; if it exceeds maxNorm every gradient
// is scaled in place by maxNorm / (norm + 1e-6).
import { F, noGrad, tidy, type Tensor } from '../tensor/index.js';

/** Clips the gradients of `params` in place; returns the total norm before clipping (NaN / Infinity pass through unclipped). */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number, normType = 2): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  if (!(normType > 0)) throw new RangeError(`clipGradNorm: normType must be > 0 (or Infinity), got ${normType}`);
  return noGrad(() =>
    tidy(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const norms = grads.map((g) => (normType === Infinity ? g.abs().max() : g.norm(normType)).to('float64'));
      const stacked = F.stack(norms);
      const total = (normType === Infinity ? stacked.max() : stacked.norm(normType)).item();
      const coef = maxNorm / (total + 1e-6);
      if (Number.isFinite(total) && coef < 1) for (const g of grads) g.mul_(coef);
      return total;
    }),
  );
}

/** The global norm of the gradients of `params` (0 when none has a gradient). */
export function gradNorm(params: readonly Tensor[], normType = 2): number {
  return noGrad(() =>
    tidy(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const norms = F.stack(grads.map((g) => (normType === Infinity ? g.abs().max() : g.norm(normType)).to('float64')));
      return (normType === Infinity ? norms.max() : norms.norm(normType)).item();
    }),
  );
}
