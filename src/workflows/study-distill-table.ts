// The distillation study's table: each member run's figures (MemberResult,
// one per method and seed), their mean ± standard deviation over seeds, the
// difference of each distilled student to the student from scratch and the
// rule that says whether it is larger than the seed spread.
import { humanCount } from '../graph/index.js';
import { duration, pctText } from '../report/format.js';
import { renderTable } from '../report/table.js';

/** One member run of the study: a teacher, a student from scratch or a distilled student, for one seed. */
export interface MemberResult {
  /** 'teacher-s0', 'scratch-s0', 'kd-s0'. */
  key: string;
  /** 'teacher', 'scratch', or the distillation loss. */
  method: string;
  seed: number;
  /** The member's run directory, relative to the study's. */
  run: string;
  /** Completed epochs. */
  epochs: number;
  /** Test split, the final weights (last epoch). */
  testAccuracy: number;
  testBalancedAccuracy: number;
  /** Test split, best.safetensors (the best validation epoch): TrainReport.bestTest when it is another epoch, else the final figure. */
  bestEpochTestAccuracy: number;
  /** 1-based epoch of best.safetensors (null without a validation split). */
  bestEpoch: number | null;
  /** Validation split: the best epoch's accuracy, and every epoch's (the curves). */
  bestValAccuracy: number | null;
  valAccuracy: (number | null)[];
  /** Share of test images where the member's final weights and that seed's teacher (best.safetensors) predict the same class; null for the teacher. */
  agreement: number | null;
  /** Wall time of the member's epochs (teacher forwards included for distillation), seconds. */
  trainingSeconds: number;
  params: number;
  macs: number;
}

/** A figure over seeds: mean and sample standard deviation (n − 1; null with one seed). */
export interface Spread {
  mean: number;
  std: number | null;
  n: number;
}

/** Mean and sample standard deviation (divisor n − 1) of the values; std null for fewer than two. */
export function meanStd(values: readonly number[]): Spread {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: null, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: null, n };
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}

/** The rule, in words, for report.md. */
export const SPREAD_RULE = 'a difference counts as larger than the seed spread when |mean_a − mean_b| > std_a + std_b (sample standard deviations over the seeds): the two ±1 std intervals do not overlap';

/**
 * Whether the difference of two means is larger than the seed spread:
 * |mean_a − mean_b| > std_a + std_b, i.e. the ±1 std intervals do not
 * overlap. Simple and conservative for 3 seeds; null when a std is unknown
 * (one seed).
 */
export function beyondSpread(a: Spread, b: Spread): boolean | null {
  if (a.std === null || b.std === null) return null;
  return Math.abs(a.mean - b.mean) > a.std + b.std;
}

/** One row of the table: a method over its seeds. */
export interface MethodRow {
  method: string;
  label: string;
  seeds: number[];
  /** Test split, final weights. */
  testAccuracy: Spread;
  testBalancedAccuracy: Spread;
  /** Test split, best.safetensors. */
  bestEpochTestAccuracy: Spread;
  /** Null for the teacher. */
  agreement: Spread | null;
  trainingSeconds: Spread;
  params: number;
  macs: number;
  /** Distilled rows: mean test accuracy (final weights) minus the scratch student's, a fraction (×100 for pp); null for teacher and scratch, or without a scratch row. */
  deltaVsScratch: number | null;
  /** Distilled rows: whether deltaVsScratch is larger than the seed spread (beyondSpread); null where it does not apply or with one seed. */
  beyondSpread: boolean | null;
}

/** The table's methods in order: teacher, scratch, then the losses. */
export function methodOrder(losses: readonly string[]): string[] {
  return ['teacher', 'scratch', ...losses];
}

export function methodLabel(method: string): string {
  return method === 'teacher' ? 'teacher' : method === 'scratch' ? 'student (scratch)' : `student + ${method}`;
}

/** The rows of the methods that have at least one finished member, in `order`. */
export function methodRows(members: readonly MemberResult[], order: readonly string[]): MethodRow[] {
  const rows: MethodRow[] = [];
  const by = (m: string) => members.filter((x) => x.method === m).sort((a, b) => a.seed - b.seed);
  const scratch = by('scratch');
  const scratchTest = scratch.length ? meanStd(scratch.map((x) => x.testAccuracy)) : null;
  for (const method of order) {
    const ms = by(method);
    if (!ms.length) continue;
    const test = meanStd(ms.map((x) => x.testAccuracy));
    const distilled = method !== 'teacher' && method !== 'scratch';
    rows.push({
      method,
      label: methodLabel(method),
      seeds: ms.map((x) => x.seed),
      testAccuracy: test,
      testBalancedAccuracy: meanStd(ms.map((x) => x.testBalancedAccuracy)),
      bestEpochTestAccuracy: meanStd(ms.map((x) => x.bestEpochTestAccuracy)),
      agreement: method === 'teacher' ? null : meanStd(ms.map((x) => x.agreement ?? NaN).filter((v) => !Number.isNaN(v))),
      trainingSeconds: meanStd(ms.map((x) => x.trainingSeconds)),
      params: ms[0]!.params,
      macs: ms[0]!.macs,
      deltaVsScratch: distilled && scratchTest ? test.mean - scratchTest.mean : null,
      beyondSpread: distilled && scratchTest ? beyondSpread(test, scratchTest) : null,
    });
  }
  return rows;
}

/** '91.23 ± 0.15' (percent), '91.23' with one seed. */
export function pctSpread(s: Spread | null): string {
  if (!s || s.n === 0 || Number.isNaN(s.mean)) return 'n/a';
  return s.std === null ? pctText(s.mean) : `${pctText(s.mean)} ± ${pctText(s.std)}`;
}

function timeSpread(s: Spread): string {
  return s.std === null ? duration(s.mean) : `${duration(s.mean)} ± ${duration(s.std)}`;
}

/** A signed difference in pp: +0.42, −0.10. */
function ppText(d: number | null): string {
  if (d === null) return '';
  const v = (d * 100).toFixed(2);
  return Number(v) === 0 ? '0.00' : d > 0 ? `+${v}` : `−${v.slice(1)}`;
}

export const TABLE_HEADERS = ['method', 'seeds', 'test acc %', 'balanced acc %', 'best-epoch test acc %', 'agreement %', 'training time', 'params', 'MACs', 'Δ vs scratch (pp)', '> seed spread'];

/** The table's cells (report.md and the log). */
export function tableCells(rows: readonly MethodRow[]): string[][] {
  return rows.map((r) => [
    r.label,
    String(r.seeds.length),
    pctSpread(r.testAccuracy),
    pctSpread(r.testBalancedAccuracy),
    pctSpread(r.bestEpochTestAccuracy),
    r.method === 'teacher' ? 'n/a' : pctSpread(r.agreement),
    timeSpread(r.trainingSeconds),
    humanCount(r.params),
    humanCount(r.macs),
    ppText(r.deltaVsScratch),
    r.beyondSpread === null ? '' : r.beyondSpread ? 'yes' : 'no',
  ]);
}

/** The table as aligned text. */
export function tableText(rows: readonly MethodRow[]): string {
  return renderTable(TABLE_HEADERS, tableCells(rows), { align: TABLE_HEADERS.map((_, i) => (i === 0 ? 'left' : 'right')) });
}

/** The table in markdown. */
export function tableMarkdown(rows: readonly MethodRow[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(TABLE_HEADERS), line(TABLE_HEADERS.map((_, i) => (i === 0 ? '---' : '---:'))), ...tableCells(rows).map(line)].join('\n');
}
