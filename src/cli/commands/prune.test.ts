// `slimnet prune` end to end in child processes: a tiny LeNet trained on a
// fraction of the bundled digits is pruned for two steps; the run directory,
// the pruned checkpoint and ONNX file, the plots and the JSON line are checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, summarize } from '../../graph/index.js';
import { cli, lastJson, isPng } from '../testing.js';

test('slimnet prune: a trained checkpoint becomes a smaller model with its run directory, table and JSON line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-prune-cli-'));
  try {
    const t = await cli(['train', '--dataset', 'mnist-digits', '--fraction', '0.1', '--width', '0.25', '--batch-size', '32', '--epochs', '1', '--runs-dir', dir, '--json']);
    assert.equal(t.code, 0, t.stderr);
    const ckpt = join(String(lastJson(t.stdout).run), 'best.safetensors');

    const r = await cli(['prune', '--checkpoint', ckpt, '--criterion', 'taylor', '--protocol', 'retrain', '--retrain-iters', '3', '--score-batches', '2', '--step-fraction', '0.2', '--max-steps', '2', '--no-floor', '--latency-runs', '2', '--runs-dir', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = lastJson(r.stdout);
    for (const k of ['base_acc', 'pruned_acc', 'params_x', 'macs_x', 'speedup_ort_b1', 'speedup_ort_b64']) assert.equal(typeof j[k], 'number', k);
    assert.equal(j.steps, 2);
    assert.ok((j.params_x as number) > 1.2, `params_x ${j.params_x}`);
    assert.match(r.stderr, /parameters\s+\d+\s+\d+/);
    assert.match(r.stderr, /onnxruntime latency b64/);
    const run = String(j.run);
    for (const f of ['config.json', 'status.json', 'run.log', 'steps.csv', 'steps.jsonl', 'channels.csv', 'pruned.safetensors', 'pruned.onnx', 'result.json']) assert.ok(existsSync(join(run, f)), f);
    assert.ok(isPng(join(run, 'accuracy.png')) && isPng(join(run, 'channels.png')));
    assert.equal(readFileSync(join(run, 'steps.csv'), 'utf8').trim().split('\n').length, 3);
    const { model } = loadCheckpoint(join(run, 'pruned.safetensors'));
    assert.equal(summarize(model.graph).totals.params, j.params_after);
    model.dispose();

    // --snap-to 2: after the loop every convolution goes down to an even count; fully connected layers stay
    // (the floor here always holds). Per layer, 3 maps a step: conv1 8 → 5 → 4, conv2 16 → 13 → 12, fc1 256 → 253.
    const sn = await cli(['prune', '--checkpoint', ckpt, '--criterion', 'l1', '--protocol', 'none', '--scope', 'layer', '--step-maps', '3', '--max-steps', '1', '--min-accuracy', '0.01', '--snap-to', '2', '--snap-iters', '2', '--finetune-epochs', '1', '--latency-runs', '2', '--runs-dir', dir, '--json']);
    assert.equal(sn.code, 0, sn.stderr);
    const sj = lastJson(sn.stdout) as { snap: string; channels: Record<string, [number, number]>; pruned_acc: number; finetune: { epochs: number; before_acc: number; after_acc: number; kept: boolean } };
    // Fine-tuning is kept only if it does not lower the accuracy on the floor's split.
    assert.equal(sj.finetune.epochs, 1);
    assert.equal(sj.finetune.kept, sj.finetune.after_acc >= sj.finetune.before_acc);
    assert.equal(sj.pruned_acc, Math.max(sj.finetune.before_acc, sj.finetune.after_acc));
    assert.match(sj.snap, /^onto multiples of 2 \(conv1 ≤ 4, conv2 ≤ 12; 2 retraining iterations\) — from step 1: conv1:-1 conv2:-1 gave/);
    assert.deepEqual(sj.channels, { conv1: [8, 4], conv2: [16, 12], fc1: [256, 253], fc2: [10, 10] });

    const bad = await cli(['prune', '--checkpoint', ckpt, '--criterion', 'magic', '--runs-dir', dir]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--criterion must be one of/);
    const missing = await cli(['prune', '--checkpoint', join(dir, 'nope.safetensors'), '--runs-dir', dir]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nope\.safetensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
