import { SlimnetError } from '../util/errors.js';

/** A replacement that cannot be done as asked (a layer that is not a convolution, a share out of reach, a bad schedule). */
export class ReplaceError extends SlimnetError {
  constructor(message: string) {
    super(message);
    this.name = 'ReplaceError';
  }
}
