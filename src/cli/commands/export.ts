// `slimnet export`: flags → ExportSpec → exportRun (src/workflows/export.ts);
// the log lines go to stdout, and a failed --verify exits with 1.
import { exportRun, type ExportReport, type ExportSpec } from '../../workflows/export.js';

export type ExportOptions = ExportSpec;
export { VERIFY_TOLERANCE, type ExportReport } from '../../workflows/export.js';

/** exportRun with a log callback (src/export/onnx/export.test.ts calls it). */
export function exportReport(o: ExportSpec, log: (line: string) => void = () => {}): Promise<ExportReport> {
  return exportRun(o, { onLog: log });
}

/** The exit code: 1 when --verify failed (errors are thrown: the CLI prints them as one line). */
export async function exportCommand(o: ExportOptions): Promise<number> {
  const r = await exportRun(o, { onLog: (line) => process.stdout.write(`${line}\n`) });
  return r.ok ? 0 : 1;
}
