// The TransTailor study's figures: each member's result (StudyMember), the
// table per target (mean ± std over seeds of the test balanced accuracy, MACs
// and parameters per method, the difference to TransTailor against the seed
// spread), results.json / results.csv, report.md and the figures.
import { humanCount } from '../graph/index.js';
import { duration, pctText } from '../report/format.js';
import { PALETTE, linePlot, savePlot, seedSpreadPlot, type LineSeries } from '../report/plot.js';
import { renderTable } from '../report/table.js';
import type { Run } from '../runs/index.js';
import { SPREAD_RULE, beyondSpread, meanStd, type Spread } from './study-distill-table.js';
import type { TransTailorStudyConfig } from './study-transtailor-spec.js';

/** One finished unit of the study. */
export interface StudyMember {
  /** 'source-s0', 'transtailor-digits-s0', 'taylor-digits-s0', ... */
  key: string;
  /** 'source', 'finetuned', 'transtailor', 'transtailor-random', or a baseline criterion. */
  method: string;
  /** The target's name (null for the source). */
  target: string | null;
  seed: number;
  /** The member's directory, relative to the study's. */
  run: string;
  /** Test split of the member's task (the source's own data set for the source). */
  testBalancedAccuracy: number;
  testAccuracy: number | null;
  /** Validation balanced accuracy of the final model (the split every decision read). */
  valBalancedAccuracy: number | null;
  params: number;
  macs: number;
  /** Fine-tuning epochs after pruning (all iterations for TransTailor). */
  fineTuneEpochs: number | null;
  /** TransTailor: iterations run and kept, and why it stopped. */
  iterations?: number;
  keptIterations?: number;
  stoppedBecause?: string;
  seconds: number;
  /** Why a member is not what its method usually gives (a baseline with nothing to match). */
  note?: string;
}

export const TRANSTAILOR_STUDY_FILES = { results: 'results.json', csv: 'results.csv', report: 'report.md', accuracy: 'fig_test_balanced_accuracy.png', tradeoff: 'fig_accuracy_vs_macs.png' } as const;

/** The methods of a target's table, in order. */
export const STUDY_METHODS = ['finetuned', 'unpruned-budget', 'transtailor', 'transtailor-random', 'taylor', 'l1', 'random'] as const;
const LABELS: Record<string, string> = {
  finetuned: 'unpruned, transfer fine-tuning only',
  'unpruned-budget': 'unpruned, baselines\' fine-tuning budget',
  transtailor: 'TransTailor (α = 1)',
  'transtailor-random': 'TransTailor (random α)',
  taylor: 'Taylor, equal MACs',
  l1: 'L1, equal MACs',
  random: 'random, equal MACs',
};
export const methodLabel = (m: string): string => LABELS[m] ?? m;

export interface StudyRow {
  target: string;
  method: string;
  label: string;
  seeds: number[];
  testBalancedAccuracy: Spread;
  macs: Spread;
  params: Spread;
  /** Test balanced accuracy minus TransTailor's (percentage points; null for TransTailor itself or without it). */
  deltaToTransTailor: number | null;
  /** Whether that difference is larger than the seed spread (null with one seed). */
  beyondSpread: boolean | null;
}

/** The table rows of every target, methods in STUDY_METHODS order. */
export function studyRows(members: readonly StudyMember[], targets: readonly string[]): StudyRow[] {
  const rows: StudyRow[] = [];
  for (const target of targets) {
    const of = (method: string) => members.filter((m) => m.target === target && m.method === method);
    const tt = of('transtailor');
    const ttBa = meanStd(tt.map((m) => m.testBalancedAccuracy));
    for (const method of STUDY_METHODS) {
      const ms = of(method);
      if (!ms.length) continue;
      const ba = meanStd(ms.map((m) => m.testBalancedAccuracy));
      const isTT = method === 'transtailor';
      rows.push({
        target,
        method,
        label: methodLabel(method),
        seeds: ms.map((m) => m.seed),
        testBalancedAccuracy: ba,
        macs: meanStd(ms.map((m) => m.macs)),
        params: meanStd(ms.map((m) => m.params)),
        deltaToTransTailor: isTT || !tt.length ? null : (ba.mean - ttBa.mean) * 100,
        beyondSpread: isTT || !tt.length ? null : beyondSpread(ba, ttBa),
      });
    }
  }
  return rows;
}

