// The options of `slimnet transtailor`, declared apart from src/cli/main.ts
// so the command list stays readable; registering them loads no engine code.
// The workflow's spec (src/workflows/transtailor-spec.ts) holds the checks.
//
// The defaults below are TRANSTAILOR_DEFAULTS' values, shown by --help; a
// preAction hook removes every value that is only a default before the
// command runs, so the spec holds the flags typed and a resumed run
// (--version) can tell a typed flag that contradicts its config.json from an
// untyped default. The workflow fills in the same defaults.
import type { Command } from 'commander';
import { number } from '../parse-args.js';

export function addTransTailorOptions(cmd: Command): Command {
  return cmd
    .option('--source <path>', 'the pre-trained source model: a slimnet checkpoint (from slimnet train or slimnet import) that takes the target images as they are (required, except with --version, where it only gives the architecture)')
    .requiredOption('--dataset <name>', 'the target data set (mnist-digits, mnist, fashion-mnist, cifar10, cifar100, folder)')
    .option('--root <dir>', "the target data set's folder (default: its usual location)")
    .option('--classes <list>', 'only these target classes, comma-separated names or indices, relabelled 0..k-1 in this order (default: every class)')
    .option('--tau <pp>', 'largest drop of validation balanced accuracy, in percentage points against the last kept model, that still keeps a pruned model (0..100)', number('float'), 1)
    .option('--prune-share <x>', 'share of the still removable filters removed per iteration, globally by importance β, in (0, 1)', number('float'), 0.05)
    .option('--alpha-init <how>', 'initial filter scales α: ones (the identity) or random (the seed report: destroys the model)', 'ones')
    .option('--alpha-iters <n>', 'α updates per iteration, every weight frozen', number('int'), 50)
    .option('--alpha-lr <x>', 'SGD learning rate of α', number('float'), 0.01)
    .option('--importance-batches <n>', 'batches β = |α · ∂L/∂α| is computed on per iteration', number('int'), 10)
    .option('--importance-norm <norm>', "per-layer normalisation of β before the global ranking: l2 (the paper's β/‖β‖₂; wide layers lose filters first), l1, max or none", 'l2')
    .option('--finetune-epochs <n>', "fine-tuning epochs (SGD, lr 0.005 fully connected / 0.0005 conv, early stopping on validation balanced accuracy) of the transferred model and of each pruned model", number('int'), 10)
    .option('--patience <n>', 'epochs without a better validation balanced accuracy before early stopping', number('int'), 3)
    .option('--finetune-iters <n>', 'fine-tune each pruned model for this many updates instead of --finetune-epochs (no early stopping)', number('int'))
    .option('--batch-size <n>', 'batch size of α training, β and fine-tuning', number('int'), 64)
    .option('--eval-batch-size <n>', 'batch size of evaluation', number('int'), 500)
    .option('--validation <n>', "held-out split of the target's training data that τ and early stopping read (a fraction or a count; the test split is never used for decisions)", number('float'), 0.1)
    .option('--fraction <x>', "share of the target's training split used", number('float'), 1)
    .option('--seed <n>', 'seed of the split, the new head, random α and the shuffling', number('int'), 0)
    .option('--max-iterations <n>', 'stop after this many iterations (default: only τ stops)', number('int'))
    .option('--latency-runs <n>', 'timed runs per model and batch size of the latency measurement', number('int'), 100)
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--version <n>', 'resume run version N (interrupted or failed) with its own configuration: --dataset, --source and --runs-dir find it, other flags must equal its own (default: start a new version)', number('int'))
    .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)')
    .addHelpText(
      'after',
      '\nCtrl-C stops after the current step; the last model within τ is still saved and reported (exit code 130), and --version N resumes the run: ' +
        'the transfer fine-tuning is not run again (finetuned.safetensors), the loop goes on from the last kept model (kept.safetensors) at the next iteration, with the same τ reference, training batches and random state, ' +
        'so the iterations are those of an uninterrupted run (what an interrupted iteration had done is run again); the report, iterations.csv and plots include the earlier iterations. A complete run cannot be resumed.' +
        '\n\nExamples:\n  slimnet transtailor --source runs/train/fashion-mnist-lenet5/version_0/best.safetensors --dataset mnist-digits --tau 1' +
        '\n  slimnet transtailor --source best.safetensors --dataset fashion-mnist --classes Sandal,Sneaker,"Ankle boot" --prune-share 0.05 --alpha-init random' +
        '\n  slimnet transtailor --dataset mnist-digits --version 0',
    )
    .hook('preAction', (_root, action) => {
      for (const opt of action.options) {
        const key = opt.attributeName();
        if (action.getOptionValueSource(key) === 'default') action.setOptionValueWithSource(key, undefined, 'default');
      }
    });
}
