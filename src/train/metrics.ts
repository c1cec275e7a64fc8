// Classification metrics accumulated over batches: loss, accuracy, top-5,
// balanced accuracy (mean per-class recall), per-class recall and the
// confusion matrix. Only small per-batch results (top-k indices, labels)
// are read back from the tensors; the counting happens here.
import { noGrad, tidy, type Tensor } from '../tensor/index.js';

export interface Metrics {
  /** Samples seen. */
  count: number;
  /** Mean loss per sample (NaN if no loss was given). */
  loss: number;
  /** Top-1 accuracy. */
  accuracy: number;
  /** Top-k accuracy, k = min(5, classes). */
  top5: number;
  /** Mean recall over the classes that occur in the labels (sklearn's balanced_accuracy_score). */
  balancedAccuracy: number;
  /** Recall per class; NaN for a class with no samples. */
  perClassRecall: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Class names, when known. */
  classes?: readonly string[];
}

export class MetricAccumulator {
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  private readonly confusion: Float64Array;
  private readonly k: number;
  private n = 0;
  private topkHits = 0;
  private lossSum = 0;
  private lossCount = 0;

  /** `classes`: the number of classes or their names. */
  constructor(classes: number | readonly string[], opts: { topK?: number } = {}) {
    this.numClasses = typeof classes === 'number' ? classes : classes.length;
    if (typeof classes !== 'number') this.classNames = classes;
    if (!(Number.isInteger(this.numClasses) && this.numClasses >= 1)) throw new RangeError(`MetricAccumulator: invalid number of classes ${this.numClasses}`);
    this.k = Math.min(opts.topK ?? 5, this.numClasses);
    this.confusion = new Float64Array(this.numClasses * this.numClasses);
  }

  /**
   * Adds a batch: logits [B, C] and integer labels [B]. `meanLoss`, when
   * given, is the batch's mean loss (weighted by B in the running mean).
   */
  update(logits: Tensor, labels: Tensor, meanLoss?: number): void {
    if (logits.ndim !== 2 || logits.size(1) !== this.numClasses) {
      throw new RangeError(`MetricAccumulator.update: logits [${logits.shape.join(', ')}] do not match ${this.numClasses} classes`);
    }
    const b = logits.size(0);
    const top = noGrad(() => tidy(() => logits.topk(this.k, 1)[1].toArray()));
    const y = labels.toArray();
    if (y.length !== b) throw new RangeError(`MetricAccumulator.update: ${y.length} labels for ${b} logits`);
    const ranked: number[][] = [];
    for (let i = 0; i < b; i++) ranked.push(top.slice(i * this.k, (i + 1) * this.k));
    this.addPredictions(y, ranked);
    if (meanLoss !== undefined) this.addLoss(meanLoss, b);
  }

  /**
   * Adds samples from plain numbers: `ranked[i]` lists sample i's predicted
   * classes best first (at least the top-1; top-k hits count up to k).
   */
  addPredictions(labels: ArrayLike<number>, ranked: readonly (readonly number[])[]): void {
    if (labels.length !== ranked.length) throw new RangeError(`MetricAccumulator: ${labels.length} labels for ${ranked.length} predictions`);
    const c = this.numClasses;
    for (let i = 0; i < labels.length; i++) {
      const t = labels[i]!;
      const r = ranked[i]!;
      const p = r[0];
      if (!(Number.isInteger(t) && t >= 0 && t < c)) throw new RangeError(`MetricAccumulator: label ${t} out of range [0, ${c})`);
      if (p === undefined || !(Number.isInteger(p) && p >= 0 && p < c)) throw new RangeError(`MetricAccumulator: prediction ${p} out of range [0, ${c})`);
      this.confusion[t * c + p]! += 1;
      if (r.slice(0, this.k).includes(t)) this.topkHits += 1;
      this.n += 1;
    }
  }

  /** Adds a mean loss over `count` samples. */
  addLoss(meanLoss: number, count: number): void {
    this.lossSum += meanLoss * count;
    this.lossCount += count;
  }

  get count(): number {
    return this.n;
  }

  result(): Metrics {
    return metricsFromCounts(this.n, this.lossSum, this.lossCount, this.topkHits, this.confusion, this.numClasses, this.classNames);
  }

  reset(): void {
    this.confusion.fill(0);
    this.n = 0;
    this.topkHits = 0;
    this.lossSum = 0;
    this.lossCount = 0;
  }
}

/** Metrics from summed counts (MetricAccumulator's result; DataParallel's too, on counts summed over the ranks). */
export function metricsFromCounts(count: number, lossSum: number, lossCount: number, topkHits: number, confusionFlat: ArrayLike<number>, c: number, classes?: readonly string[]): Metrics {
  const confusion: number[][] = [];
  const perClassRecall: number[] = [];
  let correct = 0;
  let recallSum = 0;
  let present = 0;
  for (let t = 0; t < c; t++) {
    const row = Array.from({ length: c }, (_, k) => confusionFlat[t * c + k]!);
    confusion.push(row);
    const support = row.reduce((a, b) => a + b, 0);
    correct += row[t]!;
    const recall = support > 0 ? row[t]! / support : NaN;
    perClassRecall.push(recall);
    if (support > 0) {
      recallSum += recall;
      present += 1;
    }
  }
  return {
    count,
    loss: lossCount > 0 ? lossSum / lossCount : NaN,
    accuracy: count > 0 ? correct / count : NaN,
    top5: count > 0 ? topkHits / count : NaN,
    balancedAccuracy: present > 0 ? recallSum / present : NaN,
    perClassRecall,
    confusion,
    ...(classes ? { classes } : {}),
  };
}
