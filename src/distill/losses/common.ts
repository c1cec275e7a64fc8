// Small pieces the distillation losses share: PyTorch's F.normalize, a
// batch-mean KL between log-distributions, the sum of a per-pair term, and
// the shape checks that name the pair when a loss cannot compare it.
import { callOp, type Tensor } from '../../tensor/index.js';
import { DistillError } from '../errors.js';
import type { FeaturePairTensors } from './registry.js';

/** F.normalize(x, p=2, dim=1): rows divided by max(‖row‖₂, eps); eps 1e-12 as PyTorch (the only epsilon the references use). */
export function l2NormalizeRows(x: Tensor, eps = 1e-12): Tensor {
  return x.div(x.norm(2, 1, true).clamp(eps, null));
}

/** Σ q (log q − log p) over every element, divided by the batch size; both arguments are log-probabilities. */
export function klBatchMean(logQ: Tensor, logP: Tensor): Tensor {
  return logQ.exp().mul(logQ.sub(logP)).sum().div(logQ.size(0));
}

/** log Σ exp over `dim` (ATen's stable logsumexp). */
export function logSumExp(x: Tensor, dim: number, keepdim = false): Tensor {
  return callOp('aten::logsumexp', x, [dim], keepdim) as Tensor;
}

/** The per-pair term summed over the pairs; a feature loss without pairs is an error, not a silent zero. */
export function sumOverPairs(loss: string, pairs: readonly FeaturePairTensors[], term: (p: FeaturePairTensors) => Tensor): Tensor {
  if (pairs.length === 0) throw new DistillError(`distillation loss '${loss}' needs at least one teacher/student feature pair`);
  let total = term(pairs[0]!);
  for (const p of pairs.slice(1)) total = total.add(term(p));
  return total;
}

/** Both maps are [B, C, H, W] over the same batch. */
export function checkMaps(loss: string, p: FeaturePairTensors): void {
  if (p.s.ndim !== 4 || p.t.ndim !== 4) throw new DistillError(`distillation loss '${loss}': pair ${pairName(p)} needs [B, C, H, W] feature maps, got [${p.s.shape.join(', ')}] and [${p.t.shape.join(', ')}]`);
  checkBatch(loss, p);
}

export function checkBatch(loss: string, p: FeaturePairTensors): void {
  if (p.s.size(0) !== p.t.size(0)) throw new DistillError(`distillation loss '${loss}': pair ${pairName(p)} has batch ${p.s.size(0)} for the student and ${p.t.size(0)} for the teacher`);
}

/** The spatial sizes agree (AT, hints compare position by position). */
export function checkSameSpatial(loss: string, p: FeaturePairTensors): void {
  checkMaps(loss, p);
  const [hs, ws] = [p.s.size(2), p.s.size(3)];
  const [ht, wt] = [p.t.size(2), p.t.size(3)];
  if (hs !== ht || ws !== wt) throw new DistillError(`distillation loss '${loss}': pair ${pairName(p)} has spatial size ${hs}x${ws} for the student and ${ht}x${wt} for the teacher; it compares them position by position`);
}

export function pairName(p: FeaturePairTensors): string {
  return `'${p.student}' → '${p.teacher}'`;
}
