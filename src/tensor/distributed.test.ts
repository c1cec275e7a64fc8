// Process groups on loopback: every rank is its own process (a worker script
// run through tsx with torchrun-style variables), and the results are checked
// against values computed by hand from what each rank contributed. Faults: a
// rank that exits, is killed or stops answering makes rank 0 fail with a
// DistributedError naming the ranks, within the group's timeout.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DistributedError, ProcessGroup, distributedBackends, envRendezvous, tensor } from './index.js';
import { UsageError } from '../util/errors.js';
import { freePort } from '../util/net.js';

const WORKER = fileURLToPath(new URL('./testing/dist-worker.ts', import.meta.url));

interface RankRun {
  child: ChildProcess;
  /** Parsed JSON lines the rank printed, in order. */
  lines: Record<string, unknown>[];
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line satisfying `pred`. */
  line(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function startRank(scenario: string, rank: number, size: number, port: number, timeoutMs: number): RankRun {
  const env = {
    ...process.env,
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    WORLD_SIZE: String(size),
    RANK: String(rank),
    LOCAL_RANK: String(rank),
    SLIMNET_NUM_THREADS: '1',
    DIST_TEST_TIMEOUT_MS: String(timeoutMs),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, scenario], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buf = '';
  const run: RankRun = {
    child,
    lines,
    stderr: '',
    exit: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))),
    line: (pred) =>
      new Promise((resolve, reject) => {
        const hit = lines.find(pred);
        if (hit) return resolve(hit);
        waiters.push({ pred, resolve });
        void run.exit.then(() => reject(new Error(`rank ${rank} exited without the line awaited; stderr:\n${run.stderr}`)));
      }),
  };
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      lines.push(l);
      for (const w of waiters) if (w.pred(l)) w.resolve(l);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

async function startGroup(scenario: string, size: number, timeoutMs = 3000, rank0DelayMs = 0): Promise<RankRun[]> {
  const port = await freePort();
  const ranks = Array.from({ length: size - 1 }, (_, r) => startRank(scenario, r + 1, size, port, timeoutMs));
  if (rank0DelayMs) await new Promise((r) => setTimeout(r, rank0DelayMs));
  return [startRank(scenario, 0, size, port, timeoutMs), ...ranks];
}

