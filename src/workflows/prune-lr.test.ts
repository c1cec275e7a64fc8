// `prune --lr-by-kind` and `--finetune-patience` through the workflow: the
// spec parses the rates as `train` does and checks the patience, and a run
// whose every family is frozen retrains and fine-tunes to the very weights of
// a run that does not retrain at all, while early stopping ends the
// fine-tuning after `patience` epochs without a better balanced accuracy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../data/testing.js';
import { Model, loadCheckpoint, saveCheckpoint } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { UsageError } from '../util/errors.js';
import { pruneOptions, resolvePruneSpec } from './prune-spec.js';
import { pruneRun, type PruneSpec } from './prune.js';

test('resolvePruneSpec: --lr-by-kind is parsed as train parses it and reaches the loop; --finetune-patience is checked', () => {
  const s = resolvePruneSpec({ checkpoint: 'a', lrByKind: 'linear=0.005, conv=0.0005', finetunePatience: 2, finetuneEpochs: 5 });
  assert.deepEqual(s.lrByKind, { linear: 0.005, conv: 0.0005 });
  const o = pruneOptions(s, 0.9, 0);
  assert.deepEqual(o.lrByKind, { linear: 0.005, conv: 0.0005 });
  assert.equal(o.fineTunePatience, 2);
  // Absent: the loop's options are what they were (no keys at all).
  const plain = pruneOptions(resolvePruneSpec({ checkpoint: 'a' }), 0.9, 0);
  assert.ok(!('lrByKind' in plain) && !('fineTunePatience' in plain));
  assert.deepEqual(resolvePruneSpec({ checkpoint: 'a', lrByKind: { fc: 0 } }).lrByKind, { fc: 0 });

  const cases: [Partial<PruneSpec>, RegExp][] = [
    [{ lrByKind: 'dense=0.1' }, /^--lr-by-kind must be comma-separated family=lr pairs .*: unknown family 'dense', got "dense=0.1"$/],
    [{ lrByKind: 'conv=-1' }, /^--lr-by-kind .*the lr of 'conv' must be a number >= 0/],
    [{ lrByKind: 'fc=0.1,linear=0.2' }, /^--lr-by-kind .*names linear twice \(as fc and linear\)/],
    [{ finetunePatience: 0, finetuneEpochs: 3 }, /^--finetune-patience must be a positive whole number of epochs, got 0$/],
    [{ finetunePatience: 2 }, /^--finetune-patience stops the fine-tuning early: give its epochs too \(--finetune-epochs N\)$/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(() => resolvePruneSpec({ checkpoint: 'a', ...spec }), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(spec));
  }
});

test('pruneRun: every family at rate 0 retrains and fine-tunes to the weights of no retraining; patience 1 stops the fine-tuning after 2 epochs', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-lr-');
  // Untrained weights do: l1 ranks by magnitude, and frozen layers do not move whatever they predict.
  const model = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  const ckpt = join(dir, 'base.safetensors');
  saveCheckpoint(ckpt, model, { dataset: 'mnist-digits', validation: 0.25, fraction: 0.05, seed: 0, command: 'train', arch: 'lenet5' });
  model.dispose();
  const common: PruneSpec = { checkpoint: ckpt, criterion: 'l1', stepFraction: 0.2, maxSteps: 1, noFloor: true, latencyRuns: 1, runsDir: dir };

  const none = await pruneRun({ ...common, protocol: 'none' });
  const lines: string[] = [];
  const frozen = await pruneRun({ ...common, protocol: 'retrain', retrainIters: 3, lrByKind: 'conv=0,linear=0,norm=0,other=0', finetuneEpochs: 4, finetunePatience: 1 }, { onLog: (l) => lines.push(l) });

  const a = loadCheckpoint(none.checkpoint);
  const b = loadCheckpoint(frozen.checkpoint);
  try {
    const wa = a.model.namedParameters().map(([k, p]) => [k, Array.from(p.data<'float32'>())]);
    const wb = b.model.namedParameters().map(([k, p]) => [k, Array.from(p.data<'float32'>())]);
    assert.deepEqual(wb, wa);
  } finally {
    a.model.dispose();
    b.model.dispose();
  }
  // A constant balanced accuracy never improves on epoch 1: one more epoch, then the stop, epoch 1's weights.
  assert.equal(frozen.finetune?.epochs, 2);
  assert.equal(frozen.finetune?.kept, true);
  assert.equal(frozen.finetune?.afterAccuracy, frozen.finetune?.beforeAccuracy);
  assert.ok(lines.some((l) => /^fine-tuning up to 4 epochs \(early stopping on validation balanced accuracy, patience 1: 2 epochs run, epoch 1 kept\): validation accuracy [\d.]+ -> [\d.]+ %$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /of Adam lr 0\.0001 \(conv 0, linear 0, norm 0, other 0\)/.test(l)), 'the settings line names the rates');
  assert.deepEqual(JSON.parse(readFileSync(join(frozen.run, 'config.json'), 'utf8')).lrByKind, { conv: 0, linear: 0, norm: 0, other: 0 });
});
