// The distillation study's files and report: results.json / results.csv
// (every member's figures, rewritten after each member), report.md with the
// table, the spread rule and the sizes, and two figures (validation accuracy
// per epoch per method; test accuracy per method with its seeds and ± std),
// and report.md's section on the explanation (study-distill-explain.ts).
import { linePlot, savePlot, seedSpreadPlot, type LineSeries } from '../report/plot.js';
import { PALETTE } from '../report/plot.js';
import { duration, pctText, plural } from '../report/format.js';
import type { Run } from '../runs/index.js';
import type { DistillStudyConfig } from './study-distill-spec.js';
import { explanationMarkdown, type StudyExplanation } from './study-distill-explain.js';
import { SPREAD_RULE, methodLabel, methodOrder, methodRows, tableMarkdown, type MemberResult, type MethodRow } from './study-distill-table.js';

export const DISTILL_STUDY_FILES = {
  results: 'results.json',
  csv: 'results.csv',
  report: 'report.md',
  curves: 'fig_val_accuracy.png',
  accuracy: 'fig_test_accuracy.png',
} as const;

/** results.json: the configuration's members, finished ones with their figures, and the explanation's summary (null until it has run). */
export interface DistillStudyResults {
  members: MemberResult[];
  explanation?: StudyExplanation | null;
}

export type DistillStudyStatus = 'complete' | 'interrupted' | 'already-complete';

export interface DistillStudyReport {
  status: DistillStudyStatus;
  interrupted: boolean;
  /** The study's directory and version. */
  run: string;
  version: number;
  config: DistillStudyConfig;
  /** Every finished member (of earlier, resumed calls too), in run order. */
  members: MemberResult[];
  /** Members trained (or finished from an interrupted run) by this call. */
  ran: number;
  /** The table: one row per method with a finished member. */
  rows: MethodRow[];
  /** report.md (null when nothing finished yet). */
  report: string | null;
  /** Seconds this call took. */
  seconds: number;
  /** The command that resumes an interrupted study, else null. */
  resumeCommand: string | null;
  /** The explanation of one seed's teacher and students (explain/), null when it has not run (members unfinished, interrupted, or off). */
  explanation: StudyExplanation | null;
  /** Whether this call ran the explanation (false when it was read from an earlier call's explain/). */
  explained: boolean;
}

const CSV_HEADERS = ['key', 'method', 'seed', 'epochs', 'test_acc', 'test_balanced_acc', 'best_epoch_test_acc', 'best_epoch', 'best_val_acc', 'agreement', 'training_seconds', 'params', 'macs', 'run'];

/** results.json and results.csv (snake_case columns), rewritten whole so an interruption keeps every finished member. */
export function writeResults(run: Run, members: readonly MemberResult[], explanation: StudyExplanation | null = null): void {
  run.writeJson(DISTILL_STUDY_FILES.results, { members: [...members], explanation } satisfies DistillStudyResults);
  run.writeCsv(
    DISTILL_STUDY_FILES.csv,
    CSV_HEADERS,
    members.map((m) => [m.key, m.method, m.seed, m.epochs, m.testAccuracy, m.testBalancedAccuracy, m.bestEpochTestAccuracy, m.bestEpoch, m.bestValAccuracy, m.agreement, m.trainingSeconds, m.params, m.macs, m.run]),
  );
}

