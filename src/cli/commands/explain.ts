// `slimnet explain --checkpoint A [--compare B,C]`: flags → ExplainSpec →
// explainRun (src/workflows/explain.ts) → the faithfulness and agreement
// tables and the files written, or --json (one object; the log goes to
// stderr).
import { explainRun } from '../../workflows/explain.js';
import { agreementSummaryTable, faithfulnessSummaryTable, type ExplainReport } from '../../workflows/explain-report.js';
import { parseMethodParams, parseTarget, type ExplainSpec } from '../../workflows/explain-spec.js';
import { renderTable } from '../../report/table.js';
import { UsageError } from '../../util/errors.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { words } from '../parse-args.js';

export interface ExplainCliOptions {
  checkpoint: string;
  compare?: string;
  methods?: string;
  images?: number;
  indices?: string;
  dataset?: string;
  root?: string;
  split: string;
  target: string;
  layer?: string;
  seed: number;
  methodParam: string[];
  faithfulness: boolean;
  sanity?: boolean;
  background: number;
  out?: string;
  runsDir: string;
  json?: boolean;
}

function indexList(s: string): number[] {
  const out = words(s).map(Number);
  if (out.length === 0 || out.some((i) => !Number.isInteger(i) || i < 0)) throw new UsageError(`--indices is a comma-separated list of image indices like 0,5,17; got '${s}'`);
  return out;
}

/** The command line's flags as the workflow's spec. */
export function explainSpecOf(o: ExplainCliOptions): ExplainSpec {
  if (o.split !== 'train' && o.split !== 'test') throw new UsageError(`--split must be train or test, got '${o.split}'`);
  return {
    checkpoint: o.checkpoint,
    ...(o.compare !== undefined ? { compare: words(o.compare) } : {}),
    ...(o.methods !== undefined ? { methods: words(o.methods) } : {}),
    ...(o.images !== undefined ? { images: o.images } : {}),
    ...(o.indices !== undefined ? { indices: indexList(o.indices) } : {}),
    ...(o.dataset !== undefined ? { dataset: o.dataset } : {}),
    ...(o.root !== undefined ? { root: o.root } : {}),
    split: o.split,
    target: parseTarget(o.target),
    ...(o.layer !== undefined ? { layer: o.layer } : {}),
    seed: o.seed,
    methodParams: parseMethodParams(o.methodParam),
    faithfulness: o.faithfulness,
    sanity: o.sanity === true,
    background: o.background,
    ...(o.out !== undefined ? { out: o.out } : {}),
    runsDir: o.runsDir,
  };
}

export function renderExplain(r: ExplainReport): string {
  const lines = [`${r.models.map((m) => `${m.name} = ${m.checkpoint} (${m.graph}${m.layer ? `, CAM layer ${m.layer}` : ''})`).join('\n')}`, ''];
  lines.push(`${r.indices.length} images of ${r.dataset}/${r.split}; ${r.seconds.toFixed(1)} s${r.interrupted ? ' (interrupted)' : ''}`);
  if (r.faithfulnessSummary.length) {
    const t = faithfulnessSummaryTable(r);
    lines.push('', 'faithfulness (deletion AUC: lower is better; insertion AUC: higher is better):', renderTable(t.headers, t.rows));
  }
  if (r.agreement.length) {
    const t = agreementSummaryTable(r);
    lines.push('', 'agreement of the models\' maps (1 = the same):', renderTable(t.headers, t.rows));
  }
  if (r.models.length > 1) lines.push('', `the models disagree on ${r.disagreements.length} of ${r.indices.length} images${r.disagreements.length ? `: ${r.disagreements.map((d) => `#${r.indices[d.image]}`).join(', ')}` : ''}`);
  if (r.sanity.length) {
    lines.push('', 'sanity check on model a (mean Spearman with the original maps after randomising down to the layer):');
    for (const s of r.sanity) lines.push(`  ${s.method}: ${s.steps.map((st) => `${st.layer} ${st.meanSpearman.toFixed(2)}`).join(', ')}`);
  }
  if (r.warnings.length) lines.push('', `${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'} (see above and report.html)`);
  lines.push('', `wrote ${r.files.dir}: ${[r.files.maps, r.files.grid, r.files.disagreementGrid, r.files.html, r.files.metrics, ...r.files.csv].filter(Boolean).map((p) => p!.slice(r.files.dir.length + 1)).join(', ')}`);
  return lines.join('\n');
}

export async function explainCommand(o: ExplainCliOptions): Promise<number> {
  const spec = explainSpecOf(o);
  const log = (s: string): boolean => (o.json ? process.stderr : process.stdout).write(`${s}\n`);
  const interrupt = onInterrupt();
  try {
    const r = await explainRun(spec, { signal: interrupt.signal, onProgress: progressBars(), onLog: log });
    if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else log(`\n${renderExplain(r)}`);
    return r.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
