// The options of `slimnet prune`, declared apart from src/cli/main.ts so the
// command list stays readable; registering them loads no engine code. The
// command (commands/prune.ts) turns them into the workflow's spec, which
// holds the checks and the defaults that depend on other options.
import type { Command } from 'commander';
import { ortChannelBlock } from '../../measure/blocks.js';
import { LR_FAMILIES } from '../../train/optim/families.js';
import { channelMultiple, number } from '../parse-args.js';

export function addPruneOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--checkpoint <path>', 'the trained model (e.g. runs/train/mnist-digits-lenet5/version_0/best.safetensors)')
    .option('--criterion <name>', 'channel importance: l1 | l2 (filter magnitude), activation (mean post-ReLU), apoz, taylor (Molchanov), bn (|γ|), random', 'taylor')
    .option('--scope <scope>', 'layer (each layer ranks its own channels, the same share per layer) or global (one ranking across layers)', 'global')
    .option('--norm <norm>', 'per-layer normalisation of scores before a global ranking: none | l1 | l2 | max', 'l2')
    .option('--reduce <how>', 'combining the scores of coupled layers (residual groups): mean | sum | max', 'mean')
    .option('--protocol <name>', 'none (greedy, no retraining) | retrain (whole network, N iterations per step) | layer-retrain (only the pruned layers) | once (retrain, criterion computed only at the start) | distill (retrain by distilling from the unpruned model: --distill-loss)', 'retrain')
    .option('--distill-loss <list>', "losses of --protocol distill, comma-separated, each name[:param=value...]: kd (soft targets), logits, dkd, at (attention transfer), hint (FitNets; a 1x1 adapter per step), sp (similarity); e.g. kd:temperature=2,at (default: kd, T 4, weight 0.9)")
    .option('--distill-ce-weight <x>', "cross-entropy factor of --protocol distill (default: the losses' anchor setting, 0.1 for kd)", number('float'))
    .option('--retrain-iters <n>', 'retraining iterations (batches) after each step', number('int'), 100)
    .option('--lr <x>', 'Adam learning rate of retraining and fine-tuning', number('float'), 1e-4)
    .option('--lr-by-kind <list>', `learning rate per layer family in retraining and fine-tuning, comma-separated family=lr pairs over --lr (which the others keep): families ${LR_FAMILIES.join(', ')} (fc is linear, bn is norm); e.g. linear=0.005,conv=0.0005; 0 freezes a family (default: --lr for every layer)`)
    .option('--batch-size <n>', 'batch size of scoring, retraining and fine-tuning', number('int'), 100)
    .option('--eval-batch-size <n>', 'batch size of evaluation', number('int'), 500)
    .option('--step-fraction <x>', 'channels removed per step, as a share of those still removable', number('float'), 0.05)
    .option('--step-maps <n>', 'channels removed per step (globally, or per layer with --scope layer); overrides --step-fraction', number('int'))
    .option('--max-drop <pp>', 'accuracy floor in percentage points below the base model on the validation split (default: 0.3 unless --min-accuracy or --no-floor is given; a step limit or a target does not remove it)', number('float'))
    .option('--min-accuracy <x>', 'absolute accuracy floor, e.g. 0.99', number('float'))
    .option('--no-floor', 'no accuracy floor at all: stop only at --max-steps or a target and keep the last step (default: the floor above)')
    .option('--target-params-x <x>', 'stop once parameters shrank this many times', number('float'))
    .option('--target-macs-x <x>', 'stop once MACs shrank this many times', number('float'))
    .option('--max-steps <n>', 'stop after this many steps (the floor still applies)', number('int'))
    .option('--patience <n>', 'steps allowed below the floor before stopping (retraining often wins a dip back); the kept model is still the smallest that met the floor', number('int'), 0)
    .option('--backtrack', 'when the floor stops the run, go back to the kept model and go on with half the step, down to one channel (default: off)')
    .option('--snap-to <n|auto>', "after the loop, take every convolution's maps down to a multiple of this in one step (fully connected layers stay), retrain, and keep it only if it meets the floor: onnxruntime's convolutions run channels in blocks (auto: 16 with AVX-512, 8 with AVX2, here " + String(ortChannelBlock()) + '; 1: off)', channelMultiple, 1)
    .option('--snap-iters <n>', 'retraining iterations of the --snap-to step; its accuracy is checked 8 times on the way and the best weights kept', number('int'), 2000)
    .option('--refine-steps <n>', "after the grid step, up to this many refinement steps: the convolution whose channel costs the most MACs loses channels (a quarter, halved after a miss; a whole block above one block of the grid), --snap-iters retraining iterations, kept if it meets the floor (0: off)", number('int'), 0)
    .option('--snap-tries <n>', 'grid steps tried at most, all to the kept model\'s grid shape: from the kept model, then from larger kept models that keep more in the layers the grid leaves alone, until one meets the floor', number('int'), 3)
    .option('--layers <list>', 'only prune these layers (comma-separated; default: all prunable)')
    .option('--exclude <list>', 'never prune these layers (comma-separated)')
    .option('--min-channels <n>', 'channels every layer keeps at least', number('int'), 1)
    .option('--round-to <n>', 'keep channel counts at multiples of this (e.g. 8)', number('int'), 1)
    .option('--macs-weight <x>', "global ranking: subtract this times a channel's MAC cost (relative to the costliest layer's channel) from its normalised score, so costly channels go first among equals (Molchanov et al.'s FLOPs regularisation; 0: off)", number('float'), 0)
    .option('--score-batches <n>', 'batches data-driven criteria (activation, apoz, taylor) read per step', number('int'), 10)
    .option('--finetune-epochs <n>', 'epochs of fine-tuning of the kept model after pruning', number('int'), 0)
    .option('--finetune-patience <n>', 'early stopping of --finetune-epochs: stop after this many epochs without a better balanced accuracy on the validation split and keep the best epoch (default: off, every epoch runs)', number('int'))
    .option('--from-scratch-epochs <n>', 'also train the pruned architecture from scratch for this many epochs and report its test accuracy (seed 003, Table 4.1)', number('int'), 0)
    .option('--latency-runs <n>', 'timed runs per model and batch size of the latency measurement, in 5 interleaved rounds (a pruned LeNet runs batch 64 in about 2 ms: fewer runs are noise)', number('int'), 100)
    .option('--dataset <name>', "data set (default: the checkpoint's)")
    .option('--root <dir>', "data folder (default: the checkpoint's)")
    .option('--classes <list>', "only these classes, comma-separated names or indices, relabelled 0..k-1 in this order; the model must have as many outputs (e.g. a checkpoint whose head was replaced for them) (default: the checkpoint's recorded subset on its own data set, else every class)")
    .option('--validation <n>', "validation split the floor is checked on: a count or a fraction (default: the checkpoint's own split)", number('float'))
    .option('--seed <n>', "seed of the split and of the pruning (default: the checkpoint's)", number('int'))
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)')
    .addHelpText(
      'after',
      '\nCtrl-C stops after the current step; the best model so far is still saved and reported (exit code 130).' +
        '\n\nExamples:\n  slimnet prune --checkpoint runs/train/mnist-digits-lenet5/version_0/best.safetensors --criterion taylor --scope global --norm l2 --protocol retrain --retrain-iters 100 --max-drop 0.3' +
        '\n  slimnet prune --checkpoint best.safetensors --criterion l1 --scope layer --layers conv2 --protocol none --step-maps 1 --max-steps 60',
    );
}