/** Kills whatever is left of a group (after a failed assertion too). */
function cleanup(ranks: RankRun[]): void {
  for (const r of ranks) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function checkCollectives(size: number, rank0DelayMs = 0): Promise<void> {
  const ranks = await startGroup('collectives', size, 3000, rank0DelayMs);
  try {
    const exits = await Promise.all(ranks.map((r) => r.exit));
    exits.forEach((e, r) => assert.equal(e.code, 0, `rank ${r} exited ${e.code}:\n${ranks[r]!.stderr}`));
    const S = (size * (size + 1)) / 2; // sum of r + 1
    const T = (size * (size - 1)) / 2; // sum of r
    const Q = range(size).reduce((a, r) => a + r * r, 0);
    for (const [r, run] of ranks.entries()) {
      const got = run.lines[0]!;
      assert.equal(got.rank, r);
      assert.equal(got.size, size);
      assert.deepEqual(got.sum, [S, 2 * S, -T], `rank ${r}: sum of [r+1, 2(r+1), -r]`);
      assert.deepEqual(got.sumInt, [T, 7 * size], `rank ${r}: int64 sum of [r, 7]`);
      const avg = got.avg as number[];
      [Q / size, 1, 6 / size].forEach((want, i) => assert.ok(Math.abs(avg[i]! - want) < 1e-12, `rank ${r}: avg[${i}] ${avg[i]} != ${want}`));
      const root = size - 1;
      assert.deepEqual(got.broadcast, [10 * root, 10 * root + 1, 10 * root + 2, 10 * root + 3], `rank ${r}: broadcast from rank ${root}`);
      assert.deepEqual(got.broadcastShape, [2, 2]);
      assert.deepEqual(got.gathered, range(size).map((q) => [q, -q || 0, 100 + q]), `rank ${r}: allGather in rank order`);
      // Rank 0 reached the barrier 400 ms late; everyone else waited for it there.
      if (r !== 0) assert.ok((got.barrierMs as number) >= 250, `rank ${r} left the barrier after ${got.barrierMs} ms, before rank 0 arrived`);
    }
  } finally {
    cleanup(ranks);
  }
}

interface FaultReport {
  error: string;
  isDistributedError: boolean;
  message: string;
  details: { peer?: number; timedOut: boolean };
  elapsedMs: number;
  again: string;
}

describe('process groups across processes (gloo, loopback)', { concurrency: true }, () => {
  // Rank 0 starts last here: rank 1 waits for the rendezvous to open.
  test('2 ranks: allReduce sum/avg, broadcast, allGather and barrier give the hand-computed values', () => checkCollectives(2, 1500));
  test('3 ranks: the same collectives', () => checkCollectives(3));

  test('a rank that exits mid-protocol makes the other fail at once, naming both ranks', async () => {
    const ranks = await startGroup('exit', 2, 3000);
    try {
      const [r0, r1] = ranks as [RankRun, RankRun];
      assert.equal((await r1.exit).code, 7);
      const rep = (await r0.line((l) => 'error' in l)) as unknown as FaultReport;
      assert.ok(rep.isDistributedError, rep.message);
      assert.match(rep.message, /^allReduce failed on rank 0 of 2 \(peer: rank 1\): /);
      assert.deepEqual(rep.details, { peer: 1, timedOut: false });
      assert.ok(rep.elapsedMs < 3000, `rank 0 failed after ${rep.elapsedMs} ms, the timeout is 3000`);
      assert.match(rep.again, /^DistributedError after \d+ ms$/);
      assert.ok(Number(/after (\d+)/.exec(rep.again)![1]) < 500, `a call on the failed group should fail at once: ${rep.again}`);
      assert.equal((await r0.exit).code, 0, r0.stderr);
    } finally {
      cleanup(ranks);
    }
  });

  test('a killed rank (SIGKILL) makes the other fail within the timeout', async () => {
    const ranks = await startGroup('kill', 2, 3000);
    try {
      const [r0, r1] = ranks as [RankRun, RankRun];
      await r1.line((l) => l.ready === true);
      await new Promise((r) => setTimeout(r, 200)); // rank 0 is inside its allReduce by now
      r1.child.kill('SIGKILL');
      const rep = (await r0.line((l) => 'error' in l)) as unknown as FaultReport;
      assert.ok(rep.isDistributedError, rep.message);
      assert.match(rep.message, /^allReduce failed on rank 0 of 2 \(peer: rank 1\)/);
      assert.ok(rep.elapsedMs < 3000, `rank 0 failed after ${rep.elapsedMs} ms, the timeout is 3000`);
      assert.equal((await r1.exit).signal, 'SIGKILL');
      assert.equal((await r0.exit).code, 0, r0.stderr);
    } finally {
      cleanup(ranks);
    }
  });

  test('a rank that stays alive but never answers makes the other time out after timeoutMs', async () => {
    const ranks = await startGroup('hang', 2, 1500);
    try {
      const [r0] = ranks as [RankRun, RankRun];
      const rep = (await r0.line((l) => 'error' in l)) as unknown as FaultReport;
      assert.ok(rep.isDistributedError, rep.message);
      // Our wait or Gloo's own timer, whichever ends first: both at 1500 ms.
      assert.match(rep.message, /^allReduce failed on rank 0 of 2 \(peer: rank 1\): (no answer within 1500 ms \(timed out\)|.*Timed out waiting 1500ms)/);
      assert.equal(rep.details.timedOut, true, rep.message);
      assert.ok(rep.elapsedMs >= 1400 && rep.elapsedMs < 3000, `timed out after ${rep.elapsedMs} ms, the timeout is 1500`);
      assert.equal((await r0.exit).code, 0, r0.stderr);
    } finally {
      cleanup(ranks);
    }
  });
});

describe('process groups in this process', () => {
  test('this addon has the gloo backend', () => {
    assert.ok(distributedBackends().includes('gloo'), 'built without Gloo: apt-get install libgloo-dev, then npm run build:native -- --force');
  });

  test('a rendezvous nobody serves fails within the timeout, naming rank 0 and the address', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const err = await ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: port, worldSize: 2, rank: 1, timeoutMs: 60_000, initTimeoutMs: 800 }).then(
      () => assert.fail('init should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DistributedError, String(err));
    assert.match(err.message, new RegExp(`^init failed on rank 1 of 2 \\(rendezvous 127\\.0\\.0\\.1:${port} served by rank 0, peer: rank 0\\): could not reach the rendezvous at 127\\.0\\.0\\.1:${port} within 800 ms \\(timed out; last attempt: Connection refused\\)$`));
    assert.deepEqual(err.details, { peer: 0, timedOut: true });
    assert.ok(Date.now() - t0 < 3000, `init failed after ${Date.now() - t0} ms, the timeout is 800`);
  });

  test('rank 0 whose peers never come fails within the timeout, naming the missing ranks', async () => {
    const t0 = Date.now();
    const err = await ProcessGroup.init({ masterAddr: 'localhost', masterPort: await freePort(), worldSize: 3, rank: 0, timeoutMs: 60_000, initTimeoutMs: 800 }).then(
      () => assert.fail('init should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DistributedError, String(err));
    assert.match(err.message, /^init failed on rank 0 of 3 \(rendezvous 127\.0\.0\.1:\d+ served here\): ranks 1, 2 did not join the rendezvous within 800 ms/);
    assert.deepEqual(err.details, { peer: undefined, timedOut: true });
    assert.ok(Date.now() - t0 < 3000, `init failed after ${Date.now() - t0} ms, the timeout is 800`);
  });

  test('a group of one: collectives are identities; bad arguments are UsageErrors and leave the group usable', async () => {
    const pg = await ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: await freePort(), worldSize: 1, rank: 0, timeoutMs: 2000 });
    try {
      assert.equal(pg.rank, 0);
      assert.equal(pg.size, 1);
      const t = tensor(new Float32Array([1.5, -2]), [2]);
      await pg.allReduce([t], 'avg');
      assert.deepEqual(t.toArray(), [1.5, -2]);
      const ints = tensor(new Int32Array([3]), [1]);
      await assert.rejects(pg.allReduce([ints], 'avg'), (e: unknown) => e instanceof UsageError && /'avg' needs floating tensors, tensor 0 is int32/.test(e.message));
      const view = tensor(new Float32Array([1, 2, 3, 4]), [2, 2]).transpose(0, 1);
      await assert.rejects(pg.broadcast(view, 0), (e: unknown) => e instanceof UsageError && /contiguous/.test(e.message));
      await assert.rejects(pg.broadcast(t, 1), (e: unknown) => e instanceof UsageError && /root must be an integer in \[0, 0\]/.test(e.message));
      const [g] = await pg.allGather(t);
      assert.deepEqual(g!.toArray(), [1.5, -2]);
      await pg.barrier();
    } finally {
      pg.dispose();
    }
    await assert.rejects(pg.barrier(), (e: unknown) => e instanceof UsageError && /after dispose/.test(e.message));
    pg.dispose(); // idempotent
  });

  test('bad options are UsageErrors naming the field; NCCL without CUDA says so', async () => {
    const base = { masterAddr: '127.0.0.1', masterPort: 29500, worldSize: 2, rank: 0 };
    await assert.rejects(ProcessGroup.init({ ...base, rank: 2 }), (e: unknown) => e instanceof UsageError && /^rank must be an integer in \[0, 1\], got 2/.test(e.message));
    await assert.rejects(ProcessGroup.init({ ...base, masterPort: 70000 }), (e: unknown) => e instanceof UsageError && /^masterPort/.test(e.message));
    await assert.rejects(ProcessGroup.init({ ...base, masterAddr: ' ' }), (e: unknown) => e instanceof UsageError && /^masterAddr/.test(e.message));
    if (!distributedBackends().includes('nccl')) {
      await assert.rejects(ProcessGroup.init({ ...base, backend: 'nccl' }), (e: unknown) => e instanceof DistributedError && /backend 'nccl' is not available/.test(e.message));
    }
  });
});

