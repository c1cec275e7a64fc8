// The recoveries' optimizer and the fine-tuning's early stopping, against
// hand-built references: without lrByKind, retraining is bit for bit what
// `new Adam(params, { lr })` gives; with it, each family trains at its own
// rate and layer-retrain still trains only its layers; with patience, the
// fine-tuning stops where the per-epoch balanced accuracies say and holds
// the best epoch's weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads } from '../tensor/index.js';
import { Model } from '../graph/index.js';
import { Adam, BatchStream, Trainer, evaluate } from '../train/index.js';
import { signSource as source } from '../train/testing.js';
import { tinyNet, trainedTinyNet } from './testing.js';
import { PruneError } from './dependency.js';
import { fineTuneIfNotWorse, layerParameters, recovery, validateRecovery, type RecoveryContext } from './recovery.js';
import type { PruneOptions } from './protocol.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const OPTIONS: PruneOptions = { criterion: 'l1', protocol: 'retrain', scope: 'global', norm: 'l2', amount: { maps: 1 }, retrainIters: 6 };

const weights = (m: Model): Record<string, number[]> => Object.fromEntries(m.namedParameters().map(([k, t]) => [k, Array.from(t.data<'float32'>())]));

/** Runs recovery `name` on a fresh tinyNet (seed 3) over 6 batches with `options`; returns its weights. */
async function recovered(name: string, groups: string[], options: Partial<PruneOptions>): Promise<Record<string, number[]>> {
  const model = Model.create(tinyNet(), { seed: 3 });
  const train = source(3, 16, 11);
  const ctx: RecoveryContext = {
    model,
    stream: new BatchStream(train),
    data: { train, eval: source(1, 16, 12), classes: 2 },
    step: 1,
    groups,
    options: { ...OPTIONS, ...options },
    hooks: {},
  };
  try {
    await recovery(name).recover(ctx);
    return weights(model);
  } finally {
    await ctx.stream.close();
    model.dispose();
  }
}

/** The same 6 batches with a hand-built Adam over the parameters `pick` chooses at `lr`. */
async function reference(pick: (m: Model) => ReturnType<Model['parameters']>, lr: number): Promise<Record<string, number[]>> {
  const model = Model.create(tinyNet(), { seed: 3 });
  const stream = new BatchStream(source(3, 16, 11));
  const trainer = new Trainer({ model, optimizer: new Adam(pick(model), { lr }) });
  try {
    await trainer.fit(stream.take(6), { epochs: 1 });
    return weights(model);
  } finally {
    trainer.optimizer.dispose();
    await stream.close();
    model.dispose();
  }
}

test('retraining without lrByKind is new Adam(params, { lr }) bit for bit; with it, each family at its rate, layer-retrain on its layers only', async () => {
  const initial = weights(Model.create(tinyNet(), { seed: 3 }));
  assert.deepEqual(await recovered('retrain', ['c1'], { lr: 1e-3 }), await reference((m) => m.parameters(), 1e-3));
  assert.deepEqual(await recovered('layer-retrain', ['c1', 'fc1'], { lr: 1e-3 }), await reference((m) => layerParameters(m, ['c1', 'fc1']), 1e-3));

  // conv at 1e-2, linear frozen: c1 moves as Adam at 1e-2 on c1 alone; fc1 stays; c2 and fc2 (not retrained layers) stay although their families have rates.
  const byKind = await recovered('layer-retrain', ['c1', 'fc1'], { lr: 1e-3, lrByKind: { conv: 1e-2, linear: 0 } });
  const c1Only = await reference((m) => layerParameters(m, ['c1']), 1e-2);
  for (const k of Object.keys(initial)) {
    assert.deepEqual(byKind[k], k.startsWith('c1.') ? c1Only[k] : initial[k], k);
  }
  assert.notDeepEqual(byKind['c1.weight'], initial['c1.weight']);
  // A family not named keeps lr: fc at 0 on the whole network leaves the linears, and the convolutions move as at lr.
  const fcFrozen = await recovered('retrain', ['c1'], { lr: 1e-3, lrByKind: { fc: 0 } });
  const convs = await reference((m) => layerParameters(m, ['c1', 'c2']), 1e-3);
  for (const k of Object.keys(initial)) assert.deepEqual(fcFrozen[k], k.startsWith('fc') ? initial[k] : convs[k], k);
});

test('fine-tuning with patience stops where the per-epoch balanced accuracies say and holds the best epoch (kept only if the accuracy does not fall)', async () => {
  const epochs = 8;
  const patience = 1;
  const lr = 3e-2;
  const { model, train, val } = await trainedTinyNet(1);
  const start = model.stateDict();
  try {
    // The reference: plain Adam epoch by epoch, the balanced accuracy and the weights after each.
    const ref = Model.create(tinyNet(), { seed: 3 });
    ref.loadStateDict(start);
    ref.eval();
    const before = await evaluate(ref, val, 2);
    const trainer = new Trainer({ model: ref, optimizer: new Adam(ref.parameters(), { lr }) });
    const seen: { balanced: number; accuracy: number; w: Record<string, number[]> }[] = [];
    for (let e = 0; e < epochs; e++) {
      await trainer.fit(train, { epochs: e + 1 });
      ref.eval();
      const m = await evaluate(ref, val, 2);
      seen.push({ balanced: m.balancedAccuracy, accuracy: m.accuracy, w: weights(ref) });
    }
    trainer.optimizer.dispose();
    ref.dispose();
    // EarlyStopping's rule: the first epoch sets the best, a later one must beat it; stop after `patience` without.
    let best = 0;
    let run = epochs;
    for (let e = 1; e < epochs; e++) {
      if (seen[e]!.balanced > seen[best]!.balanced) best = e;
      else if (e - best >= patience) {
        run = e + 1;
        break;
      }
    }
    assert.ok(run < epochs, `the reference must stop early to test anything (balanced accuracies ${seen.map((s) => s.balanced.toFixed(3)).join(' ')})`);

    const r = await fineTuneIfNotWorse(model, train, val, { epochs, patience, lr, classes: 2 });
    assert.equal(r.epochs, run);
    assert.equal(r.bestEpoch, best + 1);
    assert.equal(r.before.accuracy, before.accuracy);
    assert.equal(r.after.accuracy, seen[best]!.accuracy);
    assert.equal(r.kept, seen[best]!.accuracy >= before.accuracy);
    assert.deepEqual(weights(model), r.kept ? seen[best]!.w : Object.fromEntries(Object.entries(start).map(([k, t]) => [k, Array.from(t.data<'float32'>())])));
  } finally {
    for (const t of Object.values(start)) t.dispose();
    model.dispose();
  }
});

test('validateRecovery refuses a fineTunePatience that is not a positive integer and a negative lrByKind rate', () => {
  const o = OPTIONS;
  validateRecovery({ ...o, fineTunePatience: 3, lrByKind: { conv: 0, linear: 1e-3 } }, recovery('fine-tune'));
  assert.throws(() => validateRecovery({ ...o, fineTunePatience: 0 }, recovery('fine-tune')), (e: unknown) => e instanceof PruneError && /fineTunePatience must be a positive integer/.test(e.message));
  assert.throws(() => validateRecovery({ ...o, lrByKind: { conv: -1 } }, recovery('retrain')), (e: unknown) => e instanceof PruneError && /lrByKind: the learning rate of 'conv' must be a number >= 0, got -1/.test(e.message));
});
