// The replacement spec: what `slimnet replace` / replaceRun take (the
// checkpoint, the convs to replace, the α schedule and the variants of seed
// 001), their defaults, and the checks that name the flag. The training
// options (lr, optimizer, batch size, augmentation, noise, ...) are the
// training workflow's; the data, the architecture and the seed come from the
// checkpoint, and the epoch count is the schedule's (α values × patience).
import type { BranchInit } from '../replace/branch.js';
import { ReplaceError } from '../replace/errors.js';
import { alphaSequence, parseSchedule, scheduleText } from '../replace/schedule.js';

/** How a branch starts: the graph edit's inits, or 'lsq', the least-squares fit of the original conv's output on training images (replace/fit.ts). */
export type ReplaceBranchInit = BranchInit | 'lsq';
// Spelt out (not spread from branch.ts's BRANCH_INITS) so that the CLI's option declarations load no engine code; the type checks the list.
export const REPLACE_BRANCH_INITS = ['centre', 'lsq', 'random'] as const satisfies readonly ReplaceBranchInit[];
import { UsageError } from '../util/errors.js';
import type { DataParallel } from '../train/data-parallel.js';
import type { TrainConfig, TrainSpec } from './train-spec.js';

export const REPLACE_LOSSES = ['ce', 'logit-mse'] as const;
/** shared: one α for every replaced conv; per-layer: the convs run through the schedule one after another (alphasAt). */
export const REPLACE_ALPHA_MODES = ['shared', 'per-layer'] as const;
export type ReplaceAlphaMode = (typeof REPLACE_ALPHA_MODES)[number];
export type ReplaceLoss = (typeof REPLACE_LOSSES)[number];

/** Training options a replacement does not take: the checkpoint decides them, or the schedule does (epochs), or --collapse-pp does (early stopping). */
export const NOT_REPLACE_OPTIONS = ['dataset', 'root', 'imageSize', 'classes', 'arch', 'width', 'validation', 'fraction', 'seed', 'epochs', 'earlyStoppingPatience', 'earlyStoppingMonitor', 'earlyStoppingMinDelta'] as const satisfies readonly (keyof TrainConfig)[];
type NotReplaceOption = (typeof NOT_REPLACE_OPTIONS)[number];

/** What replaceRun takes: the training recipe (TrainSpec without the options above) and the replacement's own options. */
export interface ReplaceSpec extends Omit<TrainSpec, NotReplaceOption> {
  /** A trained slimnet checkpoint; its data, split, normalisation and seed are the run's. */
  checkpoint: string;
  /** Share of the original parameters to remove (the fewest convs reaching it; default 0.65 when `layers` is not given). */
  paramShare?: number;
  /** Convs to replace by name (a list or 'a,b'); instead of paramShare. */
  layers?: string | readonly string[];
  /** α schedule string (replace/schedule.ts; default exp:0.05, seed 001's); the CLI's --schedule (the learning-rate schedule, `schedule`, is --lr-schedule there; default constant). */
  alphaSchedule?: string;
  /** Epochs at each α (default 1). */
  patience?: number;
  /** shared: every replaced conv at the schedule's α (default); per-layer: progressive blockwise replacement, the convs through the whole schedule one after another in graph order (alphasAt). */
  alphaMode?: ReplaceAlphaMode;
  /** How the 1×1 branch starts: the original kernel's centre tap (default; the 1×1 kernel nearest the k×k one), lsq (the 1×1 conv that best reproduces the original conv's output on training images) or random. */
  branchInit?: ReplaceBranchInit;
  /** Freeze the replaced convs' original weights (default false: they train with the rest). */
  freezeOriginal?: boolean;
  /** Branch width in (0, 1] (default 1: one 1×1 conv); below 1 the branch is two 1×1 convs through rank max(1, round(width · min(Cin, Cout))) channels (replace/branch.ts). */
  branchWidth?: number;
  /** ce: cross-entropy on the labels (default); logit-mse: seed 001's regression on the original model's logits instead. */
  loss?: ReplaceLoss;
  /** Stop the schedule when validation accuracy falls more than this many points (%) below the original's (default 10). */
  collapsePp?: number;
  /** Timed runs per model and batch of the latency comparison (default 50). */
  latencyRuns?: number;
  /** Data-parallel training: this process is one rank of the group (see runTraining); rank 0 alone finishes the model and writes its files. */
  parallel?: DataParallel;
}

