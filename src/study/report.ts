// The study's files: results.json (every curve's points, the rankings, Table
// 4.1), curves.csv, table41.csv, one PNG per thesis figure and report.md,
// which embeds the figures and states the settings, Table 4.1 and the
// rankings. Every sentence about which method did better is computed from
// the curves here, never written in advance.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJson } from '../runs/index.js';
import { atomicWriteFile } from '../util/atomic-write.js';
import { auc, bestCriterion, type Ranking } from './ranking.js';
import type { Curve, CurvePoint } from './curve.js';
import { criterionLabel, renderFigures, thesisFigures, type Figure } from './figures.js';
import { GLOBAL, describe, type Experiment } from './grid.js';
import type { StudyPlan } from './plan.js';
import type { Table41, Table41Row } from './table41.js';
import type { Rankings, ThesisResult } from './thesis.js';

export const STUDY_FILES = { results: 'results.json', curves: 'curves.csv', table: 'table41.csv', report: 'report.md' } as const;

/** What the report says about the run besides the results (the caller knows it). */
export interface StudyMeta {
  dataset: string;
  arch: string;
  /** e.g. 'validation split, 1,600 images' */
  curveData: string;
  floorSplit: 'validation' | 'test';
  base: { source: string; params: number; macs: number; testAccuracy?: number; floorAccuracy?: number };
  threads: number;
  started: string;
  command: string;
  /** Resolved options, shown as a table. */
  options: Record<string, unknown>;
  warnings: string[];
}

// ---- serialisation ---------------------------------------------------------------------
// results.json, curves.csv and table41.csv keep their snake_case keys; the
// records in memory are camelCase. These mappings are the only place the two meet.

interface PointJson {
  step: number;
  share: number;
  accuracy: number;
  balanced_accuracy: number;
  params: number;
  macs: number;
  params_x: number;
  macs_x: number;
  seconds: number;
  channels: Record<string, number>;
}

const pointJson = (p: CurvePoint): PointJson => ({
  step: p.step,
  share: p.share,
  accuracy: p.accuracy,
  balanced_accuracy: p.balancedAccuracy,
  params: p.params,
  macs: p.macs,
  params_x: p.paramsReduction,
  macs_x: p.macsReduction,
  seconds: p.seconds,
  channels: p.channels,
});

const pointOf = (p: PointJson): CurvePoint => ({
  step: p.step,
  share: p.share,
  accuracy: p.accuracy,
  balancedAccuracy: p.balanced_accuracy,
  params: p.params,
  macs: p.macs,
  paramsReduction: p.params_x,
  macsReduction: p.macs_x,
  seconds: p.seconds,
  channels: p.channels,
});

interface CurveJson {
  experiment: Experiment;
  complete: boolean;
  stop_reason: string;
  seconds: number;
  auc: number;
  points: PointJson[];
}

const curveJson = (c: Curve): CurveJson => ({ experiment: c.experiment, complete: c.complete, stop_reason: c.stopReason, seconds: c.seconds, auc: auc(c.points), points: c.points.map(pointJson) });

/** A Table 4.1 row as results.json and table41.csv write it. */
export function table41RowJson(r: Table41Row): Record<string, number | string> {
  return {
    model: r.model,
    test_accuracy: r.testAccuracy,
    test_balanced_accuracy: r.testBalancedAccuracy,
    test_loss_pp: r.testLossPp,
    floor_accuracy: r.floorAccuracy,
    params: r.params,
    params_x: r.paramsReduction,
    macs: r.macs,
    macs_x: r.macsReduction,
    ort_b1_ms: r.ortB1Ms,
    ort_b64_ms: r.ortB64Ms,
    speedup_b1: r.speedupB1,
    speedup_b64: r.speedupB64,
  };
}

function tableJson(t: Table41): Record<string, unknown> {
  return { rows: t.rows.map(table41RowJson), floor: t.floor, kept_step: t.keptStep, stop_reason: t.stopReason, channels: t.channels, snap: t.snap ?? null, scratch_seconds: t.scratchSeconds, steps: t.steps };
}

