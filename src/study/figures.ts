// The thesis' figures (ch. 4) from the study's curves: which curves go on
// which chart, one chart per scope, one line per compared value. A figure
// is left out when fewer than two of its curves exist (a part not run, or a
// comparison with a single value).
import { join } from 'node:path';
import { linePlot, savePlot } from '../report/plot.js';
import type { Curve } from './curve.js';
import { GLOBAL, RETRAIN_NORM } from './grid.js';

export interface FigureSeries {
  label: string;
  curve: Curve;
  /** Drawn dashed (the random reference). */
  dashed: boolean;
}

export interface Figure {
  /** The thesis' figure number, e.g. '4.1'. */
  thesis: string;
  file: string;
  title: string;
  /** What the figure compares, in a sentence (report.md). */
  caption: string;
  scope: string;
  series: FigureSeries[];
}

export interface FigureContext {
  layers: readonly string[];
  criteria: readonly string[];
  norms: readonly string[];
  retrainIters: readonly number[];
  protocolCriteria: readonly string[];
  /** The normalisation the greedy global comparison found best (Fig 4.4 shows it). */
  bestNorm: string;
}

const CRITERION_LABELS: Record<string, string> = {
  l1: 'weight magnitude (l1)',
  l2: 'weight L2 norm',
  activation: 'mean activation',
  taylor: 'Taylor',
  apoz: 'APoZ',
  bn: 'BatchNorm |γ|',
  random: 'random',
};

export const criterionLabel = (c: string): string => CRITERION_LABELS[c] ?? c;

const scopeKey = (scope: string, norm: string) => (scope === GLOBAL ? `${GLOBAL}-${norm}` : scope);
const scopeTitle = (scope: string) => (scope === GLOBAL ? `whole network (${RETRAIN_NORM})` : scope);
const scopeText = (scope: string, norm?: string) => (scope === GLOBAL ? `the whole network${norm ? ` (${norm} normalisation)` : ''}` : scope);

