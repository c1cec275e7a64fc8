// Which channels go in one pruning step: per-layer or global ranking of the
// channel scores, with per-group normalisation across layers (seed 003 found
// L2 best), a per-layer minimum and optional rounding of channel counts.
import { channelCosts } from './cost.js';
import { PruneError, type ChannelGroup, type DependencyGraph } from './dependency.js';

export type Scope = 'layer' | 'global';
export type Norm = 'none' | 'l1' | 'l2' | 'max';
export const SCOPES: readonly Scope[] = ['layer', 'global'];
export const NORMS: readonly Norm[] = ['none', 'l1', 'l2', 'max'];

export interface SelectOptions {
  scope: Scope;
  /** Normalisation of each group's scores before a global ranking (ignored per layer). */
  norm: Norm;
  /**
   * How many channels one step removes: `maps` channels (globally, or in each
   * pruned layer), or `fraction` of the channels still removable.
   */
  amount: { maps: number } | { fraction: number };
  /** Only prune these groups (a source layer's name or a group name); default all. */
  layers?: readonly string[];
  /** Channels every group keeps at least (default 1). */
  minChannels?: number;
  /**
   * Keep channel counts at multiples of this (default 1), e.g. 8 or 16 for
   * onnxruntime's blocked convolutions. Per layer a step removes fewer rather
   * than break it; in a global ranking each group goes to the nearest grid
   * count at or below its size.
   */
  roundTo?: number;
  /**
   * Explicit channel counts: each named group goes down to its count (its
   * lowest-scoring removable channels), every other group stays. Replaces
   * amount, scope and rounding; the grid step uses it.
   */
  target?: Readonly<Record<string, number>>;
  /**
   * Global ranking: subtract this times each channel's MAC cost (channelCosts,
   * divided by the costliest group's) from its normalised score, so that of
   * two channels equally unimportant the costlier goes first (default 0).
   * Meant for normalised scores, which sit on one scale.
   */
  macsWeight?: number;
}

function normalise(values: number[], norm: Norm): number[] {
  if (norm === 'none') return values;
  const d = norm === 'l1' ? values.reduce((a, v) => a + Math.abs(v), 0) : norm === 'l2' ? Math.sqrt(values.reduce((a, v) => a + v * v, 0)) : Math.max(...values.map(Math.abs));
  return d > 0 ? values.map((v) => v / d) : values;
}

/** The largest removal count ≤ want that leaves the group at or above the minimum and on the rounding grid. */
function allowed(g: ChannelGroup, want: number, minChannels: number, roundTo: number): number {
  let n = Math.min(want, g.channels.length, Math.max(0, g.size - minChannels));
  while (n > 0 && (g.size - n) % roundTo !== 0) n--;
  return n;
}

