// The flags of `slimnet replace`: the checkpoint, the convs, the α schedule
// and the seed's variants, then the training options of `slimnet train` that
// a replacement takes (not the data, architecture, seed or epochs: the
// checkpoint and the schedule decide them; the learning-rate schedule is
// --lr-schedule, since --schedule is α's), and the run flags. No replace flag
// has a commander default, so a flag not given is known (resume compares
// only what was given); the defaults are in the help text.
import { Option, type Command } from 'commander';
import { number } from '../parse-args.js';
import { SCHEDULES } from '../../workflows/train-spec.js';
import { NOT_REPLACE_OPTIONS, REPLACE_ALPHA_MODES, REPLACE_BRANCH_INITS, REPLACE_DEFAULTS, REPLACE_LOSSES } from '../../workflows/replace-spec.js';
import { addNprocOption } from '../nproc-option.js';
import { addTrainOptions } from './train-options.js';

/** Registers every flag and the help text of `slimnet replace`. */
export function addReplaceOptions(cmd: Command): Command {
  cmd
    .requiredOption('--checkpoint <path>', 'a trained slimnet checkpoint: its data, split, normalisation, architecture and seed are the run\'s')
    .option('--param-share <x>', `share of the original parameters to remove: the fewest convs (largest savings first) reaching it (default: ${REPLACE_DEFAULTS.paramShare} unless --layers)`, number('float'))
    .option('--layers <list>', 'replace these convs by name, comma-separated (instead of --param-share)')
    .option('--schedule <spec>', `α schedule: exp:R (α ← α·(1−R), to 0 under the floor; exp:R:FLOOR), linear:N, cosine:N or step:a,b,... (default: ${REPLACE_DEFAULTS.alphaSchedule}, seed 001's)`)
    .option('--patience <n>', `epochs at each α (default: ${REPLACE_DEFAULTS.patience})`, number('int'))
    .addOption(new Option('--alpha <mode>', `shared: one α for every replaced conv; per-layer: progressive blockwise replacement, the convs one after another in graph order, each through the whole schedule (the others at 1 before their turn, at the last α after it), epochs = convs × α values × --patience (default: ${REPLACE_DEFAULTS.alphaMode})`).choices(REPLACE_ALPHA_MODES))
    .addOption(new Option('--branch-init <how>', `how the 1×1 branch starts: centre (the original kernel's centre tap, the 1×1 kernel nearest the k×k one), lsq (the 1×1 conv that best reproduces the original conv's output on 512 training images, least squares) or random (default: ${REPLACE_DEFAULTS.branchInit})`).choices(REPLACE_BRANCH_INITS))
    .option('--branch-width <x>', `branch width in (0, 1]: 1 is one 1×1 conv; below 1 the branch is two 1×1 convs through round(x · min(Cin, Cout)) channels, kept as such at α = 0 (fewer parameters) and merged into the k×k kernel at α > 0 (default: ${REPLACE_DEFAULTS.branchWidth})`, number('float'))
    .option('--freeze-original', 'freeze the replaced convs\' original weights: only the branches and the other layers train (default: off)')
    .addOption(new Option('--loss <loss>', `ce: cross-entropy on the labels; logit-mse: seed 001's regression on the original model's logits (run once per step) instead (default: ${REPLACE_DEFAULTS.loss})`).choices(REPLACE_LOSSES))
    .option('--collapse-pp <x>', `stop the schedule when validation accuracy falls more than X points (%) below the original's; the last epoch within is kept (default: ${REPLACE_DEFAULTS.collapsePp})`, number('float'))
    .addOption(new Option('--lr-schedule <name>', `learning-rate schedule over the run's epochs (default: ${REPLACE_DEFAULTS.lrSchedule})`).choices(SCHEDULES))
    .option('--latency-runs <n>', `timed runs per model and batch of the latency comparison (default: ${REPLACE_DEFAULTS.latencyRuns})`, number('int'));
  addTrainOptions(cmd, { exclude: [...NOT_REPLACE_OPTIONS, 'schedule'] })
    .option('--runs-dir <dir>', 'root of the run directories', './runs')
    .option('--version <n>', 'resume replacement run version N exactly where it stopped, with its own configuration (default: start a new version)', number('int'))
    .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)');
  return addNprocOption(cmd, 'rank 0 alone finishes the model (final.safetensors, final.onnx, latency, plots, result.json)')
    .addHelpText(
      'after',
      '\nThe epochs are the schedule\'s α values times --patience (times the convs with --alpha per-layer); α is set from the epoch, so --version N resumes at the same α.' +
        '\nAt α = 0 the original convs are removed (final.safetensors is the smaller model); a run stopped by --collapse-pp at α > 0 merges the branches exactly into the k×k kernels.' +
        '\nCtrl-C stops after the current step and saves a resumable state (exit code 130).' +
        '\n\nExamples:\n  slimnet replace --checkpoint runs/train/fashion-mnist-resnet20/version_0/best.safetensors --param-share 0.65 --schedule exp:0.05' +
        '\n  slimnet replace --checkpoint base.safetensors --layers layer3.0.conv1,layer3.0.conv2 --schedule linear:10 --patience 2 --loss logit-mse --freeze-original' +
        '\n  slimnet replace --checkpoint base.safetensors --noise-share 0.5 --noise-std 0.5 --lr 0.001 --optimizer adam',
    );
}
