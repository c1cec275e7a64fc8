// Learning-rate schedules. A schedule maps its position t (number of
// advances so far, in its own unit: optimizer steps or epochs) to a factor,
// and sets every parameter group's lr to factor(t) * that group's base lr, so
// groups with different learning rates keep their ratio.
//
// Any schedule can start with a linear warm-up of `warmup` positions: the
// factor rises linearly from `warmupStartFactor` (at t = 0) to 1 (at
// t = warmup); the main schedule then runs on t - warmup (the convention of
// PyTorch's SequentialLR: milestones, step sizes and the cosine length count
// from the end of the warm-up).
//
//   constant     f = 1
//   step         f = gamma ^ floor(t / stepSize)
//   multistep    f = gamma ^ (number of milestones <= t)
//   exponential  f = gamma ^ t
//   cosine       f = m + (1 - m) (1 + cos(pi t / length)) / 2 for t < length, m after
//                (m = minFactor, i.e. eta_min / base lr)
//
// The position is the only state; state()/loadState() round-trip it with the
// base lrs as JSON.
import type { BaseHyper, Optimizer } from './optim/index.js';

export type ScheduleUnit = 'step' | 'epoch';

interface Common {
  /** When the schedule advances: after every optimizer step or at the end of every epoch (default 'epoch'). */
  unit?: ScheduleUnit;
  /** Length of a linear warm-up in `unit`s (default 0). */
  warmup?: number;
  /** Warm-up factor at t = 0 (default 0.1); it reaches 1 at t = warmup. */
  warmupStartFactor?: number;
}

export type ScheduleSpec = Common &
  (
    | { type: 'constant' }
    | { type: 'step'; stepSize: number; gamma?: number }
    | { type: 'multistep'; milestones: readonly number[]; gamma?: number }
    | { type: 'exponential'; gamma: number }
    | { type: 'cosine'; length: number; minFactor?: number }
  );

export interface ScheduleState {
  spec: ScheduleSpec;
  position: number;
  baseLrs: number[];
}

/** The lr factor of `spec` at position `t` (pure; what the tests check against hand formulas). */
export function scheduleFactor(spec: ScheduleSpec, t: number): number {
  const warmup = spec.warmup ?? 0;
  if (t < warmup) {
    const s = spec.warmupStartFactor ?? 0.1;
    return s + ((1 - s) * t) / warmup;
  }
  const u = t - warmup;
  switch (spec.type) {
    case 'constant':
      return 1;
    case 'step':
      return (spec.gamma ?? 0.1) ** Math.floor(u / spec.stepSize);
    case 'multistep':
      return (spec.gamma ?? 0.1) ** spec.milestones.filter((m) => m <= u).length;
    case 'exponential':
      return spec.gamma ** u;
    case 'cosine': {
      const m = spec.minFactor ?? 0;
      if (u >= spec.length) return m;
      return m + ((1 - m) * (1 + Math.cos((Math.PI * u) / spec.length))) / 2;
    }
  }
}

export function validateSchedule(spec: ScheduleSpec): void {
  const bad = (what: string) => {
    throw new RangeError(`schedule '${spec.type}': ${what}`);
  };
  if (spec.unit !== undefined && spec.unit !== 'step' && spec.unit !== 'epoch') bad(`unit must be 'step' or 'epoch', got ${String(spec.unit)}`);
  if (spec.warmup !== undefined && !(Number.isInteger(spec.warmup) && spec.warmup >= 0)) bad(`warmup must be a non-negative integer, got ${spec.warmup}`);
  if (spec.warmupStartFactor !== undefined && !(spec.warmupStartFactor >= 0 && spec.warmupStartFactor <= 1)) bad(`warmupStartFactor must be in [0, 1]`);
  switch (spec.type) {
    case 'constant':
      break;
    case 'step':
      if (!(Number.isInteger(spec.stepSize) && spec.stepSize >= 1)) bad(`stepSize must be a positive integer, got ${spec.stepSize}`);
      if (spec.gamma !== undefined && !(spec.gamma > 0)) bad(`gamma must be > 0`);
      break;
    case 'multistep':
      if (!Array.isArray(spec.milestones) || spec.milestones.some((m, i) => !(Number.isInteger(m) && m >= 0) || (i > 0 && m <= spec.milestones[i - 1]!))) {
        bad(`milestones must be increasing non-negative integers, got [${String(spec.milestones)}]`);
      }
      if (spec.gamma !== undefined && !(spec.gamma > 0)) bad(`gamma must be > 0`);
      break;
    case 'exponential':
      if (!(spec.gamma > 0)) bad(`gamma must be > 0, got ${spec.gamma}`);
      break;
    case 'cosine':
      if (!(Number.isInteger(spec.length) && spec.length >= 1)) bad(`length must be a positive integer, got ${spec.length}`);
      if (spec.minFactor !== undefined && !(spec.minFactor >= 0 && spec.minFactor <= 1)) bad(`minFactor must be in [0, 1]`);
      break;
    default:
      throw new RangeError(`unknown schedule type '${(spec as { type: string }).type}'`);
  }
}

/** A schedule driving an optimizer's learning rates. */
export class LrSchedule {
  readonly spec: ScheduleSpec;
  /** Each group's lr at position 0's factor 1 (the lr the groups had when the schedule was attached). */
  private baseLrs: number[];
  private t = 0;

  constructor(
    readonly optimizer: Optimizer<BaseHyper>,
    spec: ScheduleSpec,
  ) {
    validateSchedule(spec);
    this.spec = { ...spec };
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  get unit(): ScheduleUnit {
    return this.spec.unit ?? 'epoch';
  }

  /** Number of advances so far. */
  get position(): number {
    return this.t;
  }

  get factor(): number {
    return scheduleFactor(this.spec, this.t);
  }

  /** The learning rates the groups have now. */
  get lrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Advances one position and updates the learning rates. */
  advance(): void {
    this.t += 1;
    this.apply();
  }

  /** Trainer hooks: advance when the schedule's unit ends. */
  onStepEnd(): void {
    if (this.unit === 'step') this.advance();
  }
  onEpochEnd(): void {
    if (this.unit === 'epoch') this.advance();
  }

  state(): ScheduleState {
    return { spec: { ...this.spec }, position: this.t, baseLrs: [...this.baseLrs] };
  }

  loadState(s: ScheduleState): void {
    if (s.baseLrs.length !== this.optimizer.paramGroups.length) {
      throw new RangeError(`LrSchedule.loadState: state has ${s.baseLrs.length} base lrs, optimizer has ${this.optimizer.paramGroups.length} groups`);
    }
    if (canonical(s.spec) !== canonical(this.spec)) {
      throw new RangeError(`LrSchedule.loadState: state is for schedule ${JSON.stringify(s.spec)}, this one is ${JSON.stringify(this.spec)}`);
    }
    this.t = s.position;
    this.baseLrs = [...s.baseLrs];
    this.apply();
  }

  private apply(): void {
    const f = this.factor;
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.baseLrs[i]! * f;
    });
  }
}

/** JSON with sorted keys and undefined dropped, to compare specs built in different orders. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).filter(([, y]) => y !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}
