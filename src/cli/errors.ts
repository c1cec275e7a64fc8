// Errors of the command line.

/** A mistake in the command line or its inputs: reported as one line, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
