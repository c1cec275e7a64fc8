// Errors for bad data: every one names the file (or folder) at fault.
import { SlimnetError } from '../util/errors.js';
export class DataError extends SlimnetError {
  override readonly name = 'DataError';
  /** The file or folder the problem is in. */
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}
