// Similarity-preserving distillation (Tung & Mori 2019): per pair, the batch
// similarity matrix G = F Fᵀ of the flattened [B, −1] maps with rows
// L2-normalised (F.normalize); the term is ‖G_t − G_s‖²_F / B², summed over
// pairs. It compares samples with each other, so the pair's channel counts
// and spatial sizes may differ.
// Defaults: RepDistiller (--distill similarity -b 3000) and mdistiller
// (SP FEAT_WEIGHT 3000, CE_WEIGHT 1).
import type { Tensor } from '../../tensor/index.js';
import { checkBatch, l2NormalizeRows, sumOverPairs } from './common.js';
import { defineDistillLoss } from './registry.js';

/** [B, …] → [B, B] row-normalised Gram matrix of the flattened samples. */
function similarity(x: Tensor): Tensor {
  const f = x.reshape(x.size(0), -1);
  return l2NormalizeRows(f.matmul(f.T));
}

defineDistillLoss({
  name: 'sp',
  title: 'similarity-preserving (Tung & Mori 2019)',
  source: 'Tung & Mori 2019; defaults of RepDistiller (-b 3000) and mdistiller (SP: FEAT_WEIGHT 3000, CE_WEIGHT 1)',
  needs: 'features',
  adapt: false,
  sameSpatial: false,
  params: {
    weight: { default: 3000, desc: 'factor of the term (γ)', min: 0 },
  },
  ceWeight: 1,
  compute({ pairs }) {
    return sumOverPairs('sp', pairs, (p) => {
      checkBatch('sp', p);
      const b = p.s.size(0);
      const d = similarity(p.t).sub(similarity(p.s));
      return d.mul(d).sum().div(b * b);
    });
  },
});
