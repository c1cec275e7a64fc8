// Pruning methods: a scoring policy (scoring.ts) and a recovery strategy
// (recovery.ts) under one name, in one registry. The loop (protocol.ts)
// takes its method by PruneOptions.protocol; selection (select.ts) and the
// controller (controller.ts) are configured by the options themselves. Seed
// 003's four protocols are presets:
//   none           criterion every step, no recovery (greedy)
//   retrain        criterion every step, retrain the whole network
//   layer-retrain  criterion every step, retrain only the pruned layers
//   once           criterion at the start only, retrain the whole network
// A new method (e.g. pruning with distillation as recovery) is a
// definePruningMethod() call.
import { PruneError } from './dependency.js';
import { recovery } from './recovery.js';
import { atStart, everyStep, type ScoringFactory } from './scoring.js';

export interface PruningMethod {
  readonly name: string;
  readonly description: string;
  /** When and how the step's scores are computed. */
  readonly scoring: ScoringFactory;
  /** A registered recovery strategy (recoveryNames()). */
  readonly recovery: string;
}

/** Seed 003's protocols, the built-in methods. */
export type Protocol = 'none' | 'retrain' | 'layer-retrain' | 'once';
export const PROTOCOLS: readonly Protocol[] = ['none', 'retrain', 'layer-retrain', 'once'];

const methods = new Map<string, PruningMethod>();

export function definePruningMethod(m: PruningMethod): void {
  if (methods.has(m.name)) throw new Error(`pruning method '${m.name}' defined twice`);
  recovery(m.recovery); // must exist already: a typo fails at definition, not mid-run
  methods.set(m.name, m);
}

export function pruningMethod(name: string): PruningMethod {
  const m = methods.get(name);
  if (!m) throw new PruneError(`unknown pruning method '${name}' (available: ${pruningMethodNames().join(', ')})`);
  return m;
}

/** Every registered method: the protocols first, then the ones defined later. */
export function pruningMethodNames(): string[] {
  return [...methods.keys()];
}

definePruningMethod({ name: 'none', description: 'greedy: the criterion at every step, no retraining', scoring: everyStep, recovery: 'none' });
definePruningMethod({ name: 'retrain', description: 'the criterion at every step, then retrain the whole network', scoring: everyStep, recovery: 'retrain' });
definePruningMethod({ name: 'layer-retrain', description: 'the criterion at every step, then retrain only the layers just pruned', scoring: everyStep, recovery: 'layer-retrain' });
definePruningMethod({ name: 'once', description: 'the criterion once at the start (scores follow the surviving channels), retrain the whole network', scoring: atStart, recovery: 'retrain' });
