// Data-parallel training on loopback: two processes with batch B/2 each end
// with the same weights as one process with batch B (same data order), for
// SGD with momentum and for Adam; validation metrics are over the whole split.
// The bucket size is tiny (64 bytes) so that several buckets are exercised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bucketize } from './data-parallel.js';
import { metricsFromCounts } from './metrics.js';
import { distributedBackends, tensor } from '../tensor/index.js';
import { MetricAccumulator } from './metrics.js';
import { freePort } from '../util/net.js';

const WORKER = fileURLToPath(new URL('./testing/ddp-worker.ts', import.meta.url));

interface Result {
  rank: number;
  steps: number;
  initial: Record<string, number[]>;
  weights: Record<string, number[]>;
  val: { count: number; loss: number; accuracy: number; confusion: number[][] };
}

function runWorker(args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { env: { ...process.env, SLIMNET_NUM_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as Result) : reject(new Error(`worker ${JSON.stringify(env)} exited ${code}:\n${err}`))));
  });
}

async function group(args: string[], world: number): Promise<Result[]> {
  const port = await freePort();
  return Promise.all(Array.from({ length: world }, (_, r) => runWorker(args, { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: String(world), RANK: String(r), LOCAL_RANK: String(r) })));
}

const maxDiff = (a: Record<string, number[]>, b: Record<string, number[]>): number => {
  assert.deepEqual(Object.keys(a), Object.keys(b));
  return Math.max(...Object.keys(a).map((k) => Math.max(...a[k]!.map((v, i) => Math.abs(v - b[k]![i]!)))));
};

const gloo = distributedBackends().includes('gloo');

for (const opt of ['sgd', 'adam']) {
  test(`${opt}: 2 processes × batch 4 reach the weights of 1 process × batch 8 (42 samples, 2 epochs: 12 steps, a last batch of 2)`, { skip: !gloo && 'no Gloo in this addon' }, async () => {
    const [single, ranks] = await Promise.all([runWorker([opt, '8', '2'], {}), group([opt, '8', '2'], 2)]);
    assert.equal(single.steps, 12);
    for (const r of ranks) {
      assert.equal(r.steps, 12);
      const d = maxDiff(r.weights, single.weights);
      assert.ok(d < 1e-5, `rank ${r.rank} differs from the single process by ${d}`);
      // Validation over the whole split (13 samples), not a rank's share.
      assert.equal(r.val.count, 13);
      assert.deepEqual(r.val.confusion, single.val.confusion);
      assert.ok(Math.abs(r.val.loss - single.val.loss) < 1e-5);
    }
    // Rank 1's own initial weights (another seed) were replaced by rank 0's, and training moved them.
    for (const r of ranks) assert.equal(maxDiff(r.initial, single.initial), 0);
    assert.ok(maxDiff(single.initial, single.weights) > 1e-3);
  });
}

test('bucketize: one dtype per bucket, at most the cap unless a tensor alone exceeds it, order kept', () => {
  const f = (n: number) => tensor(new Float32Array(n), [n]);
  const a = f(3), b = f(2), c = f(10), d = f(1);
  const i = tensor(new BigInt64Array(2), [2]);
  const buckets = bucketize([a, b, i, c, d], 20);
  // float32 a+b fill 20 bytes; c (40 bytes) alone; d starts a new bucket; the int64 tensor has its own.
  assert.deepEqual(buckets.map((x) => x.map((t) => t.numel)), [[3, 2], [10], [1], [2]]);
  for (const t of [a, b, c, d, i]) t.dispose();
});

test('metricsFromCounts of summed counts is what one accumulator over all the samples gives', () => {
  const acc = new MetricAccumulator(3);
  acc.addPredictions([0, 1, 2, 2, 1], [[0, 1], [2, 1], [2, 0], [1, 2], [1, 0]]);
  acc.addLoss(0.5, 5);
  const m = acc.result();
  const back = metricsFromCounts(m.count, m.loss * m.count, m.count, Math.round(m.top5 * m.count), m.confusion.flat(), 3);
  assert.deepEqual(back, m);
});
