// The one root of slimnet's errors. Every domain error (graph, data, prune,
// train, study, measure, plot, export, usage) extends SlimnetError, so the
// command line catches it once: a SlimnetError is a problem with the user's
// input or environment and prints as one line; anything else is a bug and
// keeps its stack.

export class SlimnetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A value in a spec, a config file or on the command line is wrong. The
 * message names the field (or flag) and the value.
 */
export class UsageError extends SlimnetError {}

/**
 * A collective or the rendezvous of a process group failed: a peer left,
 * timed out or could not be reached. The message names the operation, this
 * rank and, where it is known, the peer.
 */
export class DistributedError extends SlimnetError {
  constructor(
    readonly op: string,
    readonly rank: number,
    readonly worldSize: number,
    message: string,
    readonly details: { peer?: number; timedOut: boolean },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
