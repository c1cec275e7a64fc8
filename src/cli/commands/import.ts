// `slimnet import`: flags → ImportSpec → importRun (src/workflows/import.ts),
// then the summary table of the checkpoint written (or, with --json, one
// JSON object: the report and the summary, with the log on stderr as every
// command's --json has it). A failed --verify exits with 1.
import { importRun, type ImportSpec } from '../../workflows/import.js';
import { printLog } from './common.js';
import { renderSummary, summaryReport } from './summary.js';

export interface ImportOptions extends Omit<ImportSpec, 'model'> {
  json?: boolean;
}

/** The exit code: 1 when --verify failed (errors are thrown: the CLI prints them as one line). */
export async function importCommand(model: string, o: ImportOptions): Promise<number> {
  const { json, ...rest } = o;
  const r = await importRun({ model, ...rest }, { onLog: printLog(json === true) });
  const summary = summaryReport({ checkpoint: r.out });
  if (json) process.stdout.write(`${JSON.stringify({ ...r, summary })}\n`);
  else process.stdout.write(`\n${renderSummary(summary)}\n`);
  return r.ok ? 0 : 1;
}
