// `slimnet prune --lr-by-kind` and `--finetune-patience`: from the flags to
// the resolved spec, and in --help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { UsageError } from '../../util/errors.js';
import { resolvePruneSpec } from '../../workflows/prune.js';
import { addPruneOptions } from './prune-options.js';
import { pruneSpecFromFlags, type PruneCliOptions } from './prune.js';

const spec = (args: string[]) => resolvePruneSpec(pruneSpecFromFlags(addPruneOptions(new Command('prune').exitOverride()).parse(['--checkpoint', 'c.safetensors', ...args], { from: 'user' }).opts<PruneCliOptions>()));

test('--lr-by-kind and --finetune-patience reach the spec, parsed and checked as the spec checks them', () => {
  const s = spec(['--lr-by-kind', 'linear=0.005,conv=0.0005', '--finetune-epochs', '10', '--finetune-patience', '3']);
  assert.deepEqual(s.lrByKind, { linear: 0.005, conv: 0.0005 });
  assert.equal(s.finetunePatience, 3);
  const plain = spec([]);
  assert.equal(plain.lrByKind, undefined);
  assert.equal(plain.finetunePatience, undefined, 'off by default');
  assert.throws(() => spec(['--lr-by-kind', 'linear']), (e: unknown) => e instanceof UsageError && /^--lr-by-kind must be comma-separated family=lr pairs/.test(e.message));
  assert.throws(() => spec(['--finetune-patience', '2']), (e: unknown) => e instanceof UsageError && /--finetune-epochs N/.test(e.message));
  const help = addPruneOptions(new Command('prune')).helpInformation().replace(/\s+/g, ' ');
  assert.match(help, /--lr-by-kind <list> learning rate per layer family in retraining and fine-tuning, .*families conv, linear, fc, norm, bn, other/);
  assert.match(help, /--finetune-patience <n> early stopping of --finetune-epochs: .*balanced accuracy/);
});
