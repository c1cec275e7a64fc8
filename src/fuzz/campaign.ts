// The fuzz campaign: for each format, N malformed files (made from valid ones
// by seeded mutations, see mutate.ts and formats.ts) fed to the loader in
// child processes, one per batch of cases, so that a native abort is caught
// and counted instead of ending the campaign, and a per-case deadline turns
// a hang into a counted outcome (the child is killed and the next case runs
// in a fresh one).
//
// Outcomes per case:
//   accepted     the loader (and what a command does next) succeeded
//   rejected     a SlimnetError whose message names the file: the goal
//   outsideRoot  an error that is not a SlimnetError (a bug: a raw TypeError, ...)
//   unnamed      a SlimnetError that does not name the file
//   abort        the process died in the case (native abort, crash)
//   hang         the case ran past the deadline
//   generator    the mutator itself failed (a bug in the campaign, not the loader)
// The bar: no abort, no hang, no outsideRoot, no unnamed.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FUZZ_FORMATS, prepareBase, type FuzzFormat } from './formats.js';
import type { CaseOutcome, WorkerArgs, WorkerLine } from './protocol.js';

export type Outcome = CaseOutcome | 'abort' | 'hang';
export const OUTCOMES: readonly Outcome[] = ['accepted', 'rejected', 'outsideRoot', 'unnamed', 'abort', 'hang', 'generator'];
/** The outcomes that fail the bar. */
export const FAILING: readonly Outcome[] = ['outsideRoot', 'unnamed', 'abort', 'hang', 'generator'];

export type Counts = Record<Outcome, number>;

export interface CampaignOptions {
  formats?: readonly FuzzFormat[];
  /** Cases per format. */
  cases: number;
  seed?: number;
  /** Cases per child process (default 1000). */
  batch?: number;
  /** Deadline of one case in milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Where base files and cases are written (default a new temporary folder, removed at the end). */
  workDir?: string;
  /** Called after every batch. */
  onBatch?(format: FuzzFormat, done: number, counts: Counts): void;
  /** Tests the campaign's abort and hang detection instead of the loaders (see WorkerArgs.selfTest). */
  selfTest?: boolean;
}

/** A case that failed the bar (or a sample of each outcome), to reproduce: (seed, format, index). */
export interface Example {
  format: FuzzFormat;
  index: number;
  outcome: Outcome;
  how: string;
  message?: string;
}

export interface CampaignReport {
  seed: number;
  casesPerFormat: number;
  formats: Record<string, Counts>;
  total: Counts;
  /** Every failing case (up to 50) and the first two of each other outcome per format. */
  examples: Example[];
  seconds: number;
  /** True when no case aborted, hung, or failed with an error outside the root or without the file name. */
  pass: boolean;
}

const zero = (): Counts => Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Counts;

function workerCommand(): { file: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(`./worker.${ts ? 'ts' : 'js'}`, import.meta.url));
  return { file, execArgv: ts ? ['--import', 'tsx'] : [] };
}

interface ChildResult {
  /** First case index not yet decided. */
  next: number;
  /** The child produced no line at all (it failed to start). */
  silent: boolean;
  stderr: string;
}

/** Runs one child over [from, to); records outcomes; returns where to continue. */
function runChild(args: WorkerArgs, timeoutMs: number, record: (i: number, o: Outcome, how: string, m?: string) => void): Promise<ChildResult> {
  const { file, execArgv } = workerCommand();
  const child = spawn(process.execPath, [...execArgv, file, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLIMNET_NUM_THREADS: '1' },
  });
  let current: { i: number; how: string } | undefined;
  let next = args.from;
  let silent = true;
  let hung = false;
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  // A child that never starts its first case is stuck too.
  const startTimer = setTimeout(() => child.kill('SIGKILL'), Math.max(120_000, timeoutMs));
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (text) => {
    let line: WorkerLine;
    try {
      line = JSON.parse(text) as WorkerLine;
    } catch {
      return; // stray output of a library
    }
    silent = false;
    clearTimeout(startTimer);
    if ('b' in line) {
      current = { i: line.b, how: line.how };
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, timeoutMs);
    } else {
      clearTimeout(timer);
      record(line.e, line.o, current?.how ?? '', line.m);
      next = line.e + 1;
      current = undefined;
    }
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(startTimer);
      if (current) {
        if (hung) record(current.i, 'hang', current.how, `no answer within ${timeoutMs} ms`);
        else record(current.i, 'abort', current.how, `the process ended (${signal ?? `exit code ${code}`}): ${stderr.slice(-600)}`);
        next = current.i + 1;
      }
      resolve({ next, silent, stderr });
    });
  });
}

/** Runs the campaign and returns its counts; throws only when a worker cannot start at all. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const t0 = performance.now();
  const formats = o.formats ?? FUZZ_FORMATS;
  const seed = o.seed ?? 1;
  const batch = o.batch ?? 1000;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const own = o.workDir === undefined;
  const workDir = o.workDir ?? mkdtempSync(join(tmpdir(), 'slimnet-fuzz-'));
  const baseDir = join(workDir, 'base');
  const scratchDir = join(workDir, 'cases');
  const report: CampaignReport = { seed, casesPerFormat: o.cases, formats: {}, total: zero(), examples: [], seconds: 0, pass: false };
  try {
    await prepareBase(baseDir);
    mkdirSync(scratchDir, { recursive: true });
    for (const format of formats) {
      const counts = zero();
      report.formats[format] = counts;
      const shown = new Map<Outcome, number>();
      const record = (index: number, outcome: Outcome, how: string, message?: string): void => {
        counts[outcome]++;
        report.total[outcome]++;
        const failing = FAILING.includes(outcome);
        const seen = shown.get(outcome) ?? 0;
        if ((failing && report.examples.filter((e) => FAILING.includes(e.outcome)).length < 50) || (!failing && seen < 2)) {
          report.examples.push({ format, index, outcome, how, ...(message !== undefined ? { message } : {}) });
          shown.set(outcome, seen + 1);
        }
      };
      for (let from = 0; from < o.cases; ) {
        const to = Math.min(o.cases, from + batch);
        const r = await runChild({ format, seed, from, to, baseDir, scratchDir, ...(o.selfTest ? { selfTest: true } : {}) }, timeoutMs, record);
        if (r.silent && r.next === from) throw new Error(`fuzz: the worker for ${format} did not start:\n${r.stderr}`);
        if (r.next === from) {
          // It died between cases (no case was open): blame the next one, so the campaign moves on.
          record(from, 'abort', '', `the process ended between cases: ${r.stderr.slice(-600)}`);
          r.next = from + 1;
        }
        from = r.next;
        if (from >= to) o.onBatch?.(format, from, counts);
      }
      rmSync(scratchDir, { recursive: true, force: true });
      mkdirSync(scratchDir, { recursive: true });
    }
  } finally {
    if (own) rmSync(workDir, { recursive: true, force: true });
  }
  report.seconds = Math.round((performance.now() - t0) / 100) / 10;
  report.pass = FAILING.every((f) => report.total[f] === 0);
  return report;
}
