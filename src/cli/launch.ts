// Data-parallel launch, in torchrun's conventions. `--nproc N` starts N local
// workers running the same command without --nproc, each with RANK,
// LOCAL_RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1 and MASTER_PORT (a free port)
// set, and SLIMNET_NUM_THREADS=1 unless given. Rank 0's output is this
// process's; the others write to log files. A worker started with those
// variables (by this launcher, torchrun, Slurm, or by hand on several
// machines) joins the group itself (joinFromEnv).
//
// A worker that dies makes the others fail at once (their peer's connection
// closes); the launcher still stops any that linger after a grace period,
// and the command fails with an error naming the rank and its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataParallel } from '../train/data-parallel.js';
import { envRendezvous } from '../tensor/distributed.js';
import { SlimnetError, UsageError } from '../util/errors.js';
import { freePort } from '../util/net.js';

/** A worker of a local launch failed; `rank` names it, `log` is where its output went. */
export class LaunchError extends SlimnetError {
  constructor(
    message: string,
    readonly rank: number,
    readonly code: number | null,
    readonly log: string | null,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}

export interface LaunchOptions {
  nproc: number;
  /** The command line each worker runs, after node's own flags and the script (--nproc already removed). */
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** How long the other workers get to stop by themselves after one failed, before they are killed. */
  graceMs?: number;
  /** Where the lines about the workers go (default stderr). */
  say?(line: string): void;
}

export interface WorkerExit {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  log: string | null;
}

/** The command line without `--nproc N` / `--nproc=N` (what each worker runs). */
export function withoutNproc(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--nproc') i++;
    else if (!a.startsWith('--nproc=')) out.push(a);
  }
  return out;
}

/**
 * Runs N workers on this machine and waits for them. Resolves with every
 * worker's exit when all succeeded (or were all interrupted alike); rejects
 * with a LaunchError naming the first rank that failed, after stopping the others.
 */
export async function launchLocal(o: LaunchOptions): Promise<WorkerExit[]> {
  if (!(Number.isInteger(o.nproc) && o.nproc >= 1)) throw new UsageError(`--nproc must be a positive integer, got ${o.nproc}`);
  const say = o.say ?? ((l: string) => void process.stderr.write(`${l}\n`));
  const port = await freePort();
  const logDir = o.nproc > 1 ? mkdtempSync(join(tmpdir(), 'slimnet-launch-')) : null;
  const base = o.env ?? process.env;
  const children: ChildProcess[] = [];
  const exits: Promise<WorkerExit>[] = [];
  for (let rank = 0; rank < o.nproc; rank++) {
    const env = {
      ...base,
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      WORLD_SIZE: String(o.nproc),
      RANK: String(rank),
      LOCAL_RANK: String(rank),
      SLIMNET_NUM_THREADS: base.SLIMNET_NUM_THREADS ?? '1',
    };
    const log = rank === 0 || !logDir ? null : join(logDir, `rank${rank}.log`);
    // Own process groups: Ctrl-C reaches the launcher once and it forwards one signal to each worker (a second one quits a worker at once).
    const child = spawn(process.execPath, [...process.execArgv, ...o.args], { env, detached: true, stdio: rank === 0 ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'] });
    if (log) {
      const out = createWriteStream(log);
      child.stdout!.pipe(out);
      child.stderr!.pipe(out);
    }
    children.push(child);
    exits.push(new Promise((resolve) => child.on('close', (code, signal) => resolve({ rank, code, signal, log }))));
  }
  if (logDir) say(`launched ${o.nproc} workers (pids ${children.map((c) => c.pid).join(', ')}; rendezvous 127.0.0.1:${port}); ranks 1-${o.nproc - 1} log to ${logDir}`);
  const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;
  const forward = (sig: NodeJS.Signals) => (): void => {
    for (const c of children) if (alive(c)) c.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const timers: ReturnType<typeof setTimeout>[] = [];
  let failed: WorkerExit | undefined;
  const graceMs = o.graceMs ?? 10_000;
  try {
    const done = exits.map((p) =>
      p.then((e) => {
        if (!failed && !ok(e)) {
          failed = e;
          // The others normally fail at once on their own (the group lost a peer); stop any that linger.
          timers.push(setTimeout(() => children.forEach((c) => alive(c) && c.kill('SIGTERM')), graceMs));
          timers.push(setTimeout(() => children.forEach((c) => alive(c) && c.kill('SIGKILL')), graceMs + 5000));
        }
        return e;
      }),
    );
    const all = await Promise.all(done);
    say(`workers: ${all.map((e) => `rank ${e.rank} ${describe(e)}`).join(', ')}`);
    const interrupted = all.every((e) => e.code === 130 || e.code === 143);
    if (failed && !interrupted) {
      const f = failed as WorkerExit;
      throw new LaunchError(`rank ${f.rank} of ${o.nproc} ${describe(f)}${f.log ? ` (its output: ${f.log})` : ''}; the other workers were stopped`, f.rank, f.code, f.log);
    }
    return all;
  } finally {
    for (const t of timers) clearTimeout(t);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

function ok(e: WorkerExit): boolean {
  return e.code === 0;
}

function describe(e: WorkerExit): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

/**
 * The data-parallel group this process belongs to, when it was started
 * with torchrun's variables and WORLD_SIZE > 1; undefined otherwise.
 * SLIMNET_DIST_TIMEOUT_MS bounds each collective (a peer that hangs without
 * closing its connection; one that dies fails the others at once).
 */
export async function joinFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<DataParallel | undefined> {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE.trim() === '' || Number(env.WORLD_SIZE) === 1) return undefined;
  const rv = envRendezvous(env);
  const t = env.SLIMNET_DIST_TIMEOUT_MS;
  const timeoutMs = t !== undefined && t.trim() !== '' ? Number(t) : undefined;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) throw new UsageError(`SLIMNET_DIST_TIMEOUT_MS must be a positive integer (milliseconds), got '${t}'`);
  return DataParallel.join(rv, timeoutMs !== undefined ? { timeoutMs, initTimeoutMs: Math.max(timeoutMs, 60_000) } : {});
}

/**
 * A training command, data parallel where asked. With `nproc` > 1 this
 * process is the launcher: it starts that many local workers running its
 * own command line without --nproc and returns rank 0's exit code (a failed
 * worker rejects with a LaunchError). Otherwise it is one process: it joins
 * the group torchrun's variables describe (none without WORLD_SIZE > 1),
 * runs `body` with it and leaves the group, also when `body` throws.
 */
export async function runDistributed(nproc: number | undefined, body: (parallel?: DataParallel) => Promise<number>, o: { argv?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const env = o.env ?? process.env;
  if (nproc !== undefined && nproc !== 1) {
    if (!(Number.isInteger(nproc) && nproc >= 1)) throw new UsageError(`--nproc must be a positive integer, got ${nproc}`);
    if (env.WORLD_SIZE !== undefined) throw new UsageError(`--nproc starts its own workers: it cannot be combined with a torchrun-style launch (WORLD_SIZE=${env.WORLD_SIZE} is set)`);
    const argv = o.argv ?? process.argv;
    // Each worker runs this command line without --nproc; rank 0's exit code is the command's.
    const exits = await launchLocal({ nproc, args: [argv[1]!, ...withoutNproc(argv.slice(2))], env });
    return exits[0]!.code ?? 1;
  }
  const parallel = await joinFromEnv(env);
  try {
    return await body(parallel);
  } finally {
    parallel?.dispose();
  }
}
