// What `explainRun` is asked to do: the spec (the flags of `slimnet explain`,
// or a library caller's object), its defaults and its checks. Everything that
// can be checked without loading a model is checked here, so a bad method,
// parameter or flag fails before any work (and before any file is written).
import { explainer, resolveExplainParams, ExplainError, type TargetChoice } from '../explain/index.js';
import { UsageError } from '../util/errors.js';

export interface ExplainSpec {
  /** The reference model (model 'a'): a slimnet checkpoint carrying its data provenance. */
  checkpoint: string;
  /** Models compared with it ('b', 'c', ...): checkpoints taking the same input (pruned, distilled, ...). */
  compare?: readonly string[];
  /** Methods by registry name (explainerNames()); default DEFAULT_EXPLAIN_METHODS. */
  methods?: readonly string[];
  /** Explain the first N images of the split (default 8); exclusive with indices. */
  images?: number;
  /** Explain these images of the split (0-based indices); exclusive with images. */
  indices?: readonly number[];
  /** Data set (default: the checkpoint's); another data set than the checkpoint's uses its own normalisation. */
  dataset?: string;
  /** Data folder (default: the checkpoint's when its data set is used). */
  root?: string;
  /** Split the images come from (default 'test'). */
  split?: 'train' | 'test';
  /** What each model explains per image: its own prediction (default), the true label, or one class. */
  target?: TargetChoice;
  /** CAM target layer of model a by node name (default: automatic); compared models use the same name when they have it as a spatial node, else their automatic layer. */
  layer?: string;
  /** Seed of every random draw (LIME, KernelSHAP, SmoothGrad, GradientSHAP, the background, the sanity check); default 0. */
  seed?: number;
  /** Method parameters: { lime: { samples: 500 } } (unknown names are errors). */
  methodParams?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Deletion / insertion AUC per image, model and method (default true). */
  faithfulness?: boolean;
  /** Model-randomisation sanity check of every method on model a (default false: it recomputes each method once per layer). */
  sanity?: boolean;
  /** Background images drawn from the training split for methods that need one (GradientSHAP); default 16. */
  background?: number;
  /** Write into this directory instead of a versioned run directory. */
  out?: string;
  /** Root of the run directories (default './runs'): runs/explain/<dataset>-<arch>/version_N. */
  runsDir?: string;
}

/**
 * Default methods: one of each family (a CAM, a path-integral gradient, a
 * perturbation surrogate). Measured on 8 mnist-digits images x 3 lenet5s
 * (full width, a pruned one, half width) with the faithfulness curves, one
 * thread on a busy 2-core machine: 19.4 s in all — gradcam 0.04 s, ig 1.5 s,
 * lime 14.3 s (1,000 samples per image, LIME's own default), the curves
 * about 3 s. `--method-param lime.samples=N` trades LIME's stability for time.
 */
export const DEFAULT_EXPLAIN_METHODS: readonly string[] = ['gradcam', 'ig', 'lime'];

export const EXPLAIN_DEFAULTS = { images: 8, split: 'test', target: 'predicted', seed: 0, faithfulness: true, sanity: false, background: 16, runsDir: './runs' } as const;