/** results.json's content; `result` may be a run in progress (curves so far). */
export function resultsJson(meta: StudyMeta, curves: readonly Curve[], extra: { plan?: StudyPlan; rankings?: Rankings; protocolCriteria?: string[]; protocolCriteriaReason?: string; table?: Table41; interrupted?: boolean; seconds?: number } = {}): Record<string, unknown> {
  return {
    meta,
    plan: extra.plan && { ...extra.plan, experiments: extra.plan.experiments.map((e) => e.id) },
    protocol_criteria: extra.protocolCriteria,
    protocol_criteria_reason: extra.protocolCriteriaReason,
    interrupted: extra.interrupted ?? false,
    seconds: extra.seconds,
    curves: curves.map(curveJson),
    rankings: extra.rankings,
    table41: extra.table && tableJson(extra.table),
  };
}

/** The finished curves of a results.json (resuming an interrupted study). */
export function readCurves(path: string): Curve[] {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { curves?: CurveJson[] };
  if (!Array.isArray(raw.curves)) throw new TypeError(`${path} holds no curves`);
  return raw.curves.map((c) => ({ experiment: c.experiment, points: c.points.map(pointOf), complete: c.complete, stopReason: c.stop_reason, seconds: c.seconds }));
}

const csvCell = (v: unknown) => (typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
const csv = (headers: string[], rows: unknown[][]) => [headers, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';

export function curvesCsv(curves: readonly Curve[]): string {
  const headers = ['id', 'family', 'protocol', 'retrain_iters', 'scope', 'norm', 'criterion', 'step', 'share', 'accuracy', 'balanced_accuracy', 'params', 'macs', 'params_x', 'macs_x', 'seconds'];
  const rows = curves.flatMap((c) => {
    const e = c.experiment;
    return c.points.map((p) => [e.id, e.family, e.protocol, e.retrainIters, e.scope, e.norm, e.criterion, p.step, p.share, p.accuracy, p.balancedAccuracy, p.params, p.macs, p.paramsReduction, p.macsReduction, p.seconds]);
  });
  return csv(headers, rows);
}

const TABLE_COLUMNS = ['model', 'test_accuracy', 'test_balanced_accuracy', 'test_loss_pp', 'floor_accuracy', 'params', 'params_x', 'macs', 'macs_x', 'ort_b1_ms', 'ort_b64_ms', 'speedup_b1', 'speedup_b64'];

export function table41Csv(t: Table41): string {
  return csv(TABLE_COLUMNS, t.rows.map((r) => {
    const j = table41RowJson(r);
    return TABLE_COLUMNS.map((k) => j[k]);
  }));
}

/** Writes results.json and curves.csv (after every curve, so an interrupted study keeps what it did). */
export function writeProgress(dir: string, meta: StudyMeta, curves: readonly Curve[], plan?: StudyPlan): void {
  writeJson(join(dir, STUDY_FILES.results), resultsJson(meta, curves, { plan, interrupted: true }));
  atomicWriteFile(join(dir, STUDY_FILES.curves), Buffer.from(curvesCsv(curves)));
}

// ---- report.md -----------------------------------------------------------------------

const pct = (x: number, d = 2) => (x * 100).toFixed(d);
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const iterations = (n: number) => `${n} iteration${n === 1 ? '' : 's'}`;
const times = (x: number) => `${x.toFixed(x >= 10 ? 1 : 2)}×`;
const md = (headers: string[], rows: (string | number)[][]) => [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : m > 0 ? `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s` : `${s.toFixed(1)} s`;
}

/** 'retrain100/global-l2' -> 'retrain 100 · global (l2)' */
const settingText = (setting: string) =>
  setting
    .replace(/^none\//, 'no retraining/')
    .replace(/^(retrain|layer-retrain|once)(\d+)\//, '$1 $2/')
    .replace(/(^|\/)global-(\w+)/, '$1global ($2)')
    .split('/')
    .join(' · ');
const rankRow = (r: Ranking, label: (v: string) => string) => [settingText(r.setting), r.entries.map((e, i) => `${i === 0 ? '**' : ''}${label(e.value)} ${pct(e.auc, 1)}${i === 0 ? '**' : ''}${e.complete ? '' : ' (partial)'}`).join(' > ')];

/** The criteria's standing in one group of settings, as a sentence. */
function criteriaSentence(what: string, rankings: readonly Ranking[]): string | undefined {
  if (rankings.length === 0) return undefined;
  const best = bestCriterion(rankings);
  if (!best) return undefined;
  const randomLast = rankings.filter((r) => r.entries[r.entries.length - 1]?.value === 'random').length;
  const randomAbove = rankings.filter((r) => {
    const i = r.entries.findIndex((e) => e.value === 'random');
    return i >= 0 && i < r.entries.length - 1;
  }).length;
  const hasRandom = rankings.some((r) => r.entries.some((e) => e.value === 'random'));
  return (
    `${what}: **${criterionLabel(best.criterion)}** ranks best (first in ${best.wins} of ${best.settings} settings, mean rank ${best.meanRank.toFixed(2)} among the non-random criteria).` +
    (hasRandom ? ` Random is last in ${randomLast} of ${rankings.length} and beats at least one criterion in ${randomAbove}.` : '')
  );
}

function factorSentences(kind: string, rankings: readonly Ranking[], label: (v: string) => string): string[] {
  return rankings.map((r) => {
    const [first, second] = r.entries;
    const diff = first && second ? first.auc - second.auc : 0;
    const gap = !second ? '' : diff < 5e-5 ? ` (tied with ${label(second.value)})` : ` (${pct(diff, 2)} pp of mean accuracy ahead of ${label(second.value)})`;
    return `- ${settingText(r.setting)}: ${kind} **${label(first!.value)}** ${diff < 5e-5 && second ? 'ranks first' : 'is best'}${gap}; order ${r.entries.map((e) => label(e.value)).join(' > ')}.`;
  });
}

function snapLine(t: Table41): string {
  const s = t.snap;
  if (!s) return '';
  const acc = `${pct(s.step.accuracy)} % on the floor split`;
  return s.kept
    ? ` Then the grid step, every convolution down to its multiple of ${s.to} from step ${s.from} (${s.step.layers}, ${s.iters} retraining iterations${s.tries > 1 ? `, attempt ${s.tries}` : ''}): ${acc}, kept.`
    : ` The grid step to multiples of ${s.to} (${s.tries} attempt${s.tries === 1 ? '' : 's'}; the last from step ${s.from}: ${s.step.layers}) gave ${acc}, under the floor: not kept.`;
}

function refineLine(t: Table41): string {
  if (!t.refine?.length) return '';
  const steps = t.refine.map((r) => `${r.step.layers} → ${pct(r.step.accuracy)} %${r.kept ? '' : ' (under the floor)'}`);
  return ` Then the MAC refinement (the convolution whose channels cost the most MACs, long retraining, kept if it meets the floor): ${steps.join('; ')}.`;
}

function table41Section(t: Table41, floorSplit: string, recipeIterations: number): string {
  const names: Record<Table41Row['model'], string> = { base: 'base', pruned: 'pruned', scratch: 'pruned architecture, trained from scratch' };
  const rows = t.rows.map((r) => [
    names[r.model],
    pct(r.testAccuracy),
    r.model === 'base' ? '0' : r.testLossPp.toFixed(3),
    pct(r.floorAccuracy),
    int(r.params),
    times(r.paramsReduction),
    int(r.macs),
    times(r.macsReduction),
    r.ortB1Ms.toFixed(3),
    times(r.speedupB1),
    r.ortB64Ms.toFixed(2),
    times(r.speedupB64),
  ]);
  const pruned = t.rows.find((r) => r.model === 'pruned')!;
  const scratch = t.rows.find((r) => r.model === 'scratch')!;
  const verdict =
    t.keptStep === 0
      ? 'No step stayed above the floor: the kept model is the base model, so there is nothing to compare.'
      : pruned.testLossPp < scratch.testLossPp
      ? `The pruned model keeps ${(scratch.testLossPp - pruned.testLossPp).toFixed(2)} pp more test accuracy than the same architecture trained from scratch, as in the thesis.`
      : `Here the architecture trained from scratch is not worse than the pruned model (${scratch.testLossPp.toFixed(2)} vs ${pruned.testLossPp.toFixed(2)} pp lost): the thesis' finding is not reproduced on this run.`;
  return [
    md(['model', 'test acc %', 'loss (pp)', `${floorSplit} acc %`, 'params', 'params ×', 'MACs', 'MACs ×', 'ort b1 (ms)', 'speed-up b1', 'ort b64 (ms)', 'speed-up b64'], rows),
    '',
    `Floor ${pct(t.floor, 3)} % on the ${floorSplit} split; ${t.stopReason}; kept step ${t.keptStep} (${t.steps.length} step${t.steps.length === 1 ? '' : 's'} run).${snapLine(t)}${refineLine(t)} Maps left: ${Object.entries(t.channels).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `The from-scratch model has the pruned architecture and the base recipe (${recipeIterations} iterations); its latency is the pruned model's (same graph). Latency: onnxruntime on CPU, median of interleaved runs.`,
    '',
    verdict,
    '',
    'The thesis (MNIST, 99 % floor): pruned 0.239 pp lost at 80× fewer weights and 7× fewer operations; from scratch 0.839 pp.',
  ].join('\n');
}

export interface ReportInput {
  meta: StudyMeta;
  result: ThesisResult;
  /** Recipe iterations of the from-scratch training. */
  recipeIterations: number;
}

function reportMarkdown(x: ReportInput, figures: readonly Figure[]): string {
  const { meta, result } = x;
  const r = result.rankings;
  const lines: string[] = [];
  lines.push(`# Seed 003 pruning study: ${meta.arch} on ${meta.dataset}`, '');
  if (result.interrupted) lines.push('**Interrupted**: the curves below are those finished before the stop.', '');
  for (const w of meta.warnings) lines.push(`> warning: ${w}`, '');

  lines.push('## Settings', '');
  const p = result.plan;
  lines.push(
    md(
      ['', ''],
      [
        ['command', `\`${meta.command}\``],
        ['started', meta.started],
        ['base model', `${meta.base.source}: ${int(meta.base.params)} parameters, ${int(meta.base.macs)} MACs${meta.base.testAccuracy !== undefined ? `, test accuracy ${pct(meta.base.testAccuracy)} %` : ''}${meta.base.floorAccuracy !== undefined ? `, ${meta.floorSplit} accuracy ${pct(meta.base.floorAccuracy)} %` : ''}`],
        ['curves measured on', meta.curveData],
        ['grid', `${p.curves} curves, ${int(p.steps)} steps, ${int(p.retrainIterations)} retraining iterations (${p.families.map((f) => `${f.family}: ${f.curves} curves / ${f.steps} steps`).join('; ')})`],
        ['protocol comparison criteria', `${result.protocolCriteria.join(', ')}${result.protocolCriteriaReason ? ` (${result.protocolCriteriaReason})` : ''}`],
        ['estimated / actual time', `${duration(p.estimatedSeconds)} at the base model's speed (calibrated: ${p.calibration.iterMs.toFixed(1)} ms per training iteration, ${p.calibration.evalMs.toFixed(0)} ms per evaluation) / ${duration(result.seconds)}`],
        ['threads', String(meta.threads)],
        ...Object.entries(meta.options).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
      ],
    ),
    '',
  );

  lines.push('## Table 4.1', '');
  lines.push(result.table ? table41Section(result.table, meta.floorSplit, x.recipeIterations) : '_Not run._', '');

  lines.push('## What the curves say', '');
  lines.push(
    'Each curve is summarised by its area under accuracy against the share of maps removed, divided by the share it covers: the mean accuracy while its scope is emptied (higher is better). Curves that differ in one factor only are compared on it.',
    '',
  );
  lines.push('### Criteria', '');
  // One sentence per group of thesis figures; a setting's group follows from its curves' experiment.
  const experimentOf = new Map(result.curves.map((c) => [c.experiment.setting, c.experiment]));
  const groupOf = (e: Experiment): string =>
    e.family === 'none'
      ? e.scope === GLOBAL
        ? 'Whole network, no retraining (Figs 4.2-4.4)'
        : 'Each layer alone, no retraining (Fig 4.1)'
      : e.family === 'retrain'
        ? `Retraining ${iterations(e.retrainIters)} (Figs 4.5-4.10)`
        : e.family === 'norm'
          ? `Retraining ${iterations(e.retrainIters)}, whole network without normalisation (Fig 4.11)`
          : `${e.protocol} ${e.retrainIters} (Figs 4.12-4.14)`;
  const groups = new Map<string, Ranking[]>();
  for (const rk of r.criteria) {
    const g = groupOf(experimentOf.get(rk.setting)!);
    groups.set(g, [...(groups.get(g) ?? []), rk]);
  }
  for (const [title, list] of groups) {
    const sentence = criteriaSentence(title, list);
    if (sentence) lines.push(`- ${sentence}`);
  }
  lines.push('', md(['setting', 'criteria by mean accuracy (%), best first'], r.criteria.map((x2) => rankRow(x2, criterionLabel))), '');
  if (r.norms.length) lines.push('### Normalisation of the global ranking (Figs 4.3, 4.11)', '', ...factorSentences('normalisation', r.norms, (v) => v), '');
  if (r.iters.length) lines.push('### Retraining iterations per step (Figs 4.5-4.8)', '', ...factorSentences('N =', r.iters, (v) => v), '');
  if (r.protocols.length) {
    const shown = r.protocols.filter((x2) => result.protocolCriteria.some((c) => x2.setting.endsWith(`/${c}`)));
    lines.push('### Protocols (Figs 4.15, 4.16)', '', ...factorSentences('protocol', shown, (v) => v), '');
  }

  lines.push('## Figures', '');
  for (const f of figures) lines.push(`### Fig ${f.thesis}: ${f.title.replace(/^Fig [\d.-]+ · /, '')}`, '', f.caption, '', `![${f.title}](${f.file})`, '');

  lines.push('## Curves', '', md(['curve', 'points', 'mean acc %', 'last share %', 'last acc %', 'time'], result.curves.map((c) => {
    const last = c.points[c.points.length - 1]!;
    return [describe(c.experiment), c.points.length, pct(auc(c.points), 1), pct(last.share, 1), pct(last.accuracy, 1), duration(c.seconds)];
  })), '');
  return lines.join('\n');
}

/** Writes every file of a finished (or interrupted) study into `dir`; returns the names written. */
export async function writeStudyReport(dir: string, x: ReportInput): Promise<string[]> {
  const { meta, result } = x;
  const bestNorm = result.rankings.norms.find((n) => n.setting === `none/${GLOBAL}`)?.entries[0]?.value ?? 'l2';
  const figures = thesisFigures(result.curves, {
    layers: result.settings.layers.map((l) => l.name),
    criteria: result.settings.criteria,
    norms: result.settings.norms,
    retrainIters: result.settings.retrainIters,
    protocolCriteria: result.protocolCriteria,
    bestNorm,
  });
  const accuracyLabel = `accuracy (%), ${meta.curveData.split(',')[0]}`;
  const pngs = await renderFigures(dir, figures, accuracyLabel);
  // An interrupted run drew its protocol figures for a stand-in criterion; once resumed, the best one may differ.
  for (const f of readdirSync(dir)) if (/^fig.*\.png$/.test(f) && !pngs.includes(f)) rmSync(join(dir, f), { force: true });
  writeJson(join(dir, STUDY_FILES.results), resultsJson(meta, result.curves, { ...result }));
  atomicWriteFile(join(dir, STUDY_FILES.curves), Buffer.from(curvesCsv(result.curves)));
  const files: string[] = [STUDY_FILES.results, STUDY_FILES.curves];
  if (result.table) {
    atomicWriteFile(join(dir, STUDY_FILES.table), Buffer.from(table41Csv(result.table)));
    files.push(STUDY_FILES.table);
  }
  atomicWriteFile(join(dir, STUDY_FILES.report), Buffer.from(reportMarkdown(x, figures)));
  return [...files, STUDY_FILES.report, ...pngs];
}
