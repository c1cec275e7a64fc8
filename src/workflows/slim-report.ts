// What slimRun returns (camelCase, one meaning per key), the one mapping
// onto the snake_case record result.json and `--json` carry (keys as they
// have always been), and the before / after table of the log.
import { humanCount } from '../graph/index.js';
import { lambdaLabel } from '../prune/slimming.js';
import { ms, pctText, plural, pp, times } from '../report/format.js';
import { beforeAfterTable, type BeforeAfterRow } from '../report/table.js';
import type { SlimEpoch } from './slim-history.js';
import type { SlimConfig } from './slim-start.js';

/** One λ's sparsity-trained model. */
export interface SlimLambdaReport {
  lambda: number;
  /** Share of BatchNorm |γ| below the threshold after the last epoch. */
  sparsity: number;
  /** Mean BatchNorm |γ| after the last epoch. */
  gammaMean: number;
  /** Training accuracy of the last epoch (running, in training mode); null without training epochs. */
  trainAccuracy: number | null;
  /** Validation-split accuracy after the last epoch; null without a validation split. */
  valAccuracy: number | null;
  /** Test-split accuracy and balanced accuracy of the trained model. */
  testAccuracy: number;
  testBalancedAccuracy: number;
  /** lambda_<λ>.safetensors. */
  checkpoint: string;
  /** Epoch 0 (the starting model) and every sparsity-training epoch. */
  history: SlimEpoch[];
}

/** Accuracy of one model on both splits. */
export interface SlimAccuracy {
  /** On the test split. */
  testAccuracy: number;
  testBalancedAccuracy: number;
  /** On the validation split; null without one. */
  valAccuracy: number | null;
}

/** Median latency (ms) of the model before and after, and the speed-up (before / after). */
export interface SlimLatency {
  beforeMs: number;
  afterMs: number;
  speedup: number;
}

export interface SlimChannelRow {
  /** The prunable group (its layers joined with '+'). */
  layer: string;
  before: number;
  after: number;
}

/** Pruning, fine-tuning and measurement of the chosen λ's model. */
export interface SlimOutcome {
  /** The λ whose model was pruned. */
  lambda: number;
  /** Share of the BatchNorm-scaled channels asked to go (the spec's pruneShare). */
  pruneShare: number;
  /** Channels removed and considered (a channel shared by a residual stage counts once), and their ratio. */
  channelsRemoved: number;
  channelsTotal: number;
  channelsRemovedShare: number;
  /** The largest |γ| removed (the effective global threshold); null when none was removed. */
  gammaThreshold: number | null;
  channels: SlimChannelRow[];
  /** The sparsity-trained λ model before pruning. */
  before: SlimAccuracy & { params: number; macs: number };
  /** Right after pruning, before fine-tuning. */
  prunedNoFinetune: SlimAccuracy;
  /** After fine-tuning (the model in pruned.safetensors). */
  after: SlimAccuracy & { params: number; macs: number; testLoss: number; testCount: number };
  paramsReduction: number;
  macsReduction: number;
  /** onnxruntime and engine latency at batch 1 and 64; null where not measured. */
  latency: { ortB1: SlimLatency | null; ortB64: SlimLatency | null; engineB1: SlimLatency | null; engineB64: SlimLatency | null };
  /** pruned.safetensors, and pruned.onnx (null when the export failed). */
  checkpoint: string;
  onnx: string | null;
}

export interface SlimReport {
  /** The run directory and its version. */
  run: string;
  version: number;
  arch: string;
  dataset: string;
  config: SlimConfig;
  /** True when the observer's signal stopped the run; `interruptedDuring` names the stage. */
  interrupted: boolean;
  interruptedDuring: string | null;
  /** Every λ trained to the end (in the order of config.lambdas). */
  perLambda: SlimLambdaReport[];
  /** Null when interrupted before the end. */
  outcome: SlimOutcome | null;
}

