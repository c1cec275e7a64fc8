// `slimnet demo`: flags → DemoSpec → demoRun (src/workflows/demo.ts), with
// Ctrl-C (stop after the current step, evaluate, exit 130), progress bars
// and the lines on stdout.
import { demoRun, type DemoSpec } from '../../workflows/demo.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';

/** Runs the command; returns the exit code. */
export async function demoCommand(o: DemoSpec): Promise<number> {
  const interrupt = onInterrupt('stopping after the current step and evaluating the weights so far (Ctrl-C again quits at once)');
  try {
    const report = await demoRun(o, { signal: interrupt.signal, onProgress: progressBars(), onLog: printLog(false) });
    return report.interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.release();
  }
}
