// Process groups on torch.distributed (c10d): rendezvous through a TCPStore
// served by rank 0, collectives through Gloo. The conventions are torchrun's
// (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK), so the same
// command runs on one machine or several.
//
// Every collective returns a promise: the wait runs off the JS thread, so a
// rank waiting for slow peers keeps its event loop (signals, timers,
// progress output). Ranks must issue the same collectives in the same order;
// calls are issued in call order, so several may be in flight at once.
import { isIP } from 'node:net';
import { DistributedError, SlimnetError, UsageError } from '../util/errors.js';
import { native, type GroupHandle } from './native.js';
import { Tensor } from './tensor.js';
import { isFloating } from './dtype.js';

export { DistributedError };

export type DistBackend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'avg';

/** torch.distributed's default: long enough for a slow first rendezvous, and still an end. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

/** Where and as whom a process joins its group (what torchrun passes in the environment). */
export interface Rendezvous {
  masterAddr: string;
  masterPort: number;
  worldSize: number;
  rank: number;
  /** The rank among the processes of this machine (which device to use). */
  localRank: number;
  /** The network interface Gloo binds to (GLOO_SOCKET_IFNAME), when set. */
  interface?: string;
}

export interface ProcessGroupOptions {
  masterAddr: string;
  masterPort: number;
  worldSize: number;
  rank: number;
  /**
   * Bound on the rendezvous and on every collective: a peer that neither
   * answers nor closes its connection fails the call after this long.
   * A peer that exits or is killed fails it at once.
   */
  timeoutMs?: number;
  /**
   * How long init() waits for every rank to reach the rendezvous (processes
   * start at different times); `timeoutMs` unless given.
   */
  initTimeoutMs?: number;
  backend?: DistBackend;
  /** Bind Gloo to this network interface instead of the address that reaches masterAddr. */
  interface?: string;
}

/** The backends this addon was built with ([] without Gloo's headers). */
export function distributedBackends(): DistBackend[] {
  return native.distBackends() as DistBackend[];
}

function checkInt(field: string, v: number, lo: number, hi: number): void {
  if (!(Number.isInteger(v) && v >= lo && v <= hi)) throw new UsageError(`${field} must be an integer in [${lo}, ${hi}], got ${v}`);
}

function isLoopback(addr: string): boolean {
  return addr === 'localhost' || addr === '::1' || (isIP(addr) === 4 && addr.startsWith('127.'));
}

/**
 * Which rank a failure points at, where it can be told: in a pair the other
 * rank; at init, the one rank that never joined, or rank 0 (which serves the
 * rendezvous) for a rank that cannot reach it.
 * Gloo's own message names the peer's address in the other cases.
 */
function peerOf(op: string, rank: number, size: number, detail: string): number | undefined {
  if (size === 2) return 1 - rank;
  if (op !== 'init') return undefined;
  const missing = /^rank (\d+) did not join/.exec(detail);
  if (missing) return Number(missing[1]);
  if (rank !== 0 && /could not reach the rendezvous|client socket/i.test(detail)) return 0;
  return undefined;
}

/** A process group: this process is `rank` of `size`. Dispose it when done. */
export class ProcessGroup {
  private h: GroupHandle | null;
  private failure: DistributedError | null = null;

  private constructor(
    h: GroupHandle,
    readonly rank: number,
    readonly size: number,
    readonly backend: DistBackend,
    readonly timeoutMs: number,
  ) {
    this.h = h;
  }

