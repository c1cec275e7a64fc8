// Attention transfer (Zagoruyko & Komodakis 2017), activation-based with
// p = 2: a map's attention is the mean over channels of |x|^p, flattened over
// positions and L2-normalised per sample (F.normalize, eps 1e-12); the term
// is the mean over batch and positions of (a_s − a_t)², summed over pairs.
// Channel counts may differ (the channel mean removes them); spatial sizes
// must agree. The paper uses |x|^p; RepDistiller and mdistiller write
// x.pow(p), the same for the default even p.
// Defaults: RepDistiller (--distill attention -b 1000, p 2) and mdistiller
// (AT.P 2, FEAT_WEIGHT 1000, CE_WEIGHT 1).
import type { Tensor } from '../../tensor/index.js';
import { checkSameSpatial, l2NormalizeRows, sumOverPairs } from './common.js';
import { defineDistillLoss } from './registry.js';

/** [B, C, H, W] → [B, H·W] normalised attention map. */
function attention(x: Tensor, p: number): Tensor {
  // x·x for the default p = 2: the same values and gradient as |x|², one elementwise pass fewer.
  const powered = p === 2 ? x.mul(x) : x.abs().pow(p);
  return l2NormalizeRows(powered.mean(1).reshape(x.size(0), -1));
}

defineDistillLoss({
  name: 'at',
  title: 'attention transfer (Zagoruyko & Komodakis 2017)',
  source: 'Zagoruyko & Komodakis 2017; defaults of RepDistiller (-b 1000, p 2) and mdistiller (AT: P 2, FEAT_WEIGHT 1000, CE_WEIGHT 1)',
  needs: 'features',
  adapt: false,
  sameSpatial: true,
  params: {
    weight: { default: 1000, desc: 'factor of the term (β)', min: 0 },
    p: { default: 2, desc: 'exponent of the attention map |x|^p', min: 0, exclusiveMin: true },
  },
  ceWeight: 1,
  compute({ pairs }, { p }) {
    return sumOverPairs('at', pairs, (pair) => {
      checkSameSpatial('at', pair);
      const d = attention(pair.s, p!).sub(attention(pair.t, p!));
      return d.mul(d).mean();
    });
  },
});
