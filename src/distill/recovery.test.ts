// The 'distill' recovery of the pruning loop: registered with the prune
// registries when src/distill is imported; it retrains each step toward the
// unpruned model, which never changes; with the logit-regression loss alone
// (CE weight 0) the recovered model's logits move toward the teacher's (the
// squared difference falls, and falls below what plain retraining of the same
// iterations on the same batches leaves); bad losses fail before the first
// step; `slimnet prune --protocol distill --distill-loss ...` reaches the
// spec and the run's config.json with every loss parameter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { noGrad, setNumThreads, tidy } from '../tensor/index.js';
import { Model, saveCheckpoint } from '../graph/index.js';
import { DataLoader, evalTransform, resolveData } from '../data/index.js';
import { tempDir } from '../data/testing.js';
import { buildArch } from '../models/index.js';
import { Trainer, buildOptimizer, type BatchSource } from '../train/index.js';
import { prune, pruningMethod, pruningMethodNames, recovery, recoveryNames, type PruneOptions } from '../prune/index.js';
import { trainedTinyNet } from '../prune/testing.js';
import { UsageError } from '../util/errors.js';
import { resolvePruneSpec, pruneRun } from '../workflows/prune.js';
import { addPruneOptions } from '../cli/commands/prune-options.js';
import { pruneSpecFromFlags, type PruneCliOptions } from '../cli/commands/prune.js';
import { DistillError } from './errors.js';
import { parseRecoveryLosses, resolveRecoveryOptions } from './index.js';

if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

/** Σ over `source` of (f(x) − g(x))², eval mode. */
async function squaredGap(f: Model, g: Model, source: BatchSource): Promise<number> {
  let sum = 0;
  for await (const b of source.epoch(0)) {
    sum += tidy(() => noGrad(() => f.forward(b.x, { training: false }).sub(g.forward(b.x, { training: false })).pow(2).sum().item() as number));
    b.x.dispose();
    b.y.dispose();
  }
  return sum;
}

const bits = (m: Model): Record<string, number[]> => Object.fromEntries(m.namedParameters().map(([k, t]) => [k, Array.from(t.data<'float32'>())]));

const BASE = { criterion: 'l1', scope: 'global', norm: 'l2', amount: { maps: 2 }, retrainIters: 10, lr: 1e-2, noFloor: true } as const;

test("the 'distill' recovery and pruning method are registered by importing src/distill", () => {
  assert.ok(recoveryNames().includes('distill'));
  assert.ok(pruningMethodNames().includes('distill'));
  assert.equal(pruningMethod('distill').recovery, 'distill');
  assert.equal(recovery('distill').iterations, true, 'it trains retrainIters iterations per step');
  // Defaults: kd with the anchors' settings and their CE weight.
  assert.deepEqual(resolveRecoveryOptions(), { losses: [{ name: 'kd', params: { weight: 0.9, temperature: 4 } }], ceWeight: 0.1 });
  assert.deepEqual(parseRecoveryLosses('kd:temperature=2, at'), [{ name: 'kd', params: { temperature: 2 } }, { name: 'at' }]);
});

test('pruning a trained tinyNet with distillation runs, for logit and feature losses, and the teacher never changes', async () => {
  const { model, train, val } = await trainedTinyNet(8);
  const before = bits(model);
  const data = { train, eval: val, classes: 2 };
  // kd alone; at + hint (stage outputs paired by name, hint's 1x1 adapters made per step as widths shrink); dkd.
  for (const losses of [undefined, [{ name: 'at' }, { name: 'hint' }], [{ name: 'dkd' }]]) {
    const iters: number[] = [];
    const r = await prune(model, data, { ...BASE, protocol: 'distill', maxSteps: 2, ...(losses ? { distill: { losses } } : {}) }, { onRetrain: (_s, i) => iters.push(i) });
    assert.equal(r.history.length, 2, JSON.stringify(losses));
    assert.equal(iters.length, 2 * BASE.retrainIters, 'retrainIters iterations per step');
    for (const h of r.history) assert.ok(Number.isFinite(h.accuracy));
    r.best.dispose();
    assert.deepEqual(bits(model), before, `the unpruned model changed (${JSON.stringify(losses)})`);
  }
  model.dispose();
});

test('with logit regression alone (CE weight 0) the recovered logits move toward the teacher, more than plain retraining moves them', async () => {
  const { model, train, val } = await trainedTinyNet(8);
  const data = { train, eval: val, classes: 2 };
  // One step: the same channels go in all three runs (l1 on the same weights), only the recovery differs.
  // Three maps, so that the removal costs something (the two smallest are dead: removing them changes no logit,
  // and Adam's normalised steps then only drift away).
  const one = { ...BASE, amount: { maps: 3 }, maxSteps: 1 };
  const gap = async (o: PruneOptions): Promise<number> => {
    const r = await prune(model, data, o);
    try {
      assert.equal(r.history.length, 1);
      return await squaredGap(r.best, model, train);
    } finally {
      r.best.dispose();
    }
  };
  const removed = await gap({ ...one, protocol: 'none' });
  const retrained = await gap({ ...one, protocol: 'retrain' });
  const distilled = await gap({ ...one, protocol: 'distill', distill: { losses: [{ name: 'logits' }], ceWeight: 0 } });
  assert.ok(removed > 0 && distilled < removed * 0.5, `squared gap to the teacher: ${removed} after the removal, ${distilled} after distilling`);
  assert.ok(distilled < retrained, `distilling (${distilled}) should leave a smaller gap than retraining on labels (${retrained})`);
  model.dispose();
});

