// The distillation losses, one registry. A loss is a pure function of the
// student's and the teacher's outputs (logits, or paired feature maps) and its
// hyper-parameters; it returns an unweighted scalar. The distiller weights it
// (`weight`, a parameter every loss has), adds the student's cross-entropy
// with the preset's `ceWeight`, and records every value in the run's config.
//
// Defaults are the anchors' published settings (RepDistiller, mdistiller,
// torchdistill), named in each definition's `source`, so that a run that does
// not set them says where its numbers come from.
import type { Tensor } from '../../tensor/index.js';
import { DistillError } from '../errors.js';

/** One teacher/student feature pair as a loss sees it (the student's map already adapted when the loss asks for it). */
export interface FeaturePairTensors {
  /** Names of the pair's nodes, for messages. */
  student: string;
  teacher: string;
  /** [B, C, H, W] (or [B, D]) activations. */
  s: Tensor;
  t: Tensor;
}

export interface LossInputs {
  /** [B, K] logits; the teacher's carry no gradient. */
  studentLogits: Tensor;
  teacherLogits: Tensor;
  /** int64 [B] labels. */
  y: Tensor;
  /** Feature pairs (only for losses with `needs: 'features'`). */
  pairs: readonly FeaturePairTensors[];
  /** 0-based epoch (DKD's warm-up reads it). */
  epoch: number;
}

export interface LossParam {
  default: number;
  desc: string;
  /** Smallest allowed value (inclusive unless `exclusiveMin`). */
  min?: number;
  exclusiveMin?: boolean;
}

export interface DistillLoss {
  /** CLI name: kd, logits, hint, at, sp, dkd. */
  name: string;
  title: string;
  /** Citation and the anchor the defaults come from. */
  source: string;
  /** What it reads from the teacher: logits only (teacher logits can be cached), or paired features. */
  needs: 'logits' | 'features';
  /** Whether a student feature goes through a trained 1x1 adapter to the teacher's width first (FitNets). */
  adapt: boolean;
  /** Whether the pair's spatial sizes must agree (AT, hints); SP compares batch similarity matrices and needs not. */
  sameSpatial: boolean;
  /** Hyper-parameters; `weight` is required (the term's factor in the total loss). */
  params: Readonly<Record<string, LossParam>>;
  /** Cross-entropy weight the anchor uses with this loss alone (the total's CE factor when it is the only loss). */
  ceWeight: number;
  /** The unweighted loss. */
  compute(inputs: LossInputs, params: Readonly<Record<string, number>>): Tensor;
}

const LOSSES = new Map<string, DistillLoss>();

export function defineDistillLoss(loss: DistillLoss): void {
  if (LOSSES.has(loss.name)) throw new Error(`distillation loss '${loss.name}' is defined twice`);
  if (!loss.params.weight) throw new Error(`distillation loss '${loss.name}' has no weight parameter`);
  LOSSES.set(loss.name, loss);
}

export function distillLoss(name: string): DistillLoss {
  const l = LOSSES.get(name);
  if (!l) throw new DistillError(`unknown distillation loss '${name}' (available: ${distillLossNames().join(', ')})`);
  return l;
}

export function distillLossNames(): string[] {
  return [...LOSSES.keys()];
}

/**
 * A loss's parameters: its defaults overridden by `given` (unknown names and
 * out-of-range values are errors that name the loss and the parameter).
 */
export function resolveLossParams(loss: DistillLoss, given: Readonly<Record<string, number>> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(given)) {
    if (!(k in loss.params)) throw new DistillError(`distillation loss '${loss.name}' has no parameter '${k}' (it has ${Object.keys(loss.params).join(', ')})`);
  }
  for (const [k, p] of Object.entries(loss.params)) {
    const v = given[k] ?? p.default;
    if (!Number.isFinite(v)) throw new DistillError(`${loss.name}.${k} must be a finite number, got ${v}`);
    if (p.min !== undefined && (p.exclusiveMin ? !(v > p.min) : !(v >= p.min))) throw new DistillError(`${loss.name}.${k} must be ${p.exclusiveMin ? '>' : '>='} ${p.min}, got ${v}`);
    out[k] = v;
  }
  return out;
}
