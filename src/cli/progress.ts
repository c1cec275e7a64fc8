// A terminal progress bar with throughput and ETA. On a non-TTY (CI logs,
// pipes) it prints a line at most every few seconds instead of redrawing.

export interface ProgressOptions {
  total: number;
  label: string;
  unit?: string;
  /** Units already done before this bar started (a resumed epoch); excluded from the throughput. */
  initial?: number;
  /** performance.now() when the work started (default: when the bar is created). */
  startTime?: number;
  stream?: NodeJS.WriteStream;
}

export class ProgressBar {
  private readonly start: number;
  // -Infinity: the first tick always draws (also on a pipe), so a log shows the run started.
  private lastDraw = -Infinity;
  private done: number;
  private readonly initial: number;
  private extra = '';
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    this.initial = o.initial ?? 0;
    this.start = o.startTime ?? performance.now();
    this.done = this.initial;
  }

  /** Advances by `n` units; `info` is shown after the bar (e.g. the loss). */
  tick(n = 1, info?: string): void {
    this.done += n;
    if (info !== undefined) this.extra = info;
    const now = performance.now();
    const interval = this.stream.isTTY ? 100 : 5000;
    if (now - this.lastDraw >= interval || this.done >= this.o.total) {
      this.lastDraw = now;
      this.draw(now);
    }
  }

  finish(info?: string): void {
    const changed = info !== undefined && info !== this.extra;
    if (info !== undefined) this.extra = info;
    // On a pipe the last tick already printed the final state.
    if (this.stream.isTTY || changed || this.done < this.o.total) this.draw(performance.now());
    if (this.stream.isTTY) this.stream.write('\n');
  }

  private draw(now: number): void {
    const elapsed = (now - this.start) / 1000;
    const frac = this.o.total > 0 ? Math.min(1, this.done / this.o.total) : 1;
    const rate = elapsed > 0 ? (this.done - this.initial) / elapsed : 0;
    const eta = rate > 0 ? (this.o.total - this.done) / rate : 0;
    const width = 28;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const line =
      `${this.o.label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${this.done}/${this.o.total}` +
      ` · ${formatRate(rate)} ${this.o.unit ?? 'it'}/s · ${formatTime(elapsed)} elapsed · ETA ${formatTime(eta)}` +
      (this.extra ? ` · ${this.extra}` : '');
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }
}

function formatRate(r: number): string {
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

export function formatTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/**
 * The CLI's adapter from progress events (src/util/events.ts) to progress
 * bars: a bar per task id, started by its first event, finished when done
 * reaches total.
 */
export function progressBars(stream: NodeJS.WriteStream = process.stderr): (e: import('../util/events.js').ProgressEvent) => void {
  const bars = new Map<string, { bar: ProgressBar; done: number }>();
  return (e) => {
    let cur = bars.get(e.id);
    if (!cur || e.done <= (e.initial ?? 0) || e.done < cur.done) {
      cur = { bar: new ProgressBar({ total: e.total, label: e.label, unit: e.unit, initial: e.initial ?? 0, stream }), done: e.initial ?? 0 };
      bars.set(e.id, cur);
      if (e.done <= (e.initial ?? 0)) return;
    }
    const n = e.done - cur.done;
    cur.done = e.done;
    if (e.done >= e.total) {
      if (n > 0) cur.bar.tick(n, e.info);
      cur.bar.finish(e.info);
      bars.delete(e.id);
    } else cur.bar.tick(n, e.info);
  };
}
