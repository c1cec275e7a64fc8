// `slimnet study thesis`: seed 003's experiment grid, Table 4.1 and the
// report. Parse the flags into a ThesisStudySpec, run the workflow
// (src/workflows/study-thesis.ts) with Ctrl-C, progress bars and the log
// wired to the terminal, print the JSON summary with --json.
import { thesisStudyRun, thesisSummaryJson } from '../../workflows/study-thesis.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';
import { studySpecOf, type StudyRawOptions } from './study-options.js';

/** Runs the command; `fromCli`: the option keys given on the command line (commander's value source 'cli'). Returns the exit code. */
export async function studyThesisCommand(o: StudyRawOptions, fromCli: readonly string[] = []): Promise<number> {
  const json = o.json === true;
  const interrupt = onInterrupt('stopping after this step; the finished curves are kept and reported (Ctrl-C again quits at once)');
  try {
    const report = await thesisStudyRun(studySpecOf(o, fromCli, ['slimnet', ...process.argv.slice(2)].join(' ')), {
      signal: interrupt.signal,
      onProgress: progressBars(),
      onLog: printLog(json),
    });
    // A dry run, and a study stopped before its grid, have no summary to print.
    const summary = report.status !== 'planned' && report.stoppedIn !== 'plan' && report.stoppedIn !== 'base';
    if (json && summary) process.stdout.write(`${JSON.stringify(thesisSummaryJson(report))}\n`);
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
