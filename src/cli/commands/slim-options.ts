// The options of `slimnet slim` (network slimming). Kept apart from the
// command so that registering it loads no engine code. The defaults are the
// workflow's (SLIM_DEFAULTS); those that depend on other options (lr, the λ
// to prune, the fine-tuning lr, and everything a --checkpoint already says)
// are resolved by the workflow and written to the run's config.json.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { number } from '../parse-args.js';
import { SLIM_AUGMENTS, SLIM_DEFAULTS as D, SLIM_OPTIMIZERS, type SlimSpec } from '../../workflows/slim-spec.js';

/** Options with a default in --help: commander hands them over set. */
type SlimDefaulted = 'epochs' | 'batchSize' | 'evalBatchSize' | 'optimizer' | 'momentum' | 'weightDecay' | 'augment' | 'threshold' | 'pruneShare' | 'minChannels' | 'roundTo' | 'finetuneEpochs' | 'latencyRuns' | 'runsDir';

/** What commander hands over: the spec's fields (undefined: not given, the workflow resolves the default), those with a --help default set, and --json. */
export interface SlimRawOptions extends Omit<SlimSpec, SlimDefaulted | 'lambdas'>, Required<Pick<SlimSpec, SlimDefaulted>> {
  lambdas: number[];
  json?: boolean;
}

function numberList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const out = parts.map((s) => (s === '' ? NaN : Number(s)));
  const bad = parts.filter((_, i) => !Number.isFinite(out[i]!));
  if (bad.length) throw new InvalidArgumentError(`expected comma-separated numbers like 0,1e-4,1e-2, got '${v}'`);
  return out;
}

/** The workflow's spec from the parsed options (`json` is the command's own). */
export function slimSpecOf(o: SlimRawOptions): SlimSpec {
  const { json: _json, ...spec } = o;
  return spec;
}

export function addSlimOptions(cmd: Command): Command {
  const int = number('int');
  const float = number('float');
  return cmd
    .option('--checkpoint <path>', 'start the sparsity training from this trained model instead of from scratch (its data set, split and seed are the defaults) (default: from scratch)')
    .option('--dataset <name>', "data set: mnist, mnist-digits, fashion-mnist, cifar10, cifar100, folder (default: fashion-mnist, or the checkpoint's)")
    .option('--root <dir>', "data folder (default: the data set's default folder, or the checkpoint's)")
    .option('--image-size <n>', "image folders (--dataset folder, from scratch): height and width the images are resized to (default: 224; with --checkpoint, the model's input)", number('int'))
    .option('--arch <name>', 'zoo architecture with BatchNorm, e.g. vgg11_bn, resnet20 (default: vgg11_bn; not with --checkpoint)')
    .option('--width <x>', "width multiplier on every layer's channel count (default: 1; not with --checkpoint)", float)
    .addOption(new Option('--lambdas <list>', 'comma-separated sparsity penalties λ on Σ|γ| of every BatchNorm scale; one model is trained per λ').argParser(numberList).default([...D.lambdas], '0,1e-4,1e-2'))
    .option('--epochs <n>', 'sparsity-training epochs per λ (0 with --checkpoint: prune the checkpoint as it is)', int, D.epochs)
    .option('--batch-size <n>', 'training batch size', int, D.batchSize)
    .option('--eval-batch-size <n>', 'batch size for validation and test', int, D.evalBatchSize)
    .addOption(new Option('--optimizer <name>', 'optimizer (sparsity training and fine-tuning)').choices(SLIM_OPTIMIZERS).default(D.optimizer))
    .option('--lr <x>', 'learning rate of the sparsity training, cosine-annealed over the epochs (default: 0.1 for sgd, 0.001 for adam)', float)
    .option('--momentum <x>', 'SGD momentum (sgd only)', float, D.momentum)
    .option('--weight-decay <x>', 'weight decay of conv / linear weights (BatchNorm parameters and biases get none: γ is governed by λ alone)', float, D.weightDecay)
    .addOption(new Option('--augment <mode>', 'training augmentation: standard = random crop and, except for digits, horizontal flips').choices(SLIM_AUGMENTS).default(D.augment))
    .option('--threshold <x>', '|γ| below this counts as near zero in the sparsity share', float, D.threshold)
    .option('--prune-share <x>', 'share of the BatchNorm-scaled channels to remove by one global |γ| threshold, in (0, 1); a channel shared by a residual stage counts once', float, D.pruneShare)
    .option('--prune-lambda <x>', 'which λ\'s model to prune (default: the largest λ)', float)
    .option('--min-channels <n>', 'channels every layer keeps at least', int, D.minChannels)
    .option('--round-to <n>', "keep channel counts at multiples of this, e.g. 16 for onnxruntime's blocked convolutions on AVX-512 (8 on AVX2); each layer goes to the nearest grid count", int, D.roundTo)
    .option('--finetune-epochs <n>', 'fine-tuning epochs of the pruned model (no penalty)', int, D.finetuneEpochs)
    .option('--finetune-lr <x>', 'fine-tuning learning rate, cosine-annealed (default: --lr / 10)', float)
    .option('--fraction <x>', "use this stratified fraction of the training split, for quick runs (default: 1, or the checkpoint's)", float)
    .option('--validation <n>', "validation samples held out of the training split: a count like 5000 or a fraction like 0.1; 0 for none (default: 0.1, or the checkpoint's)", float)
    .option('--seed <n>', "random seed: initialisation, split, batch order (default: 0, or the checkpoint's)", int)
    .option('--latency-runs <n>', 'timed runs per model and batch size of the onnxruntime / engine latency measurement, in 5 interleaved rounds', int, D.latencyRuns)
    .option('--runs-dir <dir>', 'root of the run directories', D.runsDir)
    .option('--json', 'print the result as one JSON object on the last stdout line (the log goes to stderr) (default: off)')
    .addHelpText(
      'after',
      '\nCtrl-C stops after the current step (exit code 130); the files written so far stay.' +
        '\n\nExamples:\n  slimnet slim --dataset fashion-mnist --arch vgg11_bn --lambdas 0,1e-4,1e-2 --epochs 10 --prune-share 0.5' +
        '\n  slimnet slim --checkpoint runs/train/fashion-mnist-resnet20/version_0/best.safetensors --lambdas 1e-4 --epochs 3 --prune-share 0.5' +
        '\n  slimnet slim --dataset mnist-digits --arch resnet20 --width 0.25 --fraction 0.1 --epochs 1 --finetune-epochs 1 --json',
    );
}
