// `slimnet study distill`: seed 002's distillation table. Parse the flags into
// a DistillStudySpec, run the workflow (src/workflows/study-distill.ts) with
// Ctrl-C, progress bars and the log wired to the terminal, print the JSON
// summary with --json.
import { distillStudyJson, distillStudyRun } from '../../workflows/study-distill.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';
import { studyDistillSpecOf, type StudyDistillRawOptions } from './study-distill-options.js';

/** Runs the command; returns the exit code. */
export async function studyDistillCommand(o: StudyDistillRawOptions): Promise<number> {
  const json = o.json === true;
  const interrupt = onInterrupt('stopping after this step; the finished members are kept and reported, the current one resumes with --version (Ctrl-C again quits at once)');
  try {
    const report = await distillStudyRun(studyDistillSpecOf(o, ['slimnet', ...process.argv.slice(2)].join(' ')), {
      signal: interrupt.signal,
      onProgress: progressBars(),
      onLog: printLog(json),
    });
    if (json) process.stdout.write(`${JSON.stringify(distillStudyJson(report))}\n`);
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
