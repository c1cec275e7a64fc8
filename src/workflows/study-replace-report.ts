// The replacement study's figures: each member's result (ReplaceStudyMember),
// the table (per variant or baseline: test accuracy and balanced accuracy
// mean ± std over seeds, params, MACs, final α, the difference to the base
// variant against the seed spread), results.json / results.csv, report.md
// and the figures.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { humanCount } from '../graph/index.js';
import { duration, pctText } from '../report/format.js';
import { PALETTE, linePlot, savePlot, seedSpreadPlot, type LinePlotSpec, type LineSeries } from '../report/plot.js';
import { renderTable } from '../report/table.js';
import type { Run } from '../runs/index.js';
import { SPREAD_RULE, beyondSpread, meanStd, pctSpread, type Spread } from './study-distill-table.js';
import { REPLACE_STUDY_BASELINES, REPLACE_STUDY_VARIANTS, VARIANT_LABELS, variantOptions, type ReplaceStudyConfig, type ReplaceStudyVariant } from './study-replace-spec.js';

/** One finished unit of the study. */
export interface ReplaceStudyMember {
  /** 'source-s0', 'base-s0', 'frozen-s1', 'scratch-s0', 'prune-s0', ... */
  key: string;
  /** 'source', a variant (REPLACE_STUDY_VARIANTS) or a baseline ('scratch', 'prune'). */
  method: string;
  seed: number;
  /** The member's model file, relative to the study's directory. */
  run: string;
  /** Test split, the member's final model. */
  testAccuracy: number;
  testBalancedAccuracy: number;
  params: number;
  macs: number;
  /** Training epochs of the member (replacement: the α epochs run; scratch: all; prune: fine-tuning epochs). */
  epochs: number;
  /** Replacement members: α of the final model (0: the originals removed; > 0: the schedule collapsed and the branches were merged). */
  finalAlpha: number | null;
  /** Replacement members: the epoch whose validation accuracy collapsed (null: the schedule ran to its end). */
  collapseEpoch: number | null;
  seconds: number;
  /** Why a member is not what its method usually gives (a baseline with nothing to match). */
  note?: string;
}

export const REPLACE_STUDY_FILES = { results: 'results.json', csv: 'results.csv', report: 'report.md', accuracy: 'fig_test_accuracy.png', baseAccuracy: 'fig_base_alpha_accuracy.png', baseLoss: 'fig_base_alpha_loss.png' } as const;

/** The table's methods, in order. */
export const REPLACE_STUDY_METHODS: readonly string[] = ['source', ...REPLACE_STUDY_VARIANTS, ...REPLACE_STUDY_BASELINES];
export const replaceMethodLabel = (m: string): string => (VARIANT_LABELS as Record<string, string>)[m] ?? m;

export interface ReplaceStudyRow {
  method: string;
  label: string;
  seeds: number[];
  testAccuracy: Spread;
  testBalancedAccuracy: Spread;
  params: Spread;
  macs: Spread;
  /** Final α per seed (replacement members; empty otherwise). */
  finalAlphas: number[];
  /** Seeds whose schedule collapsed. */
  collapsed: number;
  /** Mean test accuracy minus the base variant's, percentage points (null for the base itself or without it). */
  deltaToBase: number | null;
  /** Whether that difference is larger than the seed spread (null with one seed or without a base). */
  beyondSpread: boolean | null;
}

/** The table rows, methods in REPLACE_STUDY_METHODS order (those with at least one finished member). */
export function replaceStudyRows(members: readonly ReplaceStudyMember[]): ReplaceStudyRow[] {
  const of = (method: string) => members.filter((m) => m.method === method).sort((a, b) => a.seed - b.seed);
  const base = of('base');
  const baseAcc = meanStd(base.map((m) => m.testAccuracy));
  const rows: ReplaceStudyRow[] = [];
  for (const method of REPLACE_STUDY_METHODS) {
    const ms = of(method);
    if (!ms.length) continue;
    const acc = meanStd(ms.map((m) => m.testAccuracy));
    const compared = method !== 'base' && base.length > 0;
    rows.push({
      method,
      label: replaceMethodLabel(method),
      seeds: ms.map((m) => m.seed),
      testAccuracy: acc,
      testBalancedAccuracy: meanStd(ms.map((m) => m.testBalancedAccuracy)),
      params: meanStd(ms.map((m) => m.params)),
      macs: meanStd(ms.map((m) => m.macs)),
      finalAlphas: ms.flatMap((m) => (m.finalAlpha === null ? [] : [m.finalAlpha])),
      collapsed: ms.filter((m) => m.collapseEpoch !== null).length,
      deltaToBase: compared ? (acc.mean - baseAcc.mean) * 100 : null,
      beyondSpread: compared ? beyondSpread(acc, baseAcc) : null,
    });
  }
  return rows;
}

