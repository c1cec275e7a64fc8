// Checkpointing as a trainer callback: after each epoch, into a Run's
// directory, the metrics row (metrics.csv / metrics.jsonl), last.safetensors,
// best.safetensors when validation accuracy improved, the trainer state
// (state.safetensors) and the status, in that order: a resume truncates
// metrics rows newer than the state, so a crash between two writes never
// leaves a state behind its rows.
//
// The writes happen in onTrainEnd, not onEpochEnd: the trainer updates early
// stopping (whose best-weights snapshot is part of the state) after the
// epoch callbacks, and the state must include that update. A training loop
// that wants every epoch saved runs one fit() per epoch, as the training
// workflow does; a fit() over several epochs saves its last one (and every
// epoch's metrics row).
import { saveCheckpoint } from '../graph/index.js';
import { RUN_FILES, type MetricsRow, type Run } from '../runs/index.js';
import { disposeTrainerState, type Callback, type EpochRecord, type Trainer } from './trainer.js';
import { saveTrainerState } from './state-file.js';

/** The metrics.csv / metrics.jsonl row of an epoch (snake_case keys are the files' column names). */
export function metricsRow(r: EpochRecord): MetricsRow {
  return {
    epoch: r.epoch + 1,
    lr: r.lr,
    train_loss: r.train.loss,
    train_acc: r.train.accuracy,
    val_loss: r.val?.loss ?? null,
    val_acc: r.val?.accuracy ?? null,
    val_balanced_acc: r.val?.balancedAccuracy ?? null,
    seconds: r.seconds,
  };
}

/** The best validation accuracy of a history and its 1-based epoch (null without validation). */
export function bestValidation(history: readonly EpochRecord[]): { accuracy: number; epoch: number } | null {
  let best: { accuracy: number; epoch: number } | null = null;
  for (const r of history) if (r.val && !Number.isNaN(r.val.accuracy) && (best === null || r.val.accuracy > best.accuracy)) best = { accuracy: r.val.accuracy, epoch: r.epoch + 1 };
  return best;
}

/** What one epoch's save wrote. */
export interface EpochSaved {
  record: EpochRecord;
  row: MetricsRow;
  /** Completed epochs after it. */
  epochsDone: number;
  /** best.safetensors was written: validation accuracy improved (or there is no validation split). */
  improved: boolean;
}

export interface CheckpointingOptions {
  run: Run;
  /** A checkpoint's metadata: the run's provenance (data, split, arch) plus `extra` (epoch, validation figures, notes). */
  meta(extra: Record<string, unknown>): Record<string, unknown>;
  /** After an epoch's files are written. */
  onSaved?(saved: EpochSaved): void;
}

export class Checkpointing implements Callback {
  readonly paths: { readonly best: string; readonly last: string; readonly state: string };
  private best: number | undefined;

  constructor(private readonly o: CheckpointingOptions) {
    this.paths = { best: o.run.file(RUN_FILES.best), last: o.run.file(RUN_FILES.last), state: o.run.file(RUN_FILES.state) };
  }

  onTrainBegin(trainer: Trainer): void {
    // A resumed run's best so far comes from its history.
    this.best ??= bestValidation(trainer.history)?.accuracy ?? -Infinity;
  }

  onTrainEnd(records: EpochRecord[], trainer: Trainer): void {
    const done = records.filter((r) => r.completed);
    const r = done[done.length - 1];
    if (!r) return; // interrupted inside its first epoch: the caller saves the partial state
    const rows = done.map(metricsRow);
    this.o.run.appendMetrics(rows);
    const epochsDone = trainer.epoch;
    const valPart = r.val ? { valAccuracy: r.val.accuracy, valBalancedAccuracy: r.val.balancedAccuracy, valLoss: r.val.loss } : {};
    this.saveLast(trainer, { epoch: epochsDone, ...valPart });
    this.best ??= -Infinity;
    const improved = r.val ? r.val.accuracy > this.best : true;
    if (improved) {
      if (r.val) this.best = r.val.accuracy;
      saveCheckpoint(this.paths.best, trainer.model, this.o.meta({ epoch: epochsDone, ...valPart, ...(r.val ? {} : { note: 'no validation split: the last epoch' }) }));
    }
    this.saveState(trainer);
    const b = bestValidation(trainer.history);
    this.o.run.update({ epochsDone, bestValAccuracy: b?.accuracy ?? null, bestEpoch: b?.epoch ?? null });
    this.o.onSaved?.({ record: r, row: rows[rows.length - 1]!, epochsDone, improved });
  }

  /** The start of a new run: the initial weights as the last good checkpoint, and a state, so a failure in the first epoch keeps them. */
  saveInitial(trainer: Trainer): void {
    this.saveLast(trainer, { epoch: 0, note: 'initial weights' });
    this.saveState(trainer);
  }

  /** Writes last.safetensors from the trainer's model with `extra` in its metadata. */
  saveLast(trainer: Trainer, extra: Record<string, unknown>): void {
    saveCheckpoint(this.paths.last, trainer.model, this.o.meta(extra));
  }

  /** Writes the trainer state (an exact resume point, also inside an epoch). */
  saveState(trainer: Trainer): void {
    const st = trainer.state();
    try {
      saveTrainerState(this.paths.state, st);
    } finally {
      disposeTrainerState(st);
    }
  }
}
