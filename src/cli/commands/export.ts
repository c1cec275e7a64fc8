// `slimnet export`: flags → ExportSpec → exportRun (src/workflows/export.ts);
// the log lines (with --verify, its problems too) go to stdout, and a failed
// --verify exits with 1.
import { exportRun, type ExportSpec } from '../../workflows/export.js';

export type ExportOptions = ExportSpec;

/** The exit code: 1 when --verify failed (errors are thrown: the CLI prints them as one line). */
export async function exportCommand(o: ExportOptions): Promise<number> {
  const r = await exportRun(o, { onLog: (line) => process.stdout.write(`${line}\n`) });
  return r.ok ? 0 : 1;
}