/** '65.2K' when every seed has the same size, '5.3K ± 291' when they differ (pruning's steps, a collapsed seed). */
const sizeText = (s: Spread): string => (s.std === null || s.std === 0 ? humanCount(s.mean) : `${humanCount(Math.round(s.mean))} ± ${humanCount(Math.round(s.std))}`);
const alphaText = (r: ReplaceStudyRow): string => (r.finalAlphas.length ? `${r.finalAlphas.map((a) => String(+a.toPrecision(3))).join(', ')}${r.collapsed ? ` (${r.collapsed} collapsed)` : ''}` : '');
const deltaText = (r: ReplaceStudyRow): string => {
  if (r.deltaToBase === null) return r.method === 'base' ? '(reference)' : '';
  const v = r.deltaToBase.toFixed(2);
  return `${r.deltaToBase >= 0 && Number(v) !== 0 ? '+' : ''}${v}`;
};
const spreadText = (r: ReplaceStudyRow): string => (r.beyondSpread === null ? '' : r.beyondSpread ? 'yes' : 'no');

export const REPLACE_STUDY_HEADERS = ['method', 'seeds', 'test acc %', 'balanced acc %', 'params', 'MACs', 'final α', 'Δ acc vs base (pp)', '> seed spread'];
const cells = (r: ReplaceStudyRow): string[] => [r.label, String(r.seeds.length), pctSpread(r.testAccuracy), pctSpread(r.testBalancedAccuracy), sizeText(r.params), sizeText(r.macs), alphaText(r), deltaText(r), spreadText(r)];

export const replaceStudyTableText = (rows: readonly ReplaceStudyRow[]): string => renderTable(REPLACE_STUDY_HEADERS, rows.map(cells), { align: REPLACE_STUDY_HEADERS.map((_, i) => (i === 0 ? 'left' : 'right')) });

