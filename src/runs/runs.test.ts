// Run directories: version numbering, metrics files, listing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { FileSystemError } from '../util/fs-errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  METRICS_COLUMNS,
  RUN_FILES,
  RunFileError,
  RunLog,
  readJson,
  appendJsonl,
  appendMetrics,
  configurationDir,
  createVersionDir,
  effectiveStatus,
  listRuns,
  listVersions,
  nextVersion,
  readMetrics,
  truncateMetrics,
  writeJson,
  type MetricsRow,
  type RunStatusFile,
} from './index.js';

function temp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'slimnet-runs-unit-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const row = (epoch: number): MetricsRow => ({ epoch, lr: 0.1 / epoch, train_loss: 1 / epoch, train_acc: 0.5, val_loss: null, val_acc: 0.25 * epoch, val_balanced_acc: NaN, seconds: 1.5 });

test('versions count up from 0, ignore other entries, and survive gaps', (t) => {
  const root = temp(t);
  const dir = configurationDir(root, 'train', 'folder:/data/x', 'lenet5');
  assert.equal(dir, join(root, 'train', 'folder_data_x-lenet5'));
  assert.deepEqual(listVersions(dir), []);
  assert.equal(nextVersion(dir), 0);
  assert.equal(createVersionDir(dir).version, 0);
  assert.equal(createVersionDir(dir).version, 1);
  mkdirSync(join(dir, 'version_7'));
  mkdirSync(join(dir, 'notes'));
  writeFileSync(join(dir, 'version_9'), 'a file, not a run');
  assert.deepEqual(listVersions(dir), [0, 1, 7]);
  assert.equal(nextVersion(dir), 8);
  assert.equal(createVersionDir(dir).version, 8);
});

test('metrics append to csv and jsonl; truncation drops rows newer than a state', (t) => {
  const p = temp(t);
  appendMetrics(p, [row(1)]);
  appendMetrics(p, [row(2), row(3)]);
  const csv = readFileSync(join(p, RUN_FILES.metricsCsv), 'utf8').trim().split('\n');
  assert.equal(csv[0], METRICS_COLUMNS.join(','));
  assert.equal(csv.length, 4, 'one header, three rows');
  assert.equal(csv[1], '1,0.1,1,0.5,,0.25,,1.5', 'null and NaN cells are empty');
  assert.deepEqual(readMetrics(p).map((r) => r.epoch), [1, 2, 3]);
  truncateMetrics(p, 2);
  assert.deepEqual(readMetrics(p).map((r) => r.epoch), [1, 2]);
  assert.equal(readFileSync(join(p, RUN_FILES.metricsCsv), 'utf8').trim().split('\n').length, 3);
  appendMetrics(p, [row(3)]);
  assert.deepEqual(readMetrics(p).map((r) => r.epoch), [1, 2, 3]);
});

test('listRuns finds every version with its status and config; a dead running process shows as killed', (t) => {
  const root = temp(t);
  const a = createVersionDir(configurationDir(root, 'train', 'mnist-digits', 'lenet5'));
  const b = createVersionDir(configurationDir(root, 'prune', 'cifar10', 'vgg16_bn'));
  const base = { command: 'train', dataset: 'mnist-digits', arch: 'lenet5', version: 0, epochsDone: 1, epochs: 2, bestValAccuracy: 0.5, bestEpoch: 1, created: '2025-01-01T00:00:00Z', updated: '2025-01-01T00:00:00Z' };
  writeJson(join(a.path, RUN_FILES.status), { ...base, status: 'running', pid: process.pid } satisfies RunStatusFile);
  writeJson(join(a.path, RUN_FILES.config), { epochs: 2 });
  const runs = listRuns(root);
  assert.deepEqual(runs.map((r) => [r.command, r.configuration, r.version]), [
    ['prune', 'cifar10-vgg16_bn', 0],
    ['train', 'mnist-digits-lenet5', 0],
  ]);
  assert.equal(runs[0]!.status, undefined);
  assert.equal(runs[0]!.path, b.path);
  assert.deepEqual(runs[1]!.config, { epochs: 2 });
  assert.equal(effectiveStatus(runs[1]!.status!), 'running', 'this process is alive');
  // A pid that cannot exist (beyond pid_max).
  assert.equal(effectiveStatus({ ...runs[1]!.status!, pid: 2 ** 30 }), 'killed');
});

test('run files that cannot be read or written are errors naming the file and the reason, never a raw Node error', (t) => {
  const root = temp(t);
  // Damaged JSON: the file, and that it is not valid JSON.
  writeFileSync(join(root, RUN_FILES.config), '{"epochs": 2,');
  assert.throws(() => readJson(join(root, RUN_FILES.config)), (e: unknown) => e instanceof RunFileError && e.message.startsWith(`${join(root, RUN_FILES.config)}: not valid JSON`));
  writeFileSync(join(root, RUN_FILES.metricsJsonl), '{"epoch":1}\n{"epo');
  assert.throws(() => readMetrics(root), (e: unknown) => e instanceof RunFileError && /metrics\.jsonl: line 2 is not valid JSON/.test(e.message));
  // A full disk: /dev/full answers every write with ENOSPC.
  if (existsSync('/dev/full')) {
    assert.throws(() => new RunLog('/dev/full').write('a line'), (e: unknown) => e instanceof FileSystemError && e.code === 'ENOSPC' && /^\/dev\/full: cannot write: no space left on the device/.test(e.message));
    const full = join(root, 'full');
    mkdirSync(full);
    symlinkSync('/dev/full', join(full, RUN_FILES.metricsCsv));
    assert.throws(() => appendMetrics(full, [row(1)]), (e: unknown) => e instanceof FileSystemError && e.message.startsWith(`${join(full, RUN_FILES.metricsCsv)}: cannot write`));
    assert.throws(() => appendJsonl('/dev/full', [{ step: 1 }]), (e: unknown) => e instanceof FileSystemError && e.message.startsWith('/dev/full: cannot write'));
  }
  // A file given as the runs directory.
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  assert.throws(() => listRuns(file), (e: unknown) => e instanceof FileSystemError && e.message === `${file}: is a file, not a runs directory`);
  assert.throws(() => listVersions(file), (e: unknown) => e instanceof FileSystemError && e.message.startsWith(`${file}: cannot list the run versions in it`));
});

test('JSON lines append one record a line, and nothing for no records', (t) => {
  const p = join(temp(t), 'steps.jsonl');
  appendJsonl(p, []);
  assert.equal(existsSync(p), false);
  appendJsonl(p, [{ step: 1, layers: 'c1-2' }]);
  appendJsonl(p, [{ step: 2, x: null }, { step: 3 }]);
  assert.equal(readFileSync(p, 'utf8'), '{"step":1,"layers":"c1-2"}\n{"step":2,"x":null}\n{"step":3}\n');
});
