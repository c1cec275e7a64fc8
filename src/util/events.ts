// What a long-running function tells its caller while it works: progress
// events, log lines, and the AbortSignal it obeys. Every workflow and feature
// takes one Observer; the CLI maps it onto progress bars, stdout and Ctrl-C,
// a library user onto whatever they like (or nothing).

/**
 * One progress event. A task is identified by `id`; its first event (or one
 * whose `done` is back at `initial`) starts it, `done === total` ends it.
 */
export interface ProgressEvent {
  /** Stable id of the task within one call ('train', 'prune.retrain', ...). */
  id: string;
  /** Shown to people ('epoch 3/10', 'step 4 retrain'). */
  label: string;
  done: number;
  total: number;
  /** What is counted ('batches', 'it', 'curves'). */
  unit: string;
  /** Units already done when the task (re)started, e.g. a resumed epoch; excluded from rates. */
  initial?: number;
  /** A short status after the bar ('loss 0.1234'). */
  info?: string;
}

export type ProgressListener = (e: ProgressEvent) => void;
export type LogListener = (line: string) => void;

export interface Observer {
  /** Aborting stops the work after the current step; what was done so far is kept and reported. */
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** Human-readable lines as the work goes (the CLI prints them; run.log keeps them). */
  onLog?: LogListener;
}

/** A progress task: emits events for one counted piece of work. */
export class ProgressTask {
  private done: number;
  constructor(
    private readonly listener: ProgressListener | undefined,
    private readonly base: { id: string; label: string; total: number; unit: string; initial?: number },
  ) {
    this.done = base.initial ?? 0;
    listener?.({ ...base, done: this.done });
  }

  tick(n = 1, info?: string): void {
    this.done += n;
    this.listener?.({ ...this.base, done: this.done, ...(info !== undefined ? { info } : {}) });
  }

  /** Ends the task (marks it complete even when it stopped early). */
  end(info?: string): void {
    if (this.done >= this.base.total && info === undefined) return;
    this.done = Math.max(this.done, this.base.total);
    this.listener?.({ ...this.base, done: this.done, ...(info !== undefined ? { info } : {}) });
  }
}

/** True once the observer's signal is aborted. */
export function aborted(o: Observer | undefined): boolean {
  return o?.signal?.aborted === true;
}
