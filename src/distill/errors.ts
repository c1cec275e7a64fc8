// Distillation set-up errors: a teacher that cannot be loaded, class counts
// or feature pairs that do not fit. Raised before any training starts.
import { SlimnetError } from '../util/errors.js';

export class DistillError extends SlimnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DistillError';
  }
}
