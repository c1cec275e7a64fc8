// `slimnet summary` through the real entry point (bin/slimnet.js): the JSON
// totals equal summarize() of the same graph, a checkpoint summarises its own
// (pruned) graph, and mistakes give a one-line error and a non-zero exit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model, saveCheckpoint, summarize } from '../../graph/index.js';
import { archNames, buildArch } from '../../models/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'slimnet-summary-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function slimnet(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/slimnet.js', ...args], { cwd: root, encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

test('summary --arch lenet5 --json: totals and rows match summarize()', () => {
  const r = slimnet('summary', '--arch', 'lenet5', '--json');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one JSON object');
  const out = JSON.parse(lines[0]!) as { name: string; totals: unknown; rows: { name: string; macs: number; outputShape: number[] }[] };
  const expected = summarize(buildArch('lenet5'));
  assert.deepEqual(out.totals, expected.totals);
  assert.equal(out.name, 'lenet5');
  assert.deepEqual(
    out.rows.map((x) => [x.name, x.macs, x.outputShape]),
    expected.rows.map((x) => [x.name, x.macs, [...x.outputShape]]),
  );
});

test('summary options reach the builder, and the table names every layer with totals', () => {
  const r = slimnet('summary', '--arch', 'lenet5', '--width', '0.5', '--classes', '7', '--image-size', '32');
  assert.equal(r.status, 0, r.stderr);
  const s = summarize(buildArch('lenet5', { widthMultiplier: 0.5, classes: 7, imageSize: 32 }));
  for (const row of s.rows) assert.match(r.stdout, new RegExp(`^${row.name}\\s+${row.kind}\\s`, 'm'));
  assert.ok(r.stdout.includes(s.totals.params.toLocaleString('en-US')), 'exact parameter total printed');
  assert.ok(r.stdout.includes(s.totals.macs.toLocaleString('en-US')), 'exact MAC total printed');
});

test('summary --checkpoint summarises the stored (pruned) graph', () => {
  const graph = buildArch('lenet5', { widthMultiplier: 0.25 });
  const file = join(dir, 'small.safetensors');
  const model = Model.create(graph, { seed: 0 });
  saveCheckpoint(file, model, { note: 'pruned' });
  model.dispose();
  const r = slimnet('summary', '--checkpoint', file, '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { totals: unknown; source: { checkpoint: string; meta: unknown } };
  assert.deepEqual(out.totals, summarize(graph).totals);
  assert.deepEqual(out.source, { checkpoint: file, meta: { note: 'pruned' } });
});

test('an unknown architecture lists the available ones and exits non-zero without a stack trace', () => {
  const r = slimnet('summary', '--arch', 'no-such-net');
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /unknown architecture 'no-such-net'/);
  for (const name of archNames()) assert.ok(r.stderr.includes(name), `lists ${name}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
});

test('a missing checkpoint file is a one-line error naming the file', () => {
  const file = join(dir, 'absent.safetensors');
  const r = slimnet('summary', '--checkpoint', file);
  assert.notEqual(r.status, 0);
  assert.ok(r.stderr.includes(file));
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