/** The `--json` line: the table in numbers (snake_case, fractions). */
export function distillStudyJson(r: DistillStudyReport): Record<string, unknown> {
  const s = (x: { mean: number; std: number | null } | null) => (x ? { mean: x.mean, std: x.std } : null);
  return {
    run: r.run,
    version: r.version,
    status: r.status,
    report: r.report,
    members: r.members.length,
    rows: r.rows.map((x) => ({
      method: x.method,
      seeds: x.seeds,
      test_acc: s(x.testAccuracy),
      test_balanced_acc: s(x.testBalancedAccuracy),
      best_epoch_test_acc: s(x.bestEpochTestAccuracy),
      agreement: s(x.agreement),
      training_seconds: s(x.trainingSeconds),
      params: x.params,
      macs: x.macs,
      delta_vs_scratch: x.deltaVsScratch,
      beyond_spread: x.beyondSpread,
    })),
    explanation: r.explanation
      ? {
          dir: r.explanation.dir,
          report_html: r.explanation.html,
          seed: r.explanation.seed,
          images: r.explanation.indices.length,
          disagreement_images: r.explanation.disagreementImages,
          models: r.explanation.models.map((m) => ({ name: m.name, member: m.member, label: m.label })),
        }
      : null,
  };
}

/** Validation accuracy per epoch: each method's mean over seeds (solid) and its min / max (dashed, same colour). */
function curvesPlot(members: readonly MemberResult[], order: readonly string[]): string | null {
  const series: LineSeries[] = [];
  order.forEach((method, i) => {
    const ms = members.filter((m) => m.method === method);
    const epochs = Math.max(0, ...ms.map((m) => m.valAccuracy.length));
    if (!ms.length || epochs === 0) return;
    const x = Array.from({ length: epochs }, (_, e) => e + 1);
    const at = (e: number) => ms.map((m) => m.valAccuracy[e]).filter((v): v is number => typeof v === 'number').map((v) => v * 100);
    const mean = x.map((_, e) => (at(e).length ? at(e).reduce((a, b) => a + b, 0) / at(e).length : NaN));
    if (!mean.some(Number.isFinite)) return;
    const colour = PALETTE[i % PALETTE.length] as string;
    series.push({ name: methodLabel(method), x, y: mean, colour });
    if (ms.length > 1) {
      // min and max as one dashed series, broken by a NaN between them.
      const lo = x.map((_, e) => (at(e).length ? Math.min(...at(e)) : NaN));
      const hi = x.map((_, e) => (at(e).length ? Math.max(...at(e)) : NaN));
      series.push({ name: `${methodLabel(method)}: min / max`, x: [...x, NaN, ...x], y: [...lo, NaN, ...hi], colour, dashed: true, marker: 'none' });
    }
  });
  if (!series.length) return null;
  return linePlot({ title: 'Validation accuracy per epoch (mean over seeds; dashed: min / max)', xLabel: 'epoch', yLabel: 'validation accuracy (%)', series, xInteger: true });
}

/** Test accuracy per method: every seed (hollow), the mean (filled) and mean ± 1 std (a whisker). */
function accuracyPlot(rows: readonly MethodRow[], members: readonly MemberResult[]): string | null {
  if (!rows.length) return null;
  return linePlot(
    seedSpreadPlot({
      title: 'Test accuracy (final weights) per method over seeds',
      xLabel: 'method (1 = teacher, 2 = scratch, then each loss)',
      yLabel: 'test accuracy (%)',
      groups: rows.map((r) => ({ label: r.label, values: members.filter((x) => x.method === r.method).map((m) => m.testAccuracy * 100), mean: r.testAccuracy.mean * 100, std: r.testAccuracy.std === null ? null : r.testAccuracy.std * 100 })),
    }),
  );
}