/** The spec with every default filled in and every method's parameters resolved. */
export interface ResolvedExplainSpec {
  checkpoints: string[];
  methods: string[];
  /** Resolved parameters per method (defaults filled in). */
  params: Record<string, Record<string, number>>;
  images: number | null;
  indices: number[] | null;
  dataset?: string;
  root?: string;
  split: 'train' | 'test';
  target: TargetChoice;
  layer?: string;
  seed: number;
  faithfulness: boolean;
  sanity: boolean;
  background: number;
  out?: string;
  runsDir: string;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** Checks `spec` and fills in the defaults; UsageErrors name the field, ExplainErrors the method or parameter. */
export function resolveExplainSpec(spec: ExplainSpec): ResolvedExplainSpec {
  if (typeof spec.checkpoint !== 'string' || spec.checkpoint === '') throw new UsageError('give --checkpoint PATH (the model to explain)');
  const compare = [...(spec.compare ?? [])];
  for (const c of compare) if (typeof c !== 'string' || c === '') throw new UsageError(`--compare must list checkpoint paths, got ${JSON.stringify(spec.compare)}`);
  const methods = [...(spec.methods ?? DEFAULT_EXPLAIN_METHODS)];
  if (methods.length === 0) throw new UsageError('--methods lists no method');
  const dup = methods.find((m, i) => methods.indexOf(m) !== i);
  if (dup !== undefined) throw new UsageError(`--methods lists '${dup}' twice`);
  const params: Record<string, Record<string, number>> = {};
  for (const m of methods) params[m] = resolveExplainParams(explainer(m), spec.methodParams?.[m]);
  for (const m of Object.keys(spec.methodParams ?? {})) {
    if (!methods.includes(m)) {
      explainer(m); // an unknown name says so, with the available ones
      throw new ExplainError(`parameters given for '${m}', which is not among the methods (${methods.join(', ')})`);
    }
  }
  if (spec.images !== undefined && spec.indices !== undefined) throw new UsageError('give either --images N or --indices i,j, not both');
  if (spec.images !== undefined && !isCount(spec.images)) throw new UsageError(`--images must be a positive integer, got ${spec.images}`);
  let indices: number[] | null = null;
  if (spec.indices !== undefined) {
    indices = [...spec.indices];
    if (indices.length === 0) throw new UsageError('--indices lists no image');
    for (const i of indices) if (!(Number.isInteger(i) && i >= 0)) throw new UsageError(`--indices must be non-negative integers, got ${i}`);
  }
  const split = spec.split ?? EXPLAIN_DEFAULTS.split;
  if (split !== 'train' && split !== 'test') throw new UsageError(`--split must be train or test, got '${String(split)}'`);
  const target = spec.target ?? EXPLAIN_DEFAULTS.target;
  if (target !== 'predicted' && target !== 'label' && !(typeof target === 'number' && Number.isInteger(target) && target >= 0)) {
    throw new UsageError(`--target must be predicted, label or a class index, got '${String(target)}'`);
  }
  const seed = spec.seed ?? EXPLAIN_DEFAULTS.seed;
  if (!(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`--seed must be a non-negative integer, got ${seed}`);
  const background = spec.background ?? EXPLAIN_DEFAULTS.background;
  if (!isCount(background)) throw new UsageError(`background must be a positive integer, got ${background}`);
  if (spec.layer !== undefined && !methods.some((m) => explainer(m).usesLayer)) {
    throw new UsageError(`--layer applies to CAM methods only, and none is among the methods (${methods.join(', ')})`);
  }
  return {
    checkpoints: [spec.checkpoint, ...compare],
    methods,
    params,
    images: indices ? null : (spec.images ?? EXPLAIN_DEFAULTS.images),
    indices,
    ...(spec.dataset !== undefined ? { dataset: spec.dataset } : {}),
    ...(spec.root !== undefined ? { root: spec.root } : {}),
    split,
    target,
    ...(spec.layer !== undefined ? { layer: spec.layer } : {}),
    seed,
    faithfulness: spec.faithfulness ?? EXPLAIN_DEFAULTS.faithfulness,
    sanity: spec.sanity ?? EXPLAIN_DEFAULTS.sanity,
    background,
    ...(spec.out !== undefined ? { out: spec.out } : {}),
    runsDir: spec.runsDir ?? EXPLAIN_DEFAULTS.runsDir,
  };
}

/** `--method-param lime.samples=500,ig.steps=32` (repeatable) → { lime: { samples: 500 }, ig: { steps: 32 } }. */
export function parseMethodParams(items: readonly string[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const item of items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9]+)\.([A-Za-z0-9]+)=(.+)$/.exec(item);
    const v = m ? Number(m[3]) : NaN;
    if (!m || m[3]!.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--method-param must be method.name=number, got '${item}'`);
    (out[m[1]!] ??= {})[m[2]!] = v;
  }
  return out;
}

/** `--target predicted|label|<class>`. */
export function parseTarget(text: string): TargetChoice {
  if (text === 'predicted' || text === 'label') return text;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`--target must be predicted, label or a class index, got '${text}'`);
  return n;
}
