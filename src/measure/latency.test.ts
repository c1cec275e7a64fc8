// Latency measurement: statistics are well formed and honour the options,
// compareLatency covers every batch size, bad inputs fail with LatencyError.
// No assertion compares the speed of two models: the machine is shared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, Model } from '../graph/index.js';
import { buildArch } from '../models/index.js';
import { exportOnnx } from '../export/onnx/export.js';
import { Scope, type Disposable } from '../tensor/index.js';
import { compareLatency, engineLatency, formatLatency, formatSpeedup, LatencyError, modelInputShape, ortLatency, type LatencyStats } from './index.js';

const tiny = (width: number, seed = 0): Model => Model.create(buildArch('lenet5', { imageSize: 16, widthMultiplier: width }), { seed });

/** Runs `fn` in a fresh scope and returns how many of the tensors it created are still alive. */
function liveTensorsAfter(fn: () => void | Promise<void>): Promise<number> {
  const scope = new Scope();
  const count = (): number => [...(scope['own'] as Set<Disposable>)].filter((d) => !d.isDisposed).length;
  return Promise.resolve(fn()).then(
    () => {
      const n = count();
      scope.end();
      return n;
    },
    (e: unknown) => {
      scope.end();
      throw e;
    },
  );
}

function checkStats(s: LatencyStats, batch: number, runs: number, warmup: number): void {
  for (const k of ['median_ms', 'p10_ms', 'p90_ms', 'mean_ms', 'min_ms', 'per_sample_ms'] as const) {
    assert.ok(Number.isFinite(s[k]) && s[k] > 0, `${k} = ${s[k]}`);
  }
  assert.ok(s.min_ms <= s.p10_ms && s.p10_ms <= s.median_ms && s.median_ms <= s.p90_ms, JSON.stringify(s));
  assert.ok(s.min_ms <= s.mean_ms);
  assert.equal(s.batch, batch);
  assert.equal(s.runs, runs);
  assert.equal(s.warmup, warmup);
  assert.ok(Number.isInteger(s.threads) && s.threads >= 1);
  assert.ok(Math.abs(s.per_sample_ms - s.median_ms / batch) < 1e-12);
}

test('ortLatency: finite, ordered statistics; runs and batch honoured', async () => {
  const model = tiny(0.125);
  const bytes = exportOnnx(model);
  const s = await ortLatency(bytes, modelInputShape(model), { batch: 4, runs: 5, warmup: 1, threads: 1 });
  checkStats(s, 4, 5, 1);
  assert.equal(s.threads, 1);
  assert.match(formatLatency(s), /^[\d.e-]+ ms \(p10 [\d.e-]+, p90 [\d.e-]+, 5 runs, b4\)$/);
  // minTimeMs extends the run count, maxRuns caps it.
  const capped = await ortLatency(bytes, [1, 16, 16], { batch: 1, runs: 2, warmup: 0, minTimeMs: 60_000, maxRuns: 7 });
  assert.equal(capped.runs, 7);
  model.dispose();
});

test('engineLatency: statistics, eval mode without side effects, no leaked tensors', async () => {
  const model = tiny(0.125);
  let s: LatencyStats | undefined;
  const live = await liveTensorsAfter(() => {
    s = engineLatency(model, { batch: 3, runs: 5, warmup: 1 });
  });
  assert.equal(live, 0);
  checkStats(s!, 3, 5, 1);
  assert.equal(model.training, true, 'the model keeps its mode');
  model.dispose();
});

test('compareLatency: both batches, speedup = before / after medians, interleaved rounds', async () => {
  const before = tiny(0.125, 1);
  const after = tiny(0.0625, 2);
  let r: Awaited<ReturnType<typeof compareLatency>> | undefined;
  const live = await liveTensorsAfter(async () => {
    r = await compareLatency(before, after, { runs: 5, warmup: 1, threads: 1 });
  });
  assert.equal(live, 0);
  for (const backend of ['ort', 'engine'] as const) {
    const reports = r![backend]!;
    assert.deepEqual(Object.keys(reports).map(Number).sort((a, b) => a - b), [1, 64], backend);
    for (const b of [1, 64]) {
      const rep = reports[b]!;
      checkStats(rep.before, b, 5, 1);
      checkStats(rep.after, b, 5, 1);
      assert.equal(rep.speedup, rep.before.median_ms / rep.after.median_ms);
      assert.equal(rep.before.round_medians_ms?.length, 5, 'the default: 5 interleaved rounds');
      assert.match(formatSpeedup(rep), new RegExp(`x \\(.* ms -> .* ms, b${b}\\)$`));
    }
  }
  const onlyOrt = await compareLatency(before, after, { batches: [2], runs: 2, warmup: 0, engine: false });
  assert.equal(onlyOrt.engine, undefined);
  assert.equal(onlyOrt.ort[2]!.before.runs, 2);
  assert.equal(onlyOrt.ort[2]!.before.round_medians_ms?.length, 2, 'rounds never exceed runs');
  before.dispose();
  after.dispose();
});

test('a model with two inputs raises LatencyError', async () => {
  const b = new GraphBuilder('two');
  const x = b.input([4], { name: 'x' });
  const y = b.input([4], { name: 'y' });
  const model = Model.create(b.build(b.linear(b.add([x, y]), 2)), { seed: 0 });
  const single = tiny(0.0625);
  assert.throws(() => engineLatency(model, { batch: 1, runs: 1 }), (e: unknown) => e instanceof LatencyError && /single-input.*2 inputs \(x, y\)/.test(e.message));
  await assert.rejects(compareLatency(model, single, { runs: 1, batches: [1] }), LatencyError);
  await assert.rejects(ortLatency(exportOnnx(model), [4], { batch: 1, runs: 1 }), /the ONNX model has 2 inputs/);
  model.dispose();
  single.dispose();
});

test('invalid ONNX bytes and options raise LatencyError with a clear message', async () => {
  await assert.rejects(ortLatency(new Uint8Array([1, 2, 3, 4, 5]), [1, 16, 16], { batch: 1, runs: 1 }), (e: unknown) => {
    assert.ok(e instanceof LatencyError);
    assert.match(e.message, /^onnxruntime cannot load the ONNX model \(5 bytes\): /);
    return true;
  });
  await assert.rejects(ortLatency(new Uint8Array(), [1], { batch: 1 }), /ONNX model is empty/);
  const model = tiny(0.0625);
  const bytes = exportOnnx(model);
  await assert.rejects(ortLatency(bytes, [1, 8, 8], { batch: 1, runs: 1, warmup: 0 }), (e: unknown) => e instanceof LatencyError && /failed to run .* on input \[1, 1, 8, 8\]/.test(e.message));
  await assert.rejects(ortLatency(bytes, [1, 16, 16], { batch: 0 }), /batch must be a positive integer, got 0/);
  await assert.rejects(ortLatency(bytes, [1, 16, 16], { batch: 1, runs: 5, maxRuns: 2 }), /maxRuns \(2\) is below runs \(5\)/);
  await assert.rejects(ortLatency(bytes, [1, -16, 16], { batch: 1 }), /inputShape must be a list of positive integers/);
  assert.throws(() => engineLatency(model, { batch: 1, warmup: -1 }), LatencyError);
  model.dispose();
  assert.throws(() => engineLatency(model, { batch: 1 }), /was disposed/);
});
