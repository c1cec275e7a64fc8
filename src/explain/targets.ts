// What is explained: one target class per image — the predicted class by
// default, the true label, or a given class — and the score a method
// differentiates or perturbs: the target's logit (pytorch-grad-cam's
// ClassifierOutputTarget), or its softmax probability for the faithfulness
// curves.
import { F, noGrad, tensor, tidy, type Tensor } from '../tensor/index.js';
import type { Model } from '../graph/index.js';
import { ExplainError } from './errors.js';

export type TargetChoice = 'predicted' | 'label' | number;

/** One class per image. `labels` is needed for 'label'. */
export function resolveTargets(model: Model, x: Tensor, choice: TargetChoice = 'predicted', labels?: readonly number[]): number[] {
  const n = x.size(0);
  if (choice === 'label') {
    if (!labels || labels.length !== n) throw new ExplainError(`target 'label' needs one label per image (${n} images, ${labels?.length ?? 0} labels)`);
    return [...labels];
  }
  if (typeof choice === 'number') {
    const k = model.graph.shape(model.graph.outputs[0]!)[0]!;
    if (!(Number.isInteger(choice) && choice >= 0 && choice < k)) throw new ExplainError(`target class ${choice} is not a class of ${model.graph.name} (0..${k - 1})`);
    return new Array<number>(n).fill(choice);
  }
  return tidy(() => noGrad(() => model.forward(x, { training: false }).argmax(1).toArray()));
}

/** The target logit of each image: logits [B, K] → [B]. */
export function targetLogits(logits: Tensor, targets: readonly number[]): Tensor {
  const k = logits.size(1);
  const hot = F.oneHot(tensor(BigInt64Array.from(targets, (t) => BigInt(t)), [targets.length]), k).to(logits.dtype);
  return logits.mul(hot).sum(1);
}

/** The target's softmax probability of each image: logits [B, K] → [B]. */
export function targetProbs(logits: Tensor, targets: readonly number[]): Tensor {
  return targetLogits(F.softmax(logits, 1), targets);
}
