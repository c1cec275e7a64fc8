// The command line's one stop handler. A stop request aborts the command's
// AbortSignal: the workflow stops after its current step, saves what it has
// (a training run: a resumable state) and returns; the command then exits
// with the code that names the cause. Three things request a stop:
//
//   Ctrl-C (SIGINT)   exit 130 (128 + 2), as shells report it
//   SIGTERM           exit 143 (128 + 15): docker stop, Slurm's time limit,
//                     `timeout`, systemd; the same clean stop as Ctrl-C, so
//                     the partial epoch is saved and --version N resumes it
//   a closed output   exit 141 (128 + SIGPIPE): stdout or stderr was a pipe
//                     whose reader quit (`slimnet train | head`, leaving
//                     `less`). Writing to that stream stops (no EPIPE stack
//                     trace), and the command stops cleanly as on Ctrl-C,
//                     rather than training on for hours with nobody reading.
//
// A second SIGINT or SIGTERM quits at once with its exit code.

/** The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;
/** The exit code of a command stopped by SIGTERM (128 + 15). */
export const EXIT_TERMINATED = 143;
/** The exit code of a command whose stdout or stderr reader went away (128 + SIGPIPE). */
export const EXIT_BROKEN_PIPE = 141;

export type StopCause = 'SIGINT' | 'SIGTERM' | 'EPIPE';

const EXIT_CODES: Readonly<Record<StopCause, number>> = { SIGINT: EXIT_INTERRUPTED, SIGTERM: EXIT_TERMINATED, EPIPE: EXIT_BROKEN_PIPE };

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Removes the handlers (the command has finished). */
  release(): void;
}

/** The controllers of the commands running now (one, in practice). */
const active = new Set<AbortController>();
/** What stopped the last command, for its exit code. */
let lastCause: StopCause | undefined;

function stop(cause: StopCause, what: string, message: string): void {
  lastCause ??= cause;
  const running = [...active].filter((c) => !c.signal.aborted);
  for (const c of running) c.abort(new Error(cause));
  if (running.length || cause !== 'EPIPE') process.stderr.write(`\n${what}: ${message}\n`);
}

/** Installs the handlers for one command; `message` is printed on the first Ctrl-C or SIGTERM. */
export function onInterrupt(message = 'stopping after the current step (Ctrl-C again quits at once)'): Interrupt {
  const controller = new AbortController();
  active.add(controller);
  const handler = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(sig === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED);
    stop(sig === 'SIGTERM' ? 'SIGTERM' : 'SIGINT', sig === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C', message);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  if (outputClosed) controller.abort(new Error('EPIPE'));
  return {
    signal: controller.signal,
    release: () => {
      active.delete(controller);
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/**
 * The exit code of a command that returned EXIT_INTERRUPTED: 130 for Ctrl-C,
 * 143 for SIGTERM, 141 for a closed output. Other codes pass through.
 */
export function stopExitCode(code: number | undefined): number | undefined {
  return code === EXIT_INTERRUPTED && lastCause ? EXIT_CODES[lastCause] : code;
}

let outputClosed = false;
let watching = false;

/**
 * Makes a closed stdout / stderr (EPIPE) stop the command cleanly instead of
 * crashing with a stack trace: later writes to that stream are dropped, and
 * the running command's signal is aborted. Call once, at start-up.
 */
export function watchOutputs(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  if (watching) return;
  watching = true;
  for (const s of streams) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
      // Nobody reads this stream any more: drop what would be written to it.
      s.write = (() => true) as typeof s.write;
      outputClosed = true;
      stop('EPIPE', `${s === process.stdout ? 'stdout' : 'stderr'} closed (its reader quit)`, 'stopping after the current step and saving what there is');
    });
  }
}
