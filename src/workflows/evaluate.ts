// Evaluating a checkpoint on a split of a data set: accuracy, balanced
// accuracy, top-5, per-class support / recall / precision and the confusion
// matrix. The data set, its folder, its normalisation, an image folder's
// image size and a class subset default to the checkpoint's provenance (what
// `slimnet train` recorded in it).
import { DataLoader, datasetNames, evalTransform, loadDataset, normalizationFor, readProvenance, recordedClassSubset, selectClasses, type DatasetName, type NormalizeSpec, type Split } from '../data/index.js';
import { loadCheckpoint, type Model } from '../graph/index.js';
import { evaluate, type Batch, type BatchSource } from '../train/index.js';
import { ProgressTask, type Observer } from '../util/events.js';
import { UsageError } from '../util/errors.js';

export interface EvalSpec {
  /** A slimnet checkpoint (e.g. runs/train/<dataset>-<arch>/version_0/best.safetensors). */
  checkpoint: string;
  /** Data set (default: the checkpoint's). Another data set than the checkpoint's uses its own normalisation. */
  dataset?: string;
  /** Data folder (default: the checkpoint's when its data set is used, else the data set's default). */
  root?: string;
  /** The split evaluated: the whole training or test split of the data set (default 'test'). */
  split?: 'train' | 'test';
  /** Evaluation batch size (default 500). */
  batchSize?: number;
}

/** One class of the evaluated split. */
export interface ClassRow {
  index: number;
  name: string;
  /** Images of this class in the split. */
  support: number;
  /** Of them, predicted as this class. */
  correct: number;
  /** correct / support (NaN for a class with no images). */
  recall: number;
  /** Of the images predicted as this class, the share that are (null when none was predicted). */
  precision: number | null;
}

export interface EvalReport {
  checkpoint: string;
  dataset: string;
  split: 'train' | 'test';
  /** Images evaluated. */
  count: number;
  /** Top-1 accuracy, mean per-class recall, top-5 accuracy and mean cross-entropy on the split. */
  accuracy: number;
  balancedAccuracy: number;
  top5: number;
  loss: number;
  classes: string[];
  perClassRecall: number[];
  perClass: ClassRow[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Wall time of the evaluation. */
  seconds: number;
  /** The signal stopped it: the figures cover only the batches before (count says how many images). */
  interrupted: boolean;
  /**
   * What makes the figures above untrustworthy, in words (also sent to
   * observer.onLog as 'warning: ...'): outputs that are not finite (NaN or
   * infinite weights: the arg-max then picks class 0 for every image).
   */
  warnings: string[];
}

/** Non-finite values among a model's tensors: how many, of how many, in which tensors (the first few). */
function nonFinite(model: Model): { count: number; total: number; tensors: string[] } {
  let count = 0;
  let total = 0;
  const tensors: string[] = [];
  for (const [name, t] of model.namedTensors()) {
    if (t.dtype !== 'float32') continue;
    const d = t.data<'float32'>();
    total += d.length;
    let bad = 0;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) bad++;
    if (bad) {
      count += bad;
      tensors.push(name);
    }
  }
  return { count, total, tensors };
}

/** Stops yielding batches once the signal is aborted. */
function untilAborted(source: BatchSource, signal: AbortSignal | undefined): BatchSource {
  if (!signal) return source;
  return {
    length: source.length,
    async *epoch(i: number): AsyncIterableIterator<Batch> {
      for await (const b of source.epoch(i)) {
        if (signal.aborted) {
          b.x.dispose();
          b.y.dispose();
          return;
        }
        yield b;
      }
    },
  };
}

