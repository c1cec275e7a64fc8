// One rank of a process-group test (src/tensor/distributed.test.ts), started
// as its own process with torchrun-style variables. argv[2] names the
// scenario; the rank prints one JSON line (its results or its error) and
// exits 0, so the test reads what happened on every rank.
import { DistributedError, ProcessGroup, envRendezvous, tensor } from '../index.js';

const scenario = process.argv[2];
const timeoutMs = Number(process.env.DIST_TEST_TIMEOUT_MS ?? 3000);
// Ranks start seconds apart on a busy machine: only the collectives' timeout is short.
const initTimeoutMs = 30_000;

function report(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function collectives(pg: ProcessGroup): Promise<Record<string, unknown>> {
  const r = pg.rank;
  const a = tensor(new Float32Array([r + 1, 2 * (r + 1), -r]), [3]);
  const b = tensor(new BigInt64Array([BigInt(r), 7n]), [2]);
  await pg.allReduce([a, b], 'sum');
  const c = tensor(new Float64Array([r * r, 1, r === 0 ? 6 : 0]), [3]);
  await pg.allReduce([c], 'avg');
  const root = pg.size - 1;
  const d = tensor(new Float32Array([10 * r, 10 * r + 1, 10 * r + 2, 10 * r + 3]), [2, 2]);
  await pg.broadcast(d, root);
  const gathered = await pg.allGather(tensor(new Float32Array([r, -r, 100 + r]), [3]));
  // Rank 0 reaches the barrier late: the others must wait there for it.
  if (r === 0) await sleep(400);
  const t0 = Date.now();
  await pg.barrier();
  return {
    sum: a.toArray(),
    sumInt: b.toArray(),
    avg: c.toArray(),
    broadcast: d.toArray(),
    broadcastShape: d.shape,
    gathered: gathered.map((g) => g.toArray()),
    barrierMs: Date.now() - t0,
  };
}

async function main(): Promise<void> {
  const rv = envRendezvous();
  const pg = await ProcessGroup.init({ ...rv, timeoutMs, initTimeoutMs });
  if (scenario === 'collectives') {
    report({ rank: pg.rank, size: pg.size, ...(await collectives(pg)) });
    pg.dispose();
    return;
  }
  // Fault scenarios: rank 1 leaves (exit), is killed by the test (kill) or
  // stays alive without answering (hang); rank 0 reports how its collective ended.
  await pg.barrier();
  if (pg.rank === 1) {
    if (scenario === 'exit') process.exit(7);
    report({ rank: 1, ready: true });
    await sleep(60_000); // killed by the test
    return;
  }
  const t = tensor(new Float32Array([1, 2, 3]), [3]);
  const t0 = Date.now();
  try {
    await pg.allReduce([t], 'sum');
    report({ rank: 0, ok: true });
  } catch (e) {
    const err = e as Error;
    const after = Date.now();
    // A second call fails at once: the group is known to be broken.
    let again = '';
    try {
      await pg.barrier();
    } catch (e2) {
      again = `${(e2 as Error).name} after ${Date.now() - after} ms`;
    }
    report({
      rank: 0,
      error: err.name,
      isDistributedError: err instanceof DistributedError,
      message: err.message,
      details: err instanceof DistributedError ? err.details : null,
      elapsedMs: after - t0,
      again,
    });
  }
  pg.dispose();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    report({ rank: Number(process.env.RANK), fatal: (e as Error).name, message: (e as Error).message });
    process.exit(1);
  },
);
