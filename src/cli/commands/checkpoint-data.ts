// The data a checkpoint was trained on, rebuilt from its metadata: the same
// data set, the same seeded train / validation split and normalisation, so
// pruning and fine-tuning see what training saw and measure on data it held out.
import { fraction as takeFraction, loadDataset, splitDataset, type Dataset, type DatasetName, datasetNames } from '../../data/index.js';
import { UsageError } from '../errors.js';
import { normalizationFor, type NormalizeSpec } from './common.js';

export interface CheckpointData {
  dataset: string;
  train: Dataset;
  /** Held out of the training split (what pruning decisions are measured on), if any. */
  validation: Dataset | undefined;
  test: Dataset;
  norm: NormalizeSpec;
  classes: readonly string[];
  seed: number;
}

export interface DataOverrides {
  dataset?: string;
  root?: string;
  /** Validation count or fraction; default the checkpoint's own split. */
  validation?: number;
  fraction?: number;
  seed?: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function checkpointData(meta: Record<string, unknown>, o: DataOverrides = {}, where = 'checkpoint'): CheckpointData {
  const dataset = o.dataset ?? (typeof meta.dataset === 'string' ? meta.dataset : undefined);
  if (!dataset) throw new UsageError(`${where} does not say which data set it was trained on: give --dataset`);
  if (!(datasetNames() as string[]).includes(dataset)) throw new UsageError(`unknown data set '${dataset}' (available: ${datasetNames().join(', ')})`);
  const sameData = o.dataset === undefined || o.dataset === meta.dataset;
  const root = o.root ?? (sameData && typeof meta.root === 'string' ? meta.root : undefined);
  const seed = o.seed ?? num(meta.seed) ?? 0;
  // A checkpoint that does not record its split (older ones) may have trained
  // on every image: re-splitting would "validate" on training data, so it
  // gets no validation split and callers fall back to the test split.
  const validation = o.validation ?? (sameData ? (num(meta.validation) ?? 0) : 0.1);
  const frac = o.fraction ?? (sameData ? num(meta.fraction) : undefined) ?? 1;
  const opts = root !== undefined ? { root } : {};
  const full = loadDataset(dataset as DatasetName, 'train', opts);
  const ds = frac < 1 ? takeFraction(full, frac, seed) : full;
  let train = ds;
  let val: Dataset | undefined;
  if (validation > 0) ({ train, validation: val } = splitDataset(ds, { validation, seed }));
  const test = loadDataset(dataset as DatasetName, 'test', opts);
  const norm = sameData && meta.normalize && typeof meta.normalize === 'object' ? (meta.normalize as NormalizeSpec) : normalizationFor(dataset, ds.sampleShape[0]);
  return { dataset, train, validation: val, test, norm, classes: ds.classes, seed };
}