  /**
   * Joins the group: resolves once all `worldSize` ranks have met at
   * masterAddr:masterPort (rank 0 serves the rendezvous there), or rejects
   * with a DistributedError after `timeoutMs`.
   */
  static async init(opts: ProcessGroupOptions): Promise<ProcessGroup> {
    const backend = opts.backend ?? 'gloo';
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof opts.masterAddr !== 'string' || opts.masterAddr.trim() === '') throw new UsageError(`masterAddr must be a host name or address, got '${opts.masterAddr}'`);
    checkInt('masterPort', opts.masterPort, 1, 65535);
    checkInt('worldSize', opts.worldSize, 1, 1 << 20);
    checkInt('rank', opts.rank, 0, opts.worldSize - 1);
    const initTimeoutMs = opts.initTimeoutMs ?? timeoutMs;
    checkInt('timeoutMs', timeoutMs, 1, 0x7fffffff);
    checkInt('initTimeoutMs', initTimeoutMs, 1, 0x7fffffff);
    if (backend !== 'gloo' && backend !== 'nccl') throw new UsageError(`backend must be 'gloo' or 'nccl', got '${String(backend)}'`);
    if (!distributedBackends().includes(backend)) {
      const why =
        backend === 'nccl'
          ? "this addon has no NCCL process group (it needs a libtorch with CUDA and NCCL); use backend 'gloo'"
          : 'this addon was built without Gloo (Debian: apt-get install libgloo-dev, then npm run build:native -- --force)';
      throw new DistributedError('init', opts.rank, opts.worldSize, `backend '${backend}' is not available: ${why}`, { timedOut: false });
    }
    const host = opts.masterAddr === 'localhost' ? '127.0.0.1' : opts.masterAddr;
    // On loopback Gloo binds to loopback too; otherwise, as torch does, to
    // the interface named or the address this machine's hostname resolves to.
    const device = opts.interface ? { deviceInterface: opts.interface } : isLoopback(host) ? { deviceHost: host } : {};
    try {
      const h = await native.distInit({ host, port: opts.masterPort, worldSize: opts.worldSize, rank: opts.rank, timeoutMs, initTimeoutMs, ...device });
      return new ProcessGroup(h, opts.rank, opts.worldSize, backend, timeoutMs);
    } catch (e) {
      const detail = (e as Error).message;
      const where = `rendezvous ${host}:${opts.masterPort}${opts.rank === 0 ? ' served here' : ' served by rank 0'}`;
      throw distributedError('init', opts.rank, opts.worldSize, detail, where, e);
    }
  }

  private get handle(): GroupHandle {
    if (this.h === null) throw new UsageError(`process group (rank ${this.rank} of ${this.size}) was used after dispose()`);
    return this.h;
  }

  private async run<T>(op: string, call: (h: GroupHandle) => Promise<T>): Promise<T> {
    if (this.failure) {
      // Gloo's connections are gone after a failure: fail fast instead of
      // waiting for a timeout on a group that cannot recover.
      throw new DistributedError(op, this.rank, this.size, `${op} on rank ${this.rank} of ${this.size}: the process group failed earlier (${this.failure.message})`, this.failure.details, { cause: this.failure });
    }
    const h = this.handle;
    let pending: Promise<T>;
    try {
      pending = call(h);
    } catch (e) {
      // Rejected before anything was sent (a bad argument): the group is fine.
      if (e instanceof SlimnetError) throw e;
      throw new UsageError(`${op}: ${(e as Error).message}`, { cause: e });
    }
    try {
      return await pending;
    } catch (e) {
      const err = distributedError(op, this.rank, this.size, (e as Error).message, undefined, e);
      this.failure ??= err;
      throw err;
    }
  }

  /** Reduces each tensor in place across ranks: the sum, or the mean ('avg', floating tensors only). */
  async allReduce(tensors: readonly Tensor[], op: ReduceOp = 'sum'): Promise<void> {
    if (op !== 'sum' && op !== 'avg') throw new UsageError(`allReduce: op must be 'sum' or 'avg', got '${String(op)}'`);
    if (op === 'avg') {
      const bad = tensors.findIndex((t) => !isFloating(t.dtype));
      if (bad >= 0) throw new UsageError(`allReduce: 'avg' needs floating tensors, tensor ${bad} is ${tensors[bad]!.dtype}`);
    }
    const handles = tensors.map((t) => t.handle);
    await this.run('allReduce', (h) => native.distAllReduce(h, handles, op));
  }

  /** Overwrites `t` on every rank with rank `root`'s values. */
  async broadcast(t: Tensor, root = 0): Promise<void> {
    checkInt('broadcast: root', root, 0, this.size - 1);
    await this.run('broadcast', (h) => native.distBroadcast(h, t.handle, root));
  }

  /** Resolves once every rank has reached its barrier. */
  async barrier(): Promise<void> {
    await this.run('barrier', (h) => native.distBarrier(h));
  }

  /** Every rank's `t` (same shape and dtype on all ranks), in rank order. */
  async allGather(t: Tensor): Promise<Tensor[]> {
    const out = await this.run('allGather', (h) => native.distAllGather(h, t.handle));
    return out.map((x) => new Tensor(x));
  }

  /** Leaves the group (idempotent). A collective still in flight finishes first. */
  dispose(): void {
    if (this.h === null) return;
    native.distDestroy(this.h);
    this.h = null;
  }
}

function distributedError(op: string, rank: number, size: number, detail: string, where: string | undefined, cause: unknown): DistributedError {
  const peer = peerOf(op, rank, size, detail);
  const timedOut = /timed? ?out|timeout/i.test(detail);
  const who = [where, peer !== undefined ? `peer: rank ${peer}` : undefined].filter(Boolean).join(', ');
  return new DistributedError(op, rank, size, `${op} failed on rank ${rank} of ${size}${who ? ` (${who})` : ''}: ${detail}`, { peer, timedOut }, { cause });
}

function envInt(env: NodeJS.ProcessEnv, name: string, lo: number, hi: number, what: string): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') throw new UsageError(`${name} is not set (${what}); launch with torchrun-style variables MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK`);
  const n = Number(raw);
  if (!(/^\s*\d+\s*$/.test(raw) && Number.isInteger(n) && n >= lo && n <= hi)) throw new UsageError(`${name} must be an integer in [${lo}, ${hi}] (${what}), got '${raw}'`);
  return n;
}

/**
 * The rendezvous torchrun describes in the environment: MASTER_ADDR,
 * MASTER_PORT, WORLD_SIZE and RANK are required; LOCAL_RANK defaults to
 * RANK (one machine); GLOO_SOCKET_IFNAME picks Gloo's interface.
 */
export function envRendezvous(env: NodeJS.ProcessEnv = process.env): Rendezvous {
  const masterAddr = env.MASTER_ADDR?.trim();
  if (!masterAddr) throw new UsageError("MASTER_ADDR is not set (the host serving the rendezvous, rank 0's address); launch with torchrun-style variables MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK");
  const masterPort = envInt(env, 'MASTER_PORT', 1, 65535, 'the rendezvous port on MASTER_ADDR');
  const worldSize = envInt(env, 'WORLD_SIZE', 1, 1 << 20, 'the number of processes');
  const rank = envInt(env, 'RANK', 0, worldSize - 1, `this process's rank among WORLD_SIZE=${worldSize}`);
  const localRank = env.LOCAL_RANK === undefined || env.LOCAL_RANK.trim() === '' ? rank : envInt(env, 'LOCAL_RANK', 0, worldSize - 1, "this process's rank on its machine");
  const iface = env.GLOO_SOCKET_IFNAME?.trim();
  return { masterAddr, masterPort, worldSize, rank, localRank, ...(iface ? { interface: iface } : {}) };
}