const spreadPct = (s: Spread): string => `${pctText(s.mean)}${s.std !== null ? ` ± ${(s.std * 100).toFixed(2)}` : ''}`;
const delta = (r: StudyRow): string => (r.deltaToTransTailor === null ? '' : `${r.deltaToTransTailor >= 0 ? '+' : ''}${r.deltaToTransTailor.toFixed(2)}${r.beyondSpread === true ? ' *' : r.beyondSpread === false ? '' : ' ?'}`);
const cells = (r: StudyRow): string[] => [r.target, r.label, r.seeds.join(','), spreadPct(r.testBalancedAccuracy), humanCount(r.macs.mean), humanCount(r.params.mean), delta(r)];
const HEAD = ['target', 'method', 'seeds', 'test balanced acc % (mean ± std)', 'MACs', 'params', 'Δ vs TransTailor (pp; * beyond spread)'];

export const tableText = (rows: readonly StudyRow[]): string => renderTable(HEAD, rows.map(cells));

function tableMarkdown(rows: readonly StudyRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`)].join('\n');
}

const CSV = ['key', 'method', 'target', 'seed', 'test_balanced_acc', 'test_acc', 'val_balanced_acc', 'params', 'macs', 'fine_tune_epochs', 'iterations', 'kept_iterations', 'stop_reason', 'seconds', 'run'];

/** results.json and results.csv, rewritten whole after every member. */
export function writeStudyResults(run: Run, members: readonly StudyMember[]): void {
  run.writeJson(TRANSTAILOR_STUDY_FILES.results, { members: [...members] });
  run.writeCsv(
    TRANSTAILOR_STUDY_FILES.csv,
    CSV,
    members.map((m) => [m.key, m.method, m.target, m.seed, m.testBalancedAccuracy, m.testAccuracy, m.valBalancedAccuracy, m.params, m.macs, m.fineTuneEpochs, m.iterations ?? null, m.keptIterations ?? null, m.stoppedBecause ?? null, m.seconds, m.run]),
  );
}

/** Test balanced accuracy per method for one target, over the seeds. */
function accuracyFigure(rows: readonly StudyRow[], members: readonly StudyMember[], target: string): Parameters<typeof linePlot>[0] {
  const rs = rows.filter((r) => r.target === target);
  return seedSpreadPlot({
    title: `${target}: test balanced accuracy per method over seeds`,
    xLabel: 'method (in the order of the table)',
    yLabel: 'test balanced accuracy (%)',
    groups: rs.map((r) => ({
      label: r.label,
      values: members.filter((m) => m.target === target && m.method === r.method).map((m) => m.testBalancedAccuracy * 100),
      mean: r.testBalancedAccuracy.mean * 100,
      std: r.testBalancedAccuracy.std === null ? null : r.testBalancedAccuracy.std * 100,
    })),
  });
}

/** Accuracy vs MACs, every member of every target (one colour per method, one marker per target). */
function tradeoffFigure(members: readonly StudyMember[], targets: readonly string[]): Parameters<typeof linePlot>[0] {
  const markers = ['circle', 'square', 'diamond', 'triangle'] as const;
  const series: LineSeries[] = [];
  targets.forEach((target, ti) =>
    STUDY_METHODS.forEach((method, mi) => {
      const ms = members.filter((m) => m.target === target && m.method === method);
      if (ms.length) series.push({ name: `${target}: ${methodLabel(method)}`, x: ms.map((m) => m.macs), y: ms.map((m) => m.testBalancedAccuracy * 100), line: false, marker: markers[ti % markers.length]!, colour: PALETTE[mi % PALETTE.length]! });
    }),
  );
  return { title: 'Test balanced accuracy vs MACs (every seed)', xLabel: 'MACs per sample', yLabel: 'test balanced accuracy (%)', series };
}

export interface StudyReportInput {
  config: TransTailorStudyConfig;
  members: readonly StudyMember[];
  rows: readonly StudyRow[];
  invocation: string;
  started: string;
  seconds: number;
  threads: number;
}

/** report.md and the figures; returns report.md's path (null when no target member finished). */
export async function writeTransTailorStudyReport(run: Run, r: StudyReportInput): Promise<string | null> {
  const c = r.config;
  const targets = c.targets.map((t) => t.name);
  if (!r.rows.length) return null;
  for (const t of targets) if (r.rows.some((x) => x.target === t)) await savePlot(linePlot(accuracyFigure(r.rows, r.members, t)), run.file(`fig_test_balanced_accuracy_${t}.png`));
  await savePlot(linePlot(tradeoffFigure(r.members, targets)), run.file(TRANSTAILOR_STUDY_FILES.tradeoff));
  const sources = r.members.filter((m) => m.method === 'source');
  const tts = r.members.filter((m) => m.method === 'transtailor' || m.method === 'transtailor-random');
  const md = [
    '# TransTailor study (seed 000, issue 17)',
    '',
    `Run: \`${r.invocation}\`, started ${r.started}, ${duration(r.seconds)} in this call, ${r.threads} engine thread${r.threads === 1 ? '' : 's'}.`,
    '',
    '## Setting',
    `- Source: ${c.arch} ×${c.width} trained on ${c.sourceDataset} (${c.sourceFraction} of its training split, ${c.sourceEpochs} epochs, Adam lr ${c.sourceLr}); source test balanced accuracy ${sources.length ? spreadPct(meanStd(sources.map((m) => m.testBalancedAccuracy))) : 'n/a'} %.`,
    `- Targets: ${c.targets.map((t) => `**${t.name}** = ${t.dataset}${t.classes ? ` classes ${t.classes.join(', ')}` : ''} (${t.fraction} of its training split, a tenth of that held out for validation)`).join('; ')}.`,
    `- Transfer: a new head, fine-tuning with SGD (lr 0.005 fully connected, 0.0005 the rest, momentum 0.9), up to ${c.finetuneEpochs} epochs, early stopping on validation balanced accuracy (patience ${c.patience}).`,
    `- TransTailor: τ ${c.tau} pp, ${c.pruneShare} of the remaining filters per iteration, ${c.alphaIters} α updates, β L2-normalised per layer, the same fine-tuning after each removal, at most ${c.maxIterations} iterations; α = 1 and random α (uniform [0, 1)).`,
    '- Unpruned references: the transferred model after its transfer fine-tuning, and the same model fine-tuned on with the baselines\' budget (below), since TransTailor\'s iterations and the baselines train longer than the transfer did.',
    `- Baselines (${c.baselines.join(', ')}): the fine-tuned model pruned without retraining (global ranking, L2 per layer, steps of 2 % of the remaining filters) until its MACs are at most TransTailor's final model's (same seed), then fine-tuned once with the same optimizer and early stopping, for as many epochs as TransTailor's kept iterations fine-tuned in all.`,
    '- Every decision (early stopping, τ) reads the validation split; the table is the test split, read once per final model.',
    `- Sizes: ${c.sizing}.`,
    '',
    '## Test balanced accuracy',
    '',
    tableMarkdown(r.rows),
    '',
    `${SPREAD_RULE}. \`?\`: one seed, no spread.`,
    '',
    '## TransTailor runs',
    '',
    ...tts.map((m) => `- ${m.key}: ${m.keptIterations ?? 0} of ${m.iterations ?? 0} iterations kept (${m.stoppedBecause ?? ''}); ${humanCount(m.macs)} MACs, ${humanCount(m.params)} params; test balanced accuracy ${pctText(m.testBalancedAccuracy)} %; ${duration(m.seconds)}.`),
    '',
    '## Figures',
    '',
    ...targets.filter((t) => r.rows.some((x) => x.target === t)).map((t) => `![${t}](fig_test_balanced_accuracy_${t}.png)`),
    '',
    `![accuracy vs MACs](${TRANSTAILOR_STUDY_FILES.tradeoff})`,
    '',
  ].join('\n');
  const path = run.file(TRANSTAILOR_STUDY_FILES.report);
  run.writeText(TRANSTAILOR_STUDY_FILES.report, md);
  return path;
}
