// What the campaign and its worker processes say to each other, and how an
// error thrown by a loader is judged. Kept apart from worker.ts, which is an
// entry point (importing it would start a worker).
import { SlimnetError } from '../util/errors.js';
import type { FuzzFormat } from './formats.js';

export interface WorkerArgs {
  format: FuzzFormat;
  seed: number;
  from: number;
  to: number;
  baseDir: string;
  scratchDir: string;
  /**
   * Checks the campaign's own detection instead of a loader: case 1 aborts
   * the process (as a native crash would), case 2 never returns, the rest
   * are accepted.
   */
  selfTest?: boolean;
}

/** What reading one case gave. 'abort' and 'hang' are decided by the campaign, not here. */
export type CaseOutcome = 'accepted' | 'rejected' | 'outsideRoot' | 'unnamed' | 'generator';

export type WorkerLine = { b: number; how: string } | { e: number; o: CaseOutcome; m?: string };

/** The outcome of an error thrown while reading `target`. */
export function classify(e: unknown, target: string): CaseOutcome {
  if (!(e instanceof SlimnetError)) return 'outsideRoot';
  return e.message.includes(target) ? 'rejected' : 'unnamed';
}

