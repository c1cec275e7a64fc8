// The provenance a checkpoint carries: which data it was trained on and how
// it was split, so later commands rebuild the same train / validation sets.
// Checkpoint metadata is free-form JSON on disk; this module reads it into a
// typed record and rejects fields of the wrong type with the file's name.
import { datasetNames, type DatasetName } from './registry.js';
import { resolveData, type NormalizeSpec, type ResolvedData } from './spec.js';
import type { ClassRef } from './classes.js';
import { UsageError } from '../util/errors.js';

/** What training records in a checkpoint's metadata about its data and model. */
export interface Provenance {
  /** The command that wrote the checkpoint ('train', 'prune', 'slim', ...). */
  command?: string;
  dataset?: DatasetName;
  /** Data folder (null: the data set's default). */
  root?: string | null;
  arch?: string;
  width?: number;
  classes?: string[];
  /**
   * The class subset the model was trained on (names or indices as text,
   * relabelled 0..k-1 in this order: DataSpec.classes); absent: every class
   * of the data set. `classes` then holds the subset's names.
   */
  classSubset?: string[];
  normalize?: NormalizeSpec;
  /** Seed of the share and the split. */
  seed?: number;
  /** Validation count or fraction held out of the training split (0: none). */
  validation?: number;
  fraction?: number;
  /**
   * Height and width an image folder's images were resized to (a number for
   * square images); null or absent: not resized (a data set of fixed size, or
   * a checkpoint written before training recorded it).
   */
  imageSize?: number | [number, number] | null;
  /** The run version that wrote it. */
  version?: number;
}

/** Overrides of a checkpoint's own data (command-line flags). */
export interface DataOverrides {
  dataset?: string;
  root?: string;
  /** Validation count or fraction; default the checkpoint's own split. */
  validation?: number;
  fraction?: number;
  seed?: number;
  /** Image height and width of the 'folder' data set (default: the checkpoint's recorded imageSize, else 224); see DataSpec.imageSize. */
  imageSize?: number | readonly [number, number];
  /** Only these classes (DataSpec.classes), instead of the checkpoint's recorded subset. */
  classes?: readonly ClassRef[];
}

const isNumArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Reads the typed provenance out of checkpoint metadata; `where` names the file in errors. */
export function readProvenance(meta: Readonly<Record<string, unknown>>, where: string): Provenance {
  const bad = (field: string, want: string): never => {
    throw new UsageError(`${where}: metadata field '${field}' must be ${want}, got ${JSON.stringify(meta[field])}`);
  };
  const out: Provenance = {};
  const str = (k: 'command' | 'arch'): void => {
    if (meta[k] === undefined) return;
    if (typeof meta[k] !== 'string') bad(k, 'a string');
    out[k] = meta[k] as string;
  };
  const num = (k: 'width' | 'seed' | 'validation' | 'fraction' | 'version'): void => {
    if (meta[k] === undefined || meta[k] === null) return;
    if (typeof meta[k] !== 'number' || !Number.isFinite(meta[k])) bad(k, 'a number');
    out[k] = meta[k] as number;
  };
  str('command');
  str('arch');
  for (const k of ['width', 'seed', 'validation', 'fraction', 'version'] as const) num(k);
  if (meta.dataset !== undefined) {
    if (typeof meta.dataset !== 'string') bad('dataset', 'a string');
    if (!(datasetNames() as string[]).includes(meta.dataset as string)) bad('dataset', `one of ${datasetNames().join(', ')}`);
    out.dataset = meta.dataset as DatasetName;
  }
  if (meta.root !== undefined) {
    if (meta.root !== null && typeof meta.root !== 'string') bad('root', 'a string or null');
    out.root = meta.root as string | null;
  }
  if (meta.imageSize !== undefined) {
    const v = meta.imageSize;
    const size = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 1;
    if (v !== null && !size(v) && !(Array.isArray(v) && v.length === 2 && v.every(size))) bad('imageSize', 'a whole number of pixels, [height, width] or null');
    out.imageSize = Array.isArray(v) ? [v[0] as number, v[1] as number] : (v as number | null);
  }
  if (meta.classes !== undefined) {
    if (!Array.isArray(meta.classes) || !meta.classes.every((c) => typeof c === 'string')) bad('classes', 'a list of strings');
    out.classes = [...(meta.classes as string[])];
  }
  if (meta.classSubset !== undefined) {
    const v = meta.classSubset;
    if (!Array.isArray(v) || v.length === 0 || !v.every((c) => typeof c === 'string' && c !== '')) bad('classSubset', 'a non-empty list of class names or indices (strings)');
    out.classSubset = [...(v as string[])];
  }
  if (meta.normalize !== undefined) {
    const n = meta.normalize as Partial<NormalizeSpec> | null;
    if (!n || typeof n !== 'object' || !isNumArray(n.mean) || !isNumArray(n.std) || n.mean.length !== n.std.length) bad('normalize', 'an object { mean: number[], std: number[] }');
    out.normalize = { mean: [...n!.mean!], std: [...n!.std!] };
  }
  return out;
}

