// The options of `slimnet pipeline`, declared apart from src/cli/main.ts so the
// command list stays readable; registering them loads no engine code. The
// command (commands/pipeline.ts) turns them into the workflow's spec, which
// holds the checks and the defaults that depend on other options.
import type { Command } from 'commander';
import { ortChannelBlock } from '../../measure/blocks.js';
import { channelMultiple, number } from '../parse-args.js';

export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option('--dataset <name>', 'data set (mnist-digits is bundled: no set-up)', 'mnist-digits')
    .option('--arch <name>', 'zoo architecture', 'lenet5')
    .option('--epochs <n>', 'training epochs of the baseline', number('int'), 10)
    .option('--fraction <x>', 'use this share of the training data (quick looks)', number('float'), 1)
    .option('--validation <n>', 'share (or count) of the training split held out for the accuracy floor; the floor is only as steady as this split is large (0.25 of the 8,000 training digits: 0.3 pp is 6 of 2,000 images)', number('float'), 0.25)
    .option('--criterion <name>', 'pruning criterion', 'taylor')
    .option('--macs-weight <x>', "weight of a channel's MAC cost in the global ranking (see prune --help; 0: rank by the criterion alone)", number('float'), 0)
    .option('--max-drop <pp>', 'accuracy floor: percentage points under the baseline on its validation split', number('float'), 0.3)
    .option('--retrain-iters <n>', 'retraining iterations after each pruning step', number('int'), 100)
    .option('--step-fraction <x>', 'share of the removable channels removed per step (halved at the floor, see --no-backtrack)', number('float'), 0.1)
    .option('--patience <n>', 'pruning steps allowed below the floor before stopping (the kept model met the floor)', number('int'), 3)
    .option('--no-backtrack', 'stop at the floor instead of going back to the kept model with half the step')
    .option('--snap-to <n|auto>', "after the loop, every convolution's maps down to a multiple of this in one retrained step, kept only if it meets the floor: onnxruntime's convolutions run channels in blocks, and a count off the block runs as slowly as the next block up (auto: 16 with AVX-512, 8 with AVX2, else 1 = off)", channelMultiple, ortChannelBlock())
    .option('--snap-iters <n>', 'retraining iterations of the --snap-to step (the best of 8 checks on the way is kept)', number('int'), 2000)
    .option('--snap-tries <n>', 'grid steps tried at most (from the kept model, then from larger kept models)', number('int'), 3)
    .option('--refine-steps <n>', 'then up to this many steps that cut the convolution whose channels cost the most MACs, each retrained --snap-iters iterations and kept if it meets the floor (0: off)', number('int'), 6)
    .option('--finetune-epochs <n>', 'fine-tuning epochs of the pruned model', number('int'), 1)
    .option('--latency-runs <n>', 'timed onnxruntime / engine runs per model and batch size', number('int'), 100)
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--json', 'print one JSON object with the results of both stages on stdout (default: off)');
}
