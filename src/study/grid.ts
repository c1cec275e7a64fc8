// The experiment grid of seed 003 (thesis §3.4, results in ch. 4): which
// pruning curves the study runs. Every experiment is one curve of accuracy
// against the share of its scope's maps removed, pruned with a fixed number
// of maps per step so that each curve covers its scope in about `points`
// steps (the thesis removed one map per step; on a CPU that is too many
// retraining runs).
//
// Families (each a group of thesis figures):
//   none       greedy removal, no retraining: criteria × (each layer alone,
//              global × normalisations)                          Figs 4.1-4.4
//   retrain    retrain N iterations after each step: N × criteria × (each
//              layer, global with L2)                            Figs 4.5-4.10
//   norm       retrain (largest N), global without normalisation, to compare
//              with L2 (random has no scale to normalise)        Fig 4.11
//   protocols  layer-retrain and once (largest N) with the chosen criteria,
//              each layer and global with L2                     Figs 4.12-4.16
import { SlimnetError } from '../util/errors.js';
import type { Norm, Protocol } from '../prune/index.js';

export type Family = 'none' | 'retrain' | 'norm' | 'protocols';
export const FAMILIES: readonly Family[] = ['none', 'retrain', 'norm', 'protocols'];

/** The scope name of a network-wide (cross-layer) ranking; any other scope is one layer. */
export const GLOBAL = 'global';

/** A problem with the grid's settings; the message names the setting. */
export class StudyError extends SlimnetError {
  override name = 'StudyError';
}

export interface Experiment {
  /** Unique: `<protocol><N>/<scope>[-<norm>]/<criterion>`, e.g. `retrain100/global-l2/taylor`. */
  id: string;
  /** The id without the criterion: curves that share it are compared criterion against criterion. */
  setting: string;
  family: Family;
  criterion: string;
  /** A prunable layer (group) name, or GLOBAL. */
  scope: string;
  /** Normalisation of the global ranking ('none' for one layer). */
  norm: Norm;
  protocol: Protocol;
  /** Retraining iterations after each step (0 for protocol none). */
  retrainIters: number;
  /** Maps removed per step (in the layer, or across the network). */
  mapsPerStep: number;
  maxSteps: number;
}

/** A prunable group of the base model and its channel count. */
export interface LayerSize {
  name: string;
  channels: number;
}

export interface GridSettings {
  layers: readonly LayerSize[];
  criteria: readonly string[];
  /** Normalisations compared on the global scope without retraining. */
  norms: readonly Norm[];
  /** Retraining iterations compared (the largest is used by the norm and protocols families). */
  retrainIters: readonly number[];
  /** Steps per curve without retraining (cheap). */
  points: number;
  /** Steps per curve with retraining. */
  retrainPoints: number;
  /** Criteria the protocol comparison runs with. */
  protocolCriteria: readonly string[];
  /** Channels every layer keeps. */
  minChannels: number;
}

/** The normalisation of every global curve with retraining (the thesis' best, Fig 4.3). */
export const RETRAIN_NORM: Norm = 'l2';

export function largestIters(s: Pick<GridSettings, 'retrainIters'>): number {
  return Math.max(...s.retrainIters);
}

export function checkGrid(s: GridSettings): void {
  const posInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 1)) throw new StudyError(`${name} must be a positive integer, got ${v}`);
  };
  if (s.layers.length === 0) throw new StudyError('the model has no prunable layer');
  if (s.criteria.length === 0) throw new StudyError('give at least one criterion');
  if (new Set(s.criteria).size !== s.criteria.length) throw new StudyError(`a criterion is listed twice: ${s.criteria.join(',')}`);
  if (s.norms.length === 0) throw new StudyError('give at least one normalisation');
  if (s.retrainIters.length === 0) throw new StudyError('give at least one retraining iteration count');
  for (const n of s.retrainIters) posInt('retraining iterations', n);
  posInt('points', s.points);
  posInt('retrain points', s.retrainPoints);
  posInt('minChannels', s.minChannels);
  for (const l of s.layers) {
    if (l.channels <= s.minChannels) throw new StudyError(`layer '${l.name}' has ${l.channels} channels: nothing to remove above the minimum of ${s.minChannels}`);
  }
}

/** Maps per step and step count so that `points` steps remove everything above the minimum. */
function stepping(capacity: number, points: number): { mapsPerStep: number; maxSteps: number } {
  const mapsPerStep = Math.max(1, Math.ceil(capacity / points));
  return { mapsPerStep, maxSteps: Math.ceil(capacity / mapsPerStep) };
}

function make(s: GridSettings, family: Family, protocol: Protocol, retrainIters: number, scope: string, norm: Norm, criterion: string): Experiment {
  const layers = scope === GLOBAL ? s.layers : s.layers.filter((l) => l.name === scope);
  const capacity = layers.reduce((a, l) => a + l.channels - s.minChannels, 0);
  const { mapsPerStep, maxSteps } = stepping(capacity, protocol === 'none' ? s.points : s.retrainPoints);
  const setting = `${protocol}${protocol === 'none' ? '' : retrainIters}/${scope === GLOBAL ? `${GLOBAL}-${norm}` : scope}`;
  return { id: `${setting}/${criterion}`, setting, family, criterion, scope, norm: scope === GLOBAL ? norm : 'none', protocol, retrainIters, mapsPerStep, maxSteps };
}

/** The experiments of one family, in the order they run. */
export function familyExperiments(s: GridSettings, family: Family): Experiment[] {
  const layers = s.layers.map((l) => l.name);
  const n = largestIters(s);
  const out: Experiment[] = [];
  switch (family) {
    case 'none':
      for (const scope of layers) for (const c of s.criteria) out.push(make(s, family, 'none', 0, scope, 'none', c));
      for (const norm of s.norms) for (const c of s.criteria) out.push(make(s, family, 'none', 0, GLOBAL, norm, c));
      break;
    case 'retrain':
      for (const iters of [...s.retrainIters].sort((a, b) => a - b)) {
        for (const scope of [...layers, GLOBAL]) for (const c of s.criteria) out.push(make(s, family, 'retrain', iters, scope, RETRAIN_NORM, c));
      }
      break;
    case 'norm':
      for (const c of s.criteria) if (c !== 'random') out.push(make(s, family, 'retrain', n, GLOBAL, 'none', c));
      break;
    case 'protocols':
      for (const protocol of ['layer-retrain', 'once'] as const) {
        for (const scope of [...layers, GLOBAL]) for (const c of s.protocolCriteria) out.push(make(s, family, protocol, n, scope, RETRAIN_NORM, c));
      }
      break;
  }
  return out;
}

/** Every experiment of the given families. */
export function thesisGrid(s: GridSettings, families: readonly Family[] = FAMILIES): Experiment[] {
  checkGrid(s);
  return [...new Set(families)].flatMap((f) => familyExperiments(s, f));
}

/** A human label: `retrain 100 · global (l2) · taylor`. */
export function describe(e: Experiment): string {
  const scope = e.scope === GLOBAL ? `global (${e.norm})` : e.scope;
  return `${e.protocol}${e.protocol === 'none' ? '' : ` ${e.retrainIters}`} · ${scope} · ${e.criterion}`;
}
