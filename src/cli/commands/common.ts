// The command line's output: a line for the user goes to stdout (stderr
// with --json, where stdout carries the JSON) and into the run's log.
import type { RunLog } from '../../runs/index.js';

export interface Output {
  /** A line for the user (stdout, or stderr with --json) and run.log. */
  say(text: string): void;
  log: RunLog | undefined;
}

export function makeOutput(json: boolean): Output {
  const o: Output = {
    log: undefined,
    say(text: string) {
      (json ? process.stderr : process.stdout).write(text.endsWith('\n') ? text : `${text}\n`);
      o.log?.write(text);
    },
  };
  return o;
}
