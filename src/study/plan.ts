// How much work the grid is, before it starts: steps and retraining
// iterations per family, and a time estimate from a short calibration (a few
// training iterations and one evaluation of the base model). Work is counted
// in "iteration equivalents" (one retraining iteration at the base model's
// size), which is also the unit of the study's progress bar: a step of a
// retraining curve weighs far more than a greedy one, and the ETA must know.
import type { Model } from '../graph/index.js';
import { criterion } from '../prune/index.js';
import { evaluate, type BatchSource } from '../train/index.js';
import type { Experiment, Family } from './grid.js';
import { trainForIterations } from './recipe.js';

export interface Calibration {
  /** One training iteration (forward, backward, Adam) of the base model, ms. */
  iterMs: number;
  /** One evaluation of the base model on the curve split, ms. */
  evalMs: number;
}

export interface FamilyPlan {
  family: Family;
  curves: number;
  steps: number;
  retrainIterations: number;
  units: number;
}

export interface StudyPlan {
  experiments: Experiment[];
  families: FamilyPlan[];
  curves: number;
  steps: number;
  retrainIterations: number;
  /** Total work in iteration equivalents. */
  units: number;
  calibration: Calibration;
  /** units × iterMs: the time at the base model's speed, an upper bound (pruned models are faster). */
  estimatedSeconds: number;
}

/** Times `iterations` training iterations (after one untimed) and one evaluation, on a copy of the model. */
export async function calibrate(model: Model, train: BatchSource, evalSource: BatchSource, classes: number, iterations = 3): Promise<Calibration> {
  const copy = model.clone();
  try {
    await trainForIterations(copy, train, { iterations: 1, lr: 1e-4 });
    const t = await trainForIterations(copy, train, { iterations, lr: 1e-4 });
    const e0 = performance.now();
    await evaluate(copy, evalSource, classes);
    return { iterMs: (t.seconds * 1000) / Math.max(1, t.iterations), evalMs: performance.now() - e0 };
  } finally {
    copy.dispose();
  }
}

/** Work of one step of `e`: retraining, scoring (a data-driven criterion reads `scoreBatches` batches) and evaluation. */
export function stepUnits(e: Experiment, cal: Calibration, scoreBatches: number): number {
  const scoring = criterion(e.criterion).needsData ? scoreBatches : 0;
  return Math.max(1, e.retrainIters + scoring + Math.round(cal.evalMs / cal.iterMs));
}

export function planStudy(experiments: readonly Experiment[], cal: Calibration, scoreBatches: number): StudyPlan {
  const families = new Map<Family, FamilyPlan>();
  for (const e of experiments) {
    const f = families.get(e.family) ?? { family: e.family, curves: 0, steps: 0, retrainIterations: 0, units: 0 };
    f.curves += 1;
    f.steps += e.maxSteps;
    f.retrainIterations += e.maxSteps * e.retrainIters;
    f.units += e.maxSteps * stepUnits(e, cal, scoreBatches);
    families.set(e.family, f);
  }
  const list = [...families.values()];
  const sum = (k: 'curves' | 'steps' | 'retrainIterations' | 'units') => list.reduce((a, f) => a + f[k], 0);
  const units = sum('units');
  return {
    experiments: [...experiments],
    families: list,
    curves: sum('curves'),
    steps: sum('steps'),
    retrainIterations: sum('retrainIterations'),
    units,
    calibration: cal,
    estimatedSeconds: (units * cal.iterMs) / 1000,
  };
}
