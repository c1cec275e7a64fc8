// `slimnet train / eval / runs` end to end, in child processes (exit codes,
// signals, files), on a small stratified fraction of the bundled MNIST digits
// with a quarter-width LeNet, one libtorch thread (bit-identical resumes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../../graph/index.js';
import { loadTensors } from '../../tensor/index.js';
import { RUN_FILES, METRICS_COLUMNS, readMetrics, type RunStatusFile } from '../../runs/index.js';
import { trainConfigKeys } from '../../workflows/train-spec.js';
import { spawnSync } from 'node:child_process';
import { BIN, cli, lastJson } from '../testing.js';
import { tempDir } from '../../data/testing.js';

const SMALL = ['--dataset', 'mnist-digits', '--fraction', '0.1', '--width', '0.25', '--batch-size', '16'];

const runPath = (root: string, version: number, dataset = 'mnist-digits', arch = 'lenet5') => join(root, 'train', `${dataset}-${arch}`, `version_${version}`);
const status = (p: string) => JSON.parse(readFileSync(join(p, RUN_FILES.status), 'utf8')) as RunStatusFile;

function tensorsOf(path: string): Map<string, Float32Array> {
  const { tensors } = loadTensors(path);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of Object.entries(tensors)) {
    out.set(k, t.data<'float32'>());
    t.dispose();
  }
  return out;
}

