// `slimnet study replace`: issue 18's comparison of seed 001's variants. Parse
// the flags into a ReplaceStudySpec, run the workflow
// (src/workflows/study-replace.ts) with Ctrl-C, progress bars and the log
// wired to the terminal, print the JSON summary with --json.
import { replaceStudyJson, replaceStudyRun } from '../../workflows/study-replace.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';
import { studyReplaceSpecOf, type StudyReplaceRawOptions } from './study-replace-options.js';

/** Runs the command; returns the exit code. */
export async function studyReplaceCommand(o: StudyReplaceRawOptions): Promise<number> {
  const json = o.json === true;
  const interrupt = onInterrupt('stopping after this step; the finished members are kept and reported, the current one resumes with --version (Ctrl-C again quits at once)');
  try {
    const report = await replaceStudyRun(studyReplaceSpecOf(o, ['slimnet', ...process.argv.slice(2)].join(' ')), { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(json) });
    if (json) process.stdout.write(`${JSON.stringify(replaceStudyJson(report))}\n`);
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