/** report.md and the figures from the finished members; returns report.md's path (null when no member finished). */
export async function writeStudyReport(run: Run, o: { config: DistillStudyConfig; members: readonly MemberResult[]; rows: readonly MethodRow[]; invocation: string; started: string; seconds: number; threads: number; explanation: StudyExplanation | null; explanationNote: string }): Promise<string | null> {
  const { config: c, members, rows } = o;
  if (!members.length) return null;
  const order = methodOrder(c.losses);
  const figures: string[] = [];
  const curves = curvesPlot(members, order);
  if (curves) {
    await savePlot(curves, run.file(DISTILL_STUDY_FILES.curves));
    figures.push(`![validation accuracy per epoch](${DISTILL_STUDY_FILES.curves})`);
  }
  const acc = accuracyPlot(rows, members);
  if (acc) {
    await savePlot(acc, run.file(DISTILL_STUDY_FILES.accuracy));
    figures.push(`![test accuracy per method](${DISTILL_STUDY_FILES.accuracy})`);
  }
  const expected = c.seeds.length * order.length;
  const beyond = rows.filter((r) => r.beyondSpread === true);
  const within = rows.filter((r) => r.beyondSpread === false);
  const verdict = c.seeds.length < 2
    ? 'With one seed there is no spread to compare with: no difference is called significant.'
    : `Larger than the seed spread: ${beyond.length ? beyond.map((r) => `${r.label} (${r.deltaVsScratch! > 0 ? '+' : ''}${(r.deltaVsScratch! * 100).toFixed(2)} pp)`).join(', ') : 'none'}. Within it: ${within.length ? within.map((r) => r.label).join(', ') : 'none'}.`;
  const md = [
    `# Distillation study (seed 002): ${c.teacherArch} ×${c.teacherWidth} → ${c.studentArch} ×${c.studentWidth} on ${c.dataset}`,
    '',
    `Command: \`${o.invocation}\`  `,
    `Started ${o.started}; this call ${duration(o.seconds)}, ${plural(o.threads, 'thread')}. ${members.length} of ${expected} member runs finished${members.length < expected ? ' (the table shows the finished ones; `--version N` resumes)' : ''}.`,
    '',
    '## Set-up',
    '',
    `- Teacher: ${c.teacherArch} at width ${c.teacherWidth}; student: ${c.studentArch} at width ${c.studentWidth} (from scratch, and distilled from that seed's teacher, best.safetensors, with each loss: ${c.losses.join(', ')}).`,
    `- Data: ${c.dataset}, fraction ${c.fraction} of the training split (a tenth held out for validation), the whole test split.`,
    `- Recipe seed002 for every member: SGD momentum 0.9, linear warm-up then cosine, weight decay off BatchNorm and biases, seed 002's augmentation, ImageNet normalisation; label smoothing 0.1 for teacher and scratch, none for distillation. ${plural(c.epochs, 'epoch')}, batch ${c.batchSize}, lr ${c.lr}${c.lrNote ? ` (not the recipe's 0.5: ${c.lrNote})` : ''}.`,
    `- Seeds: ${c.seeds.join(', ')} (initialisation, split, batch order, augmentation of every member of that seed).`,
    `- Sizes: ${c.sizing}.`,
    '',
    '## Results',
    '',
    'Mean ± sample standard deviation over seeds. *test acc*: the final weights (last epoch) on the test split; *best-epoch test acc*: best.safetensors (the best validation epoch) on the test split; *agreement*: share of test images where the student and that seed\'s teacher predict the same class (the scratch student too, for a fair comparison); *training time*: wall time of the epochs (teacher forwards included for distillation).',
    '',
    tableMarkdown(rows),
    '',
    `Rule: ${SPREAD_RULE}. ${verdict}`,
    '',
    ...figures.flatMap((f) => [f, '']),
    ...explanationMarkdown(o.explanation, o.explanationNote),
    '## Per seed',
    '',
    '| member | test acc % | best-epoch test acc % (epoch) | agreement % | time | run |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...members.map((m) => `| ${methodLabel(m.method)}, seed ${m.seed} | ${pctText(m.testAccuracy)} | ${pctText(m.bestEpochTestAccuracy)}${m.bestEpoch !== null ? ` (${m.bestEpoch})` : ''} | ${m.agreement === null ? 'n/a' : pctText(m.agreement)} | ${duration(m.trainingSeconds)} | ${m.run} |`),
    '',
  ].join('\n');
  return run.writeText(DISTILL_STUDY_FILES.report, md);
}

export { methodRows, methodOrder };
