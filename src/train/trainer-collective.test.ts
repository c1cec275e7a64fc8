// The trainer's seam for training across processes (TrainerCollective): it
// is awaited after backward with the gradients in place and before the
// update, its agreement to stop ends the epoch at that step on every
// participant, and validation goes through its evaluate().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads, type Tensor } from '../tensor/index.js';
import type { Model } from '../graph/index.js';
import { SGD } from './optim/index.js';
import { ArraySource, blobs, mlp } from './testing.js';
import { Trainer, type TrainerCollective } from './trainer.js';
import type { Metrics } from './metrics.js';

setNumThreads(1);

function weights(m: Model): number[] {
  return m.parameters().flatMap((p) => [...(p.data() as Float32Array)]);
}

test('afterBackward sees the gradients before the update and may replace them; its stop agreement ends the epoch at that step', async () => {
  const d = blobs(40, { classes: 3, seed: 3 });
  const src = new ArraySource(d.x, d.y, [2], 8, 1);
  const model = mlp(2, 6, 3, { seed: 4 });
  const before = weights(model);
  const calls: { batchSize: number; stop: boolean; gradNonZero: boolean }[] = [];
  const collective: TrainerCollective = {
    async afterBackward(params: readonly Tensor[], batchSize: number, stop: boolean) {
      await new Promise((r) => setImmediate(r)); // really asynchronous
      const gradNonZero = params.some((p) => (p.grad?.abs().sum().item() ?? 0) > 0);
      calls.push({ batchSize, stop, gradNonZero });
      // Zeroed gradients: plain SGD leaves the weights as they were.
      for (const p of params) p.grad?.zero_();
      return calls.length === 2; // "another process" asks to stop at the second step
    },
    evaluate: (_m, run) => run(),
  };
  const trainer = new Trainer({ model, optimizer: new SGD(model.parameters(), { lr: 0.5 }), collective });
  const records = await trainer.fit(src, { epochs: 1 });
  assert.deepEqual(calls, [
    { batchSize: 8, stop: false, gradNonZero: true },
    { batchSize: 8, stop: false, gradNonZero: true },
  ]);
  assert.equal(trainer.globalStep, 2);
  assert.equal(records[0]!.completed, false);
  assert.equal(trainer.stoppedBecause, 'stopped by another process');
  assert.deepEqual(weights(model), before);
  model.dispose();
});

test('a local stop request is sent with the next step and stops there; validation goes through evaluate()', async () => {
  const d = blobs(40, { classes: 3, seed: 3 });
  const model = mlp(2, 6, 3, { seed: 4 });
  const sent: boolean[] = [];
  let evaluated = 0;
  const collective: TrainerCollective = {
    async afterBackward(_p, _n, stop) {
      sent.push(stop);
      return stop;
    },
    async evaluate(_m, run): Promise<Metrics> {
      evaluated++;
      const m = await run();
      return { ...m, loss: 42 };
    },
  };
  const trainer = new Trainer({ model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), collective, callbacks: [{ onStepEnd: (i, t) => void (i.globalStep === 3 ? t.stop('mine') : undefined) }] });
  const val = new ArraySource(d.x, d.y, [2], 16);
  const first = await trainer.fit(new ArraySource(d.x, d.y, [2], 20, 1), { epochs: 1, validation: val });
  assert.equal(first[0]!.val!.loss, 42);
  assert.equal(evaluated, 1);
  const second = await trainer.fit(new ArraySource(d.x, d.y, [2], 8, 1), { epochs: 2 });
  // Step 3 (the second of this epoch) asked to stop after its exchange: the request goes with step 4, which is the last.
  assert.deepEqual(sent, [false, false, false, true]);
  assert.equal(trainer.globalStep, 4);
  assert.equal(second[0]!.completed, false);
  assert.equal(trainer.stoppedBecause, 'mine');
  model.dispose();
});
