// One optimizer spec and the one place an optimizer is built from it: every
// workflow (training, pruning's retraining and fine-tuning, slimming, the
// studies, distillation) states what it wants as data, which a run's
// config.json records as is.
import type { Model } from '../../graph/index.js';
import { Tensor } from '../../tensor/index.js';
import { UsageError } from '../../util/errors.js';
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import { SGD } from './sgd.js';
import { paramGroupsFor } from './groups.js';
import type { BaseHyper, Optimizer, ParamGroupInit } from './optimizer.js';

export const OPTIMIZER_TYPES = ['sgd', 'adam', 'adamw'] as const;
export type OptimizerType = (typeof OPTIMIZER_TYPES)[number];

export interface OptimizerSpec {
  type: OptimizerType;
  lr: number;
  /** SGD momentum (default 0). */
  momentum?: number;
  nesterov?: boolean;
  /** L2 (sgd, adam) or decoupled (adamw) decay (default 0). */
  weightDecay?: number;
  /**
   * Parameter groups from the model's graph: BatchNorm parameters and biases
   * without weight decay (default false: one group of model.parameters()).
   */
  noDecayOnNormAndBias?: boolean;
  /** Learning rate per layer kind or family ('conv', 'linear', 'norm'); see paramGroupsFor. */
  lrByKind?: Readonly<Record<string, number>>;
}

/** Checks a spec; the messages name the field. */
export function validateOptimizerSpec(s: OptimizerSpec, where = 'optimizer'): void {
  if (!(OPTIMIZER_TYPES as readonly string[]).includes(s.type)) throw new UsageError(`${where}: type must be one of ${OPTIMIZER_TYPES.join(', ')}, got '${String(s.type)}'`);
  if (!(Number.isFinite(s.lr) && s.lr > 0)) throw new UsageError(`${where}: lr must be a number > 0, got ${s.lr}`);
  if (s.momentum !== undefined && !(Number.isFinite(s.momentum) && s.momentum >= 0)) throw new UsageError(`${where}: momentum must be >= 0, got ${s.momentum}`);
  if (s.weightDecay !== undefined && !(Number.isFinite(s.weightDecay) && s.weightDecay >= 0)) throw new UsageError(`${where}: weight decay must be >= 0, got ${s.weightDecay}`);
  if (s.nesterov && !(s.type === 'sgd' && (s.momentum ?? 0) > 0)) throw new UsageError(`${where}: nesterov needs sgd with momentum > 0`);
}

/**
 * Builds the optimizer a spec describes over a model's parameters (or
 * explicit tensors / groups). `extra`: trainable tensors outside the model
 * (a trainer's auxiliary modules: distillation adapters), updated with the
 * spec's lr and weight decay after the model's parameters.
 */
export function buildOptimizer(target: Model | readonly Tensor[] | readonly ParamGroupInit<BaseHyper>[], spec: OptimizerSpec, extra: readonly Tensor[] = []): Optimizer<BaseHyper> {
  validateOptimizerSpec(spec);
  const weightDecay = spec.weightDecay ?? 0;
  let params: readonly Tensor[] | readonly ParamGroupInit<BaseHyper>[] = Array.isArray(target)
    ? (target as readonly Tensor[] | readonly ParamGroupInit<BaseHyper>[])
    : spec.noDecayOnNormAndBias || spec.lrByKind
      ? paramGroupsFor(target as Model, { weightDecay, noDecayOnNormAndBias: spec.noDecayOnNormAndBias === true, ...(spec.lrByKind ? { lrByKind: spec.lrByKind } : {}) })
      : (target as Model).parameters();
  if (extra.length) {
    const grouped = params.length > 0 && !(params[0] instanceof Tensor);
    params = grouped ? [...(params as readonly ParamGroupInit<BaseHyper>[]), { params: [...extra], label: 'auxiliary' }] : [...(params as readonly Tensor[]), ...extra];
  }
  switch (spec.type) {
    case 'sgd':
      return new SGD(params, { lr: spec.lr, momentum: spec.momentum ?? 0, nesterov: spec.nesterov ?? false, weightDecay });
    case 'adamw':
      return new AdamW(params, { lr: spec.lr, weightDecay });
    case 'adam':
      return new Adam(params, { lr: spec.lr, weightDecay });
  }
}