/** Channel classes to remove this step, lowest scores first. Empty when nothing more can go. */
export function selectChannels(dep: DependencyGraph, scores: ReadonlyMap<number, number>, o: SelectOptions): number[] {
  const minChannels = o.minChannels ?? 1;
  const roundTo = o.roundTo ?? 1;
  if (!(Number.isInteger(minChannels) && minChannels >= 1)) throw new PruneError(`minChannels must be a positive integer, got ${minChannels}`);
  if (!(Number.isInteger(roundTo) && roundTo >= 1)) throw new PruneError(`roundTo must be a positive integer, got ${roundTo}`);
  const groups = o.layers?.length ? [...new Set(o.layers.map((l) => dep.group(l)))] : [...dep.groups];
  const capacity = (g: ChannelGroup) => allowed(g, Infinity, minChannels, roundTo);
  const live = groups.filter((g) => capacity(g) > 0);
  if (live.length === 0) return [];
  const count = (pool: number): number => ('maps' in o.amount ? o.amount.maps : Math.max(1, Math.round(o.amount.fraction * pool)));
  if ('maps' in o.amount && !(Number.isInteger(o.amount.maps) && o.amount.maps >= 1)) throw new PruneError(`maps per step must be a positive integer, got ${o.amount.maps}`);
  if ('fraction' in o.amount && !(o.amount.fraction > 0 && o.amount.fraction <= 1)) throw new PruneError(`fraction per step must be in (0, 1], got ${o.amount.fraction}`);
  const ranked = (g: ChannelGroup): number[] => [...g.channels].sort((a, b) => scores.get(a)! - scores.get(b)! || a - b);
  if (o.target) return toTarget(dep, o.target, ranked, minChannels);

  if (o.scope === 'layer') {
    return live.flatMap((g) => ranked(g).slice(0, allowed(g, count(capacity(g)), minChannels, roundTo)));
  }
  // Global: one ranking of normalised scores; each group takes its lowest
  // channels in order until the step's budget is spent or it is at its limit.
  const entries: { cls: number; s: number; g: ChannelGroup }[] = [];
  const weight = o.macsWeight ?? 0;
  if (!(weight >= 0)) throw new PruneError(`macsWeight must be >= 0, got ${o.macsWeight}`);
  const costs = weight > 0 ? channelCosts(dep) : undefined;
  const maxCost = costs ? Math.max(...live.map((g) => costs.get(g.name)!)) : 0;
  for (const g of live) {
    const penalty = costs && maxCost > 0 ? (weight * costs.get(g.name)!) / maxCost : 0;
    const raw = g.channels.map((c) => {
      const s = scores.get(c);
      if (s === undefined || !Number.isFinite(s)) throw new PruneError(`no finite score for a channel of '${g.name}'`);
      return s;
    });
    normalise(raw, o.norm).forEach((s, i) => entries.push({ cls: g.channels[i]!, s: s - penalty, g }));
  }
  entries.sort((a, b) => a.s - b.s || a.cls - b.cls);
  const cap = new Map(live.map((g) => [g, capacity(g)]));
  const budget = count([...cap.values()].reduce((a, b) => a + b, 0));
  // Each group's channels lowest first, and how many of them the budget takes.
  const ranking = new Map<ChannelGroup, number[]>();
  const wanted = new Map<ChannelGroup, number>();
  let total = 0;
  for (const e of entries) {
    const list = ranking.get(e.g) ?? [];
    list.push(e.cls);
    ranking.set(e.g, list);
    const k = wanted.get(e.g) ?? 0;
    if (total < budget && k < cap.get(e.g)!) {
      wanted.set(e.g, k + 1);
      total++;
    }
  }
  if (roundTo === 1) return [...wanted].flatMap(([g, k]) => ranking.get(g)!.slice(0, k));
  // Rounding to the nearest count on the grid: a group that is within half a
  // block of the next grid line below goes down to it (its next-lowest
  // channels too); otherwise it gives back the extra. Rounding only down
  // would stall a global ranking: a step rarely hands one layer a whole block.
  const rounded = [...wanted].map(([g, k]) => {
    const over = (g.size - k) % roundTo;
    const down = k + over;
    const n = over > 0 && over <= roundTo / 2 && down <= cap.get(g)! ? down : allowed(g, k, minChannels, roundTo);
    return { g, wanted: k, down, n };
  });
  // A small step may round to nothing everywhere: then the group that wanted
  // the most goes one grid line down, so the loop keeps moving.
  if (rounded.every((r) => r.n === 0)) {
    const next = rounded.filter((r) => r.down <= cap.get(r.g)!).sort((a, b) => b.wanted - a.wanted)[0];
    if (next) next.n = next.down;
  }
  return rounded.flatMap((r) => ranking.get(r.g)!.slice(0, r.n));
}

function toTarget(dep: DependencyGraph, target: Readonly<Record<string, number>>, ranked: (g: ChannelGroup) => number[], minChannels: number): number[] {
  const byName = new Map(dep.groups.map((g) => [g.name, g]));
  return Object.entries(target).flatMap(([name, n]) => {
    const g = byName.get(name);
    if (!g) throw new PruneError(`target names '${name}', which is not a prunable group (groups: ${dep.groups.map((x) => x.name).join(', ')})`);
    if (!(Number.isInteger(n) && n >= minChannels)) throw new PruneError(`target for '${name}' must be an integer of at least ${minChannels}, got ${n}`);
    const cut = g.size - n;
    if (cut <= 0) return [];
    if (cut > g.channels.length) throw new PruneError(`target ${n} for '${name}' needs ${cut} channels removed, but only ${g.channels.length} of its ${g.size} are removable`);
    return ranked(g).slice(0, cut);
  });
}
