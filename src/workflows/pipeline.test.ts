// The pipeline's pruning stage gets exactly the settings the README's main
// job names (seed 003's protocol, the floor on the held-out split, the grid
// step and the refinement), and everything else at prune's own defaults: the
// same spec its child process once got from the command line. The whole
// pipeline runs end to end in src/cli/commands/pipeline.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRUNE_DEFAULTS, resolvePruneSpec } from './prune.js';
import { pipelinePruneSpec, pipelineRun, resolvePipelineSpec } from './pipeline.js';
import { UsageError } from '../util/errors.js';
import { tempDir } from '../data/testing.js';
import { readdirSync } from 'node:fs';

test('pipelinePruneSpec: seed 003 protocol with the pipeline settings, prune defaults elsewhere', () => {
  const p = resolvePipelineSpec({ snapTo: 16, runsDir: '/r' });
  assert.equal(p.dataset, 'mnist-digits');
  assert.equal(p.validation, 0.25);
  const s = resolvePruneSpec(pipelinePruneSpec(p, '/r/train/best.safetensors'));
  assert.deepEqual(
    { criterion: s.criterion, scope: s.scope, norm: s.norm, protocol: s.protocol, retrainIters: s.retrainIters, stepFraction: s.stepFraction, maxDrop: s.maxDrop, patience: s.patience, backtrack: s.backtrack },
    { criterion: 'taylor', scope: 'global', norm: 'l2', protocol: 'retrain', retrainIters: 100, stepFraction: 0.1, maxDrop: 0.3, patience: 3, backtrack: true },
  );
  assert.deepEqual({ snapTo: s.snapTo, snapIters: s.snapIters, snapTries: s.snapTries, refineSteps: s.refineSteps, finetuneEpochs: s.finetuneEpochs, macsWeight: s.macsWeight }, { snapTo: 16, snapIters: 2000, snapTries: 3, refineSteps: 6, finetuneEpochs: 1, macsWeight: 0 });
  for (const k of ['lr', 'batchSize', 'evalBatchSize', 'scoreBatches', 'minChannels', 'roundTo', 'fromScratchEpochs', 'reduce'] as const) assert.equal(s[k], PRUNE_DEFAULTS[k], k);
  assert.equal(s.runsDir, '/r');
  assert.equal(resolvePipelineSpec({ backtrack: false, maxDrop: 1 }).backtrack, false);
});

test('pipelineRun: a bad pruning value is refused before the training starts', async (t) => {
  const dir = tempDir(t, 'slimnet-pipeline-');
  const lines: string[] = [];
  await assert.rejects(pipelineRun({ maxDrop: -1, runsDir: dir }, { onLog: (l) => lines.push(l) }), (e: unknown) => e instanceof UsageError && /--max-drop/.test(e.message));
  await assert.rejects(pipelineRun({ stepFraction: 2, runsDir: dir }), /--step-fraction must be in \(0, 1\]/);
  assert.deepEqual(lines, [], 'nothing started');
  assert.deepEqual(readdirSync(dir), [], 'no run directory');
});
