// `slimnet study transtailor`: issue 17's comparison. Parse the flags into a
// TransTailorStudySpec, run the workflow (src/workflows/study-transtailor.ts)
// with Ctrl-C, progress bars and the log wired to the terminal, print the
// JSON summary with --json.
import { transtailorStudyJson, transtailorStudyRun } from '../../workflows/study-transtailor.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';
import { studyTransTailorSpecOf, type StudyTransTailorRawOptions } from './study-transtailor-options.js';

/** Runs the command; returns the exit code. */
export async function studyTransTailorCommand(o: StudyTransTailorRawOptions): Promise<number> {
  const json = o.json === true;
  const interrupt = onInterrupt('stopping after this step; the finished members are kept and reported (Ctrl-C again quits at once)');
  try {
    const report = await transtailorStudyRun(studyTransTailorSpecOf(o, ['slimnet', ...process.argv.slice(2)].join(' ')), { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(json) });
    if (json) process.stdout.write(`${JSON.stringify(transtailorStudyJson(report))}\n`);
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
