// `slimnet train --nproc 2`: two local workers finish a tiny training, rank 0
// writes a run directory with the same files as a single-process run (and,
// the data order and steps being the same, the same test accuracy); a worker
// killed mid-run makes the command fail with an error naming its rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distributedBackends } from '../../tensor/index.js';

const BIN = fileURLToPath(new URL('../../../bin/slimnet.js', import.meta.url));
const gloo = distributedBackends().includes('gloo');

function slimnet(args: string[], onStderr?: (text: string, kill: () => void) => void): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SLIMNET_FROM_SOURCE: '1', SLIMNET_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      onStderr?.(err, () => child.kill('SIGKILL'));
    });
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const TINY = ['train', '--dataset', 'mnist-digits', '--fraction', '0.02', '--epochs', '1', '--json'];

test('--nproc 2 finishes a tiny run; its run directory has the files of a single-process run, and the same test accuracy', { skip: !gloo && 'no Gloo in this addon' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-nproc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [one, two] = await Promise.all([slimnet([...TINY, '--runs-dir', join(dir, 'one')]), slimnet([...TINY, '--runs-dir', join(dir, 'two'), '--nproc', '2'])]);
  assert.equal(one.code, 0, one.err);
  assert.equal(two.code, 0, two.err);
  assert.match(two.err, /workers: rank 0 exited with code 0, rank 1 exited with code 0/);
  const files = (root: string) => readdirSync(join(root, 'train', 'mnist-digits-lenet5', 'version_0')).sort();
  assert.deepEqual(files(join(dir, 'two')), files(join(dir, 'one')));
  // Only rank 0 wrote: one version directory.
  assert.deepEqual(readdirSync(join(dir, 'two', 'train', 'mnist-digits-lenet5')), ['version_0']);
  const a = JSON.parse(one.out) as { test: { accuracy: number } };
  const b = JSON.parse(two.out) as { test: { accuracy: number } };
  assert.equal(b.test.accuracy, a.test.accuracy);
  const status = JSON.parse(readFileSync(join(dir, 'two', 'train', 'mnist-digits-lenet5', 'version_0', 'status.json'), 'utf8')) as { status: string };
  assert.equal(status.status, 'complete');
});

test('a worker killed mid-run makes the command fail, naming the rank, and the other worker stop; --version resumes the group to the end', { skip: !gloo && 'no Gloo in this addon' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-nproc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let killed = false;
  const t0 = Date.now();
  const r = await slimnet(['train', '--dataset', 'mnist-digits', '--fraction', '0.1', '--epochs', '5', '--batch-size', '16', '--runs-dir', dir, '--nproc', '2'], (err) => {
    const pids = /pids (\d+), (\d+)/.exec(err);
    // Once rank 0 trains its second epoch (the first one's checkpoint is written), kill rank 1.
    if (!killed && pids && /epoch 2\/5/.test(err)) {
      killed = true;
      process.kill(Number(pids[2]), 'SIGKILL');
    }
  });
  assert.ok(killed, r.err);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /rank 1 of 2 was killed by SIGKILL/);
  assert.match(r.err, /rank 0 exited with code 1/);
  assert.ok(Date.now() - t0 < 60_000);
  const status = JSON.parse(readFileSync(join(dir, 'train', 'mnist-digits-lenet5', 'version_0', 'status.json'), 'utf8')) as { status: string; message?: string; error?: string };
  assert.equal(status.status, 'failed');
  // The whole group resumes from the last checkpoint and trains to the end.
  const resumed = await slimnet(['train', '--dataset', 'mnist-digits', '--fraction', '0.1', '--epochs', '5', '--batch-size', '16', '--runs-dir', dir, '--nproc', '2', '--version', '0']);
  assert.equal(resumed.code, 0, resumed.err);
  const after = JSON.parse(readFileSync(join(dir, 'train', 'mnist-digits-lenet5', 'version_0', 'status.json'), 'utf8')) as { status: string; epochsDone: number };
  assert.deepEqual([after.status, after.epochsDone], ['complete', 5]);
  const rows = readFileSync(join(dir, 'train', 'mnist-digits-lenet5', 'version_0', 'metrics.csv'), 'utf8').trim().split('\n').slice(1);
  assert.deepEqual(rows.map((r) => Number(r.split(',')[0])), [1, 2, 3, 4, 5], 'each epoch once');
});
