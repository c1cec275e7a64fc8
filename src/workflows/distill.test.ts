// distillRun in-process on a small share of the bundled MNIST digits: a
// teacher trained by trainRun, a half-width student distilled from it in a
// versioned run (config.json records every loss parameter), an interrupted
// run resumed to the same weights as an uninterrupted one, and bad input
// refused before any run directory exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTensors } from '../tensor/index.js';
import { RUN_FILES } from '../runs/index.js';
import { tempDir } from '../data/testing.js';
import { SlimnetError } from '../util/errors.js';
import { trainRun } from './train.js';
import { distillRun, type DistillSpec } from './distill.js';

const DATA = { dataset: 'mnist-digits', fraction: 0.05, batchSize: 16 } as const;

async function teacherOf(root: string): Promise<string> {
  const r = await trainRun({ ...DATA, width: 0.5, epochs: 1, runsDir: root });
  return r.checkpoints.last;
}

function weights(path: string): string {
  const { tensors } = loadTensors(path);
  const parts = Object.keys(tensors)
    .sort()
    .map((k) => {
      const d = tensors[k]!.data<'float32'>();
      tensors[k]!.dispose();
      return `${k}:${Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64')}`;
    });
  return parts.join('\n');
}

test('distillRun: a half-width student distilled with kd and at; the report and config.json record the set-up', async (t) => {
  const root = tempDir(t, 'slimnet-wf-distill-');
  const teacher = await teacherOf(root);
  const lines: string[] = [];
  const r = await distillRun({ ...DATA, teacher, width: 0.25, loss: 'kd,at', lossParams: { 'kd.temperature': 2 }, epochs: 1, runsDir: root }, { onLog: (l) => lines.push(l) });
  assert.equal(r.status, 'complete');
  assert.equal(r.run, join(root, 'distill', 'mnist-digits-lenet5', 'version_0'));
  assert.equal(r.config.arch, 'lenet5', "--student teacher: the teacher's architecture");
  assert.equal(r.config.width, 0.25);
  const config = JSON.parse(readFileSync(join(r.run, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(config, JSON.parse(JSON.stringify(r.config)));
  assert.deepEqual(r.config.losses, [
    { name: 'kd', params: { weight: 0.9, temperature: 2 } },
    { name: 'at', params: { weight: 1000, p: 2 } },
  ]);
  assert.equal(r.config.ceWeight, 0.1, "kd's anchor value");
  assert.equal(r.config.pairs?.mode, 'name', 'the same architecture at another width keeps the node names');
  assert.equal(r.config.cacheTeacherLogits, false, 'at reads features: the teacher runs live');
  assert.ok(r.agreement !== null && r.agreement >= 0 && r.agreement <= 1);
  assert.ok(r.teacher.test && r.teacher.test.accuracy > 0.2, 'the teacher was evaluated on the test split');
  assert.ok(r.test && r.test.accuracy > 0.1);
  assert.ok(r.trainingSeconds > 0);
  assert.ok(lines.some((l) => /teacher-student agreement/.test(l)));
  assert.ok(lines.some((l) => /feature pairs \(name\)/.test(l)));
  // The student checkpoint is the student alone (no adapters, no teacher).
  const { tensors } = loadTensors(r.checkpoints.last);
  assert.ok(Object.keys(tensors).every((k) => !k.startsWith('adapter') && !k.startsWith('auxiliary')));
  for (const x of Object.values(tensors)) x.dispose();
});

test('distillRun: logit-only kd caches the teacher logits; an aborted run resumes to the same weights as one run straight through', async (t) => {
  const root = tempDir(t, 'slimnet-wf-distill-resume-');
  const teacher = await teacherOf(root);
  const spec: DistillSpec = { ...DATA, teacher, loss: 'kd', epochs: 2, runsDir: root };
  const straight = await distillRun(spec);
  assert.equal(straight.config.cacheTeacherLogits, true);
  assert.ok(straight.cacheSeconds !== null);

  const ac = new AbortController();
  const first = await distillRun(spec, {
    signal: ac.signal,
    // Abort in the middle of the first epoch.
    onProgress: (e) => {
      if (e.id === 'train' && e.done >= 3 * 16) ac.abort();
    },
  });
  assert.equal(first.status, 'interrupted');
  const resumed = await distillRun({ ...spec, resume: first.version });
  assert.equal(resumed.status, 'complete');
  assert.equal(weights(resumed.checkpoints.last), weights(straight.checkpoints.last));
});

test('distillRun: bad input is one clear error before any run directory exists', async (t) => {
  const root = tempDir(t, 'slimnet-wf-distill-bad-');
  const teacher = await teacherOf(root);
  const garbage = join(root, 'garbage.onnx');
  writeFileSync(garbage, Buffer.from('not an onnx file at all'));
  const cases: [Partial<DistillSpec>, RegExp][] = [
    [{ teacher: join(root, 'missing.safetensors') }, /teacher file .*missing\.safetensors does not exist/],
    [{ teacher: garbage }, /teacher .*garbage\.onnx cannot be imported/],
    [{ teacher, loss: 'kd,nope' }, /unknown distillation loss 'nope'/],
    [{ teacher, loss: 'at', pairs: 'relu1:pool2' }, /feature pair relu1:pool2: spatial sizes differ/],
    [{ teacher, loss: 'kd', lossParams: { 'at.weight': 3 } }, /'at' is not among the losses/],
    [{ teacher, loss: 'kd', lossParams: { 'kd.temperature': 0 } }, /kd\.temperature must be > 0/],
    [{ teacher, dataset: 'fashion-mnist', fraction: 0.01, student: 'lenet5', loss: 'kd', cacheTeacherLogits: true, augment: 'standard' }, /--cache-teacher-logits needs/],
    [{ teacher, student: 'nonexistent-arch' }, /neither a zoo architecture/],
  ];
  for (const [spec, re] of cases) {
    await assert.rejects(
      distillRun({ ...DATA, epochs: 1, runsDir: root, ...spec } as DistillSpec),
      (e: unknown) => e instanceof SlimnetError && re.test((e as Error).message),
      `${JSON.stringify(spec)} → ${re}`,
    );
  }
  assert.ok(!existsSync(join(root, 'distill')) || readdirSync(join(root, 'distill')).every((d) => readdirSync(join(root, 'distill', d)).length === 0), 'no run directory was created');
});