test('a bad loss, parameter or CE weight is a clear error before the first step', async () => {
  const { model, train, val } = await trainedTinyNet(1);
  const data = { train, eval: val, classes: 2 };
  const bad: [PruneOptions['distill'], RegExp][] = [
    [{ losses: [{ name: 'nope' }] }, /unknown distillation loss 'nope' \(available: kd, .*\)/],
    [{ losses: [{ name: 'kd', params: { temperature: 0 } }] }, /kd\.temperature must be > 0, got 0/],
    [{ losses: [{ name: 'kd', params: { tau: 2 } }] }, /distillation loss 'kd' has no parameter 'tau'/],
    [{ losses: [{ name: 'kd' }, { name: 'kd' }] }, /listed twice/],
    [{ ceWeight: -1 }, /cross-entropy weight must be a number >= 0, got -1/],
  ];
  for (const [distill, re] of bad) {
    let steps = 0;
    await assert.rejects(
      prune(model, data, { ...BASE, protocol: 'distill', maxSteps: 1, distill }, { onStep: () => steps++, onRetrain: () => steps++ }),
      (e: unknown) => e instanceof DistillError && re.test(e.message),
    );
    assert.equal(steps, 0, 'nothing ran');
  }
  model.dispose();
});

test('the prune spec and CLI: --protocol distill --distill-loss, resolved with every value; the flags belong to that protocol', () => {
  const argv = ['--checkpoint', 'a.safetensors', '--protocol', 'distill', '--distill-loss', 'kd:temperature=2,at', '--distill-ce-weight', '0.5'];
  const cmd = addPruneOptions(new Command('prune')).exitOverride();
  cmd.parse(argv, { from: 'user' });
  const s = resolvePruneSpec(pruneSpecFromFlags(cmd.opts<PruneCliOptions>()));
  assert.equal(s.protocol, 'distill');
  assert.deepEqual(s.distillLoss, [
    { name: 'kd', params: { weight: 0.9, temperature: 2 } },
    { name: 'at', params: { weight: 1000, p: 2 } },
  ]);
  assert.equal(s.distillCeWeight, 0.5);
  // Default losses; the other protocols keep their spec as it was (no distillation keys).
  assert.deepEqual(resolvePruneSpec({ checkpoint: 'a', protocol: 'distill' }).distillLoss, [{ name: 'kd', params: { weight: 0.9, temperature: 4 } }]);
  const plain = resolvePruneSpec({ checkpoint: 'a' });
  assert.ok(!('distillLoss' in plain) && !('distillCeWeight' in plain));
  for (const [spec, re] of [
    [{ distillLoss: 'kd' }, /--distill-loss applies to --protocol distill, not 'retrain'/],
    [{ protocol: 'distill', distillLoss: 'nope' }, /--distill-loss: unknown distillation loss 'nope'/],
    [{ protocol: 'distill', distillLoss: 'kd:temperature' }, /--distill-loss: 'temperature' in 'kd:temperature' is not param=number/],
    [{ protocol: 'distill', distillCeWeight: -1 }, /--distill-ce-weight must be a number >= 0/],
    [{ protocol: 'magic' }, /--protocol must be one of none, retrain, layer-retrain, once, distill/],
  ] as const) {
    assert.throws(() => resolvePruneSpec({ checkpoint: 'a', ...(spec as object) }), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(spec));
  }
});

test('pruneRun with protocol distill: config.json records the losses with every parameter, the log names them', async (t) => {
  const dir = tempDir(t, 'slimnet-prune-distill-');
  const DATA = { dataset: 'mnist-digits', validation: 0.25, fraction: 0.05, seed: 0 } as const;
  const data = resolveData(DATA);
  const model = Model.create(buildArch('lenet5', { widthMultiplier: 0.25 }), { seed: 0 });
  const loader = new DataLoader(data.train, { batchSize: 32, shuffle: true, seed: 1, transform: evalTransform(data.norm) });
  const checkpoint = join(dir, 'base.safetensors');
  try {
    await new Trainer({ model, optimizer: buildOptimizer(model, { type: 'adam', lr: 1e-3 }) }).fit(loader, { epochs: 1 });
    saveCheckpoint(checkpoint, model, { ...DATA, command: 'train', arch: 'lenet5', normalize: data.norm });
  } finally {
    model.dispose();
    await loader.close();
  }
  const lines: string[] = [];
  const r = await pruneRun(
    { checkpoint, runsDir: dir, criterion: 'l1', protocol: 'distill', distillLoss: 'kd,at', retrainIters: 2, stepFraction: 0.2, maxSteps: 1, noFloor: true, latencyRuns: 1 },
    { onLog: (l) => lines.push(l) },
  );
  assert.equal(r.steps, 1);
  const config = JSON.parse(readFileSync(join(r.run, 'config.json'), 'utf8'));
  assert.equal(config.protocol, 'distill');
  assert.deepEqual(config.distillLoss, [
    { name: 'kd', params: { weight: 0.9, temperature: 4 } },
    { name: 'at', params: { weight: 1000, p: 2 } },
  ]);
  assert.equal(config.distillCeWeight, 0.1);
  assert.ok(lines.some((l) => /protocol distill \(2 iterations of Adam .*distilling from the unpruned model: kd \(weight 0\.9, temperature 4\) \+ at \(weight 1000, p 2\), CE 0\.1\)/.test(l)), lines.join('\n'));
});
