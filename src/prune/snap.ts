// The grid step: after the pruning loop, every layer goes down to its
// multiple of `to` channels in one retrained step. Inference engines pack
// channels in blocks (onnxruntime's CPU convolutions: 16 on AVX-512, 8 on
// AVX2); a count off the grid falls back to a slower kernel, so a model with
// fewer MACs can run slower than one on the grid. The step is kept only if
// the snapped model still meets the floor.
import type { Model } from '../graph/index.js';
import { prune, type PruneData, type PruneHooks, type PruneOptions, type StepRecord } from './protocol.js';

export interface SnapOptions {
  /** Channel multiple (e.g. 16). */
  to: number;
  /** Retraining iterations of the snap step. */
  iters: number;
}

export interface SnapResult {
  /** The snapped model (owned by the caller) when it met the floor, else null. */
  model: Model | null;
  /** The snap step, or undefined when every layer already was on the grid. */
  record?: StepRecord;
}

/** Snaps `model` (left untouched) onto the channel grid, with the loop's options for criterion, floor and data. */
export async function snapToGrid(model: Model, data: PruneData, base: PruneOptions, snap: SnapOptions, hooks: PruneHooks = {}): Promise<SnapResult> {
  const result = await prune(
    model,
    data,
    {
      ...base,
      scope: 'layer',
      norm: 'none',
      // Each layer loses at most to-1 maps: down to its own multiple, never a whole block more.
      amount: { maps: snap.to - 1 },
      roundTo: snap.to,
      protocol: 'retrain',
      retrainIters: snap.iters,
      patience: 0,
      backtrack: false,
      maxSteps: 1,
      targetParamsX: undefined,
      targetMacsX: undefined,
    },
    hooks,
  );
  const record = result.history[0];
  if (result.bestStep === 1 && record) return { model: result.best, record };
  result.best.dispose();
  return { model: null, record };
}
