// Native memory does not leak: a long loop of op calls under tidy() keeps RSS
// flat, and tensors that are never disposed are released by the GC
// finalizer backstop once they become unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { liveNativeTensors, randn, tidy, trackedCount, zeros } from './index.js';

const MiB = 2 ** 20;

test('100,000 op calls under tidy leave RSS flat, without yielding to the event loop', () => {
  const x = randn([16, 16]);
  const y = randn([16, 16]);
  let calls = 0;
  // One tidy per 100 iterations and no turn of the event loop: handle
  // finalizers run during garbage collection, so a purely synchronous
  // training loop stays flat too.
  const run = (opCalls: number): void => {
    const end = calls + opCalls;
    while (calls < end) {
      tidy(() => {
        for (let i = 0; i < 100; i++) x.add(y).mul(2);
      });
      calls += 200;
    }
  };
  run(5_000);
  const before = process.memoryUsage().rss;
  run(100_000);
  const growth = process.memoryUsage().rss - before;
  assert.equal(calls, 105_000);
  assert.equal(trackedCount(), 0);
  assert.ok(growth < 32 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB over 100,000 op calls`);
  x.dispose();
  y.dispose();
});

/** Runs `body` (an async ES module snippet with T = the tensor API and gc) in a child with --expose-gc; returns its JSON line. */
function inChild(body: string): Record<string, number> {
  const index = new URL('./index.ts', import.meta.url).href;
  const script = `
    const T = await import(${JSON.stringify(index)});
    const { setImmediate: nextTurn } = await import('node:timers/promises');
    const gc = globalThis.gc;
    const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
    ${body}
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `child failed (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, number>;
}

// The two tests below count native handles rather than RSS: glibc keeps
// freed 4 MiB blocks in its heap once its mmap threshold has grown, so RSS
// after a free says more about the allocator than about slimnet.
test('unreachable, never-disposed tensors are freed by the finalizer backstop', () => {
  // 200 tensors of 4 MiB (800 MiB in all), none disposed, each dropped at once.
  const m = inChild(`
    const start = T.liveNativeTensors();
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      T.zeros([1 << 20]);
      if (i % 10 === 9) { gc(); await nextTurn(); peak = Math.max(peak, T.liveNativeTensors().handles - start.handles); }
    }
    gc(); await nextTurn(); gc(); await nextTurn();
    const end = T.liveNativeTensors();
    console.log(JSON.stringify({ peak, endHandles: end.handles - start.handles, endBytes: end.bytes - start.bytes }));
  `);
  assert.ok(m.peak! <= 20, `${m.peak} handles still alive after a gc (at most the last 10 expected)`);
  assert.equal(m.endHandles, 0, `${m.endHandles} handles were never finalized`);
  assert.equal(m.endBytes, 0, `${m.endBytes} bytes of storage were never released`);
});

test('the finalizer backstop also works inside one long synchronous loop', () => {
  // The same garbage, with gc() but no turn of the event loop in between:
  // the addon's finalizers run during garbage collection (Node-API basic
  // finalizers), so handles are released without yielding.
  const m = inChild(`
    const start = T.liveNativeTensors().handles;
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      T.zeros([1 << 20]);
      if (i % 10 === 9) { gc(); peak = Math.max(peak, T.liveNativeTensors().handles - start); }
    }
    await nextTurn(); gc(); await nextTurn();
    console.log(JSON.stringify({ peak, end: T.liveNativeTensors().handles - start }));
  `);
  assert.ok(m.peak! <= 20, `${m.peak} handles alive within a synchronous loop after gc() (finalizers deferred to the event loop?)`);
  assert.equal(m.end, 0, `${m.end} handles were never finalized`);
});

test('liveNativeTensors counts a handle from creation to dispose, once', () => {
  const before = liveNativeTensors();
  const t = zeros([256]);
  const during = liveNativeTensors();
  assert.equal(during.handles - before.handles, 1);
  assert.equal(during.bytes - before.bytes, 1024);
  t.dispose();
  t.dispose();
  assert.deepEqual(liveNativeTensors(), before);
});
