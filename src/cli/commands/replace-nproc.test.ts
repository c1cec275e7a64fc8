// `slimnet replace --nproc 2`: two local workers take a tiny resnet20 from
// α = 1 to α = 0 on replaced convs, the branches fitted by least squares
// (each rank fits them on the same seeded images; rank 0's are broadcast). Rank 0 alone writes the run directory and
// finishes the model: the same files as a single-process run, α down the
// same schedule, and a final model of the same parameter count (the
// weights themselves differ a little: resnet20's BatchNorm normalises each
// rank's half of a batch with its own statistics, as DDP does).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { distributedBackends } from '../../tensor/index.js';
import { trainRun } from '../../workflows/train.js';
import { slimnet } from '../testing/child.js';

const gloo = distributedBackends().includes('gloo');
let root = '';
let original = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'slimnet-replace-nproc-'));
  if (gloo) original = (await trainRun({ dataset: 'mnist-digits', fraction: 0.03, batchSize: 16, arch: 'resnet20', width: 0.25, epochs: 1, optimizer: 'adam', lr: 0.01, runsDir: join(root, 'original') })).checkpoints.last;
});
after(() => rmSync(root, { recursive: true, force: true }));

interface ReplaceJson {
  run: string;
  test: { accuracy: number };
  epochs: { epoch: number; alpha: number }[];
  original: { params: number };
  final: { params: number; accuracy: number; alpha: number; checkpoint: string } | null;
}

test('--nproc 2 replaces like one process: same files, α and final parameter count; only rank 0 finishes', { skip: !gloo && 'no Gloo in this addon' }, async () => {
  const args = (dir: string): string[] => [
    'replace', '--checkpoint', original, '--param-share', '0.3', '--branch-init', 'lsq', '--schedule', 'step:0.5,0', '--collapse-pp', '100', '--batch-size', '16', '--latency-runs', '1', '--json', '--runs-dir', join(root, dir),
  ];
  const [one, two] = await Promise.all([slimnet(args('one')), slimnet([...args('two'), '--nproc', '2'])]);
  assert.equal(one.code, 0, one.err);
  assert.equal(two.code, 0, two.err);
  assert.match(two.err, /workers: rank 0 exited with code 0, rank 1 exited with code 0/);
  const a = JSON.parse(one.out) as ReplaceJson;
  const b = JSON.parse(two.out) as ReplaceJson;
  assert.deepEqual(readdirSync(b.run).sort(), readdirSync(a.run).sort());
  assert.ok(readdirSync(b.run).includes('final.safetensors'));
  assert.deepEqual(readdirSync(dirname(b.run)), ['version_0']);
  assert.deepEqual(b.epochs.map((e) => e.alpha), [0.5, 0]);
  assert.ok(a.final && b.final);
  assert.equal(b.final.alpha, 0);
  assert.equal(b.final.params, a.final.params);
  assert.ok(b.final.params < b.original.params, `${b.final.params} parameters after, ${b.original.params} before`);
});
