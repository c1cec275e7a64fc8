// The command line's one Ctrl-C handler. The first Ctrl-C (or SIGTERM)
// aborts the command's AbortSignal: the workflow stops after its current
// step, saves what it has and returns; the second quits at once.

/** The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Removes the handlers (the command has finished). */
  release(): void;
}

/** Installs the handlers for one command; `message` is printed on the first Ctrl-C. */
export function onInterrupt(message = 'stopping after the current step (Ctrl-C again quits at once)'): Interrupt {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    process.stderr.write(`\n${sig === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'}: ${message}\n`);
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', handler);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', handler);
    },
  };
}