/** The replacement's part of config.json, every value resolved. */
export interface ReplaceOptions {
  checkpoint: string;
  /** The share asked (null when layers were named). */
  paramShare: number | null;
  /** The replaced convs (selected or named). */
  layers: string[];
  alphaSchedule: string;
  /** The α of each schedule step, in order (each held `patience` epochs). */
  alphas: number[];
  patience: number;
  /** Absent in a config.json written before --alpha: read it as 'shared' (alphaModeOf). */
  alphaMode: ReplaceAlphaMode;
  branchInit: ReplaceBranchInit;
  freezeOriginal: boolean;
  /** The branch width (1: one 1×1 conv; below 1: the narrow pair). */
  branchWidth: number;
  loss: ReplaceLoss;
  collapsePp: number;
}

export interface ReplaceConfig extends TrainConfig, ReplaceOptions {}

export const REPLACE_DEFAULTS = { paramShare: 0.65, alphaSchedule: 'exp:0.05', lrSchedule: 'constant', patience: 1, alphaMode: 'shared', branchInit: 'centre', freezeOriginal: false, branchWidth: 1, loss: 'ce', collapsePp: 10, latencyRuns: 50 } as const;

/** The keys of ReplaceSpec that are not training options. */
export const REPLACE_KEYS = ['checkpoint', 'paramShare', 'layers', 'alphaSchedule', 'patience', 'alphaMode', 'branchInit', 'freezeOriginal', 'branchWidth', 'loss', 'collapsePp', 'latencyRuns', 'parallel'] as const;

/** 'a, b' or ['a', 'b'] → ['a', 'b']; undefined or empty → null. */
export function layerList(layers: ReplaceSpec['layers']): string[] | null {
  if (layers === undefined) return null;
  const list = (typeof layers === 'string' ? layers.split(',') : [...layers]).map((s) => s.trim()).filter(Boolean);
  return list.length ? list : null;
}

/** A ReplaceError from the feature code as a UsageError naming the flag. */
export function asUsage<T>(flag: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ReplaceError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
}

/** Checks and resolves the replacement's own options (not the convs: they need the model, see replace.ts). */
export function resolveReplaceOptions(spec: ReplaceSpec): Omit<ReplaceOptions, 'layers'> & { layersGiven: string[] | null; latencyRuns: number } {
  if (!spec.checkpoint) throw new UsageError('give --checkpoint PATH (a trained slimnet checkpoint)');
  const layersGiven = layerList(spec.layers);
  if (layersGiven && spec.paramShare !== undefined) throw new UsageError('give either --layers or --param-share, not both');
  const paramShare = layersGiven ? null : (spec.paramShare ?? REPLACE_DEFAULTS.paramShare);
  if (paramShare !== null && !(paramShare > 0 && paramShare < 1)) throw new UsageError(`--param-share must be in (0, 1), got ${paramShare}`);
  const schedule = asUsage('--schedule', () => parseSchedule(spec.alphaSchedule ?? REPLACE_DEFAULTS.alphaSchedule));
  const patience = spec.patience ?? REPLACE_DEFAULTS.patience;
  if (!(Number.isInteger(patience) && patience >= 1)) throw new UsageError(`--patience must be a whole number of epochs >= 1, got ${patience}`);
  const alphaMode = spec.alphaMode ?? REPLACE_DEFAULTS.alphaMode;
  if (!(REPLACE_ALPHA_MODES as readonly string[]).includes(alphaMode)) throw new UsageError(`--alpha must be one of ${REPLACE_ALPHA_MODES.join(', ')}, got '${String(alphaMode)}'`);
  const branchInit = spec.branchInit ?? REPLACE_DEFAULTS.branchInit;
  if (!REPLACE_BRANCH_INITS.includes(branchInit)) throw new UsageError(`--branch-init must be one of ${REPLACE_BRANCH_INITS.join(', ')}, got '${String(branchInit)}'`);
  const branchWidth = spec.branchWidth ?? REPLACE_DEFAULTS.branchWidth;
  if (!(Number.isFinite(branchWidth) && branchWidth > 0 && branchWidth <= 1)) throw new UsageError(`--branch-width must be in (0, 1] (1: one 1×1 conv), got ${branchWidth}`);
  const loss = spec.loss ?? REPLACE_DEFAULTS.loss;
  if (!(REPLACE_LOSSES as readonly string[]).includes(loss)) throw new UsageError(`--loss must be one of ${REPLACE_LOSSES.join(', ')}, got '${String(loss)}'`);
  const collapsePp = spec.collapsePp ?? REPLACE_DEFAULTS.collapsePp;
  if (!(Number.isFinite(collapsePp) && collapsePp >= 0 && collapsePp <= 100)) throw new UsageError(`--collapse-pp must be in [0, 100] percentage points, got ${collapsePp}`);
  const latencyRuns = spec.latencyRuns ?? REPLACE_DEFAULTS.latencyRuns;
  if (!(Number.isInteger(latencyRuns) && latencyRuns >= 1)) throw new UsageError(`--latency-runs must be an integer >= 1, got ${latencyRuns}`);
  return {
    checkpoint: spec.checkpoint,
    paramShare,
    layersGiven,
    alphaSchedule: scheduleText(schedule),
    alphas: alphaSequence(schedule),
    patience,
    alphaMode,
    branchInit,
    freezeOriginal: spec.freezeOriginal ?? REPLACE_DEFAULTS.freezeOriginal,
    branchWidth,
    loss,
    collapsePp,
    latencyRuns,
  };
}

