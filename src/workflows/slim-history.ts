// The per-epoch record of a slimming run (sparsity training and fine-tuning),
// its row in metrics.csv / metrics.jsonl (snake_case, one mapping), and its
// line in the log.
import type { Model } from '../graph/index.js';
import { bnGammas, lambdaLabel, sparsity } from '../prune/slimming.js';
import { pctText } from '../report/format.js';
import { TableLines } from '../report/table.js';
import type { EpochRecord, Metrics } from '../train/index.js';

/** One epoch of sparsity training (or fine-tuning); epoch 0 is the starting model. */
export interface SlimEpoch {
  phase: 'sparsity' | 'finetune';
  lambda: number;
  /** 1-based; 0: the starting model, before any training. */
  epoch: number;
  /** Learning rate at the start of the epoch (null for epoch 0). */
  lr: number | null;
  /** Mean training loss (data loss plus the penalty) and accuracy over the epoch's batches, in training mode. */
  trainLoss: number | null;
  trainAccuracy: number | null;
  /** Mean of λ·Σ|γ| over the epoch's samples. */
  penalty: number | null;
  /** On the validation split (null without one). */
  valLoss: number | null;
  valAccuracy: number | null;
  valBalancedAccuracy: number | null;
  /** Share of BatchNorm |γ| below the threshold at the end of the epoch. */
  sparsity: number;
  /** Mean BatchNorm |γ| at the end of the epoch. */
  gammaMean: number;
  seconds: number;
}

/** A metrics.csv / metrics.jsonl row. */
export interface SlimMetricsRow {
  phase: 'sparsity' | 'finetune';
  lambda: number;
  epoch: number;
  lr: number | null;
  train_loss: number | null;
  train_acc: number | null;
  penalty: number | null;
  val_loss: number | null;
  val_acc: number | null;
  val_balanced_acc: number | null;
  sparsity: number;
  gamma_mean: number;
  seconds: number;
}

export const SLIM_METRICS_COLUMNS: readonly (keyof SlimMetricsRow)[] = ['phase', 'lambda', 'epoch', 'lr', 'train_loss', 'train_acc', 'penalty', 'val_loss', 'val_acc', 'val_balanced_acc', 'sparsity', 'gamma_mean', 'seconds'];

export function metricsRow(e: SlimEpoch): SlimMetricsRow {
  return {
    phase: e.phase,
    lambda: e.lambda,
    epoch: e.epoch,
    lr: e.lr,
    train_loss: e.trainLoss,
    train_acc: e.trainAccuracy,
    penalty: e.penalty,
    val_loss: e.valLoss,
    val_acc: e.valAccuracy,
    val_balanced_acc: e.valBalancedAccuracy,
    sparsity: e.sparsity,
    gamma_mean: e.gammaMean,
    seconds: e.seconds,
  };
}

export const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);

/** Epoch 0 of a λ: the starting model as it is. */
export function startEpoch(lambda: number, model: Model, threshold: number, val: Metrics | undefined): SlimEpoch {
  return {
    phase: 'sparsity',
    lambda,
    epoch: 0,
    lr: null,
    trainLoss: null,
    trainAccuracy: null,
    penalty: null,
    valLoss: val?.loss ?? null,
    valAccuracy: val?.accuracy ?? null,
    valBalancedAccuracy: val?.balancedAccuracy ?? null,
    sparsity: sparsity(model, threshold),
    gammaMean: mean(bnGammas(model)),
    seconds: 0,
  };
}

/** A finished trainer epoch, with the model's γ statistics after it. */
export function epochOf(phase: SlimEpoch['phase'], lambda: number, r: EpochRecord, model: Model, threshold: number): SlimEpoch {
  const g = bnGammas(model);
  return {
    phase,
    lambda,
    epoch: r.epoch + 1,
    lr: r.lr,
    trainLoss: r.train.loss,
    trainAccuracy: r.train.accuracy,
    penalty: r.train.extra.bn_l1 ?? 0,
    valLoss: r.val?.loss ?? null,
    valAccuracy: r.val?.accuracy ?? null,
    valBalancedAccuracy: r.val?.balancedAccuracy ?? null,
    sparsity: sparsity(model, threshold),
    gammaMean: mean(g),
    seconds: r.seconds,
  };
}

const EPOCH_HEADERS = ['λ', 'epoch', 'lr', 'train loss', 'penalty', 'train acc %', 'val acc %', 'sparsity %', 'mean |γ|', 'time'];
const FINETUNE_HEADERS = ['fine-tune', 'lr', 'train loss', 'train acc %', 'val acc %', 'time'];
const right = (n: number): 'right'[] => Array.from({ length: n }, () => 'right' as const);
const fixed = (x: number | null, digits: number): string => (x === null || Number.isNaN(x) ? '' : x.toFixed(digits));
const sig = (x: number | null): string => (x === null ? '' : String(+x.toPrecision(4)));

/**
 * The log's per-epoch lines of a slimming run: each table's header once (the
 * sparsity epochs of every λ share one, fine-tuning has its own), then one
 * line per epoch in fixed columns and decimals.
 */
export class SlimEpochLines {
  private readonly sparsityTable: TableLines;
  private readonly finetuneTable: TableLines;
  constructor(
    private readonly epochs: number,
    private readonly finetuneEpochs: number,
  ) {
    const ep = (n: number): number => 2 * String(n).length + 1;
    this.sparsityTable = new TableLines(EPOCH_HEADERS, { align: ['left', ...right(9)], minWidths: [6, ep(epochs), 9, 7, 9, 6, 6, 6, 9, 6] });
    this.finetuneTable = new TableLines(FINETUNE_HEADERS, { align: right(6), minWidths: [ep(finetuneEpochs), 9, 7, 6, 6, 6] });
  }

  sparsity(e: SlimEpoch): string {
    return this.sparsityTable.line([
      lambdaLabel(e.lambda),
      `${e.epoch}/${this.epochs}`,
      sig(e.lr),
      fixed(e.trainLoss, 4),
      sig(e.penalty),
      pctText(e.trainAccuracy),
      pctText(e.valAccuracy),
      pctText(e.sparsity),
      sig(e.gammaMean),
      `${e.seconds.toFixed(1)}s`,
    ]);
  }

  finetune(e: SlimEpoch): string {
    return this.finetuneTable.line([`${e.epoch}/${this.finetuneEpochs}`, sig(e.lr), fixed(e.trainLoss, 4), pctText(e.trainAccuracy), pctText(e.valAccuracy), `${e.seconds.toFixed(1)}s`]);
  }
}
