// `slimnet latency` in a child process: two checkpoints of different widths,
// the table, the JSON line (speed-ups, MAC ratio) and the errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Model, saveCheckpoint, summarize } from '../../graph/index.js';
import { buildArch } from '../../models/index.js';
import { cli, lastJson } from '../testing.js';
import { tempDir } from '../../data/testing.js';

test('slimnet latency: a half-width lenet5 against the full one', async (t) => {
  const dir = tempDir(t, 'slimnet-latency-');
  const paths: string[] = [];
  const macs: number[] = [];
  for (const width of [1, 0.5]) {
    const m = Model.create(buildArch('lenet5', { widthMultiplier: width }), { seed: 0 });
    const p = join(dir, `w${width}.safetensors`);
    saveCheckpoint(p, m);
    macs.push(summarize(m.graph).totals.macs);
    m.dispose();
    paths.push(p);
  }
  const r = await cli(['latency', '--before', paths[0]!, '--after', paths[1]!, '--batches', '1,8', '--runs', '6', '--rounds', '2', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r.stdout);
  assert.ok(Math.abs((j.macs_x as number) - macs[0]! / macs[1]!) < 1e-9);
  for (const k of ['speedup_ort_b1', 'speedup_ort_b8', 'speedup_engine_b1', 'speedup_engine_b8']) assert.ok(Number.isFinite(j[k]) && (j[k] as number) > 0, `${k} = ${j[k]}`);
  assert.equal(j.threads, 1);
  assert.match(r.stderr, /onnxruntime\s+b8/);

  const bad = await cli(['latency', '--before', paths[0]!, '--after', join(dir, 'missing.safetensors')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /missing\.safetensors/);
  const badBatch = await cli(['latency', '--before', paths[0]!, '--after', paths[1]!, '--batches', '1,x']);
  assert.notEqual(badBatch.code, 0);
  assert.match(badBatch.stderr, /--batches/);
});
