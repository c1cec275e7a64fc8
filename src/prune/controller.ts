// The pruning loop's decisions (seed 003 §3.4 and what it led to): whether a
// step is taken at all (step limit, Ctrl-C), whether a measured step meets the
// accuracy floor, and what follows — keep the model and go on (or stop at a
// compression target), tolerate a dip (patience), go back to the kept model
// with half the step (backtracking), or stop. No model, data or tensor here:
// the loop (protocol.ts) acts on the verdicts.
import { PruneError } from './dependency.js';
import type { SelectOptions } from './select.js';

/** The controller's options; PruneOptions takes them from here (less `amount`, which selection also reads). */
export interface ControllerOptions {
  /** The first step size; backtracking halves it. */
  amount: SelectOptions['amount'];
  /** Stop once the evaluation accuracy falls below this (0..1). */
  minAccuracy?: number;
  /**
   * Steps allowed below the floor before stopping (default 0). Retraining
   * often wins back a dip, so a few more steps can still end above the floor;
   * the result is the smallest model that met it either way.
   */
  patience?: number;
  /**
   * When the floor stops the run, go back to the kept model and go on with
   * half the step (maps or fraction), until a step of one channel per layer
   * fails: big steps early, fine ones near the limit.
   */
  backtrack?: boolean;
  /** Stop once parameters / MACs shrank by at least this factor. */
  targetParamsX?: number;
  targetMacsX?: number;
  /** Stop after this many steps. */
  maxSteps?: number;
}

/** What a measured step leads to. */
export type Verdict =
  /** It met the floor: keep it; `stop` says why the loop ends here (a target reached). */
  | { action: 'keep'; stop?: string }
  /** Below the floor, within patience: go on from this model. */
  | { action: 'continue' }
  /** Back to the kept model with the smaller step (controller.amount). */
  | { action: 'backtrack' }
  | { action: 'stop'; reason: string };

/** What the controller reads of a measured step. */
export interface StepMeasure {
  accuracy: number;
  params_x: number;
  macs_x: number;
}

/** Checks the options; the messages name the option. */
export function validateController(o: ControllerOptions): void {
  if (o.minAccuracy !== undefined && !(o.minAccuracy >= 0 && o.minAccuracy <= 1)) throw new PruneError(`minAccuracy must be in [0, 1], got ${o.minAccuracy}`);
  for (const [k, v] of [['targetParamsX', o.targetParamsX], ['targetMacsX', o.targetMacsX]] as const) {
    if (v !== undefined && !(v > 1)) throw new PruneError(`${k} must be > 1, got ${v}`);
  }
  if (o.patience !== undefined && !(Number.isInteger(o.patience) && o.patience >= 0)) throw new PruneError(`patience must be a non-negative integer, got ${o.patience}`);
  if (o.maxSteps !== undefined && !(Number.isInteger(o.maxSteps) && o.maxSteps >= 1)) throw new PruneError(`maxSteps must be a positive integer, got ${o.maxSteps}`);
  if (o.minAccuracy === undefined && o.targetParamsX === undefined && o.targetMacsX === undefined && o.maxSteps === undefined) {
    throw new PruneError('give a stopping rule: an accuracy floor, a parameter or MAC target, or a step count');
  }
}

const pct = (v: number): string => (v * 100).toFixed(2);

export class PruneController {
  /** The current step size. */
  amount: SelectOptions['amount'];
  /** Steps in a row below the floor. */
  private below = 0;
  /** Channels the first step of the current run below the floor took from its most-pruned group. */
  private dipSize = 0;
  /** dipSize at the last backtrack: halving must make the steps smaller (rounding may not let it). */
  private lastDip = Infinity;

  constructor(private readonly o: ControllerOptions) {
    validateController(o);
    this.amount = o.amount;
  }

  /** Whether `accuracy` meets the floor (always, without one). */
  meets(accuracy: number): boolean {
    return this.o.minAccuracy === undefined || accuracy >= this.o.minAccuracy;
  }

  /** Before step `step` (1-based): why not to take it, or null. */
  before(step: number, signal?: AbortSignal): string | null {
    if (signal?.aborted) return 'interrupted';
    if (this.o.maxSteps !== undefined && step > this.o.maxSteps) return `${this.o.maxSteps} step${this.o.maxSteps === 1 ? '' : 's'} done`;
    return null;
  }

  /** After a step was measured; `perGroup` holds the channels it took from each group. */
  after(m: StepMeasure, perGroup: ReadonlyMap<string, number>): Verdict {
    const o = this.o;
    if (!this.meets(m.accuracy)) {
      this.below++;
      if (this.below === 1) this.dipSize = Math.max(...perGroup.values());
      if (this.below <= (o.patience ?? 0)) return { action: 'continue' };
      if (o.backtrack && this.dipSize > 1 && this.dipSize < this.lastDip) {
        this.lastDip = this.dipSize;
        const a = this.amount;
        this.amount = 'maps' in a ? { maps: Math.max(1, Math.floor(a.maps / 2)) } : { fraction: a.fraction / 2 };
        this.below = 0;
        return { action: 'backtrack' };
      }
      const tried = this.below > 1 ? ` for ${this.below} steps in a row` : '';
      return { action: 'stop', reason: `accuracy ${pct(m.accuracy)} % fell below the floor ${pct(o.minAccuracy!)} %${tried}${o.backtrack ? ' with the smallest step' : ''}` };
    }
    this.below = 0;
    if (o.targetParamsX !== undefined && m.params_x >= o.targetParamsX) return { action: 'keep', stop: `parameter target ${o.targetParamsX}x reached` };
    if (o.targetMacsX !== undefined && m.macs_x >= o.targetMacsX) return { action: 'keep', stop: `MAC target ${o.targetMacsX}x reached` };
    return { action: 'keep' };
  }
}
