// Trainer-state files: a real state round-trips; a state whose JSON part has
// a field of the wrong type, or a file of another kind, fails with a
// SerializationError naming the file and the field (not a TypeError later).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerializationError, loadTensors, saveTensors, setNumThreads, tidy } from '../tensor/index.js';
import { saveCheckpoint } from '../graph/index.js';
import { Adam } from './optim/index.js';
import { LrSchedule } from './schedules.js';
import { saveTrainerState, loadTrainerState } from './state-file.js';
import { ArraySource, blobs, mlp } from './testing.js';
import { Trainer, disposeTrainerState } from './trainer.js';

setNumThreads(1);
const dir = mkdtempSync(join(tmpdir(), 'slimnet-state-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A state after two epochs with validation, a schedule and early stopping. */
async function realState(): Promise<string> {
  const d = blobs(48, { classes: 3, seed: 1 });
  const src = new ArraySource(d.x, d.y, [2], 16, 1);
  using model = mlp(2, 8, 3, { seed: 1 });
  using opt = new Adam(model.parameters(), { lr: 0.01 });
  const trainer = new Trainer({ model, optimizer: opt, schedule: new LrSchedule(opt, { type: 'cosine', length: 4 }) });
  await trainer.fit(src, { epochs: 2, validation: src, earlyStopping: { monitor: 'val.loss', patience: 3 } });
  const s = trainer.state();
  const path = join(dir, 'state.safetensors');
  saveTrainerState(path, s);
  disposeTrainerState(s);
  return path;
}

test('a saved state loads back with the same meta', async () => {
  const path = await realState();
  const s = loadTrainerState(path);
  assert.equal(s.meta.format, 'slimnet.trainer-state');
  assert.equal(s.meta.epoch, 2);
  assert.equal(s.meta.history.length, 2);
  assert.ok(s.tensors.rng);
  disposeTrainerState(s);
});

test('a field of the wrong type fails naming the file and the field', async () => {
  const path = await realState();
  const out = join(dir, 'edited.safetensors');
  const cases: [(m: Record<string, any>) => void, RegExp][] = [
    [(m) => (m.epoch = '2'), /field 'epoch' must be a count, got the string "2"/],
    [(m) => (m.globalStep = -1), /field 'globalStep' must be a count, got the number -1/],
    [(m) => (m.optimizer.groups = {}), /field 'optimizer\.groups' must be a list, got an object/],
    [(m) => (m.optimizer.groups[0].params = [0, 'x']), /field 'optimizer\.groups\[0\]\.params' must be a list of parameter indices/],
    [(m) => (m.schedule.baseLrs = null), /field 'schedule\.baseLrs' must be a list of numbers, got null/],
    [(m) => (m.history[1].train = 5), /field 'history\[1\]\.train' must be an object, got the number 5/],
    [(m) => (m.history[0].val.confusion = [[1, 'a']]), /field 'history\[0\]\.val\.confusion' must be a list of lists of numbers/],
    [(m) => (m.earlyStopping.wait = true), /field 'earlyStopping\.wait' must be a count, got the boolean true/],
    [(m) => (m.format = 'other'), /field 'format' must be 'slimnet\.trainer-state', got the string "other"/],
  ];
  for (const [edit, pattern] of cases) {
    tidy(() => {
      const { tensors, metadata } = loadTensors(path);
      const meta = JSON.parse(metadata['slimnet.trainer_state']!) as Record<string, any>;
      edit(meta);
      saveTensors(out, tensors, { 'slimnet.trainer_state': JSON.stringify(meta) });
    });
    assert.throws(
      () => loadTrainerState(out),
      (e: unknown) => e instanceof SerializationError && e.message.startsWith(`${out}: trainer state `) && pattern.test(e.message),
      String(pattern),
    );
  }
  tidy(() => {
    const { tensors, metadata } = loadTensors(path);
    saveTensors(out, tensors, { 'slimnet.trainer_state': metadata['slimnet.trainer_state']!.slice(0, -3) });
  });
  assert.throws(() => loadTrainerState(out), /trainer state metadata 'slimnet\.trainer_state' is not valid JSON/);
  tidy(() => {
    const { tensors, metadata } = loadTensors(path);
    delete tensors.rng;
    saveTensors(out, tensors, metadata);
  });
  assert.throws(() => loadTrainerState(out), /edited\.safetensors: trainer state has no 'rng' tensor/);
});

test('a model checkpoint or another kind of file given as a state says what it is and what to give', () => {
  using model = mlp(2, 4, 2, { seed: 0 });
  const ckpt = join(dir, 'best.safetensors');
  saveCheckpoint(ckpt, model, {});
  assert.throws(
    () => loadTrainerState(ckpt),
    (e: unknown) => e instanceof SerializationError && /best\.safetensors: this is a model checkpoint, not a trainer state: .*state\.safetensors/.test(e.message),
  );
  const gz = join(dir, 'labels.gz');
  writeFileSync(gz, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
  assert.throws(() => loadTrainerState(gz), /labels\.gz: this is a gzip-compressed file, not a trainer state/);
});
