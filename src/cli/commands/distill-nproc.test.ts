// `slimnet distill --nproc 2`: two local workers distil a tiny student from a
// tiny teacher with cached teacher logits. Rank 0 alone writes the run
// directory, with the files a single-process run writes (student.onnx
// included); each rank looks its half of every batch up in the cache by
// sample index, so the steps are those of one process with the whole batch
// and the test figures and the teacher-student agreement come out the same.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { distributedBackends } from '../../tensor/index.js';
import { trainRun } from '../../workflows/train.js';
import { slimnet } from '../testing/child.js';

const gloo = distributedBackends().includes('gloo');
let root = '';
let teacher = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'slimnet-distill-nproc-'));
  if (gloo) teacher = (await trainRun({ dataset: 'mnist-digits', fraction: 0.02, epochs: 1, arch: 'lenet5', runsDir: join(root, 'teacher') })).checkpoints.last;
});
after(() => rmSync(root, { recursive: true, force: true }));

interface DistillJson {
  run: string;
  test: { accuracy: number; loss: number };
  agreement: number;
  cacheSeconds: number | null;
  onnx: { path: string } | null;
}

test('--nproc 2 distils like one process: same files, test figures and agreement; only rank 0 writes', { skip: !gloo && 'no Gloo in this addon' }, async () => {
  const args = (dir: string): string[] => ['distill', '--teacher', teacher, '--student', 'teacher', '--loss', 'kd', '--fraction', '0.02', '--epochs', '1', '--batch-size', '16', '--export-onnx', '--json', '--runs-dir', join(root, dir)];
  const [one, two] = await Promise.all([slimnet(args('one')), slimnet([...args('two'), '--nproc', '2'])]);
  assert.equal(one.code, 0, one.err);
  assert.equal(two.code, 0, two.err);
  assert.match(two.err, /workers: rank 0 exited with code 0, rank 1 exited with code 0/);
  const a = JSON.parse(one.out) as DistillJson;
  const b = JSON.parse(two.out) as DistillJson;
  assert.deepEqual(readdirSync(b.run).sort(), readdirSync(a.run).sort());
  assert.ok(readdirSync(b.run).includes('student.onnx'));
  assert.deepEqual(readdirSync(dirname(b.run)), ['version_0']);
  // The cache was used (the run is the cached path), and a wrong row per sample would change the steps.
  assert.notEqual(b.cacheSeconds, null);
  assert.equal(b.test.accuracy, a.test.accuracy);
  assert.ok(Math.abs(b.test.loss - a.test.loss) < 1e-5, `test loss ${b.test.loss} vs ${a.test.loss}`);
  assert.equal(b.agreement, a.agreement);
  const log = readFileSync(join(b.run, 'run.log'), 'utf8');
  assert.match(log, /distillation data parallel over 2 processes/);
});