export async function evaluateRun(spec: EvalSpec, observer: Observer = {}): Promise<EvalReport> {
  const split = spec.split ?? 'test';
  const batchSize = spec.batchSize ?? 500;
  if (split !== 'train' && split !== 'test') throw new UsageError(`--split must be train or test, got '${String(split)}'`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new UsageError(`--batch-size must be a positive integer, got ${batchSize}`);
  const { model, meta } = loadCheckpoint(spec.checkpoint);
  try {
    const p = readProvenance(meta, spec.checkpoint);
    const dataset = spec.dataset ?? p.dataset;
    if (dataset === undefined) throw new UsageError(`the checkpoint does not say which data set it was trained on: pass --dataset (${datasetNames().join(', ')})`);
    if (!datasetNames().includes(dataset)) throw new UsageError(`unknown data set '${dataset}' (known: ${datasetNames().join(', ')})`);
    const sameData = spec.dataset === undefined || spec.dataset === p.dataset;
    const root = spec.root ?? (spec.dataset === undefined && typeof p.root === 'string' ? p.root : undefined);
    const inShape = model.graph.shape(model.graph.inputs[0]!.name);
    // An image folder is resized as training resized it (the provenance's imageSize), else to what the model takes.
    const imageSize = dataset === 'folder' ? ((sameData ? p.imageSize : null) ?? ([inShape[1]!, inShape[2]!] as const)) : undefined;
    const whole = loadDataset(dataset as DatasetName, split as Split, { ...(root !== undefined ? { root } : {}), ...(imageSize !== undefined ? { imageSize } : {}) });
    // A model trained on some of the data set's classes predicts those, relabelled in its order.
    const subset = recordedClassSubset(p, dataset);
    const ds = subset ? selectClasses(whole, subset) : whole;
    if (inShape.length !== ds.sampleShape.length || inShape.some((d, i) => d !== ds.sampleShape[i])) {
      throw new UsageError(`the checkpoint's input is [${inShape.join(', ')}], ${dataset} samples are [${ds.sampleShape.join(', ')}]`);
    }
    const norm: NormalizeSpec = p.normalize && spec.dataset === undefined ? p.normalize : normalizationFor(dataset, ds.sampleShape[0]!);
    const loader = new DataLoader(ds, { batchSize, transform: evalTransform(norm) });
    const task = new ProgressTask(observer.onProgress, { id: 'eval', label: `eval ${dataset}/${split}`, total: ds.length, unit: 'img' });
    const t0 = performance.now();
    let m;
    try {
      m = await evaluate(model, untilAborted(loader, observer.signal), ds.classes, {
        onProgress: (step, _n, r) => task.tick(Math.min(batchSize, ds.length - (step - 1) * batchSize), `acc ${(r.accuracy * 100).toFixed(2)} %`),
      });
    } finally {
      await loader.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    const warnings: string[] = [];
    if (!Number.isFinite(m.loss) && m.count > 0) {
      const bad = nonFinite(model);
      warnings.push(
        `the model's outputs are not finite (loss ${m.loss}): the accuracy above means nothing` +
          (bad.count ? `; ${bad.count.toLocaleString('en-US')} of its ${bad.total.toLocaleString('en-US')} weights are NaN or infinite (${bad.tensors.slice(0, 3).join(', ')}${bad.tensors.length > 3 ? ', ...' : ''}): the checkpoint was saved from a diverged run` : ''),
      );
    }
    for (const w of warnings) observer.onLog?.(`warning: ${w}`);
    if (m.perClassRecall.length !== ds.classes.length) throw new UsageError(`the checkpoint predicts ${m.perClassRecall.length} classes, ${dataset} has ${ds.classes.length}`);
    const confusion = m.confusion;
    const perClass = ds.classes.map((name, i): ClassRow => {
      const support = confusion[i]!.reduce((a, b) => a + b, 0);
      const predicted = confusion.reduce((a, row) => a + row[i]!, 0);
      return { index: i, name, support, correct: confusion[i]![i]!, recall: m.perClassRecall[i]!, precision: predicted > 0 ? confusion[i]![i]! / predicted : null };
    });
    return {
      checkpoint: spec.checkpoint,
      dataset,
      split,
      count: m.count,
      accuracy: m.accuracy,
      balancedAccuracy: m.balancedAccuracy,
      top5: m.top5,
      loss: m.loss,
      classes: [...ds.classes],
      perClassRecall: m.perClassRecall,
      perClass,
      confusion,
      seconds,
      interrupted: observer.signal?.aborted === true,
      warnings,
    };
  } finally {
    model.dispose();
  }
}

/** The JSON `slimnet eval --json` prints (its documented keys). */
export function evalResultJson(r: EvalReport): Record<string, unknown> {
  return {
    checkpoint: r.checkpoint,
    dataset: r.dataset,
    split: r.split,
    count: r.count,
    accuracy: r.accuracy,
    balancedAccuracy: r.balancedAccuracy,
    top5: r.top5,
    loss: r.loss,
    classes: r.classes,
    perClassRecall: r.perClassRecall,
    confusion: r.confusion,
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
  };
}