/** result.json and the `--json` line: the keys slimnet slim has always written. */
export function slimResultJson(r: SlimReport): Record<string, unknown> {
  const o = r.outcome;
  if (!o) throw new TypeError('slimResultJson: the run did not finish');
  const pair = (l: SlimLatency | null) => l && [l.beforeMs, l.afterMs];
  return {
    run: r.run,
    version: r.version,
    arch: r.arch,
    dataset: r.dataset,
    lambda: o.lambda,
    prune_share: o.pruneShare,
    channels_removed: o.channelsRemoved,
    channels_total: o.channelsTotal,
    channels_removed_share: o.channelsRemovedShare,
    gamma_threshold: o.gammaThreshold,
    // base_* / pruned_*: the test split; *_val_*: the validation split.
    base_acc: o.before.testAccuracy,
    base_balanced_acc: o.before.testBalancedAccuracy,
    base_val_acc: o.before.valAccuracy,
    pruned_acc: o.after.testAccuracy,
    pruned_balanced_acc: o.after.testBalancedAccuracy,
    pruned_val_acc: o.after.valAccuracy,
    pruned_acc_no_finetune: o.prunedNoFinetune.testAccuracy,
    pruned_balanced_acc_no_finetune: o.prunedNoFinetune.testBalancedAccuracy,
    pruned_val_acc_no_finetune: o.prunedNoFinetune.valAccuracy,
    params_before: o.before.params,
    params_after: o.after.params,
    params_x: o.paramsReduction,
    macs_before: o.before.macs,
    macs_after: o.after.macs,
    macs_x: o.macsReduction,
    speedup_ort_b1: o.latency.ortB1?.speedup ?? null,
    speedup_ort_b64: o.latency.ortB64?.speedup ?? null,
    speedup_engine_b1: o.latency.engineB1?.speedup ?? null,
    speedup_engine_b64: o.latency.engineB64?.speedup ?? null,
    latency_ms: {
      ort_b1: pair(o.latency.ortB1),
      ort_b64: pair(o.latency.ortB64),
      engine_b1: pair(o.latency.engineB1),
      engine_b64: pair(o.latency.engineB64),
    },
    channels: o.channels.map((c) => ({ layer: c.layer, before: c.before, after: c.after })),
    per_lambda: r.perLambda.map((p) => ({
      lambda: p.lambda,
      sparsity: p.sparsity,
      gamma_mean: p.gammaMean,
      train_acc: p.trainAccuracy,
      val_acc: p.valAccuracy,
      test_acc: p.testAccuracy,
      test_balanced_acc: p.testBalancedAccuracy,
      checkpoint: p.checkpoint,
    })),
    checkpoint: o.checkpoint,
    onnx: o.onnx,
  };
}

/** The log's closing table: the sparsity-trained model against the pruned and fine-tuned one. */
export function slimBeforeAfter(c: SlimConfig, o: SlimOutcome): string {
  const pcts = (label: string, before: number, after: number): BeforeAfterRow => ({ label, before: pctText(before), after: pctText(after), change: pp(after, before) });
  const rows: BeforeAfterRow[] = [
    { label: 'parameters', before: humanCount(o.before.params), after: humanCount(o.after.params), change: times(o.paramsReduction) },
    { label: 'MACs / sample', before: humanCount(o.before.macs), after: humanCount(o.after.macs), change: times(o.macsReduction) },
    pcts('test accuracy %', o.before.testAccuracy, o.after.testAccuracy),
    pcts('test balanced accuracy %', o.before.testBalancedAccuracy, o.after.testBalancedAccuracy),
    pcts('  without fine-tuning %', o.before.testAccuracy, o.prunedNoFinetune.testAccuracy),
  ];
  if (o.after.valAccuracy !== null && o.before.valAccuracy !== null) rows.push(pcts('validation accuracy %', o.before.valAccuracy, o.after.valAccuracy));
  const lat = (label: string, l: SlimLatency | null) => l && rows.push({ label, before: ms(l.beforeMs), after: ms(l.afterMs), change: times(l.speedup) });
  lat('onnxruntime latency b1', o.latency.ortB1);
  lat('onnxruntime latency b64', o.latency.ortB64);
  lat('slimnet latency b1', o.latency.engineB1);
  lat('slimnet latency b64', o.latency.engineB64);
  const title = `${c.arch} on ${c.dataset}, λ = ${lambdaLabel(o.lambda)}: before (sparsity-trained) and after (${pctText(o.channelsRemovedShare, 1)} % of channels pruned, ${plural(c.finetuneEpochs, 'epoch')} of fine-tuning)`;
  return `\n${title}\n${beforeAfterTable(rows, { before: 'before', after: 'after' })}`;
}