export function thesisFigures(curves: readonly Curve[], x: FigureContext): Figure[] {
  const byId = new Map(curves.map((c) => [c.experiment.id, c]));
  const n = Math.max(...x.retrainIters);
  const out: Figure[] = [];
  const add = (f: Omit<Figure, 'series'>, wanted: { label: string; id: string }[]) => {
    const series = wanted.flatMap((w) => {
      const curve = byId.get(w.id);
      return curve ? [{ label: w.label, curve, dashed: curve.experiment.criterion === 'random' }] : [];
    });
    if (series.length >= 2) out.push({ ...f, series });
  };
  const perCriterion = (setting: string, criteria: readonly string[] = x.criteria) => criteria.map((c) => ({ label: criterionLabel(c), id: `${setting}/${c}` }));
  const dataCriteria = x.criteria.filter((c) => c !== 'random');
  const scopes = [...x.layers, GLOBAL];

  for (const l of x.layers) {
    add({ thesis: '4.1', file: `fig4-1_none_${l}.png`, title: `Fig 4.1 · ${l} alone, no retraining`, caption: `Pruning ${l} alone, one greedy step after another without retraining, with each criterion.`, scope: l }, perCriterion(`none/${l}`));
  }
  add({ thesis: '4.2', file: 'fig4-2_none_global-none.png', title: 'Fig 4.2 · whole network, no normalisation, no retraining', caption: 'Pruning the whole network without retraining, scores ranked across layers as they are.', scope: GLOBAL }, perCriterion('none/global-none'));
  for (const c of dataCriteria) {
    add(
      { thesis: '4.3', file: `fig4-3_none_global_${c}.png`, title: `Fig 4.3 · ${criterionLabel(c)}: normalisations, no retraining`, caption: `${criterionLabel(c)} on the whole network without retraining, under each normalisation of the per-layer scores.`, scope: GLOBAL },
      x.norms.map((norm) => ({ label: `${norm} normalisation`, id: `none/${scopeKey(GLOBAL, norm)}/${c}` })),
    );
  }
  add({ thesis: '4.4', file: `fig4-4_none_global-${x.bestNorm}.png`, title: `Fig 4.4 · whole network, ${x.bestNorm} normalisation, no retraining`, caption: `Every criterion on the whole network without retraining, with the normalisation that ranked best (${x.bestNorm}).`, scope: GLOBAL }, perCriterion(`none/${scopeKey(GLOBAL, x.bestNorm)}`));

  scopes.forEach((s, i) => {
    const num = x.layers.length === 3 ? `4.${5 + i}` : '4.5-4.8';
    for (const c of x.criteria) {
      add(
        { thesis: num, file: `fig${num.replace('.', '-')}_retrain-iters_${s}_${c}.png`, title: `Fig ${num} · ${scopeTitle(s)}, ${criterionLabel(c)}: retraining iterations`, caption: `Pruning ${scopeText(s, RETRAIN_NORM)} with ${criterionLabel(c)}, retraining N iterations after each step.`, scope: s },
        [...x.retrainIters].sort((a, b) => a - b).map((it) => ({ label: `retrain ${it}`, id: `retrain${it}/${scopeKey(s, RETRAIN_NORM)}/${c}` })),
      );
    }
  });
  for (const l of x.layers) {
    add({ thesis: '4.9', file: `fig4-9_retrain${n}_${l}.png`, title: `Fig 4.9 · ${l} alone, retraining ${n}`, caption: `Pruning ${l} alone with each criterion, retraining ${n} iterations after each step.`, scope: l }, perCriterion(`retrain${n}/${l}`));
  }
  add({ thesis: '4.10', file: `fig4-10_retrain${n}_global-${RETRAIN_NORM}.png`, title: `Fig 4.10 · whole network (${RETRAIN_NORM}), retraining ${n}`, caption: `Pruning the whole network with each criterion, retraining ${n} iterations after each step.`, scope: GLOBAL }, perCriterion(`retrain${n}/${scopeKey(GLOBAL, RETRAIN_NORM)}`));
  for (const c of dataCriteria) {
    add(
      { thesis: '4.11', file: `fig4-11_retrain${n}_global_${c}.png`, title: `Fig 4.11 · ${criterionLabel(c)}: normalisation with retraining ${n}`, caption: `${criterionLabel(c)} on the whole network with retraining: scores normalised (${RETRAIN_NORM}) or not.`, scope: GLOBAL },
      ['none', RETRAIN_NORM].map((norm) => ({ label: `${norm} normalisation`, id: `retrain${n}/${scopeKey(GLOBAL, norm)}/${c}` })),
    );
  }
  for (const l of x.layers) {
    add({ thesis: '4.12', file: `fig4-12_layer-retrain${n}_${l}.png`, title: `Fig 4.12 · ${l} alone, retraining only ${l}`, caption: `Pruning ${l} alone, retraining only the pruned layer ${n} iterations after each step.`, scope: l }, perCriterion(`layer-retrain${n}/${l}`, x.protocolCriteria));
    add({ thesis: '4.13', file: `fig4-13_once${n}_${l}.png`, title: `Fig 4.13 · ${l} alone, criterion computed once`, caption: `Pruning ${l} alone with retraining, the criterion computed only before the first step.`, scope: l }, perCriterion(`once${n}/${l}`, x.protocolCriteria));
  }
  add({ thesis: '4.14', file: `fig4-14_once${n}_global-${RETRAIN_NORM}.png`, title: 'Fig 4.14 · whole network, criterion computed once', caption: 'Pruning the whole network with retraining, the criterion computed only before the first step.', scope: GLOBAL }, perCriterion(`once${n}/${scopeKey(GLOBAL, RETRAIN_NORM)}`, x.protocolCriteria));
  for (const s of scopes) {
    const num = s === GLOBAL ? '4.16' : '4.15';
    for (const c of x.protocolCriteria) {
      const k = scopeKey(s, RETRAIN_NORM);
      add(
        { thesis: num, file: `fig${num.replace('.', '-')}_protocols_${s}_${c}.png`, title: `Fig ${num} · ${scopeTitle(s)}, ${criterionLabel(c)}: protocols`, caption: `Pruning ${scopeText(s, RETRAIN_NORM)} with ${criterionLabel(c)} under each protocol.`, scope: s },
        [
          { label: 'no retraining', id: `none/${k}/${c}` },
          { label: `retrain ${n}`, id: `retrain${n}/${k}/${c}` },
          { label: `retrain the pruned layers ${n}`, id: `layer-retrain${n}/${k}/${c}` },
          { label: `criterion once, retrain ${n}`, id: `once${n}/${k}/${c}` },
        ],
      );
    }
  }
  return out;
}

/** Writes every figure as a PNG in `dir`; returns the file names. */
export async function renderFigures(dir: string, figures: readonly Figure[], accuracyLabel: string): Promise<string[]> {
  for (const f of figures) {
    const svg = linePlot({
      title: f.title,
      xLabel: f.scope === GLOBAL ? 'maps removed across the network (%)' : `maps of ${f.scope} removed (%)`,
      yLabel: accuracyLabel,
      series: f.series.map((s) => ({ name: s.label, x: s.curve.points.map((p) => p.share * 100), y: s.curve.points.map((p) => p.accuracy * 100), dashed: s.dashed })),
      xRange: [0, 100],
    });
    await savePlot(svg, join(dir, f.file));
  }
  return figures.map((f) => f.file);
}
