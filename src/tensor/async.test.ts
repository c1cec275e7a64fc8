// Long work off the main thread: backwardAsync and callOpAsync run on the
// libuv pool, runInWorker runs a whole training loop in a worker thread, and
// the main event loop keeps turning meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, OpError, callOpAsync, manualSeed, ones, randn, runInWorker, tidy, zeros } from './index.js';
import type { TrainInput, TrainProgress, TrainResult } from './testing/train-task.js';

/** Counts event-loop turns (setImmediate) until stop() is called. */
function loopCounter(): { stop: () => number } {
  let ticks = 0;
  let running = true;
  const spin = (): void => {
    if (!running) return;
    ticks++;
    setImmediate(spin);
  };
  setImmediate(spin);
  return {
    stop: () => {
      running = false;
      return ticks;
    },
  };
}

test('backwardAsync computes the same gradients while the event loop runs', async () => {
  manualSeed(11);
  const n = 256;
  const a = randn([n, n]).requiresGrad_();
  const bs = Array.from({ length: 8 }, () => randn([n, n]));
  // L = sum_k sum(A @ B_k), so dL/dA[i][j] = sum_k sum_c B_k[j][c]: every row of the
  // gradient is the vector of row sums of sum_k B_k.
  const loss = tidy(() => {
    let l: Tensor = zeros([]);
    for (const b of bs) l = l.add(a.matmul(b).sum());
    return l;
  });
  const counter = loopCounter();
  await loss.backwardAsync();
  const ticks = counter.stop();
  assert.ok(ticks > 0, 'the event loop turned while backward ran');

  tidy(() => {
    const rowSums = bs.reduce((s, b) => s.add(b.sum(1)), zeros([n]));
    const expected = rowSums.unsqueeze(0).expand(n, n);
    const g = a.grad!;
    assert.deepEqual(g.shape, [n, n]);
    assert.ok(g.allclose(expected, 1e-4, 1e-3), 'gradient matches the closed form');
  });
  for (const t of [a, loss, ...bs]) t.dispose();
});

test('backwardAsync rejects (and does not crash) on a tensor that needs no grad', async () => {
  const t = ones([2]).sum();
  await assert.rejects(t.backwardAsync(), /does not require grad/);
  t.dispose();
});

test('callOpAsync runs aten::mm on the thread pool with the right result', async () => {
  manualSeed(12);
  const n = 512;
  const a = randn([n, n]);
  const b = randn([n, n]);
  const counter = loopCounter();
  const [product, allOnes] = await Promise.all([callOpAsync('aten::mm', a, b), callOpAsync('aten::mm', ones([n, n]), ones([n, n]))]);
  const ticks = counter.stop();
  assert.ok(ticks > 0, 'the event loop turned while mm ran');
  assert.ok(product instanceof Tensor && allOnes instanceof Tensor);
  tidy(() => {
    // 1 x 1 summed n times is exactly n in float32.
    assert.equal(allOnes.min().item(), n);
    assert.equal(allOnes.max().item(), n);
    // The same kernel run synchronously gives the same numbers.
    assert.ok(product.allclose(a.matmul(b), 1e-5, 1e-4));
    assert.deepEqual(product.shape, [n, n]);
  });
  for (const t of [a, b, product, allOnes]) t.dispose();
});

test('callOpAsync keeps its arguments alive even if they are disposed while it runs', async () => {
  const a = ones([256, 256]);
  const b = ones([256, 256]).mul_(2);
  const pending = callOpAsync('aten::mm', a, b);
  a.dispose();
  b.dispose();
  const r = (await pending) as Tensor;
  assert.equal(r.sum().item(), 256 * 256 * 512);
  r.dispose();
});

test('callOpAsync: in-place ops resolve to the same Tensor; errors reject with OpError', async () => {
  const a = ones([3]);
  const b = ones([3]).mul_(4);
  const r = await callOpAsync('aten::add_.Tensor', a, b, 0.5);
  assert.equal(r, a);
  assert.deepEqual(a.toArray(), [3, 3, 3]);
  await assert.rejects(callOpAsync('aten::mm', zeros([2, 3]), zeros([4, 5])), (e: unknown) => {
    assert.ok(e instanceof OpError);
    assert.equal(e.op, 'aten::mm');
    assert.match(e.message, /2x3 and 4x5/);
    return true;
  });
  for (const t of [a, b]) t.dispose();
});

test('runInWorker trains a tiny conv net in a worker while the main thread keeps working', async () => {
  let ticks = 0;
  let mainThreadSums = 0;
  // The main thread keeps using the addon too: both threads hold handles at once.
  const timer = setInterval(() => {
    ticks++;
    mainThreadSums += tidy(() => F.relu(ones([8])).sum().item());
  }, 1);
  const progress: TrainProgress[] = [];
  try {
    const result = await runInWorker<TrainInput, TrainResult, TrainProgress>({
      module: new URL('./testing/train-task.ts', import.meta.url),
      exportName: 'trainTinyConvNet',
      input: { steps: 30, lr: 0.5, seed: 3 },
      onProgress: (p) => progress.push(p),
    });
    assert.equal(result.isMainThread, false);
    assert.ok(result.threadId > 0);
    assert.deepEqual(
      progress.map((p) => p.step),
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.equal(progress[0]!.loss, result.firstLoss);
    assert.equal(progress[29]!.loss, result.finalLoss);
    assert.ok(progress.every((p) => Number.isFinite(p.loss)));
    assert.ok(result.finalLoss < 0.95 * result.firstLoss, `loss went from ${result.firstLoss} to ${result.finalLoss}`);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, 'main-thread timers fired while the worker trained');
  assert.equal(mainThreadSums, 8 * ticks);
});

test('runInWorker rejects with the error the task threw', async () => {
  await assert.rejects(
    runInWorker({ module: new URL('./testing/train-task.ts', import.meta.url), exportName: 'failingTask', input: null }),
    /task failed on purpose/,
  );
  await assert.rejects(
    runInWorker({ module: new URL('./testing/train-task.ts', import.meta.url), exportName: 'noSuchExport', input: null }),
    /no exported function 'noSuchExport'/,
  );
});
