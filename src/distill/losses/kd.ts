// Soft targets (Hinton, Vinyals & Dean 2015): KL(teacher ‖ student) between
// the softened distributions at temperature T, scaled by T² so that its
// gradients keep their size as T changes; averaged over the batch.
// Defaults: RepDistiller (train_student.py -r 0.1 -a 0.9, --kd_T 4) and
// mdistiller (cfg KD.TEMPERATURE 4, CE_WEIGHT 0.1, KD_WEIGHT 0.9).
import { F } from '../../tensor/index.js';
import { klBatchMean } from './common.js';
import { defineDistillLoss } from './registry.js';

defineDistillLoss({
  name: 'kd',
  title: 'soft targets (Hinton et al. 2015)',
  source: 'Hinton, Vinyals & Dean 2015; defaults of RepDistiller (-r 0.1 -a 0.9 --kd_T 4) and mdistiller (KD: T 4, KD_WEIGHT 0.9, CE_WEIGHT 0.1)',
  needs: 'logits',
  adapt: false,
  sameSpatial: false,
  params: {
    weight: { default: 0.9, desc: 'factor of the term', min: 0 },
    temperature: { default: 4, desc: 'softmax temperature T', min: 0, exclusiveMin: true },
  },
  ceWeight: 0.1,
  compute({ studentLogits, teacherLogits }, { temperature: T }) {
    // Log-softmax on both sides (never log of a softmax): Σ q (log q − log p), batch mean, × T².
    const logP = F.logSoftmax(studentLogits.div(T!), 1);
    const logQ = F.logSoftmax(teacherLogits.div(T!), 1);
    return klBatchMean(logQ, logP).mul(T! * T!);
  },
});
