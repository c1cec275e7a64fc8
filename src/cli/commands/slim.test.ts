// `slimnet slim` end to end in a child process, on 5 % of the bundled MNIST
// digits with a quarter-width resnet20 (residual stages: coupled channels),
// one epoch per λ: the JSON result, the run directory's files, restarting
// from a checkpoint, and the errors a user meets first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, summarize } from '../../graph/index.js';
import { DependencyGraph } from '../../prune/index.js';
import { cli, lastJson, isPng } from '../testing.js';
import { tempDir } from '../../data/testing.js';

const SMALL = ['--dataset', 'mnist-digits', '--fraction', '0.05', '--arch', 'resnet20', '--width', '0.25'];

/** The fields of slim's JSON line these tests read. */
interface SlimJson {
  run: string;
  lambda: number;
  base_acc: number;
  pruned_acc: number;
  pruned_acc_no_finetune: number;
  params_after: number;
  channels_removed: number;
  channels_total: number;
  channels_removed_share: number;
  channels: { layer: string; after: number }[];
  per_lambda: { lambda: number; sparsity: number; test_acc: number; checkpoint: string; [k: string]: unknown }[];
  [k: string]: unknown;
}
const slimJson = (stdout: string) => lastJson(stdout) as unknown as SlimJson;

const unit = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;

