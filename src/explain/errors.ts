// Explanation errors: an unknown method or layer, a layer a CAM cannot use,
// models that cannot be compared. Raised before any computation.
import { SlimnetError } from '../util/errors.js';

export class ExplainError extends SlimnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExplainError';
  }
}
