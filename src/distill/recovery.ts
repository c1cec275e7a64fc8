// Distillation as the recovery of a pruning step (`slimnet prune --protocol
// distill`): after each removal the pruned model is retrained exactly as the
// 'retrain' recovery does it — the same retrainIterations (Adam at lr, the
// same batches from the loop's stream, so the same batch order), only the
// loss differs: the student's cross-entropy at the losses' CE weight plus
// the distillation terms toward the unpruned model (default kd, T 4, weight
// 0.9, CE 0.1: the anchors' settings).
//
// The teacher is PruneOptions.teacher, else the model prune() was given: the
// network as it was before the first step, which prune() never modifies, run
// in eval mode under no-grad. Pruning keeps node names, so feature losses
// (at, hint, sp) pair the stage outputs by name. The student's widths change
// every step, so the Distillation (and any FitNets adapter, for hint) is built
// afresh for each step and freed after it: an adapter learns only during its
// step's retrainIters iterations, and is not part of the pruned model.
// Only the loop's steps distill: the grid and refinement steps after it
// (--snap-to, --refine-steps) and --finetune-epochs still train on labels.
//
// This module registers the recovery and the 'distill' pruning method when
// src/distill is imported (prune does not import distill: layers run down).
import type { Model } from '../graph/index.js';
import { defineRecovery, definePruningMethod, everyStep, retrainIterations, type DistillRecoveryOptions, type PruneOptions, type RecoveryContext } from '../prune/index.js';
import { Distillation, type DistillLossSpec, type TeacherOutputs } from './distiller.js';
import { DistillError } from './errors.js';
import { distillLoss, resolveLossParams } from './losses/index.js';

/** The losses the recovery uses when none are given: soft targets with the anchors' defaults. */
export const DEFAULT_RECOVERY_LOSSES: readonly DistillLossSpec[] = [{ name: 'kd' }];

/** Every value the recovery will use (each loss's parameters resolved, the CE weight), as config.json records it. */
export interface ResolvedRecoveryOptions {
  losses: { name: string; params: Record<string, number> }[];
  ceWeight: number;
}

/**
 * Checks the recovery's options and fills in every default; errors name the
 * loss and the parameter. The CE weight defaults to the smallest anchor CE
 * weight of the losses (as the Distillation does).
 */
export function resolveRecoveryOptions(o: DistillRecoveryOptions = {}): ResolvedRecoveryOptions {
  const given = o.losses && o.losses.length ? o.losses : DEFAULT_RECOVERY_LOSSES;
  const names = given.map((l) => l.name);
  if (new Set(names).size !== names.length) throw new DistillError(`a distillation loss is listed twice: ${names.join(', ')}`);
  const defs = given.map((l) => distillLoss(l.name));
  const losses = given.map((l, i) => ({ name: l.name, params: resolveLossParams(defs[i]!, l.params) }));
  const ceWeight = o.ceWeight ?? Math.min(...defs.map((d) => d.ceWeight));
  if (!(Number.isFinite(ceWeight) && ceWeight >= 0)) throw new DistillError(`the cross-entropy weight must be a number >= 0, got ${ceWeight}`);
  return { losses, ceWeight };
}

/**
 * Parses the `--distill-loss` text: losses separated by commas, each a name
 * with optional `:param=value` overrides, e.g. `kd:temperature=2,at`.
 */
export function parseRecoveryLosses(text: string): DistillLossSpec[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((part) => {
      const [name, ...kvs] = part.split(':').map((x) => x.trim());
      if (!name) throw new DistillError(`'${part}' names no loss (losses: name[:param=value...], comma-separated)`);
      const params: Record<string, number> = {};
      for (const kv of kvs) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(kv);
        const v = m ? Number(m[2]) : NaN;
        if (!m || !Number.isFinite(v)) throw new DistillError(`'${kv}' in '${part}' is not param=number (e.g. kd:temperature=2)`);
        params[m[1]!] = v;
      }
      return Object.keys(params).length ? { name, params } : { name };
    });
}

/** The teacher of a step: the given one, else the model prune() started from. */
function teacherOf(ctx: RecoveryContext): Model {
  const t = ctx.options.teacher ?? ctx.base;
  if (!t) throw new DistillError("the 'distill' recovery needs a teacher: PruneOptions.teacher, or the model prune() was given");
  return t;
}

defineRecovery({
  name: 'distill',
  description: 'retrain the whole network for retrainIters iterations of Adam (lr) by distilling from the unpruned model (default kd: T 4, weight 0.9, CE 0.1)',
  iterations: true,
  // A bad loss name or parameter fails before the first step, not after its removal.
  validate: (o: PruneOptions) => void resolveRecoveryOptions(o.distill),
  async recover(ctx) {
    const r = resolveRecoveryOptions(ctx.options.distill);
    const d = new Distillation({ teacher: teacherOf(ctx), student: ctx.model, losses: r.losses, ceWeight: r.ceWeight });
    try {
      await retrainIterations<TeacherOutputs>(ctx, ctx.model.parameters(), d.trainerOptions());
    } finally {
      d.dispose();
    }
  },
});

definePruningMethod({
  name: 'distill',
  description: 'the criterion at every step, then retrain the whole network by distilling from the unpruned model',
  scoring: everyStep,
  recovery: 'distill',
});
