// Typed errors of the tensor layer. Every native failure reaches JS as one of
// these, with the op and its argument shapes in the message.

import { SlimnetError } from '../util/errors.js';

export { SlimnetError };

/** An ATen op (or the bridge converting its arguments) rejected a call. */
export class OpError extends SlimnetError {
  constructor(
    readonly op: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A tensor was used after dispose() or after its scope ended. */
export class DisposedTensorError extends SlimnetError {}

/** A tensor file could not be read or written: names the file and the problem. */
export class SerializationError extends SlimnetError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

/** Runs a direct native call, turning its failure into an OpError named `op`. */
export function guarded<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SlimnetError) throw e;
    throw new OpError(op, (e as Error).message, { cause: e });
  }
}

/** guarded() for a native call that returns a promise. */
export async function guardedAsync<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof SlimnetError) throw e;
    throw new OpError(op, (e as Error).message, { cause: e });
  }
}
