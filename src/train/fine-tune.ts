// Fine-tuning with early stopping on the validation split, the form the
// transfer setting uses (TransTailor's transfer and per-iteration
// fine-tuning, and the fine-tune-then-prune baselines of its study): up to
// `epochs`, stop after `patience` epochs without a better monitored metric,
// and leave the best epoch's weights in the model, whether early stopping or
// the epoch limit ended the run.
import type { Model } from '../graph/index.js';
import { EarlyStopping } from './early-stopping.js';
import { buildOptimizer, type OptimizerSpec } from './optim/index.js';
import { Trainer, type BatchSource, type StepInfo } from './trainer.js';

export interface FineTuneOptions {
  epochs: number;
  /** Epochs without a better monitored value before stopping. */
  patience: number;
  optimizer: OptimizerSpec;
  /** An epoch metric (default 'val.balancedAccuracy'); losses must fall, the rest rise. */
  monitor?: string;
  signal?: AbortSignal;
  /** After every optimizer update. */
  onStep?(info: StepInfo): void;
}

export interface FineTuneResult {
  /** Epochs run (fewer than asked when early stopping ended the run). */
  epochs: number;
  /** 1-based epoch whose weights the model holds (the best monitored one). */
  bestEpoch: number;
  interrupted: boolean;
}

/** Fine-tunes `model` in place; it is left in eval mode with no gradients. */
export async function fineTune(model: Model, train: BatchSource, val: BatchSource, o: FineTuneOptions): Promise<FineTuneResult> {
  const monitor = o.monitor ?? 'val.balancedAccuracy';
  const trainer = new Trainer({ model, optimizer: buildOptimizer(model, o.optimizer), callbacks: o.onStep ? [{ onStepEnd: (info) => o.onStep!(info) }] : [] });
  const stop = new EarlyStopping({ monitor, mode: monitor.endsWith('loss') ? 'min' : 'max', patience: o.patience, restoreBest: true });
  try {
    await trainer.fit(train, { epochs: o.epochs, validation: val, earlyStopping: stop, ...(o.signal ? { signal: o.signal } : {}) });
    // An epoch limit (not a stop) leaves the last weights in: put the best epoch's back.
    stop.restore(model);
    return { epochs: trainer.history.filter((h) => h.completed).length, bestEpoch: (stop.bestEpoch ?? trainer.history.length - 1) + 1, interrupted: o.signal?.aborted === true };
  } finally {
    stop.dispose();
    trainer.optimizer.dispose();
    for (const p of model.parameters()) p.grad = null;
    model.eval();
  }
}
