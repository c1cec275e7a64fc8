// Early stopping: watch one metric of each epoch's record, stop after
// `patience` epochs without an improvement larger than `minDelta`, and put
// the best epoch's weights back into the model when it stops.
import { keep, tidy, type Tensor } from '../tensor/index.js';
import type { Model } from '../graph/index.js';
import type { EpochRecord } from './trainer.js';

export type Monitor = string | ((record: EpochRecord) => number);

export interface EarlyStoppingOptions {
  /**
   * A dotted path into the epoch record ('val.loss', 'val.accuracy',
   * 'val.balancedAccuracy', 'train.loss', ...) or a function of the record.
   * Default 'val.loss'.
   */
  monitor?: Monitor;
  /** 'min' for losses, 'max' for accuracies; defaults to 'min' when the path ends in 'loss', else 'max'. */
  mode?: 'min' | 'max';
  /** Stop after this many consecutive epochs without improvement (default 5; as Keras and Lightning count). */
  patience?: number;
  /** An improvement must exceed this (default 0). */
  minDelta?: number;
  /** Restore the best epoch's weights when stopping (default true). */
  restoreBest?: boolean;
}

/** The JSON part of the state (best weights travel as tensors). */
export interface EarlyStoppingStateMeta {
  best: number | null;
  bestEpoch: number | null;
  wait: number;
  stoppedEpoch: number | null;
}

export class EarlyStopping {
  readonly monitor: Monitor;
  readonly mode: 'min' | 'max';
  readonly patience: number;
  readonly minDelta: number;
  readonly restoreBest: boolean;
  /** Best monitored value so far (null before the first epoch). */
  best: number | null = null;
  bestEpoch: number | null = null;
  /** Epochs since the last improvement. */
  wait = 0;
  /** The epoch after which it stopped training, or null. */
  stoppedEpoch: number | null = null;
  private bestWeights: Record<string, Tensor> | null = null;

  constructor(o: EarlyStoppingOptions = {}) {
    this.monitor = o.monitor ?? 'val.loss';
    this.mode = o.mode ?? (typeof this.monitor === 'string' && /loss$/i.test(this.monitor) ? 'min' : 'max');
    this.patience = o.patience ?? 5;
    this.minDelta = o.minDelta ?? 0;
    this.restoreBest = o.restoreBest ?? true;
    if (this.mode !== 'min' && this.mode !== 'max') throw new RangeError(`EarlyStopping: mode must be 'min' or 'max', got ${String(this.mode)}`);
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) throw new RangeError(`EarlyStopping: patience must be a non-negative integer, got ${this.patience}`);
    if (!(this.minDelta >= 0)) throw new RangeError(`EarlyStopping: minDelta must be >= 0, got ${this.minDelta}`);
  }

  /** The monitored value of a record; throws if the record lacks it. */
  value(record: EpochRecord): number {
    if (typeof this.monitor === 'function') return this.monitor(record);
    let cur: unknown = record;
    for (const part of this.monitor.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
    if (typeof cur !== 'number') {
      throw new RangeError(`EarlyStopping: the epoch record has no number at '${this.monitor}'${record.val ? '' : ' (no validation source was given to fit)'}`);
    }
    return cur;
  }

  /** Whether `value` beats the best so far by more than minDelta. */
  improves(value: number): boolean {
    if (Number.isNaN(value)) return false;
    if (this.best === null) return true;
    return this.mode === 'min' ? value < this.best - this.minDelta : value > this.best + this.minDelta;
  }

  /**
   * Records an epoch's result; snapshots the weights on improvement. Returns
   * true when training should stop (and has then restored the best weights
   * if restoreBest).
   */
  update(record: EpochRecord, model: Model): boolean {
    const v = this.value(record);
    if (this.improves(v)) {
      this.best = v;
      this.bestEpoch = record.epoch;
      this.wait = 0;
      if (this.restoreBest) this.snapshot(model);
      return false;
    }
    this.wait += 1;
    if (this.wait >= this.patience) {
      this.stoppedEpoch = record.epoch;
      if (this.restoreBest) this.restore(model);
      return true;
    }
    return false;
  }

  /** Copies the best weights into `model` (no-op before any snapshot). */
  restore(model: Model): void {
    if (this.bestWeights) model.loadStateDict(this.bestWeights);
  }

  get hasBestWeights(): boolean {
    return this.bestWeights !== null;
  }

  stateMeta(): EarlyStoppingStateMeta {
    return { best: this.best, bestEpoch: this.bestEpoch, wait: this.wait, stoppedEpoch: this.stoppedEpoch };
  }

  /** Copies of the best weights (the caller owns them), keyed like model.stateDict(). */
  bestWeightsCopy(): Record<string, Tensor> | null {
    if (!this.bestWeights) return null;
    return Object.fromEntries(Object.entries(this.bestWeights).map(([k, t]) => [k, t.clone()]));
  }

  /** Restores a state; `weights` are copied (the caller keeps them). */
  loadState(meta: EarlyStoppingStateMeta, weights: Record<string, Tensor> | null): void {
    this.best = meta.best;
    this.bestEpoch = meta.bestEpoch;
    this.wait = meta.wait;
    this.stoppedEpoch = meta.stoppedEpoch;
    this.disposeWeights();
    if (weights) this.bestWeights = Object.fromEntries(Object.entries(weights).map(([k, t]) => [k, keep(t.clone())]));
  }

  dispose(): void {
    this.disposeWeights();
  }

  private snapshot(model: Model): void {
    this.disposeWeights();
    // tidy: stateDict() leaves its intermediate detach() handles in the current scope.
    const sd = tidy(() => model.stateDict());
    for (const t of Object.values(sd)) keep(t);
    this.bestWeights = sd;
  }

  private disposeWeights(): void {
    if (this.bestWeights) for (const t of Object.values(this.bestWeights)) t.dispose();
    this.bestWeights = null;
  }
}
