// Grad-CAM++ (Chattopadhay et al., WACV 2018): channel weights are sums of
// the positive gradients, each weighted by alpha from the paper's closed form
// (its eq. 19) with the exponential of the score taken as pytorch-grad-cam
// does — so that only the powers of the gradient remain:
//   alpha = G² / (2 G² + Σ_hw(A) · G³ + 1e-6),   alpha = 0 where G = 0,
//   w_c = Σ_hw relu(G) · alpha.
// The denominator is guarded: alpha is 0 wherever it is 0 or not finite, so
// no division ever makes a NaN.
import { tidy } from '../../tensor/index.js';
import { defineExplainer } from '../registry.js';
import { captureLayer, finishCam, weightedSum } from './cam-common.js';

/** pytorch-grad-cam's epsilon in the alpha denominator. */
const EPS = 1e-6;

defineExplainer({
  name: 'gradcampp',
  title: 'Grad-CAM++',
  source: 'Chattopadhay et al., Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks, WACV 2018',
  family: 'cam',
  usesLayer: true,
  needsBackground: false,
  params: {},
  explain(input) {
    const pre = tidy(() => {
      const { acts, grads } = captureLayer(input, { grads: true });
      const g = grads!;
      const g2 = g.mul(g);
      const g3 = g2.mul(g);
      const sumA = acts.sum([2, 3], true);
      const den = g2.mul(2).add(sumA.mul(g3)).add(EPS);
      const ok = g.ne(0).mul(den.ne(0)); // bool · bool: logical and
      const alpha = g2.div(den.where(ok, 1)).where(ok, 0);
      const alphaOk = alpha.where(alpha.isfinite(), 0);
      return weightedSum(g.relu().mul(alphaOk).sum([2, 3]), acts);
    });
    try {
      return finishCam('gradcampp', pre, input.targets);
    } finally {
      pre.dispose();
    }
  },
});
