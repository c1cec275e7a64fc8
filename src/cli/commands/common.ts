// The command line's log: a workflow's lines (observer.onLog) go to stdout,
// or to stderr with --json, where stdout carries only the JSON result. The
// workflow itself writes them into the run's log.
import type { LogListener } from '../../util/events.js';

/** Prints each log line on its own line: to stdout, or stderr with --json. */
export function printLog(json: boolean): LogListener {
  return (line) => (json ? process.stderr : process.stdout).write(line.endsWith('\n') ? line : `${line}\n`);
}