describe('envRendezvous (torchrun variables)', () => {
  const env = { MASTER_ADDR: 'node0', MASTER_PORT: '29500', WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1' };

  test('reads the variables torchrun sets', () => {
    assert.deepEqual(envRendezvous(env), { masterAddr: 'node0', masterPort: 29500, worldSize: 4, rank: 3, localRank: 1 });
    const { LOCAL_RANK: _, ...noLocal } = env;
    assert.equal(envRendezvous(noLocal).localRank, 3, 'LOCAL_RANK defaults to RANK');
    assert.equal(envRendezvous({ ...env, GLOO_SOCKET_IFNAME: 'eth1' }).interface, 'eth1');
  });

  test('missing or invalid values are UsageErrors naming the variable and the value', () => {
    const bad = (over: Record<string, string | undefined>, re: RegExp) =>
      assert.throws(() => envRendezvous({ ...env, ...over }), (e: unknown) => e instanceof UsageError && re.test(e.message));
    bad({ MASTER_ADDR: undefined }, /^MASTER_ADDR is not set/);
    bad({ MASTER_PORT: undefined }, /^MASTER_PORT is not set/);
    bad({ MASTER_PORT: 'http' }, /^MASTER_PORT must be an integer in \[1, 65535\].*got 'http'/);
    bad({ MASTER_PORT: '0' }, /^MASTER_PORT must be an integer/);
    bad({ WORLD_SIZE: '0' }, /^WORLD_SIZE must be an integer in \[1, /);
    bad({ WORLD_SIZE: '2.5' }, /^WORLD_SIZE must be an integer.*got '2\.5'/);
    bad({ RANK: '4' }, /^RANK must be an integer in \[0, 3\] \(this process's rank among WORLD_SIZE=4\), got '4'/);
    bad({ RANK: '-1' }, /^RANK must be an integer/);
    bad({ LOCAL_RANK: 'x' }, /^LOCAL_RANK must be an integer/);
  });
});