/**
 * The class subset to take from `dataset` for a checkpoint: its recorded one
 * when `dataset` is the one it was trained on, else none (another data set's
 * classes are not the checkpoint's). For commands that load a split
 * themselves (eval, explain): selectClasses(ds, subset) when defined.
 */
export function recordedClassSubset(p: Provenance, dataset: string): string[] | undefined {
  return p.classSubset !== undefined && (p.dataset === undefined || p.dataset === dataset) ? [...p.classSubset] : undefined;
}

/**
 * The data a checkpoint was trained on, rebuilt from its provenance: the same
 * data set, the same seeded train / validation split and normalisation, and
 * the same class subset (classSubset), so pruning and fine-tuning see what
 * training saw and measure on data it held out. `o.classes` takes another
 * subset; another data set (`o.dataset`) takes none unless `o.classes` says so.
 */
export function checkpointData(meta: Readonly<Record<string, unknown>>, o: DataOverrides = {}, where = 'checkpoint'): ResolvedData {
  const p = readProvenance(meta, where);
  const dataset = o.dataset ?? p.dataset;
  if (!dataset) throw new UsageError(`${where} does not say which data set it was trained on: give --dataset`);
  if (!(datasetNames() as string[]).includes(dataset)) throw new UsageError(`unknown data set '${dataset}' (available: ${datasetNames().join(', ')})`);
  const sameData = o.dataset === undefined || o.dataset === p.dataset;
  const root = o.root ?? (sameData && typeof p.root === 'string' ? p.root : undefined);
  const seed = o.seed ?? p.seed ?? 0;
  // A checkpoint that does not record its split (older ones) may have trained
  // on every image: re-splitting would "validate" on training data, so it
  // gets no validation split and callers fall back to the test split.
  const validation = o.validation ?? (sameData ? (p.validation ?? 0) : 0.1);
  const fraction = o.fraction ?? (sameData ? p.fraction : undefined) ?? 1;
  // An image folder is resized as training resized it (what the model takes), unless the caller says otherwise.
  const imageSize = o.imageSize ?? (sameData && dataset === 'folder' && p.imageSize != null ? p.imageSize : undefined);
  const recorded = sameData ? recordedClassSubset(p, dataset) : undefined;
  const classes = o.classes ?? recorded;
  const data = resolveData({
    dataset: dataset as DatasetName,
    root,
    validation,
    fraction,
    seed,
    ...(sameData && p.normalize ? { normalize: p.normalize } : {}),
    ...(imageSize !== undefined ? { imageSize } : {}),
    ...(classes !== undefined ? { classes } : {}),
  });
  // The recorded subset must give the classes the checkpoint says it predicts, in its order (its outputs' meaning).
  if (o.classes === undefined && recorded !== undefined && p.classes !== undefined && data.classes.join('\u0000') !== p.classes.join('\u0000')) {
    throw new UsageError(`${where}: metadata field 'classSubset' (${recorded.join(', ')}) selects the classes ${data.classes.join(', ')} of ${dataset}, but 'classes' records ${p.classes.join(', ')}`);
  }
  return data;
}
