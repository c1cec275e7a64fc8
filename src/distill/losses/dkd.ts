// Decoupled knowledge distillation (Zhao et al. 2022). KD splits into
//  - TCKD: KL between the binary distributions (target class, all others) of
//    teacher and student, and
//  - NCKD: KL between the distributions among the non-target classes;
// DKD = α·TCKD + β·NCKD, both at temperature T, × T², batch mean, and
// multiplied by a warm-up factor that ramps the term in.
//
// Warm-up: mdistiller multiplies by min(epoch / WARMUP, 1) with its 1-based
// epoch, so its first epoch already gets 1/WARMUP. slimnet's LossInputs.epoch
// is 0-based, hence factor = min((epoch + 1) / warmup, 1): the same schedule,
// epoch for epoch. warmup 0 switches the ramp off (factor 1 from the first
// epoch) — use it, or a warm-up shorter than the run, when a run has fewer
// epochs than 20, where the default would never reach full weight.
//
// Numerics: everything is in log space from log-softmax. The binary
// log-probabilities are log p_target (gathered) and log(1 − p_target) =
// logsumexp of the non-target log-probabilities; the non-target distribution
// is the log-softmax of the non-target logits, selected exactly (mdistiller
// subtracts 1000 from the target logit instead, which is the same in float64).
// Defaults: mdistiller (DKD: CE_WEIGHT 1, ALPHA 1, BETA 8, T 4, WARMUP 20).
import { F, callOp, type Tensor } from '../../tensor/index.js';
import { DistillError } from '../errors.js';
import { klBatchMean, logSumExp } from './common.js';
import { defineDistillLoss } from './registry.js';

/** The warm-up factor for a 0-based epoch (see above). */
export function dkdWarmupFactor(epoch: number, warmup: number): number {
  return warmup > 0 ? Math.min((epoch + 1) / warmup, 1) : 1;
}

/** [B, K] → [B, K − 1]: each row without its target column (order kept). */
function nonTarget(x: Tensor, others: Tensor): Tensor {
  return x.gatherIndex([others]).reshape(x.size(0), x.size(1) - 1);
}

/** [B, K] log-probabilities → [B, 2] log-probabilities of (target, not target). */
function binaryLogProbs(logp: Tensor, y: Tensor, others: Tensor): Tensor {
  const target = callOp('aten::gather', logp, 1, y.unsqueeze(1), false) as Tensor;
  return F.cat([target, logSumExp(nonTarget(logp, others), 1, true)], 1);
}

defineDistillLoss({
  name: 'dkd',
  title: 'decoupled KD (Zhao et al. 2022)',
  source: 'Zhao et al. 2022 (CVPR); defaults of mdistiller (DKD: ALPHA 1, BETA 8, T 4, WARMUP 20 epochs, CE_WEIGHT 1)',
  needs: 'logits',
  adapt: false,
  sameSpatial: false,
  params: {
    weight: { default: 1, desc: 'factor of the term, on top of alpha and beta', min: 0 },
    alpha: { default: 1, desc: 'weight of TCKD (target vs non-target)', min: 0 },
    beta: { default: 8, desc: 'weight of NCKD (among non-target classes)', min: 0 },
    temperature: { default: 4, desc: 'softmax temperature T', min: 0, exclusiveMin: true },
    warmup: { default: 20, desc: 'epochs over which the term ramps in linearly (0: none)', min: 0 },
  },
  ceWeight: 1,
  compute({ studentLogits, teacherLogits, y, epoch }, { alpha, beta, temperature: T, warmup }) {
    const k = studentLogits.size(1);
    if (k < 2) throw new DistillError(`distillation loss 'dkd' needs at least 2 classes, got ${k}`);
    const others = F.oneHot(y, k).eq(0);
    const s = studentLogits.div(T!);
    const t = teacherLogits.div(T!);
    const tckd = klBatchMean(binaryLogProbs(F.logSoftmax(t, 1), y, others), binaryLogProbs(F.logSoftmax(s, 1), y, others));
    const nckd = klBatchMean(F.logSoftmax(nonTarget(t, others), 1), F.logSoftmax(nonTarget(s, others), 1));
    return tckd.mul(alpha!).add(nckd.mul(beta!)).mul(T! * T! * dkdWarmupFactor(epoch, warmup!));
  },
});