/** α during 0-based epoch `epoch`: the schedule's values, each held `patience` epochs. */
export function alphaAt(c: Pick<ReplaceOptions, 'alphas' | 'patience'>, epoch: number): number {
  return c.alphas[Math.min(Math.floor(epoch / c.patience), c.alphas.length - 1)]!;
}

/** The α mode of a run's configuration ('shared' in a config.json written before --alpha). */
export const alphaModeOf = (c: Partial<Pick<ReplaceOptions, 'alphaMode'>>): ReplaceAlphaMode => c.alphaMode ?? REPLACE_DEFAULTS.alphaMode;

/** The run's epochs: the schedule's values × patience, once for all convs (shared) or once per conv (per-layer). */
export function replaceEpochs(c: Pick<ReplaceOptions, 'alphas' | 'patience'> & Partial<Pick<ReplaceOptions, 'alphaMode'>>, convs: number): number {
  return c.alphas.length * c.patience * (alphaModeOf(c) === 'per-layer' ? convs : 1);
}

/**
 * α of each replaced conv during 0-based epoch `epoch`; `convs` in graph
 * order. shared: alphaAt for every conv. per-layer (progressive blockwise
 * replacement, Wang et al. 2018): conv i runs through the whole schedule in
 * epochs [i·n, (i + 1)·n) (n = values × patience) while the convs before it
 * stay at the schedule's last value (0 for every schedule but a step list
 * ending above 0: where it left them) and those after it at 1 (untouched).
 * A pure function of the epoch index, so a resumed run sets what an
 * uninterrupted one did.
 */
export function alphasAt(c: Pick<ReplaceOptions, 'alphas' | 'patience'> & Partial<Pick<ReplaceOptions, 'alphaMode'>>, convs: readonly string[], epoch: number): Record<string, number> {
  if (alphaModeOf(c) === 'shared') {
    const a = alphaAt(c, epoch);
    return Object.fromEntries(convs.map((conv) => [conv, a]));
  }
  const per = c.alphas.length * c.patience;
  const current = Math.min(Math.floor(epoch / per), convs.length - 1);
  const last = c.alphas[c.alphas.length - 1]!;
  return Object.fromEntries(convs.map((conv, i) => [conv, i < current ? last : i > current ? 1 : alphaAt(c, epoch - current * per)]));
}

/** The one α of an epoch row and of the plots: the mean over the replaced convs (the shared α itself in shared mode; in per-layer mode it falls by 1/convs over each conv's schedule). */
export function meanAlpha(alphas: Readonly<Record<string, number>>): number {
  const v = Object.values(alphas);
  // Equal values are returned as they are (a sum divided back can be off in the last bit).
  if (v.every((x) => x === v[0])) return v[0]!;
  return v.reduce((a, x) => a + x, 0) / v.length;
}
