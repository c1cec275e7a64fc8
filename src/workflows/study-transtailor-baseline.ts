// The fine-tune-then-prune baseline of the TransTailor study: the transferred,
// fine-tuned model pruned by a criterion (Taylor, L1, random; global ranking,
// L2-normalised per group as TransTailor's β is) without retraining between
// steps until its MACs are at most TransTailor's final model's, then
// fine-tuned once with TransTailor's optimizer, early stopping and a budget
// of as many epochs as TransTailor's kept iterations fine-tuned in all. So the
// baselines get the same target data, the same validation split for every
// decision, the same size, and at least the same fine-tuning (OpenReview
// h2PnrddEzp's point: compare at equal MACs and equal budget).
import { DataLoader, checkpointData, evalTransform } from '../data/index.js';
import { loadCheckpoint, saveCheckpoint, summarize, type Model } from '../graph/index.js';
import { prune } from '../prune/index.js';
import { PAPER_OPTIMIZER } from '../prune/transtailor/loop.js';
import { evaluate, fineTune } from '../train/index.js';

export interface BaselineSpec {
  /** The fine-tuned, unpruned model (a TransTailor run's finetuned.safetensors); its provenance gives the target data and splits. */
  finetuned: string;
  /** The pruning criterion; null: no pruning (the fine-tuned model fine-tuned on with the same budget). */
  criterion: string | null;
  /** Prune until the MACs are at most this. */
  targetMacs: number;
  /** Share of the remaining filters removed per pruning step (small, so the last step overshoots little). */
  stepShare: number;
  fineTuneEpochs: number;
  patience: number;
  batchSize: number;
  seed: number;
  /** Where final.safetensors goes. */
  out: string;
}

export interface BaselineResult {
  params: number;
  macs: number;
  /** Validation balanced accuracy right after pruning and after the fine-tuning; test-split balanced and plain accuracy of the final model. */
  valBalancedAccuracyPruned: number;
  valBalancedAccuracy: number;
  testBalancedAccuracy: number;
  testAccuracy: number;
  fineTuneEpochs: number;
  steps: number;
  seconds: number;
  interrupted: boolean;
}

/** Runs one baseline (see the file's head); `out` gets the final model. */
export async function pruneBaseline(s: BaselineSpec, signal?: AbortSignal): Promise<BaselineResult> {
  const t0 = performance.now();
  const { model, meta } = loadCheckpoint(s.finetuned);
  const data = checkpointData(meta, {}, s.finetuned);
  const transform = evalTransform(data.norm);
  const train = new DataLoader(data.train, { batchSize: s.batchSize, shuffle: true, seed: s.seed + 2, transform });
  const val = new DataLoader(data.validation!, { batchSize: 500, transform });
  const test = new DataLoader(data.test, { batchSize: 500, transform });
  const k = data.classes.length;
  let pruned: Model | null = null;
  try {
    model.eval();
    const macs0 = summarize(model.graph).totals.macs;
    // criterion null: no pruning, only the fine-tuning (the unpruned model with the baselines' budget).
    const r = s.criterion === null
      ? null
      : await prune(
          model,
          { train, eval: val, classes: k },
          { criterion: s.criterion, protocol: 'none', scope: 'global', norm: 'l2', amount: { fraction: s.stepShare }, targetMacsX: macs0 / s.targetMacs, seed: s.seed },
          signal ? { signal } : {},
        );
    pruned = r ? r.best : model.clone();
    const valPruned = (await evaluate(pruned, val, k)).balancedAccuracy;
    const ft = await fineTune(pruned, train, val, { epochs: s.fineTuneEpochs, patience: s.patience, optimizer: PAPER_OPTIMIZER, ...(signal ? { signal } : {}) });
    const v = await evaluate(pruned, val, k);
    const t = await evaluate(pruned, test, k);
    saveCheckpoint(s.out, pruned, { ...meta, command: 'study transtailor', ...(s.criterion ? { prunedBy: s.criterion } : {}), from: s.finetuned });
    const totals = summarize(pruned.graph).totals;
    return {
      params: totals.params,
      macs: totals.macs,
      valBalancedAccuracyPruned: valPruned,
      valBalancedAccuracy: v.balancedAccuracy,
      testBalancedAccuracy: t.balancedAccuracy,
      testAccuracy: t.accuracy,
      fineTuneEpochs: ft.epochs,
      steps: r ? r.history.length : 0,
      seconds: (performance.now() - t0) / 1000,
      interrupted: ft.interrupted || signal?.aborted === true,
    };
  } finally {
    pruned?.dispose();
    model.dispose();
    await Promise.all([train, val, test].map((l) => l.close()));
  }
}