test('slim: sparsity training per λ, global γ pruning, fine-tuning, files, JSON; then again from a λ checkpoint', async (t) => {
  const root = tempDir(t, 'slimnet-slim-');
  const r = await cli(['slim', ...SMALL, '--epochs', '1', '--finetune-epochs', '1', '--lambdas', '0,1e-2', '--latency-runs', '3', '--runs-dir', root, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = slimJson(r.stdout);
  const dir = join(root, 'slim', 'mnist-digits-resnet20', 'version_0');
  assert.equal(j.run, dir);
  for (const k of ['base_acc', 'pruned_acc', 'pruned_acc_no_finetune', 'base_balanced_acc', 'pruned_balanced_acc', 'channels_removed_share']) assert.ok(unit(j[k]), `${k} = ${j[k]}`);
  for (const k of ['params_x', 'macs_x']) assert.ok((j[k] as number) > 1, `${k} = ${j[k]}`);
  for (const k of ['speedup_ort_b1', 'speedup_ort_b64']) assert.ok(Number.isFinite(j[k]) && (j[k] as number) > 0, `${k} = ${j[k]}`);
  assert.equal(j.lambda, 0.01, 'the largest λ is pruned by default');
  // Half of the channels, counted once per residual-coupled channel.
  assert.equal(j.channels_removed, Math.round(j.channels_total / 2));
  assert.equal(j.channels_removed_share, j.channels_removed / j.channels_total);
  assert.deepEqual(j.per_lambda.map((p) => p.lambda), [0, 0.01]);
  for (const p of j.per_lambda) {
    assert.ok(unit(p.sparsity) && unit(p.val_acc) && unit(p.test_acc), JSON.stringify(p));
    assert.ok(existsSync(p.checkpoint), p.checkpoint);
  }

  // The run directory.
  for (const f of ['config.json', 'status.json', 'metrics.csv', 'metrics.jsonl', 'run.log', 'result.json', 'channels.csv', 'lambda_0.safetensors', 'lambda_1e-2.safetensors', 'pruned.safetensors', 'pruned.onnx']) {
    assert.ok(existsSync(join(dir, f)), `${f} written`);
  }
  for (const f of ['sparsity.png', 'accuracy.png', 'gamma_hist.png', 'channels.png']) assert.ok(isPng(join(dir, f)), `${f} is a PNG`);
  const csv = readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'phase,lambda,epoch,lr,train_loss,train_acc,penalty,val_loss,val_acc,val_balanced_acc,sparsity,gamma_mean,seconds');
  // Epoch 0 (the start) and 1 per λ, then one fine-tuning epoch.
  assert.deepEqual(csv.slice(1).map((l) => l.split(',').slice(0, 3).join(',')), ['sparsity,0,0', 'sparsity,0,1', 'sparsity,0.01,0', 'sparsity,0.01,1', 'finetune,0.01,1']);
  const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
  assert.equal(status.status, 'complete');
  assert.equal(status.test.accuracy, j.pruned_acc);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.pruneLambda, 0.01);
  assert.equal(config.lr, 0.1);
  assert.equal(config.finetuneLr, 0.01);

  // The pruned checkpoint is the smaller model the JSON describes.
  const { model, meta } = loadCheckpoint(join(dir, 'pruned.safetensors'));
  assert.equal(summarize(model.graph).totals.params, j.params_after);
  const sizes = new Map(new DependencyGraph(model.graph).groups.map((g) => [g.name, g.size]));
  for (const c of j.channels) assert.equal(sizes.get(c.layer), c.after, c.layer);
  assert.equal(meta.dataset, 'mnist-digits');
  model.dispose();

  // The human report (stderr with --json): channel table and before / after table.
  assert.match(r.stderr, /layer\s+before\s+after\s+kept %/);
  assert.match(r.stderr, /conv1\+layer1\.0\.conv2\+layer1\.1\.conv2\+layer1\.2\.conv2\s+4\s+\d\s+[\d.]+/);
  assert.match(r.stderr, /parameters\s+[\d.]+K\s+[\d.]+K\s+[\d.]+×/);
  assert.match(r.stderr, /onnxruntime latency b64\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+×/);
  assert.match(r.stderr, /λ=1e-2 epoch 1\/1 .*ETA/);

  // From a λ checkpoint, no further sparsity training: prune it as it is.
  const c = await cli(['slim', '--checkpoint', join(dir, 'lambda_0.safetensors'), '--lambdas', '0', '--epochs', '0', '--finetune-epochs', '0', '--prune-share', '0.3', '--latency-runs', '1', '--runs-dir', root, '--json']);
  assert.equal(c.code, 0, c.stderr);
  const k = slimJson(c.stdout);
  assert.equal(k.run, join(root, 'slim', 'mnist-digits-resnet20', 'version_1'));
  assert.equal(k.channels_removed, Math.round(0.3 * k.channels_total));
  // Same weights, same data split: the base model is the λ = 0 model of the first run.
  assert.equal(k.base_acc, j.per_lambda[0]!.test_acc);
  assert.equal(k.pruned_acc, k.pruned_acc_no_finetune);
  assert.deepEqual(readdirSync(k.run).filter((f) => f.endsWith('.png')).sort(), ['accuracy.png', 'channels.png', 'gamma_hist.png', 'sparsity.png']);

  // --round-to 2: every pruned layer ends on an even channel count (the quarter-width resnet20 starts at 4 / 8 / 16).
  const e = await cli(['slim', '--checkpoint', join(dir, 'lambda_0.safetensors'), '--lambdas', '0', '--epochs', '0', '--finetune-epochs', '0', '--prune-share', '0.3', '--round-to', '2', '--latency-runs', '1', '--runs-dir', root, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const ev = slimJson(e.stdout);
  assert.ok(ev.channels_removed > 0);
  for (const ch of ev.channels) assert.equal(ch.after % 2, 0, `${ch.layer}: ${ch.after} channels`);
});

test('slim: an architecture without BatchNorm and inconsistent options are refused before any run starts', async (t) => {
  const root = tempDir(t, 'slimnet-slim-');
  const lenet = await cli(['slim', '--dataset', 'mnist-digits', '--arch', 'lenet5', '--runs-dir', root]);
  assert.equal(lenet.code, 1);
  assert.match(lenet.stderr, /architecture 'lenet5' has no BatchNorm layers/);
  assert.match(lenet.stderr, /resnet20/);
  const badLambda = await cli(['slim', ...SMALL, '--lambdas', '0,1e-4', '--prune-lambda', '1e-3', '--runs-dir', root]);
  assert.equal(badLambda.code, 1);
  assert.match(badLambda.stderr, /--prune-lambda 0\.001 is not one of --lambdas 0,0\.0001/);
  const share = await cli(['slim', ...SMALL, '--prune-share', '1', '--runs-dir', root]);
  assert.equal(share.code, 1);
  assert.match(share.stderr, /--prune-share must be in \(0, 1\)/);
  const both = await cli(['slim', '--checkpoint', 'x.safetensors', '--arch', 'resnet20', '--runs-dir', root]);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /--arch cannot be used with --checkpoint/);
  assert.ok(!existsSync(join(root, 'slim')), 'no run directory for a refused command');
});