test('train writes a versioned run directory; --show-versions, runs and eval read it', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  const r = await cli(['train', ...SMALL, '--epochs', '1', '--runs-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  const p = runPath(root, 0);
  for (const f of Object.values(RUN_FILES)) assert.ok(existsSync(join(p, f)), `${f} written`);
  // The resolved config holds every option with its final value (lr derived from the optimizer).
  const config = JSON.parse(readFileSync(join(p, RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(config).sort(), [...trainConfigKeys()].sort());
  assert.equal(config.lr, 0.001);
  assert.equal(config.optimizer, 'adam');
  assert.equal(config.width, 0.25);
  // One metrics row, in both files.
  const rows = readMetrics(p);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.epoch, 1);
  const csv = readFileSync(join(p, RUN_FILES.metricsCsv), 'utf8').trim().split('\n');
  assert.equal(csv[0], METRICS_COLUMNS.join(','));
  assert.equal(csv.length, 2);
  assert.ok(rows[0]!.val_acc! > 0.3, `validation accuracy ${rows[0]!.val_acc} after one epoch`);
  const s = status(p);
  assert.equal(s.status, 'complete');
  assert.equal(s.epochsDone, 1);
  assert.equal(s.bestValAccuracy, rows[0]!.val_acc);
  assert.ok(s.test && s.test.count === 2000);
  assert.match(r.stdout, new RegExp(`test accuracy\\s+${(s.test.accuracy * 100).toFixed(2)} %`));
  assert.match(r.stdout, /test balanced accuracy\s+[\d.]+ %/);
  assert.match(readFileSync(join(p, RUN_FILES.log), 'utf8'), /test accuracy/);
  // Both checkpoints load and carry the data set in their metadata.
  for (const f of [RUN_FILES.best, RUN_FILES.last]) {
    const { model, meta } = loadCheckpoint(join(p, f));
    assert.equal(meta.dataset, 'mnist-digits');
    assert.equal(meta.epoch, 1);
    model.dispose();
  }

  const sv = await cli(['train', ...SMALL, '--runs-dir', root, '--show-versions']);
  assert.equal(sv.code, 0, sv.stderr);
  assert.match(sv.stdout, /version\s+epochs\s+best val acc %/);
  assert.match(sv.stdout, /\n\s*0\s+1\/1\s+[\d.]+\s+[\d.]+\s+complete/);
  assert.ok(!existsSync(runPath(root, 1)), '--show-versions starts no run');

  const runs = await cli(['runs', '--runs-dir', root]);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, /command\s+dataset\s+arch\s+version/);
  assert.match(runs.stdout, /train\s+mnist-digits\s+lenet5\s+0\s+1\/1\s+[\d.]+\s+[\d.]+\s+207\.0K\s+987\.3K\s+complete/);

  const ev = await cli(['eval', '--checkpoint', join(p, RUN_FILES.last), '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const m = JSON.parse(ev.stdout) as { accuracy: number; balancedAccuracy: number; count: number; confusion: number[][] };
  // The same weights on the same test split as the run's final evaluation.
  assert.equal(m.accuracy, s.test.accuracy);
  assert.equal(m.balancedAccuracy, s.test.balancedAccuracy);
  assert.equal(m.confusion.flat().reduce((a, b) => a + b, 0), 2000);
  const table = await cli(['eval', '--checkpoint', join(p, RUN_FILES.best)]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /balanced accuracy\s+[\d.]+ %/);
  assert.match(table.stdout, /#\s+class\s+support\s+correct\s+recall %/);
  for (let c = 0; c < 10; c++) assert.match(table.stdout, new RegExp(`\\n${c}\\s+${c}\\s+\\d+\\s+\\d+\\s+[\\d.]+`), `class ${c} row`);
  assert.match(table.stdout, /confusion matrix/);
});

test('Ctrl-C saves a resumable state (exit 130); --version resumes it to the same weights as an uninterrupted run', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  const args = ['train', ...SMALL, '--epochs', '2', '--runs-dir', root];
  const a = await cli(args);
  assert.equal(a.code, 0, a.stderr);
  // The per-epoch table prints its header once (the second header is the results table's).
  assert.equal(a.stdout.match(/^epoch +lr +train loss/gm)?.length, 2, a.stdout);
  assert.match(a.stdout, /\n +2\/2 +[\d.e-]+ +\d+\.\d{4} +\d+\.\d{2} /, 'epoch 2 on its own line, fixed decimals');
  let sent = false;
  // The first progress line of the first epoch: interrupt there.
  const b = await cli(args, (err, child) => {
    if (!sent && /epoch 1\/2/.test(err)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.ok(sent, 'saw progress output');
  assert.equal(b.code, 130, `exit code ${b.code}\n${b.stderr}`);
  const pb = runPath(root, 1);
  assert.equal(status(pb).status, 'interrupted');
  assert.ok(existsSync(join(pb, RUN_FILES.state)));
  assert.match(b.stdout, /Resume with:\n\s+slimnet train --dataset mnist-digits --arch lenet5 --runs-dir \S+ --version 1/);
  assert.ok(readMetrics(pb).length < 2, 'stopped before the end');
  // Its last checkpoint loads.
  loadCheckpoint(join(pb, RUN_FILES.last)).model.dispose();

  const sv = await cli([...args, '--show-versions']);
  assert.match(sv.stdout, /\n\s*1\s+\d\/2\s.*interrupted/);

  // Options that contradict the run's configuration are refused.
  const bad = await cli([...args, '--lr', '0.01', '--version', '1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--lr/);

  const c = await cli([...args, '--version', '1']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /resuming version 1 at epoch/);
  assert.equal(status(pb).status, 'complete');
  const ra = readMetrics(runPath(root, 0));
  const rb = readMetrics(pb);
  assert.equal(rb.length, 2, 'the resumed run appended the remaining epochs');
  const strip = (r: (typeof ra)[number]) => ({ ...r, seconds: 0 });
  assert.deepEqual(rb.map(strip), ra.map(strip), 'same metrics as the uninterrupted run');
  for (const f of [RUN_FILES.last, RUN_FILES.best]) {
    const wa = tensorsOf(join(runPath(root, 0), f));
    const wb = tensorsOf(join(pb, f));
    assert.deepEqual([...wb.keys()], [...wa.keys()]);
    for (const [k, v] of wa) {
      const u = wb.get(k)!;
      assert.ok(v.length === u.length && v.every((x, i) => Object.is(x, u[i])), `${f}: '${k}' is bit-identical`);
    }
  }
  assert.equal(status(pb).test!.accuracy, status(runPath(root, 0)).test!.accuracy);
});

test('a non-finite loss stops with a message and exit code 1; the last checkpoint still loads', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  const r = await cli(['train', ...SMALL, '--epochs', '1', '--optimizer', 'sgd', '--lr', '1e30', '--runs-dir', root]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /training stopped: the loss became (NaN|-?Infinity) at epoch 1, step \d+ of \d+/);
  assert.match(r.stderr, /last good checkpoint is \S+last\.safetensors/);
  const p = runPath(root, 0);
  assert.equal(status(p).status, 'failed');
  const { model, meta } = loadCheckpoint(join(p, RUN_FILES.last));
  assert.equal(meta.epoch, 0);
  // The weights are finite (the bad steps were not saved).
  for (const [, w] of model.namedTensors()) assert.ok(w.data<'float32'>().every(Number.isFinite));
  model.dispose();
});

test('options come from a YAML or JSON config file; command-line flags override it', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  const yaml = join(root, 'recipe.yaml');
  writeFileSync(yaml, 'dataset: mnist-digits\nfraction: 0.05\nwidth: 0.25\nepochs: 1\noptimizer: sgd\nlr: 0.05\nbatch-size: 32\nlabelSmoothing: 0.1\nschedule: step\n');
  const r = await cli(['train', '--config', yaml, '--lr', '0.02', '--runs-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(runPath(root, 0), RUN_FILES.config), 'utf8')) as Record<string, unknown>;
  assert.equal(config.lr, 0.02, 'the flag wins');
  assert.equal(config.batchSize, 32, 'kebab-case key from the file');
  assert.equal(config.labelSmoothing, 0.1, 'camelCase key from the file');
  assert.equal(config.optimizer, 'sgd');
  assert.equal(config.schedule, 'step');
  assert.equal(config.momentum, 0.9, 'default');
  assert.equal(config.fraction, 0.05);
  assert.equal(config.epochs, 1);
  assert.match(r.stdout, /recipe: sgd lr 0\.02 momentum 0\.9/);

  const json = join(root, 'bad.json');
  writeFileSync(json, JSON.stringify({ dataset: 'mnist-digits', learningRate: 0.1 }));
  const bad = await cli(['train', '--config', json, '--runs-dir', root]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown option 'learningRate'/);
});

test('early stopping watches the chosen metric with its min delta and restores the best epoch', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  // No epoch can beat the first by 100 (a loss is not that large): stop after 1 + patience epochs.
  const r = await cli(['train', ...SMALL, '--validation', '0', '--epochs', '5', '--early-stopping-patience', '1', '--early-stopping-monitor', 'train.loss', '--early-stopping-min-delta', '100', '--runs-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /early stopping after epoch 2: no improvement of train\.loss for 1 epoch; restored the weights of epoch 1/);
  assert.equal(status(runPath(root, 0)).epochsDone, 2);
  const bad = await cli(['train', ...SMALL, '--epochs', '1', '--early-stopping-patience', '1', '--early-stopping-monitor', 'val.top5', '--runs-dir', root]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /early-stopping-monitor/);
});

test('when the best validation epoch is not the last, the test accuracy of best.safetensors is reported too', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  // Epoch 2 runs at 300x the learning rate and wrecks the weights: epoch 1 stays the best.
  const r = await cli(['train', ...SMALL, '--epochs', '2', '--schedule', 'step', '--step-size', '1', '--gamma', '300', '--runs-dir', root, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r.stdout) as { bestTest: { epoch: number; accuracy: number } | null; test: { accuracy: number } };
  assert.equal(j.bestTest?.epoch, 1);
  assert.ok(j.bestTest!.accuracy > j.test.accuracy, `best ${j.bestTest!.accuracy} vs last ${j.test.accuracy}`);
  // The same figure as evaluating the checkpoint on its own.
  const e = await cli(['eval', '--checkpoint', join(runPath(root, 0), 'best.safetensors'), '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(lastJson(e.stdout).accuracy, j.bestTest!.accuracy);
});

/** One error line (exit 1, no stack trace) that matches `what`. */
function oneLine(r: { code: number | null; stderr: string }, what: RegExp, label: string): void {
  assert.equal(r.code, 1, `${label}: exit ${r.code}\n${r.stderr}`);
  // Progress bars (a non-TTY prints them as lines) and the reference-BLAS warning aside.
  const lines = r.stderr.trim().split('\n').filter((l) => !/^warning: libtorch uses the reference BLAS|[█░]/.test(l));
  assert.equal(lines.length, 1, `${label}:\n${r.stderr}`);
  assert.match(lines[0]!, what, label);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${label}: no stack trace`);
}

test('user mistakes are one line naming the flag or the file, and a failed set-up leaves no run behind', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  const cases: [string[], RegExp][] = [
    [['train', ...SMALL, '--validation', '1', '--runs-dir', root], /^slimnet train: error: --validation 1 holds out 1 image for 10 classes/],
    [['train', ...SMALL, '--dataset', 'folder', '--root', join(root, 'nothing-here'), '--runs-dir', root], new RegExp(`^slimnet train: error: .*${join(root, 'nothing-here')}`)],
    [['train', ...SMALL, '--width', '64', '--batch-size', '100000', '--runs-dir', root], /^slimnet train: error: --batch-size 100000: a training step of lenet5 \(width 64\) needs about .* available/],
    [['runs', '--runs-dir', join(root, 'a-file')], new RegExp(`^slimnet runs: error: ${join(root, 'a-file')}: is a file, not a runs directory`)],
    [['demo', '--batch-size', '0'], /^slimnet demo: error: --batch-size must be between 1 and the 8000 training images, got 0/],
    [['demo', '--epochs', '0'], /^slimnet demo: error: --epochs must be a whole number >= 1, got 0/],
    [['demo', '--lr', '-1'], /^slimnet demo: error: --lr must be a number > 0, got -1/],
  ];
  if (!process.env.SLIMNET_CIFAR10_DIR) cases.push([['train', '--dataset', 'cifar10', '--runs-dir', root], /^slimnet train: error: cifar10: no data folder: pass --root DIR/]);
  writeFileSync(join(root, 'a-file'), 'not a directory');
  for (const [args, what] of cases) oneLine(await cli(args), what, args.join(' '));
  assert.equal(existsSync(join(root, 'train')), false, 'no version folder from a failed set-up');

  // A damaged config.json on resume names the file.
  const p = runPath(root, 0);
  mkdirSync(p, { recursive: true });
  writeFileSync(join(p, RUN_FILES.config), '{"epochs": ');
  oneLine(await cli(['train', '--dataset', 'mnist-digits', '--runs-dir', root, '--version', '0']), new RegExp(`^slimnet train: error: ${join(p, RUN_FILES.config)}: not valid JSON`), 'corrupt config');
});

test('runs lists prune and study runs with their date and no invented epochs', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  const write = (command: string, epochs: number, epochsDone: number) => {
    const d = join(root, command, 'mnist-digits-lenet5', 'version_0');
    mkdirSync(d, { recursive: true });
    const s: RunStatusFile = { status: 'complete', command, dataset: 'mnist-digits', arch: 'lenet5', version: 0, epochsDone, epochs, bestValAccuracy: 0.98, bestEpoch: null, params: 3274634, created: '2026-01-02T03:04:05.000Z', updated: '2026-01-02T04:00:00.000Z' };
    writeFileSync(join(d, RUN_FILES.status), JSON.stringify(s));
  };
  write('prune', 0, 0);
  write('study-thesis', 0, 0);
  write('train', 10, 10);
  const r = await cli(['runs', '--runs-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\nprune +mnist-digits +lenet5 +0 +- +98\.00 +3\.27M +complete +2026-01-02 03:04/);
  assert.match(r.stdout, /\nstudy-thesis +mnist-digits +lenet5 +0 +- +98\.00 .*2026-01-02 03:04/);
  assert.match(r.stdout, /\ntrain +mnist-digits +lenet5 +0 +10\/10 +98\.00 /);
});

test('SIGTERM stops training like Ctrl-C: the partial epoch is saved and resumable (exit 143)', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  let sent = false;
  const r = await cli(['train', ...SMALL, '--epochs', '2', '--runs-dir', root], (err, child) => {
    if (!sent && /epoch 1\/2/.test(err)) {
      sent = true;
      child.kill('SIGTERM');
    }
  });
  assert.ok(sent, 'saw progress output');
  assert.equal(r.code, 143, `exit ${r.code} ${r.signal}\n${r.stderr}`);
  assert.match(r.stderr, /SIGTERM: stopping after the current step/);
  const p = runPath(root, 0);
  assert.equal(status(p).status, 'interrupted');
  assert.ok(existsSync(join(p, RUN_FILES.state)));
  assert.match(r.stdout, /Resume with:\n\s+slimnet train .*--version 0/);
});

test('a closed stdout (| head) stops training cleanly without an EPIPE stack trace (exit 141), resumable', async (t) => {
  const root = tempDir(t, 'slimnet-runs-');
  // Like `slimnet train ... | head -1`: the reader goes away after the first line.
  const r = await cli(['train', ...SMALL, '--epochs', '3', '--runs-dir', root], undefined, {
    onStdout: (_out, child) => {
      child.stdout?.destroy();
    },
  });
  assert.equal(r.code, 141, `exit ${r.code} ${r.signal}\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
  assert.match(r.stderr, /stdout closed \(its reader quit\): stopping after the current step/);
  const p = runPath(root, 0);
  assert.equal(status(p).status, 'interrupted');
  assert.ok(readMetrics(p).length < 3, 'stopped before the end');
  const resumed = await cli(['train', ...SMALL, '--epochs', '3', '--runs-dir', root, '--version', '0']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(status(p).status, 'complete');
});

/** Whether this machine lets a user namespace mount a tmpfs (to make a small or read-only disk for a test). */
function canMountTmpfs(): boolean {
  return spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs tmpfs /mnt'], { stdio: 'ignore' }).status === 0;
}

test('a full or read-only disk is one line naming the file and the reason, never a stack trace', async (t) => {
  if (!canMountTmpfs()) return t.skip('no user namespaces with tmpfs mounts here');
  const dir = tempDir(t, 'slimnet-disk-');
  const train = `${process.execPath} ${BIN} train ${SMALL.join(' ')} --epochs 1 --runs-dir ${dir}/runs`;
  const run = (setup: string) => spawnSync('unshare', ['-rm', 'sh', '-c', `${setup} && ${train}`], { encoding: 'utf8', env: { ...process.env, SLIMNET_NUM_THREADS: '1' } });
  // Sizes that fill up at different writes: the first checkpoint, the trainer state, an epoch's files.
  for (const size of ['64k', '1200k', '4000k']) {
    const r = run(`mount -t tmpfs -o size=${size} tmpfs ${dir}`);
    oneLine({ code: r.status, stderr: r.stderr }, new RegExp(`^slimnet train: error: ${dir}/runs/\\S+: .*no space left on the device \\(ENOSPC\\)`), `tmpfs of ${size}`);
  }
  const ro = run(`mount -t tmpfs tmpfs ${dir} && mount -o remount,ro ${dir}`);
  oneLine({ code: ro.status, stderr: ro.stderr }, new RegExp(`^slimnet train: error: ${dir}/runs: cannot create the directory: read-only file system \\(EROFS\\)`), 'read-only');
});
