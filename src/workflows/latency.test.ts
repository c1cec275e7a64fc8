// latencyRun in-process: the report's ratios against summarize(), the JSON
// mapping, the thread setting handed back, and the spec checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../data/testing.js';
import { Model, saveCheckpoint, summarize } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { getNumThreads } from '../tensor/index.js';
import { UsageError } from '../util/errors.js';
import { latencyJson, latencyRun, maxLatencyThreads, renderLatency } from './latency.js';
import { availableParallelism } from 'node:os';

test('latencyRun: ratios, rows per runtime and batch, JSON keys, threads restored', async (t) => {
  const dir = tempDir(t, 'slimnet-latency-workflow-');
  const paths: string[] = [];
  const totals = [];
  for (const width of [0.5, 0.25]) {
    const m = Model.create(buildArch('lenet5', { widthMultiplier: width }), { seed: 0 });
    paths.push(join(dir, `w${width}.safetensors`));
    saveCheckpoint(paths.at(-1)!, m);
    totals.push(summarize(m.graph).totals);
    m.dispose();
  }
  const threads = getNumThreads();
  const lines: string[] = [];
  const r = await latencyRun({ before: paths[0]!, after: paths[1]!, batches: [1, 4], runs: 2, rounds: 1, threads: threads + 1 }, { onLog: (l) => lines.push(l) });
  assert.equal(getNumThreads(), threads, 'the caller’s thread count is back');
  assert.equal(r.threads, threads + 1);
  assert.equal(r.macsX, totals[0]!.macs / totals[1]!.macs);
  assert.equal(r.paramsX, totals[0]!.params / totals[1]!.params);
  assert.deepEqual(r.rows.map((x) => `${x.runtime} b${x.batch}`), ['onnxruntime b1', 'onnxruntime b4', 'slimnet b1', 'slimnet b4']);
  for (const x of r.rows) assert.ok(x.speedup > 0 && Math.abs(x.speedup - x.beforeMs / x.afterMs) < 1e-9 * x.speedup && Math.abs(x.ofMacRatio - x.speedup / r.macsX) < 1e-12);
  const j = latencyJson(r);
  assert.equal(j.speedup_ort_b4, r.rows[1]!.speedup);
  assert.equal(j.speedup_engine_b1, r.rows[2]!.speedup);
  assert.equal(j.ms_ort_b1_before, r.rows[0]!.beforeMs);
  assert.match(renderLatency(r), /onnxruntime\s+b4/);
  assert.equal(lines.length, 3);
  assert.match(lines[2]!, /2 runs per model in 1 interleaved round, \d+ threads?\.\.\./);

  await assert.rejects(latencyRun({ before: paths[0]!, after: paths[1]!, batches: [] }), (e: unknown) => e instanceof UsageError && /--batches/.test(e.message));
  await assert.rejects(latencyRun({ before: paths[0]!, after: paths[1]!, runs: 0 }), /--runs must be a positive integer/);
  // Far more threads than cores only time-slice them (1000 stalled the machine): refused, naming the limit.
  const most = maxLatencyThreads();
  assert.equal(most, availableParallelism() * 4);
  await assert.rejects(latencyRun({ before: paths[0]!, after: paths[1]!, threads: most + 1 }), (e: unknown) => e instanceof UsageError && e.message.includes(`--threads must be at most ${most}`));
  await assert.rejects(latencyRun({ before: '', after: paths[1]! }), /--before is required/);
});