function tableMarkdown(rows: readonly ReplaceStudyRow[]): string {
  const line = (cs: readonly string[]) => `| ${cs.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(REPLACE_STUDY_HEADERS), line(REPLACE_STUDY_HEADERS.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map((r) => line(cells(r)))].join('\n');
}

const CSV = ['key', 'method', 'seed', 'test_acc', 'test_balanced_acc', 'params', 'macs', 'epochs', 'final_alpha', 'collapse_epoch', 'seconds', 'run', 'note'];

/** results.json and results.csv, rewritten whole after every member. */
export function writeReplaceStudyResults(run: Run, members: readonly ReplaceStudyMember[]): void {
  run.writeJson(REPLACE_STUDY_FILES.results, { members: [...members] });
  run.writeCsv(
    REPLACE_STUDY_FILES.csv,
    CSV,
    members.map((m) => [m.key, m.method, m.seed, m.testAccuracy, m.testBalancedAccuracy, m.params, m.macs, m.epochs, m.finalAlpha, m.collapseEpoch, m.seconds, m.run, m.note ?? null]),
  );
}

/** Test accuracy per method: each seed a point, the mean ± 1 std a black bar. */
export function accuracyFigure(rows: readonly ReplaceStudyRow[], members: readonly ReplaceStudyMember[]): LinePlotSpec {
  return seedSpreadPlot({
    title: 'Test accuracy per variant and baseline over seeds',
    xLabel: 'method (in the order of the table)',
    yLabel: 'test accuracy (%)',
    groups: rows.map((r) => ({
      label: r.method,
      values: members.filter((m) => m.method === r.method).map((m) => m.testAccuracy * 100),
      mean: r.testAccuracy.mean * 100,
      std: r.testAccuracy.std === null ? null : r.testAccuracy.std * 100,
    })),
  });
}

export interface ReplaceStudyReportInput {
  config: ReplaceStudyConfig;
  members: readonly ReplaceStudyMember[];
  rows: readonly ReplaceStudyRow[];
  invocation: string;
  started: string;
  seconds: number;
  threads: number;
}

/**
 * Copies the first seed's base variant's α-coloured plots (the replace run's
 * own accuracy.png / loss.png) next to report.md; returns the names copied.
 */
function copyBaseFigures(run: Run, c: ReplaceStudyConfig, members: readonly ReplaceStudyMember[]): string[] {
  const base = members.find((m) => m.method === 'base' && m.seed === c.seeds[0]);
  if (!base) return [];
  const dir = join(run.path, base.run, '..');
  const out: string[] = [];
  for (const [from, to] of [['accuracy.png', REPLACE_STUDY_FILES.baseAccuracy], ['loss.png', REPLACE_STUDY_FILES.baseLoss]] as const) {
    if (!existsSync(join(dir, from))) continue;
    copyFileSync(join(dir, from), run.file(to));
    out.push(to);
  }
  return out;
}

/** report.md and the figures; returns report.md's path (null before any member finished). */
export async function writeReplaceStudyReport(run: Run, r: ReplaceStudyReportInput): Promise<string | null> {
  const c = r.config;
  if (!r.rows.length) return null;
  await savePlot(linePlot(accuracyFigure(r.rows, r.members)), run.file(REPLACE_STUDY_FILES.accuracy));
  const baseFigures = copyBaseFigures(run, c, r.members);
  const base = variantOptions('base', c);
  const describe = (v: ReplaceStudyVariant): string => {
    const o = variantOptions(v, c);
    const diff = [
      o.alphaSchedule !== base.alphaSchedule ? `schedule ${o.alphaSchedule}` : '',
      o.patience !== base.patience ? `patience ${o.patience}` : '',
      o.loss !== base.loss ? `loss ${o.loss}` : '',
      o.freezeOriginal ? 'originals frozen' : '',
      o.branchInit !== base.branchInit ? `branch init ${o.branchInit}` : '',
      o.noiseShare ? `noise on ${o.noiseShare * 100} % of the training images, std ${o.noiseStd}` : '',
    ].filter(Boolean);
    return `- **${v}**: ${v === 'base' ? `schedule ${base.alphaSchedule}, patience ${base.patience}, cross-entropy, originals trainable, centre-tap branch init, no noise` : diff.join(', ')}.`;
  };
  const prunes = r.members.filter((m) => m.method === 'prune' || m.method === 'scratch');
  const md = [
    '# Progressive replacement study (seed 001, issue 18)',
    '',
    `Run: \`${r.invocation}\`, started ${r.started}, ${duration(r.seconds)} in this call, ${r.threads} engine thread${r.threads === 1 ? '' : 's'}.`,
    '',
    '## Setting',
    `- Source (per seed): ${c.arch} ×${c.width} (BatchNorm) trained on ${c.dataset} (${c.fraction} of its training split, a tenth of that held out for validation), ${c.sourceEpochs} epochs, Adam lr ${c.sourceLr}, cosine schedule.`,
    `- Every variant replaces the convolutions that remove ${c.paramShare * 100} % of the source's parameters with 1×1 branches (y = α·conv + (1 − α)·branch) and trains while α steps down its schedule (Adam lr ${c.lr}, constant, batch ${c.batchSize}); a validation accuracy more than ${c.collapsePp} points under the source's stops the schedule (the last epoch within is kept and merged at its α). At α = 0 the originals are removed.`,
    ...c.variants.map(describe),
    ...(c.baselines.includes('scratch') ? [`- **scratch**: the base variant's final architecture (same seed), fresh weights, trained like the source (Adam lr ${c.sourceLr}, cosine) for the source's epochs plus the base variant's: the epochs the replaced model saw in all.`] : []),
    ...(c.baselines.includes('prune')
      ? [`- **prune**: the source pruned by channels (slimnet prune: ${c.pruneCriterion}, global ranking, steps of ${c.pruneStepShare * 100} % of the remaining channels, ${c.pruneRetrainIters} retraining iterations after each, no accuracy floor) until its MACs are at most the base variant's final model's, then fine-tuned (Adam lr ${c.lr}) for the base variant's epochs, kept only if not worse on validation.`]
      : []),
    '- Test split of each final model, read once; params and MACs per member show the sizes the baselines match.',
    `- Sizes: ${c.sizing}.`,
    '',
    '## Results',
    '',
    tableMarkdown(r.rows),
    '',
    `Δ: mean test accuracy minus the base variant's; ${SPREAD_RULE}. Final α: per seed (0: originals removed).`,
    '',
    ...(prunes.some((m) => m.note) ? ['Notes:', ...prunes.filter((m) => m.note).map((m) => `- ${m.key}: ${m.note}`), ''] : []),
    '## Members',
    '',
    ...r.members.map((m) => `- ${m.key}: test ${pctText(m.testAccuracy)} % (balanced ${pctText(m.testBalancedAccuracy)} %), ${humanCount(m.params)} params, ${humanCount(m.macs)} MACs, ${m.epochs} epochs${m.finalAlpha !== null ? `, final α ${+m.finalAlpha.toPrecision(3)}${m.collapseEpoch !== null ? ` (collapsed at epoch ${m.collapseEpoch})` : ''}` : ''}, ${duration(m.seconds)} — \`${m.run}\``),
    '',
    '## Figures',
    '',
    `![test accuracy per method](${REPLACE_STUDY_FILES.accuracy})`,
    '',
    ...(baseFigures.length
      ? [`The base variant of seed ${c.seeds[0]}: training (solid) and validation (dashed) accuracy and loss across epochs, coloured by α (the replace run's own plots).`, '', ...baseFigures.map((f) => `![${f}](${f})`), '']
      : []),
  ].join('\n');
  run.writeText(REPLACE_STUDY_FILES.report, md);
  return run.file(REPLACE_STUDY_FILES.report);
}
