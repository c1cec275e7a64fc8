// What the curves say, computed rather than asserted: each curve is reduced
// to its area under accuracy-vs-share (normalised by the share it covers, so
// it reads as the mean accuracy while the scope is emptied), and curves that
// differ in one factor only are ranked on it: the criterion within a setting,
// the normalisation, the retraining iterations, the protocol.
import type { Curve, CurvePoint } from './curve.js';
import { GLOBAL, type Experiment } from './grid.js';

/** Mean accuracy over the share range the curve covers (trapezoids); a curve with one point is its accuracy. */
export function auc(points: readonly Pick<CurvePoint, 'share' | 'accuracy'>[]): number {
  if (points.length === 0) return NaN;
  if (points.length === 1) return points[0]!.accuracy;
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    area += ((a.accuracy + b.accuracy) / 2) * (b.share - a.share);
  }
  const span = points[points.length - 1]!.share - points[0]!.share;
  return span > 0 ? area / span : points[0]!.accuracy;
}

export interface RankEntry {
  /** The factor's value (a criterion, a normalisation, N, a protocol). */
  value: string;
  auc: number;
  /** Whether its curve(s) ran to the end (an interrupted curve's area covers less). */
  complete: boolean;
}

export interface Ranking {
  /** What was held fixed, e.g. `retrain100/conv1`. */
  setting: string;
  /** Best first. */
  entries: RankEntry[];
}

function ranked(setting: string, entries: RankEntry[]): Ranking {
  return { setting, entries: [...entries].sort((a, b) => b.auc - a.auc || a.value.localeCompare(b.value)) };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}

const entry = (value: string, curves: readonly Curve[]): RankEntry => ({ value, auc: curves.reduce((a, c) => a + auc(c.points), 0) / curves.length, complete: curves.every((c) => c.complete) });

/** Criteria ranked within every setting that compares at least two of them. */
export function rankCriteria(curves: readonly Curve[]): Ranking[] {
  return [...groupBy(curves, (c) => c.experiment.setting)]
    .filter(([, list]) => list.length >= 2)
    .map(([setting, list]) => ranked(setting, list.map((c) => entry(c.experiment.criterion, [c]))));
}

/**
 * One factor compared with the others held fixed: `factor` names the value
 * of each curve, `rest` the setting it is compared within. Values are
 * averaged over the criteria both sides share.
 */
function rankFactor(curves: readonly Curve[], factor: (e: Experiment) => string, rest: (e: Experiment) => string): Ranking[] {
  const out: Ranking[] = [];
  for (const [setting, list] of groupBy(curves, (c) => rest(c.experiment))) {
    const byValue = groupBy(list, (c) => factor(c.experiment));
    if (byValue.size < 2) continue;
    // Only criteria present under every value, so no value is averaged over an easier set.
    const criteriaSets = [...byValue.values()].map((l) => new Set(l.map((c) => c.experiment.criterion)));
    const shared = [...criteriaSets[0]!].filter((c) => criteriaSets.every((s) => s.has(c)));
    if (shared.length === 0) continue;
    out.push(ranked(setting, [...byValue].map(([value, l]) => entry(value, l.filter((c) => shared.includes(c.experiment.criterion))))));
  }
  return out;
}

/** Normalisations of the global ranking, per protocol (none: Fig 4.3; retrain: Fig 4.11). */
export function rankNorms(curves: readonly Curve[]): Ranking[] {
  return rankFactor(
    curves.filter((c) => c.experiment.scope === GLOBAL && c.experiment.criterion !== 'random'),
    (e) => e.norm,
    (e) => `${e.protocol}${e.protocol === 'none' ? '' : e.retrainIters}/${GLOBAL}`,
  );
}

/** Retraining iterations per scope (Figs 4.5-4.8). */
export function rankIters(curves: readonly Curve[]): Ranking[] {
  return rankFactor(
    curves.filter((c) => c.experiment.family === 'retrain'),
    (e) => String(e.retrainIters),
    (e) => `retrain/${e.scope === GLOBAL ? `${GLOBAL}-${e.norm}` : e.scope}`,
  );
}

/** Protocols per scope and criterion (Figs 4.15, 4.16), at the protocols' iteration count. */
export function rankProtocols(curves: readonly Curve[], iters: number): Ranking[] {
  const comparable = curves.filter((c) => c.experiment.protocol === 'none' || c.experiment.retrainIters === iters).filter((c) => c.experiment.scope !== GLOBAL || c.experiment.norm === 'l2');
  return rankFactor(
    comparable,
    (e) => (e.protocol === 'none' ? 'none' : `${e.protocol} ${e.retrainIters}`),
    (e) => `${e.scope === GLOBAL ? `${GLOBAL}-${e.norm}` : e.scope}/${e.criterion}`,
  );
}

/**
 * The criterion with the best mean rank over the settings given (ties: the
 * higher mean area); `exclude` leaves out references such as random.
 */
export function bestCriterion(rankings: readonly Ranking[], exclude: readonly string[] = ['random']): { criterion: string; meanRank: number; wins: number; settings: number } | undefined {
  const ranks = new Map<string, { rank: number; auc: number; n: number; wins: number }>();
  for (const r of rankings) {
    const kept = r.entries.filter((e) => !exclude.includes(e.value));
    kept.forEach((e, i) => {
      const s = ranks.get(e.value) ?? { rank: 0, auc: 0, n: 0, wins: 0 };
      s.rank += i + 1;
      s.auc += e.auc;
      s.n += 1;
      if (i === 0) s.wins += 1;
      ranks.set(e.value, s);
    });
  }
  const scored = [...ranks].map(([criterion, s]) => ({ criterion, meanRank: s.rank / s.n, meanAuc: s.auc / s.n, wins: s.wins, settings: s.n }));
  scored.sort((a, b) => a.meanRank - b.meanRank || b.meanAuc - a.meanAuc || a.criterion.localeCompare(b.criterion));
  const best = scored[0];
  return best && { criterion: best.criterion, meanRank: best.meanRank, wins: best.wins, settings: best.settings };
}
