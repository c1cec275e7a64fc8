// FitNets hints (Romero et al. 2015): the student's intermediate map, taken
// to the teacher's width by a trained 1x1 adapter (the distiller applies it:
// `adapt: true`, so `s` arrives adapted), regresses the teacher's map by mean
// squared error; the pairs' terms are summed.
// Defaults: RepDistiller (--distill hint -r 1 -b 100, HintLoss = nn.MSELoss())
// and mdistiller (FITNET.LOSS.FEAT_WEIGHT 100, CE_WEIGHT 1).
import { F } from '../../tensor/index.js';
import { DistillError } from '../errors.js';
import { checkSameSpatial, pairName, sumOverPairs } from './common.js';
import { defineDistillLoss } from './registry.js';

defineDistillLoss({
  name: 'hint',
  title: 'FitNets hints (Romero et al. 2015)',
  source: 'Romero et al. 2015; defaults of RepDistiller (-b 100, -r 1) and mdistiller (FITNET FEAT_WEIGHT 100, CE_WEIGHT 1)',
  needs: 'features',
  adapt: true,
  sameSpatial: true,
  params: {
    weight: { default: 100, desc: 'factor of the term', min: 0 },
  },
  ceWeight: 1,
  compute({ pairs }) {
    return sumOverPairs('hint', pairs, (p) => {
      checkSameSpatial('hint', p);
      if (p.s.size(1) !== p.t.size(1)) throw new DistillError(`distillation loss 'hint': pair ${pairName(p)} has ${p.s.size(1)} student channels against ${p.t.size(1)} teacher channels after the adapter`);
      return F.mseLoss(p.s, p.t, 'mean');
    });
  },
});
