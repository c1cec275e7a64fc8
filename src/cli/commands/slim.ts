// `slimnet slim`: network slimming (seed 004). Parse the flags into a
// SlimSpec, run the workflow (src/workflows/slim.ts) with Ctrl-C, progress
// bars and the log wired to the terminal, print the JSON result with --json.
import type { Command } from 'commander';
import { slimResultJson, slimRun } from '../../workflows/slim.js';
import { EXIT_INTERRUPTED, onInterrupt } from '../interrupt.js';
import { progressBars } from '../progress.js';
import { printLog } from './common.js';
import { slimSpecOf, type SlimRawOptions } from './slim-options.js';

/** Runs the command; returns the exit code. */
export async function slimCommand(cmd: Command): Promise<number> {
  const o = cmd.opts<SlimRawOptions>();
  const json = o.json === true;
  const interrupt = onInterrupt();
  try {
    const report = await slimRun(slimSpecOf(o), {
      signal: interrupt.signal,
      onProgress: progressBars(),
      onLog: printLog(json),
    });
    if (report.interrupted) return EXIT_INTERRUPTED;
    if (json) process.stdout.write(`${JSON.stringify(slimResultJson(report))}\n`);
    return 0;
  } finally {
    interrupt.release();
  }
}
