// An endless stream of batches over a source's epochs, handed out in chunks:
// training "for N iterations" (seed 003's unit: 10,000 iterations, 100 per
// pruning step) needs batches regardless of where the loader's epochs end.
import type { Batch, BatchSource } from './trainer.js';

export class BatchStream {
  private it: AsyncIterator<Batch> | null = null;
  private epoch = 0;

  constructor(private readonly source: BatchSource) {
    if (source.length === 0) throw new RangeError('BatchStream: the source yields no batches');
  }

  /** The next batch, starting the source's next epoch when one ends. */
  async next(): Promise<Batch> {
    for (;;) {
      this.it ??= this.source.epoch(this.epoch++);
      const r = await this.it.next();
      if (!r.done) return r.value;
      this.it = null;
    }
  }

  /** A source of the next `n` batches (one "epoch" of n iterations for the Trainer). */
  take(n: number): BatchSource {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`BatchStream.take: n must be a non-negative integer, got ${n}`);
    return {
      length: n,
      epoch: async function* (this: BatchStream) {
        for (let i = 0; i < n; i++) yield await this.next();
      }.bind(this),
    };
  }

  /** Ends the epoch in progress (a DataLoader then stops its prefetching). */
  async close(): Promise<void> {
    await this.it?.return?.();
    this.it = null;
  }
}
