// `slimnet study thesis --quick` end to end in child processes: a quarter-
// width lenet5 trained on 5 % of the bundled digits, the whole grid at two
// steps per curve, Table 4.1 and the report. The run is interrupted with
// Ctrl-C in the middle of the grid and resumed with --version, so the
// finished curves are kept and not run again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, isPng, lastJson } from '../testing.js';
import { tempDir } from '../../data/testing.js';
import { ortChannelBlock } from '../../measure/index.js';

test('slimnet study thesis --quick: Ctrl-C keeps the finished curves, --version resumes, and the run directory holds the report', async (t) => {
  const dir = tempDir(t, 'slimnet-study-cli-');
  let signalled = false;
  const first = await cli(['study', 'thesis', '--quick', '--runs-dir', dir, '--json'], (stderr, child) => {
    // A few seconds into the grid (about 10 s long with one thread), once its progress bar shows.
    if (!signalled && /^grid [░█]/m.test(stderr)) {
      signalled = true;
      setTimeout(() => child.kill('SIGINT'), 3000);
    }
  });
  assert.match(first.stderr, /grid: 83 curves, \d+ pruning steps, \d+ retraining iterations/);
  const run = join(dir, 'study-thesis', 'mnist-digits-lenet5', 'version_0');
  // On a very fast machine the whole study may end before the signal.
  const interrupted = first.code === 130;
  if (!interrupted) assert.equal(first.code, 0, first.stderr);
  else assert.equal((JSON.parse(readFileSync(join(run, 'status.json'), 'utf8')) as { status: string }).status, 'interrupted');

  const refused = await cli(['study', 'thesis', '--version', '0', '--runs-dir', dir, '--points', '5']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /drop --points/);

  const r = interrupted ? await cli(['study', 'thesis', '--version', '0', '--runs-dir', dir, '--json']) : first;
  assert.equal(r.code, 0, r.stderr);
  if (interrupted) assert.match(r.stderr, /resuming after [1-9]\d* finished curves?/);
  const j = lastJson(r.stdout);
  for (const k of ['base_test_acc', 'pruned_test_acc', 'scratch_test_acc', 'pruned_loss_pp', 'scratch_loss_pp', 'params_x', 'macs_x', 'speedup_ort_b1', 'speedup_ort_b64', 'floor', 'seconds']) {
    assert.equal(typeof j[k], 'number', k);
  }
  assert.equal(j.curves, 83);
  // Table 4.1 ends with the grid step onto this CPU's onnxruntime block (none to take without a blocked layout).
  assert.equal(typeof j.channels, 'object');
  const block = ortChannelBlock();
  if (block === 1) assert.equal(j.snap, null);
  else if (j.snap !== null) assert.equal((j.snap as { to: number }).to, block);
  assert.equal(j.interrupted, false);
  assert.equal(j.run, run);
  assert.match(r.stderr, /from scratch\s+\d/);

  for (const f of ['config.json', 'status.json', 'run.log', 'base.safetensors', 'results.json', 'curves.csv', 'table41.csv', 'report.md', 'pruned.safetensors', 'scratch.safetensors']) assert.ok(existsSync(join(run, f)), f);
  const pngs = readdirSync(run).filter((f) => f.endsWith('.png'));
  assert.ok(pngs.length >= 20, `${pngs.length} figures`);
  const report = readFileSync(join(run, 'report.md'), 'utf8');
  for (const f of pngs) {
    assert.ok(isPng(join(run, f)), f);
    assert.ok(report.includes(`](${f})`), `report.md embeds ${f}`);
  }
  const results = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8')) as { curves: { experiment: { id: string; criterion: string } }[] };
  assert.equal(new Set(results.curves.map((c) => c.experiment.id)).size, 83);
  assert.ok(results.curves.some((c) => c.experiment.criterion === 'random'));
  assert.equal(readFileSync(join(run, 'table41.csv'), 'utf8').trim().split('\n').length, 4);
  assert.equal((JSON.parse(readFileSync(join(run, 'status.json'), 'utf8')) as { status: string }).status, 'complete');

  const done = await cli(['study', 'thesis', '--version', '0', '--runs-dir', dir]);
  assert.equal(done.code, 0);
  assert.match(done.stdout, /already complete/);
  const bad = await cli(['study', 'thesis', '--quick', '--criteria', 'l1,magic', '--runs-dir', dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--criteria: 'magic' is not one of/);
  const help = await cli(['study', 'thesis', '--help']);
  assert.match(help.stdout, /--retrain-iters <list>.*default: 10,50,100/s);
  assert.match(help.stdout, /--quick/);
});
