// The figures of a slimming run's sparsity training: the share of near-zero
// |γ| per epoch (sparsity.png), train / validation accuracy per epoch
// (accuracy.png) and the |γ| histogram of every λ's model (gamma_hist.png).
import { lambdaLabel } from '../prune/slimming.js';
import { histogramPlot, linePlot, savePlot, type LineSeries } from '../report/plot.js';
import { plural } from '../report/format.js';
import type { Run } from '../runs/index.js';
import type { SlimEpoch } from './slim-history.js';

export interface LambdaCurves {
  lambda: number;
  /** Epoch 0 (the start) and every sparsity-training epoch. */
  history: readonly SlimEpoch[];
  /** |γ| of every BatchNorm channel after the training. */
  gammas: Float32Array;
}

export interface SlimPlotContext {
  arch: string;
  dataset: string;
  threshold: number;
  epochs: number;
  /** Whether the run has a validation split (else accuracy.png shows training accuracy only). */
  validation: boolean;
}

/** Writes sparsity.png, accuracy.png (when some accuracy was measured) and gamma_hist.png; returns the names written. */
export async function sparsityPlots(run: Run, results: readonly LambdaCurves[], c: SlimPlotContext): Promise<string[]> {
  const label = (l: number) => `λ=${lambdaLabel(l)}`;
  const finite = (s: LineSeries) => s.y.some((v) => Number.isFinite(v));
  const epochs = (r: LambdaCurves) => r.history.map((e) => e.epoch);
  const v = (n: number | null) => (n === null ? NaN : n * 100);
  const written = ['sparsity.png'];
  await savePlot(
    linePlot({
      title: `Share of BatchNorm |γ| below ${c.threshold}: ${c.arch} on ${c.dataset}`,
      xLabel: 'epoch',
      yLabel: 'sparsity (%)',
      series: results.map((r) => ({ name: label(r.lambda), x: epochs(r), y: r.history.map((e) => e.sparsity * 100) })),
      yRange: [0, 100],
    }),
    run.file('sparsity.png'),
  );
  const acc: LineSeries[] = results.flatMap((r) => [
    { name: `${label(r.lambda)} train`, x: epochs(r), y: r.history.map((e) => v(e.trainAccuracy)) },
    ...(c.validation ? [{ name: `${label(r.lambda)} val`, x: epochs(r), y: r.history.map((e) => v(e.valAccuracy)), dashed: true }] : []),
  ]);
  const shown = acc.filter(finite);
  if (shown.length) {
    await savePlot(linePlot({ title: `Accuracy during sparsity training: ${c.arch} on ${c.dataset}`, xLabel: 'epoch', yLabel: 'accuracy (%)', series: shown }), run.file('accuracy.png'));
    written.push('accuracy.png');
  }
  await savePlot(
    histogramPlot({
      title: `BatchNorm scale |γ| after ${plural(c.epochs, 'epoch')} of sparsity training, per λ`,
      xLabel: '|γ|',
      yLabel: 'channels',
      series: results.map((r) => ({ name: label(r.lambda), values: Array.from(r.gammas) })),
      bins: 50,
      logY: true,
    }),
    run.file('gamma_hist.png'),
  );
  written.push('gamma_hist.png');
  return written;
}
